#!/usr/bin/env bash
# Runs the whole suite under Deno, Bun and Node, the latter on both
# maintained lines (24, maintenance LTS, and 26, active LTS; the pinned
# binaries in node_modules) and fails if any runtime fails. Each runner's own
# closing summary is printed, then one line per runtime.
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
export NO_COLOR=1

files=$(ls tests/*_test.ts)
status=0
results=()

run() {
  local name=$1
  shift
  echo
  echo "=== $name: $*"
  local start=$SECONDS
  if "$@"; then
    results+=("$name: passed ($((SECONDS - start)) s)")
  else
    results+=("$name: FAILED ($((SECONDS - start)) s)")
    status=1
  fi
}

only=${HYBI_TEST_RUNTIMES:-deno bun node node26}
for rt in $only; do
  case $rt in
    deno) run deno deno test -A --quiet $files ;;
    bun) run bun bun test --timeout 120000 $files ;;
    node) run node node_modules/node/bin/node --test --test-timeout=120000 $files ;;
    node26) run node26 node_modules/node26/bin/node --test --test-timeout=120000 $files ;;
    *) echo "unknown runtime $rt" >&2; status=1 ;;
  esac
done

echo
echo "=== summary"
for r in "${results[@]}"; do echo "$r"; done
exit $status
