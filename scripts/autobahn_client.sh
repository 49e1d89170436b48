#!/usr/bin/env bash
# Runs Autobahn|Testsuite's fuzzingserver (every case, compression included)
# against hybi's client (scripts/autobahn_client.ts, the handler path,
# offering permessage-deflate) on each runtime named (default: all three)
# and prints each summary. A development script: it needs the Autobahn port
# beside the checkout (../shared/tools/autobahn) and takes several minutes
# per runtime, so it is not part of `npm test`. Reports go to
# ./.autobahn/hybi-client-RUNTIME/clients/.
# usage: npm run autobahn:client [-- deno|bun|node ...]
#   AUTOBAHN_CASES (env) picks cases, e.g. '["1.*","12.1.*"]'; default every case.
set -u
cd "$(dirname "$0")/.."
tools=${AUTOBAHN_TOOLS:-../shared/tools/autobahn}
if [ ! -x "$tools/run-client.sh" ]; then
  echo "autobahn:client needs Autobahn|Testsuite at $tools (set AUTOBAHN_TOOLS)" >&2
  exit 2
fi
export PATH="$PWD/node_modules/.bin:$PATH"
status=0
for rt in ${*:-deno bun node}; do
  case "$rt" in
    deno) client=(deno run -A scripts/autobahn_client.ts) ;;
    bun) client=(bun scripts/autobahn_client.ts) ;;
    node) client=(node scripts/autobahn_client.ts) ;;
    *) echo "unknown runtime $rt (deno, bun or node)" >&2; exit 2 ;;
  esac
  OUT="$PWD/.autobahn/hybi-client-$rt" "$tools/run-client.sh" "hybi-client-$rt" "${AUTOBAHN_CASES:-[\"*\"]}" '[]' "${client[@]}" || status=1
done
exit $status
