# Sourced by bench/profile.sh and bench/cpu_per_message.sh (from the
# repository root): wsbench's scenarios as run.sh runs them, and the servers
# they are run against.

# Prints the wsbench arguments of scenario $1.
scenario_args() {
  case $1 in
    small) echo "--conns 100 --size 32 --text --depth 1" ;;
    pipelined) echo "--conns 100 --size 32 --binary --depth 16" ;;
    bulk) echo "--conns 4 --size 65536 --binary --depth 4" ;;
    large) echo "--conns 1 --size 4194304 --binary --depth 1" ;;
    *) echo "unknown scenario $1" >&2; return 2 ;;
  esac
}

# Sets the array `cmd` to the command line of server $1 on port $2: node, deno
# or bun (examples/echo.ts on that runtime), ws, deno-native, bun-native, tcp-raw
# (the peers from WSBENCH_DIR, as in bench/load.ts).
server_command() {
  local root=$PWD peers=${WSBENCH_DIR:-$PWD/../shared/tools/wsbench}/peers
  case $1 in
    node) cmd=("$root/node_modules/.bin/node" examples/echo.ts --port "$2") ;;
    bun) cmd=("$root/node_modules/.bin/bun" examples/echo.ts --port "$2") ;;
    deno) cmd=("$root/node_modules/.bin/deno" run -A examples/echo.ts --port "$2") ;;
    ws) cmd=("$root/node_modules/.bin/node" "$peers/ws-echo.mjs" "$2") ;;
    deno-native) cmd=("$root/node_modules/.bin/deno" run --allow-net "$peers/deno-echo.ts" "$2") ;;
    bun-native) cmd=("$root/node_modules/.bin/bun" "$peers/bun-echo.ts" "$2") ;;
    tcp-raw) cmd=("$root/bench/.out/bin/tcp-echo" "$2") ;;
    *) echo "unknown server $1" >&2; return 2 ;;
  esac
}
