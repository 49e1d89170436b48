#!/usr/bin/env bash
# Profiles one server under one wsbench scenario:
#   bench/profile.sh SERVER small|pipelined|bulk|large [SECS] [OUTDIR]
# SERVER: node | deno | bun (examples/echo.ts on that runtime, handler path),
# node-session | deno-session | bun-session (its `for await` default session),
# floor-node | floor-deno | floor-bun (the bare echo of bench/floor/), ws,
# deno-native, bun-native, tcp-raw (see bench/servers.sh; tcp-raw is never
# profiled, ws and bun-native only with PROFILE=0). Server on CPU 0, client on CPU 1 (as run.sh). Node and Bun write a
# .cpuprofile (summarised with bench/profile_summary.ts); Deno writes a V8
# log (--prof), summarised with `node --prof-process`. PROFILE=0: no profiler,
# just the wsbench line.
set -euo pipefail
cd "$(dirname "$0")/.."
server=$1 scenario=$2 secs=${3:-5} out=${4:-/tmp/hybi-prof}
mkdir -p "$out"; rm -f "$out"/*.cpuprofile "$out"/isolate-*.log
bin=bench/.out/bin
port=$($bin/wsbench --free-port)
source bench/servers.sh
args=$(scenario_args "$scenario")
root=$PWD
server_parts "$server" "$port"
profile=${PROFILE:-1}
[ "$kind" = native ] && profile=0
if [ "$profile" = 0 ]; then
  server_command "$server" "$port"
else
  case $kind in
    node | bun) server_command "$server" "$port" --cpu-prof --cpu-prof-dir="$out" ;;
    deno) server_command "$server" "$port" --v8-flags=--prof,--logfile="$out/isolate-%p.log" ;;
  esac
fi
NODE_PATH="$root/node_modules" taskset -c 0 "${cmd[@]}" > "$out/server.log" 2>&1 &
pid=$!
$bin/wsbench --wait-port --port "$port" --seconds 20
taskset -c 1 $bin/wsbench --port "$port" $args --seconds 1 --quiet > /dev/null || true
taskset -c 1 $bin/wsbench --port "$port" $args --seconds "$secs" | tail -1
# SIGTERM (a background job of a script ignores SIGINT): hybi's echo and the floors exit cleanly on it, so the
# profiler writes its file; the peers die of it, so Node's and Bun's profiles of ws and bun-native are not written.
kill -TERM $pid
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -KILL $pid 2>/dev/null || true
wait $pid || true
[ "$profile" = 0 ] && exit 0
case $kind in
  deno) log=$(ls "$out"/isolate-*.log | head -1)
        (cd "$out" && "$root/node_modules/.bin/node" --prof-process "$log" 2>/dev/null > prof.txt); head -60 "$out/prof.txt" ;;
  *) prof=$(ls -t "$out"/*.cpuprofile 2>/dev/null | head -1 || true)
     if [ -z "$prof" ]; then echo "no .cpuprofile written (the server did not exit cleanly on SIGTERM)" >&2; exit 1; fi
     "$root/node_modules/.bin/node" bench/profile_summary.ts "$prof" 45 ;;
esac
