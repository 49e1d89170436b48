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

# The servers, as bench/load.ts names them without the `hybi-` prefix:
SERVER_NAMES="node deno bun node-session deno-session bun-session floor-node floor-deno floor-bun ws deno-native bun-native tcp-raw"

# Sets, for server $1 on port $2: `kind` (node, deno, bun: the runtime that
# runs it; native: tcp-raw), `perm` (Deno's permission flag) and the array
# `script` (the script or binary and its arguments). Servers: node, deno, bun
# (examples/echo.ts on that runtime, handler path: --api handlers);
# node-session, deno-session, bun-session (the same, `for await` default
# session: --api session); floor-node, floor-deno, floor-bun (the bare echo of
# bench/floor/); ws, deno-native, bun-native, tcp-raw (the peers from
# WSBENCH_DIR, as in bench/load.ts).
server_parts() {
  local peers=${WSBENCH_DIR:-$PWD/../shared/tools/wsbench}/peers api=handlers
  case $1 in *-session) api=session ;; esac
  perm=-A
  case $1 in
    node | node-session) kind=node script=(examples/echo.ts --api "$api" --port "$2") ;;
    deno | deno-session) kind=deno script=(examples/echo.ts --api "$api" --port "$2") ;;
    bun | bun-session) kind=bun script=(examples/echo.ts --api "$api" --port "$2") ;;
    floor-node | floor-deno | floor-bun) kind=${1#floor-} perm=--allow-net script=("bench/floor/${1#floor-}.ts" --port "$2") ;;
    ws) kind=node script=("$peers/ws-echo.mjs" "$2") ;;
    deno-native) kind=deno perm=--allow-net script=("$peers/deno-echo.ts" "$2") ;;
    bun-native) kind=bun script=("$peers/bun-echo.ts" "$2") ;;
    tcp-raw) kind=native script=("$PWD/bench/.out/bin/tcp-echo" "$2") ;;
    *) echo "unknown server $1 (one of: $SERVER_NAMES)" >&2; return 2 ;;
  esac
}

# Sets the array `cmd` to the command line of server $1 on port $2 (see
# server_parts), with any further arguments as options of its runtime (e.g.
# --cpu-prof; after `run` on Deno; ignored for tcp-raw).
server_command() {
  server_parts "$1" "$2" || return
  shift 2
  local bin=$PWD/node_modules/.bin
  case $kind in
    node) cmd=("$bin/node" "$@" "${script[@]}") ;;
    bun) cmd=("$bin/bun" "$@" "${script[@]}") ;;
    deno) cmd=("$bin/deno" run "$perm" "$@" "${script[@]}") ;;
    native) cmd=("${script[@]}") ;;
  esac
}
