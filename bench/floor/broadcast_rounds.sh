#!/usr/bin/env bash
# The broadcast floor against hybi and the runtime's native broadcast, in
# alternating rounds (bench/NOTES.md, "issue 12: the Bun broadcast floor").
#
#   bash bench/floor/broadcast_rounds.sh [bun|node|deno] [ROUNDS] [SECS]
#
# bun:  floor-bun (bench/floor/broadcast_bun.ts), hybi-bun (examples/broadcast.ts), bun (wsbench's
#       peers/bun-broadcast.ts: Bun.serve, server.publish);
# node: floor-node (bench/floor/broadcast_node.ts), hybi-node (examples/broadcast.ts), ws (peers/ws-broadcast.mjs);
# deno: floor-deno (bench/floor/broadcast_deno.ts), hybi-deno (examples/broadcast.ts), deno (peers/deno-broadcast.ts).
# Each server is started once on CPU 0 (as wsbench's run.sh does), gets a 1 s unrecorded warm-up run, then ROUNDS (3)
# rounds of one SECS (5) s wsbench run per server, the order rotated by one each round; the client runs on CPU 1:
#   wsbench --broadcast --conns 1000 --size 32 --text --depth 4 --seconds SECS
# Prints each run and the medians (deliveries/s, p50, p99, server CPU per 1,000 deliveries: the whole client run,
# connecting included, over the deliveries measured); raw JSON lines go to $OUT (default a fresh folder under
# bench/.out/); CONNS=50 for a smoke run. Needs wsbench built (npm run bench:load builds it into bench/.out/bin/, or set WSB).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runtime=${1:-bun}
rounds=${2:-3}
secs=${3:-5}
WSB=${WSB:-$root/bench/.out/bin/wsbench}
WSBENCH_DIR=${WSBENCH_DIR:-$root/../shared/tools/wsbench}
OUT=${OUT:-$root/bench/.out/broadcast-floor-$(date +%Y%m%d-%H%M%S)}
bin=$root/node_modules/.bin
args="--broadcast --conns ${CONNS:-1000} --size 32 --text --depth 4"
[ -x "$WSB" ] || { echo "no wsbench at $WSB (npm run bench:load builds it; or set WSB)" >&2; exit 2; }
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

case $runtime in
  bun) names=(floor-bun hybi-bun bun)
    cmds=("$bin/bun $here/broadcast_bun.ts --port {port}" "$bin/bun $root/examples/broadcast.ts --port {port}"
      "$bin/bun $WSBENCH_DIR/peers/bun-broadcast.ts {port}") ;;
  node) names=(floor-node hybi-node ws)
    cmds=("$bin/node $here/broadcast_node.ts --port {port}" "$bin/node $root/examples/broadcast.ts --port {port}"
      "$bin/node $WSBENCH_DIR/peers/ws-broadcast.mjs {port}") ;;
  deno) names=(floor-deno hybi-deno deno)
    cmds=("$bin/deno run --allow-net $here/broadcast_deno.ts --port {port}"
      "$bin/deno run -A $root/examples/broadcast.ts --port {port}"
      "$bin/deno run --allow-net $WSBENCH_DIR/peers/deno-broadcast.ts {port}") ;;
  *) echo "usage: $0 [bun|node|deno] [ROUNDS] [SECS]" >&2; exit 2 ;;
esac
# ws-broadcast.mjs needs ws and bufferutil: node_modules of the project, as run.sh's WSBENCH_RT.
export NODE_PATH=$root/node_modules

declare -A pid port
stop_all() {
  for n in "${!pid[@]}"; do
    kill -TERM "${pid[$n]}" 2>/dev/null
    for _ in $(seq 30); do kill -0 "${pid[$n]}" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "${pid[$n]}" 2>/dev/null
    wait "${pid[$n]}" 2>/dev/null
  done
}
trap 'stop_all; exit 130' INT TERM

for i in "${!names[@]}"; do
  n=${names[$i]}
  port[$n]=$("$WSB" --free-port)
  taskset -c 0 bash -c "exec ${cmds[$i]//\{port\}/${port[$n]}}" >"$OUT/$n.server.log" 2>&1 </dev/null &
  pid[$n]=$!
  ok=0
  for _ in $(seq 100); do
    kill -0 "${pid[$n]}" 2>/dev/null || break
    if "$WSB" --wait-port --port "${port[$n]}" --seconds 0.2; then ok=1; break; fi
  done
  [ $ok = 1 ] || { echo "$n did not start (see $OUT/$n.server.log)" >&2; stop_all; exit 1; }
done

client() { # name secs
  timeout $(($2 + 60)) taskset -c 1 "$WSB" --port "${port[$1]}" $args --seconds "$2" --quiet 2>>"$OUT/$1.client.err" |
    grep '^{' | tail -1
}
cpu_ticks() { # pid -> user + system clock ticks of that process
  awk '{print $14 + $15}' "/proc/$1/stat"
}
jget() { printf '%s' "$2" | grep -o "\"$1\":[-0-9.]*" | head -1 | cut -d: -f2; }

echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in "${names[@]}"; do client "$n" 1 >/dev/null; sleep 0.3; done
declare -A del p50 p99 cpus
for r in $(seq 0 $((rounds - 1))); do
  for k in "${!names[@]}"; do
    n=${names[$(((k + r) % ${#names[@]}))]}
    before=$(cpu_ticks "${pid[$n]}")
    line=$(client "$n" "$secs")
    after=$(cpu_ticks "${pid[$n]}")
    # Server CPU (user + system) per 1,000 deliveries, in ms: less moved by a neighbour than deliveries/s.
    cpu=$(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v d="$(jget deliveries "$line")" \
      'BEGIN { if (d > 0) printf "%.3f", t / hz * 1e6 / d; else print "-" }')
    echo "{\"server\":\"$n\",\"round\":$((r + 1)),\"server_cpu_ms_per_1000\":\"$cpu\",${line#\{}" >>"$OUT/results.jsonl"
    echo "round $((r + 1)) $n: $(jget deliveries_per_s "$line") deliveries/s, p50 $(jget p50_us "$line") us," \
      "p99 $(jget p99_us "$line") us, server CPU $cpu ms per 1,000 deliveries, errors $(jget errors "$line")"
    cpus[$n]+=" $cpu"
    del[$n]+=" $(jget deliveries_per_s "$line")"
    p50[$n]+=" $(jget p50_us "$line")"
    p99[$n]+=" $(jget p99_us "$line")"
    sleep 0.3
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
stop_all
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
for n in "${names[@]}"; do
  echo "median $n: $(median ${del[$n]}) deliveries/s, p50 $(median ${p50[$n]}) us, p99 $(median ${p99[$n]}) us," \
    "server CPU $(median ${cpus[$n]}) ms per 1,000 deliveries"
done
echo "raw: $OUT/results.jsonl"
