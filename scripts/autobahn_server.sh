#!/usr/bin/env bash
# Runs Autobahn|Testsuite's fuzzingclient (every case, compression included)
# against `npm run echo:RUNTIME` on each runtime named (default: all three)
# and prints each summary. A development script: it needs the Autobahn port
# beside the checkout (../shared/tools/autobahn) and takes 10-15 minutes per
# runtime, so it is not part of `npm test`. Reports go to ./.autobahn/.
# usage: npm run autobahn:server [-- deno|bun|node ...]
set -u
cd "$(dirname "$0")/.."
tools=${AUTOBAHN_TOOLS:-../shared/tools/autobahn}
if [ ! -x "$tools/run-project.sh" ]; then
  echo "autobahn:server needs Autobahn|Testsuite at $tools (set AUTOBAHN_TOOLS)" >&2
  exit 2
fi
runtimes="${*:-deno bun node}"
exec "$tools/run-project.sh" "$runtimes"
