#!/usr/bin/env bash
# Memory per permessage-deflate connection on each runtime and configuration,
# one process each (see bench/deflate_memory.ts). N defaults to 10000.
set -u
cd "$(dirname "$0")/.."
bin=node_modules/.bin
n=${1:-10000}
for config in default no-takeover small-window ws; do
  "$bin/node" --expose-gc bench/deflate_memory.ts "$config" "$n"
  [ "$config" = ws ] && continue
  "$bin/deno" run -A --v8-flags=--expose-gc bench/deflate_memory.ts "$config" "$n"
  "$bin/bun" bench/deflate_memory.ts "$config" "$n"
done
