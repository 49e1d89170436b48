#!/usr/bin/env bash
# Profiles examples/echo.ts on one runtime under one wsbench scenario:
#   bench/profile.sh node|deno|bun small|pipelined|bulk|large [SECS] [OUTDIR]
# Server on CPU 0, client on CPU 1 (as run.sh). Node and Bun write a
# .cpuprofile (summarised with bench/profile_summary.ts); Deno writes a V8
# log (--prof), summarised with `node --prof-process`.
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=$1 scenario=$2 secs=${3:-5} out=${4:-/tmp/hybi-prof}
mkdir -p "$out"; rm -f "$out"/*.cpuprofile "$out"/isolate-*.log
bin=bench/.out/bin
port=$($bin/wsbench --free-port)
source bench/servers.sh
args=$(scenario_args "$scenario")
root=$PWD
if [ "${PROFILE:-1}" = 0 ]; then
  server_command "$runtime" "$port"
else
case $runtime in
  node) cmd=("$root/node_modules/.bin/node" --cpu-prof --cpu-prof-dir="$out" examples/echo.ts --port "$port") ;;
  bun) cmd=("$root/node_modules/.bin/bun" --cpu-prof --cpu-prof-dir="$out" examples/echo.ts --port "$port") ;;
  deno) cmd=("$root/node_modules/.bin/deno" run -A --v8-flags=--prof,--logfile="$out/isolate-%p.log" examples/echo.ts --port "$port") ;;
esac
fi
NODE_PATH="$root/node_modules" taskset -c 0 "${cmd[@]}" > "$out/server.log" 2>&1 &
pid=$!
$bin/wsbench --wait-port --port "$port" --seconds 20
taskset -c 1 $bin/wsbench --port "$port" $args --seconds 1 --quiet > /dev/null || true
taskset -c 1 $bin/wsbench --port "$port" $args --seconds "$secs" | tail -1
kill -INT $pid; wait $pid || true
[ "${PROFILE:-1}" = 0 ] && exit 0
case $runtime in
  deno) log=$(ls "$out"/isolate-*.log | head -1)
        (cd "$out" && "$root/node_modules/.bin/node" --prof-process "$log" 2>/dev/null > prof.txt); head -60 "$out/prof.txt" ;;
  *) "$root/node_modules/.bin/node" bench/profile_summary.ts "$(ls -t "$out"/*.cpuprofile | head -1)" 45 ;;
esac
