#!/usr/bin/env bash
# One port, 1 and 2 processes: echo and broadcast throughput of examples/cluster.ts with --workers 1 and 2 (reusePort),
# rounds alternating 1 and 2 to cancel drift, with the CPU time the workers and the client used in each run, so a
# client-bound result shows as such. Broadcast across workers goes through a real redis-server (started here on a free
# loopback port and stopped at the end); with one worker it runs without Redis.
#
#   bash bench/scaling.sh [runtimes] [rounds] [seconds]       (default "node bun deno", 2 rounds, 4 s)
#
# Needs bench/.out/bin/wsbench (npm run bench:load builds it) and /usr/bin/redis-server. Prints one line per run.
set -u
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
RTS=${1:-node bun deno}
ROUNDS=${2:-2}
SECONDS_PER_RUN=${3:-4}
WSBENCH=bench/.out/bin/wsbench
[ -x "$WSBENCH" ] || { echo "build wsbench first (npm run bench:load builds it)" >&2; exit 2; }
[ -x /usr/bin/redis-server ] || { echo "needs /usr/bin/redis-server" >&2; exit 2; }
TICKS=$(getconf CLK_TCK)

redis_dir=$(mktemp -d)
redis_port=$($WSBENCH --free-port)
/usr/bin/redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" >/dev/null &
redis_pid=$!
cluster_pid=""
cleanup() {
  [ -n "$cluster_pid" ] && kill "$cluster_pid" 2>/dev/null
  kill "$redis_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$redis_dir"
}
trap cleanup EXIT
$WSBENCH --wait-port --port "$redis_port" --seconds 10 >/dev/null || { echo "redis-server did not start" >&2; exit 1; }

# CPU ticks (user + system) of a process and its children, from /proc.
cpu_ticks() {
  local total=0 pid
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    # Fields 14 and 15 (utime, stime) after the parenthesised command name.
    total=$((total + $(sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}

run() {
  local rt=$1 app=$2 workers=$3
  local cmd
  case $rt in
    deno) cmd=(deno run -A examples/cluster.ts) ;;
    bun) cmd=(bun examples/cluster.ts) ;;
    node) cmd=(node examples/cluster.ts) ;;
  esac
  local log
  log=$(mktemp)
  local port
  port=$($WSBENCH --free-port)
  REDIS_URL=redis://127.0.0.1:$redis_port "${cmd[@]}" --app "$app" --workers "$workers" --port "$port" >"$log" 2>&1 &
  cluster_pid=$!
  for _ in $(seq 1 150); do grep -q "listening on" "$log" && break; sleep 0.2; done
  if ! grep -q "listening on" "$log"; then
    echo "$rt $app workers=$workers: did not start: $(tail -2 "$log")"
    kill "$cluster_pid" 2>/dev/null
    cluster_pid=""
    return
  fi
  local workers_pids
  workers_pids=$(pgrep -P "$cluster_pid" | tr '\n' ' ')
  local before redis_before
  # shellcheck disable=SC2086
  before=$(cpu_ticks $workers_pids)
  redis_before=$(cpu_ticks "$redis_pid")
  local args
  if [ "$app" = echo ]; then
    args=(--conns 100 --size 32 --text --depth 16)
  else
    args=(--broadcast --conns 1000 --size 32 --text --depth 4)
  fi
  local out client_time
  out=$( { /usr/bin/time -f "client_cpu_s %U %S" "$WSBENCH" --port "$port" "${args[@]}" --seconds "$SECONDS_PER_RUN" --quiet; } 2>&1)
  local after redis_after
  # shellcheck disable=SC2086
  after=$(cpu_ticks $workers_pids)
  redis_after=$(cpu_ticks "$redis_pid")
  kill "$cluster_pid" 2>/dev/null
  wait "$cluster_pid" 2>/dev/null
  cluster_pid=""
  rm -f "$log"
  local rate
  if [ "$app" = echo ]; then
    rate=$(echo "$out" | grep -oE '"msgs_per_s":[0-9.]+' | cut -d: -f2)
  else
    rate=$(echo "$out" | grep -oE '"deliveries_per_s":[0-9.]+' | cut -d: -f2)
  fi
  client_time=$(echo "$out" | grep client_cpu_s | awk '{printf "%.2f", $2 + $3}')
  printf '%-5s %-9s workers=%s rate=%s /s  workers_cpu=%.2f s  redis_cpu=%.2f s  client_cpu=%s s (incl. connecting)\n' \
    "$rt" "$app" "$workers" "${rate:-?}" "$(echo "($after - $before) / $TICKS" | bc -l)" \
    "$(echo "($redis_after - $redis_before) / $TICKS" | bc -l)" "$client_time"
}

echo "# bench/scaling.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${SECONDS_PER_RUN} s per run"
for rt in $RTS; do
  for app in echo broadcast; do
    for round in $(seq 1 "$ROUNDS"); do
      if [ $((round % 2)) -eq 1 ]; then order="1 2"; else order="2 1"; fi
      for w in $order; do run "$rt" "$app" "$w"; done
    done
  done
done
