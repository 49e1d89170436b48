#!/usr/bin/env bash
# Server CPU time per echoed message, split into user and system time: a
# steadier measure than msgs/s on a shared machine (another job slows the
# server down, but barely changes what each message costs it).
#   bench/cpu_per_message.sh SERVER SCENARIO [SECS]
# SERVER: node | deno | bun (examples/echo.ts on that runtime, handler path),
# node-session | deno-session | bun-session (its `for await` default session),
# floor-node | floor-deno | floor-bun (the bare echo of bench/floor/), ws,
# deno-native, bun-native, tcp-raw (see bench/servers.sh);
# SCENARIO: small | pipelined | bulk | large.
# Server on CPU 0, wsbench on CPU 1 (as run.sh); needs bench/.out/bin from
# `npm run bench:load`. Reads utime/stime of the server from /proc before and
# after one run.
set -euo pipefail
cd "$(dirname "$0")/.."
server=$1 scenario=$2 secs=${3:-3}
bin=bench/.out/bin
port=$($bin/wsbench --free-port)
source bench/servers.sh
args=$(scenario_args "$scenario")
server_command "$server" "$port"
NODE_PATH=$PWD/node_modules taskset -c 0 "${cmd[@]}" > /dev/null 2>&1 &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true' EXIT
$bin/wsbench --wait-port --port "$port" --seconds 20
taskset -c 1 $bin/wsbench --port "$port" $args --seconds 1 --quiet > /dev/null || true
read -r u0 s0 < <(awk '{print $14, $15}' "/proc/$pid/stat")
out=$(taskset -c 1 $bin/wsbench --port "$port" $args --seconds "$secs" | head -1)
read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
msgs=$(echo "$out" | sed 's/.*"msgs":\([0-9]*\).*/\1/')
rate=$(echo "$out" | sed 's/.*"msgs_per_s":\([0-9.]*\).*/\1/')
awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v m="$msgs" -v t="$(getconf CLK_TCK)" -v r="$rate" -v n="$server" -v c="$scenario" \
  'BEGIN { printf "%-12s %-9s %9.0f msgs/s   user %6.2f µs/msg   sys %6.2f µs/msg   total %6.2f µs/msg\n", n, c, r, u/t*1e6/m, s/t*1e6/m, (u+s)/t*1e6/m }'
