/**
 * permessage-deflate with the `ws` package's client (`perMessageDeflate`)
 * on the current runtime's engine: context takeover on and off, window
 * sizes asked by either side, echoes sent whole and in fragments, messages
 * sent whole and in fragments; small and 4 MiB messages, text and binary,
 * compressible and not. Each connection is checked from the wire
 * (tests/_helpers/deflate_echo.ts) and the client checks every echo.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  type DeflateEcho,
  type RouteName,
  type ScenarioMessage,
  startDeflateEcho,
  tapPath,
  verifyConnection,
} from "./_helpers/deflate_echo.ts";
import { runtime } from "./_helpers/engine.ts";
import { WebSocketClient, type WsDeflateOptions } from "./_helpers/ws_client.ts";

let echo: DeflateEcho;
before(async () => {
  echo = await startDeflateEcho();
});
after(async () => {
  await echo.stop();
});

const textDecoder = new TextDecoder();

interface WsCase {
  title: string;
  route: RouteName;
  client: WsDeflateOptions;
  /** The client sends each message in fragments of this size (0: whole). */
  fragment?: number;
  negotiated?: Parameters<typeof verifyConnection>[3];
  /** Size of the large messages, when not the route's. */
  large?: number;
}

const cases: WsCase[] = [
  { title: "default offer, context takeover both ways", route: "takeover", client: { threshold: 0 } },
  {
    title: "the client asks for no context takeover both ways",
    route: "takeover",
    client: { threshold: 0, serverNoContextTakeover: true, clientNoContextTakeover: true },
    negotiated: {
      answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      serverNoContextTakeover: true,
    },
    large: 1024 * 1024,
  },
  {
    title: "the client asks for 9-bit windows both ways",
    route: "takeover",
    client: { threshold: 0, serverMaxWindowBits: 9, clientMaxWindowBits: 9 },
    negotiated: {
      answer: "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
      serverWindowBits: 9,
    },
    large: 1024 * 1024,
  },
  {
    title: "the client asks for server_max_window_bits=8 (we compress with 9 bits, which its 8-bit window decodes)",
    route: "takeover",
    client: { threshold: 0, serverMaxWindowBits: 8 },
    negotiated: { answer: "permessage-deflate; server_max_window_bits=8", serverWindowBits: 8 },
    large: 1024 * 1024,
  },
  { title: "the server turns context takeover off both ways", route: "no-takeover", client: { threshold: 0 } },
  { title: "the server limits both windows to 10 bits", route: "window-10", client: { threshold: 0 } },
  {
    title: "echoes sent in 16 KiB fragments; the client sends in 100 KiB fragments with its default threshold",
    route: "fragments",
    client: {},
    fragment: 100 * 1024,
  },
];

async function run(c: WsCase): Promise<void> {
  const tag = `ws-${cases.indexOf(c)}`;
  const ws = new WebSocketClient(echo.wsUrl(c.route, tag), [], { perMessageDeflate: c.client, maxPayload: 0 });
  const received: { data: Buffer; binary: boolean }[] = [];
  let wake: (() => void) | null = null;
  let closed: string | null = null;
  ws.on("message", (data, binary) => {
    received.push({ data, binary });
    wake?.();
  });
  ws.once("close", (code, reason) => {
    closed = `${code} ${reason}`;
    wake?.();
  });
  await new Promise<void>((resolve, reject) => ws.once("open", resolve).once("error", reject));
  ws.once("error", () => {}); // reported by the close that follows
  const messages = echo.messages(c.route, c.large);
  try {
    for (const [i, m] of messages.entries()) {
      send(ws, m, c.fragment ?? 0);
      while (received.length === 0) {
        if (closed !== null) assert.fail(`message ${i}: the connection closed (${closed}) before its echo`);
        await new Promise<void>((resolve) => wake = resolve);
      }
      const got = received.shift()!;
      assert.equal(got.binary, m.kind === "binary", `message ${i}: type`);
      if (m.kind === "text") assert.equal(got.data.toString(), textDecoder.decode(m.bytes), `message ${i}: text`);
      else assert.ok(Buffer.compare(got.data, m.bytes) === 0, `message ${i}: ${m.bytes.length} bytes`);
    }
    assert.equal(ws.extensions, "permessage-deflate", "ws reports the extension in use");
  } finally {
    if (closed === null) {
      ws.close(1000);
      await new Promise((resolve) => ws.once("close", resolve));
    }
  }
  const conn = echo.tap.connection(tapPath(c.route, tag));
  await conn.closed;
  const report = await verifyConnection(conn, c.route, messages, c.negotiated);
  assert.equal(report.offer?.startsWith("permessage-deflate"), true, "ws offered permessage-deflate");
  // ws compresses (at least) what reaches its threshold, and our server decoded it all.
  const threshold = c.client.threshold ?? 1024;
  const fragmented = (m: ScenarioMessage) => c.fragment !== undefined && m.bytes.length > c.fragment;
  const expected = messages.filter((m) => m.bytes.length >= Math.max(threshold, 1) || fragmented(m)).length;
  assert.ok(
    report.clientCompressed >= expected,
    `ws compressed ${report.clientCompressed} messages, expected ${expected}`,
  );
}

function send(ws: InstanceType<typeof WebSocketClient>, m: ScenarioMessage, fragment: number): void {
  const binary = m.kind === "binary";
  if (fragment === 0 || m.bytes.length <= fragment) {
    ws.send(binary ? m.bytes : textDecoder.decode(m.bytes), { binary });
    return;
  }
  for (let at = 0; at < m.bytes.length; at += fragment) {
    ws.send(m.bytes.subarray(at, at + fragment), { binary, fin: at + fragment >= m.bytes.length });
  }
}

for (const c of cases) test(`ws perMessageDeflate on ${runtime}: ${c.title}`, () => run(c));
