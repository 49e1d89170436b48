#!/usr/bin/env bash
# The fuzz tests with many more runs than npm test gives them (minutes), on
# each runtime. HYBI_FUZZ_RUNS scales the run counts (default 200x);
# HYBI_FUZZ_SEED replays a printed seed.
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH" NO_COLOR=1
export HYBI_FUZZ_RUNS=${HYBI_FUZZ_RUNS:-200}
files=$(ls tests/*fuzz_test.ts)
status=0
for rt in ${HYBI_TEST_RUNTIMES:-node deno bun}; do
  echo "=== fuzz on $rt (runs x$HYBI_FUZZ_RUNS)"
  case $rt in
    deno) deno test -A $files || status=1 ;;
    bun) bun test --timeout 3600000 $files || status=1 ;;
    node) node --test --test-timeout=3600000 $files || status=1 ;;
  esac
done
exit $status
