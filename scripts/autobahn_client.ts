/**
 * The Autobahn|Testsuite fuzzingserver's client: hybi's `connect` on the
 * handler path (the fast path), offering permessage-deflate. It reads the
 * case count, runs every case echoing each message (text as text, binary as
 * binary) until the server closes, then asks the server to write its
 * reports. The same file runs on each runtime, with that runtime's engine:
 *
 *     deno run -A scripts/autobahn_client.ts ws://127.0.0.1:9001 hybi-client-deno
 *     bun scripts/autobahn_client.ts ws://127.0.0.1:9001 hybi-client-bun
 *     node scripts/autobahn_client.ts ws://127.0.0.1:9001 hybi-client-node
 *
 * `npm run autobahn:client -- deno|bun|node` starts the fuzzingserver and
 * runs this (scripts/autobahn_client.sh).
 *
 * @module
 */
import process from "node:process";
import { connect } from "../src/client.ts";
import type { WebSocketHandlers } from "../mod.ts";

const [base, agent] = process.argv.slice(2);
if (base === undefined || agent === undefined) {
  console.error("usage: autobahn_client.ts ws://HOST:PORT AGENT");
  process.exit(2);
}

/**
 * Connects to `path` with `handlers` and resolves once the connection is
 * closed (or failed to open: some cases refuse the handshake's offer).
 */
function session(path: string, handlers: WebSocketHandlers): Promise<void> {
  return new Promise((resolve) => {
    connect(`${base}${path}`, {
      handlers: { ...handlers, close: () => resolve(), error: () => {} },
      handshakeTimeout: 60_000,
    }).catch((error: unknown) => {
      console.error(`${path}: ${error instanceof Error ? error.message : String(error)}`);
      resolve();
    });
  });
}

let count = 0;
await session("/getCaseCount", {
  message(_ws, data) {
    count = Number(data);
  },
});
const echo: WebSocketHandlers = {
  message(ws, data) {
    ws.send(data);
  },
};
const agentParam = encodeURIComponent(agent);
for (let n = 1; n <= count; n++) {
  await session(`/runCase?case=${n}&agent=${agentParam}`, echo);
}
await session(`/updateReports?agent=${agentParam}`, {});
console.log(`ran ${count} cases`);
