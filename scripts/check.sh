#!/usr/bin/env bash
# npm run check: what must pass before a change lands on main. Type check
# (the code, every JSDoc @example, every ```ts block of README.md and docs/),
# lint, format, deno doc --lint of the published entry points, publish dry run.
#
# The pattern for a code block in README.md, docs/*.md or an @example:
# - It is a whole program: everything it uses is imported or defined in the
#   block itself (no `server`, `app` or `handler` left over from another one).
# - It imports as a user of the package does: "@hybi/websocket",
#   "@hybi/websocket/deno" (/bun, /node, /client, /redis, /hono), which Deno
#   resolves through deno.json's "name" and "exports"; npm packages by their
#   bare name ("redis", "hono"), found in package.json, with a comment giving
#   the npm: specifier for Deno where a user needs one. An @example of an
#   internal module may import it by relative path instead.
# - A block for one runtime (Bun.listen, node:http) still type-checks here;
#   `ts ignore` is not used to skip a block. Shell commands go in ```sh.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

deno check --doc mod.ts src/ tests/ examples/
deno check --doc-only README.md docs/*.md
deno lint
deno fmt --check
deno doc --lint mod.ts src/engine/deno.ts src/engine/bun.ts src/engine/node.ts src/client.ts src/redis.ts
deno publish --dry-run --allow-dirty
