#!/usr/bin/env bash
# Runs the whole suite under Deno, Bun and Node (the pinned binaries in
# node_modules/.bin) and fails if any runtime fails. Each runner's own
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

only=${HYBI_TEST_RUNTIMES:-deno bun node}
for rt in $only; do
  case $rt in
    deno) run deno deno test -A --quiet $files ;;
    bun) run bun bun test --timeout 120000 $files ;;
    node) run node node --test --test-timeout=120000 $files ;;
    *) echo "unknown runtime $rt" >&2; status=1 ;;
  esac
done

echo
echo "=== summary"
for r in "${results[@]}"; do echo "$r"; done
exit $status
