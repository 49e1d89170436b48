/**
 * permessage-deflate with the runtime's own WebSocket client on its own
 * engine: Bun's and Node's (undici's) clients offer
 * `permessage-deflate; client_max_window_bits`; Deno's offers no
 * extension, so there it is skipped. Every route of the deflate echo
 * (context takeover on and off, 10-bit windows, fragmented echoes), small
 * and 4 MiB messages, text and binary; checked from the wire
 * (tests/_helpers/deflate_echo.ts) and by the client.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  type DeflateEcho,
  ROUTE_NAMES,
  type RouteName,
  startDeflateEcho,
  tapPath,
  verifyConnection,
} from "./_helpers/deflate_echo.ts";
import { runtime } from "./_helpers/engine.ts";

const skip = runtime === "deno" ? "Deno's WebSocket client offers no permessage-deflate" : false;
const client = runtime === "bun"
  ? "Bun's WebSocket"
  : runtime === "node"
  ? "Node's WebSocket (undici)"
  : "Deno's WebSocket";

let echo: DeflateEcho;
before(async () => {
  if (!skip) echo = await startDeflateEcho();
});
after(async () => {
  await echo?.stop();
});

const textDecoder = new TextDecoder();

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function run(route: RouteName): Promise<void> {
  const tag = `${runtime}-client`;
  const ws = new WebSocket(echo.wsUrl(route, tag));
  ws.binaryType = "arraybuffer";
  const received: (string | ArrayBuffer)[] = [];
  let wake: (() => void) | null = null;
  ws.onmessage = (e) => {
    received.push(e.data);
    wake?.();
  };
  let closed: string | null = null;
  const done = new Promise((resolve) =>
    ws.onclose = (e) => {
      closed = `${e.code} ${e.reason}`;
      wake?.();
      resolve(undefined);
    }
  );
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("the WebSocket failed to open"));
  });
  const messages = echo.messages(route);
  try {
    assert.equal(ws.extensions, echo.tap.connection(tapPath(route, tag)).responseHeader("sec-websocket-extensions"));
    for (const [i, m] of messages.entries()) {
      ws.send(m.kind === "text" ? textDecoder.decode(m.bytes) : m.bytes);
      while (received.length === 0) {
        if (closed !== null) assert.fail(`message ${i}: the connection closed (${closed}) before its echo`);
        await new Promise<void>((resolve) => wake = resolve);
      }
      const got = received.shift()!;
      if (m.kind === "text") assert.equal(got, textDecoder.decode(m.bytes), `message ${i}: text`);
      else assert.ok(got instanceof ArrayBuffer && equal(new Uint8Array(got), m.bytes), `message ${i}: binary`);
    }
  } finally {
    if (closed === null) ws.close(1000);
    await done;
  }
  const conn = echo.tap.connection(tapPath(route, tag));
  await conn.closed;
  const report = await verifyConnection(conn, route, messages);
  assert.equal(report.offer, "permessage-deflate; client_max_window_bits");
  // Bun's client compresses its larger messages (our inflater decoded them); undici's sends all uncompressed.
  if (runtime === "bun") assert.ok(report.clientCompressed > 0, "Bun's client compressed some messages");
}

for (const route of ROUTE_NAMES) {
  test(`${client} client on ${runtime}'s engine, /${route}`, { skip }, () => run(route));
}
