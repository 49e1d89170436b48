/**
 * hybi's client (`connect` of the runtime's engine) against real servers:
 * the `ws` package's WebSocketServer (with and without permessage-deflate)
 * and hybi's own server on the same runtime. Messages of every size, a
 * fragmented message, pings both ways, closes both ways, subprotocols,
 * compression, request headers, the three sessions, abort, the connect
 * failures, status and redirects, and wss with a CA made for the run.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as net from "node:net";
import {
  ClientHandshakeError,
  CloseCode,
  CloseReason,
  computeAccept as acceptOf,
  ErrorCode,
  Frame,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
  route,
  router,
  webSocket,
  webSocketRaw,
} from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { engineConnect, nextMessage, rejection } from "./_helpers/connect.ts";
import { engineServe, rawEcho, runtime } from "./_helpers/engine.ts";
import { makeCertificates, type TestCertificates } from "./_helpers/tls.ts";
import { until, within } from "./_helpers/wait.ts";
import { startWsServer, type WsServer } from "./_helpers/ws_server.ts";

const connect = await engineConnect();
let hybi: Server;
let deflateExtensions: PerMessageDeflateExtension[] = [];
let wsPlain: WsServer;
let wsDeflate: WsServer;

before(async () => {
  const serve = await engineServe();
  hybi = await serve(
    { port: 0, onError: () => {} },
    router([
      webSocket("/echo", { message: (ws, data) => void ws.send(data) }),
      webSocket("/deflate", {
        open: (ws) => void deflateExtensions.push(ws.extensions[0] as PerMessageDeflateExtension),
        message: (ws, data) => void ws.send(data),
      }, { extensions: [new PerMessageDeflate({ compressIfBiggerThan: 0 })] }),
      webSocketRaw("/raw", null, rawEcho),
      route("/missing", () => new Response("no such socket", { status: 404, headers: { "x-why": "test" } })),
      route("/moved", () => new Response(null, { status: 302, headers: { location: "/echo" } })),
    ]),
  );
  wsPlain = await startWsServer({ handleProtocols: (offered) => offered.has("b") ? "b" : false });
  wsDeflate = await startWsServer({ perMessageDeflate: { threshold: 0 } });
});

after(async () => {
  await hybi.shutdown({ timeout: 1000 });
  await wsPlain.close();
  await wsDeflate.close();
});

function bytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >>> 8)) & 0xff;
  return out;
}

for (const peer of ["ws", "hybi"] as const) {
  test(`${runtime} client ↔ ${peer}: text and binary of 0 B, 64 KiB, 16 MiB echoed`, async () => {
    const url = peer === "ws" ? `ws://127.0.0.1:${wsPlain.port}/` : `ws://127.0.0.1:${hybi.port}/echo`;
    const session = await connect(url, { extensions: false });
    assert.equal(session.protocol, null);
    await session.sendText("hello, server");
    assert.equal(await nextMessage(session), "hello, server");
    for (const size of [0, 64 * 1024, 16 * 1024 * 1024]) {
      const data = bytes(size);
      await session.sendBinary(data);
      const echoed = await within(nextMessage(session), { timeout: 30_000, message: `the ${size}-byte echo` });
      assert.ok(echoed instanceof Uint8Array);
      assert.equal(echoed.length, size);
      assert.ok(Buffer.from(echoed).equals(Buffer.from(data)), `${size} bytes differ`);
    }
    await session.close(new CloseReason(4001, "client bye"));
    assert.deepEqual(await session.closeReason, new CloseReason(4001, "client bye"));
  });
}

test(`${runtime} client ↔ ws: a fragmented message, pings both ways, the server closes with code and reason`, async () => {
  const server = await startWsServer({
    onConnection(ws) {
      ws.on("message", (data) => {
        const text = data.toString();
        if (text === "fragments") {
          ws.send("one ", { fin: false });
          ws.send("two ", { fin: false });
          ws.send("three", { fin: true });
        } else if (text === "ping me") ws.ping(new TextEncoder().encode("server ping"));
        else if (text === "close me") ws.close(4002, "server bye");
      });
      ws.on("pong", (data) => ws.send(`pong: ${data.toString()}`));
      return true;
    },
  });
  try {
    const pongs: string[] = [];
    const messages: (string | Uint8Array)[] = [];
    const closed: [number, string][] = [];
    const ws = await connect(`ws://127.0.0.1:${server.port}/`, {
      extensions: false,
      handlers: {
        message: (_ws, data) => void messages.push(data),
        pong: (_ws, data) => void pongs.push(new TextDecoder().decode(data)),
        close: (_ws, code, reason) => void closed.push([code, reason]),
      },
    });
    ws.sendText("fragments");
    await until(() => messages.length === 1, { message: "the reassembled message" });
    assert.equal(messages[0], "one two three");
    ws.ping("client ping");
    await until(() => pongs.length === 1, { message: "the server's pong" });
    assert.equal(pongs[0], "client ping");
    assert.deepEqual(server.pings, ["client ping"]);
    ws.sendText("ping me");
    await until(() => messages.length === 2, { message: "the server to see our pong" });
    assert.equal(messages[1], "pong: server ping");
    ws.sendText("close me");
    await until(() => closed.length === 1, { message: "the close" });
    assert.deepEqual(closed[0], [4002, "server bye"]);
    await until(() => server.closes.length === 1, { message: "the server's close event" });
    // The client answers with the code and no reason (as hybi's server does).
    assert.deepEqual(server.closes[0], [4002, ""]);
  } finally {
    await server.close();
  }
});

test(`${runtime} client: subprotocols, headers and origin reach the server`, async () => {
  const session = await connect(`ws://127.0.0.1:${wsPlain.port}/path?q=1`, {
    protocols: ["a", "b"],
    headers: { "x-token": "s3cret", cookie: "id=42" },
    origin: "https://app.example",
    extensions: false,
  });
  assert.equal(session.protocol, "b");
  const request = wsPlain.requests.at(-1)!;
  assert.equal(request.url, "/path?q=1");
  assert.equal(request.headers["x-token"], "s3cret");
  assert.equal(request.headers.cookie, "id=42");
  assert.equal(request.headers.origin, "https://app.example");
  assert.equal(request.headers["sec-websocket-protocol"], "a, b");
  assert.equal(request.headers.host, `127.0.0.1:${wsPlain.port}`);
  await session.close();
  // Headers the handshake owns are refused before anything is sent.
  await assert.rejects(
    connect(`ws://127.0.0.1:${wsPlain.port}/`, { headers: { "sec-websocket-key": "x" } }),
    TypeError,
  );
  await assert.rejects(connect(`http://127.0.0.1:${wsPlain.port}/`), SyntaxError);
});

test(`${runtime} client: a subprotocol the client did not offer fails with WS_ERR_HANDSHAKE_PROTOCOL`, async () => {
  const server = await startWsServer({ handleProtocols: () => "unoffered" });
  try {
    const error = await rejection(connect(`ws://127.0.0.1:${server.port}/`, { protocols: ["a"] }));
    assert.ok(error instanceof ClientHandshakeError);
    assert.equal(error.code, ErrorCode.HandshakeProtocol);
    assert.equal(error.status, 101);
    assert.equal(error.headers.get("sec-websocket-protocol"), "unoffered");
  } finally {
    await server.close();
  }
});

test(`${runtime} client ↔ ws with perMessageDeflate: negotiated (with the offered parameters) and used`, async () => {
  const session = await connect(`ws://127.0.0.1:${wsDeflate.port}/`, {
    extensions: { compressIfBiggerThan: 0, clientMaxWindowBits: 10, serverNoContextTakeover: true },
  });
  const extension = session.extensions[0] as PerMessageDeflateExtension;
  assert.equal(extension.name, "permessage-deflate");
  assert.equal(extension.parameters.serverNoContextTakeover, true);
  assert.equal(extension.parameters.clientMaxWindowBits, 10);
  const offered = wsDeflate.requests.at(-1)!.headers["sec-websocket-extensions"];
  assert.equal(offered, "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
  const text = "compress me ".repeat(10_000);
  await session.sendText(text);
  assert.equal(await nextMessage(session), text);
  // Our compressor ran (its state is kept between messages: context takeover on our side).
  assert.equal(extension.allocated.deflater, true);
  await session.close();
});

test(`${runtime} client ↔ hybi with PerMessageDeflate: both directions compressed`, async () => {
  deflateExtensions = [];
  const session = await connect(`ws://127.0.0.1:${hybi.port}/deflate`, { extensions: { compressIfBiggerThan: 0 } });
  const client = session.extensions[0] as PerMessageDeflateExtension;
  const text = "both ways ".repeat(5_000);
  await session.sendText(text);
  assert.equal(await nextMessage(session), text);
  const server = deflateExtensions[0];
  // Each side inflated what the other deflated: the messages were compressed on the wire both ways.
  assert.deepEqual(server.allocated, { inflater: true, deflater: true });
  assert.deepEqual(client.allocated, { inflater: true, deflater: true });
  await session.close();
});

test(`${runtime} client: the RAW session and the handler path against hybi's RAW echo`, async () => {
  const raw = await connect(`ws://127.0.0.1:${hybi.port}/raw`, { raw: true, extensions: false });
  assert.equal(raw.masking, true);
  await raw.send(new Frame.Text("raw hello"));
  const frames = raw[Symbol.asyncIterator]();
  const first = (await frames.next()).value as Frame;
  assert.ok(first instanceof Frame.Text);
  assert.equal(first.readText(), "raw hello");
  await raw.send(new Frame.Ping(new TextEncoder().encode("p")));
  assert.ok((await frames.next()).value instanceof Frame.Pong);
  await raw.close(new CloseReason(CloseCode.Normal, "done"));
  const close = (await frames.next()).value as Frame;
  assert.ok(close instanceof Frame.Close);
  assert.deepEqual(close.readReason(), new CloseReason(CloseCode.Normal, "done"));
  await within(raw[Symbol.asyncIterator]().next(), { message: "the RAW session's end" });

  const opened: string[] = [];
  const received: (string | Uint8Array)[] = [];
  const ws = await connect(`ws://127.0.0.1:${hybi.port}/echo`, {
    data: { user: "me" },
    handlers: {
      open: (ws) => void opened.push(ws.data.user),
      message: (_ws, data) => void received.push(data),
    },
  });
  assert.deepEqual(opened, ["me"]);
  assert.equal(ws.readyState, 1);
  ws.sendText("handlers");
  ws.sendBinary(new Uint8Array([1, 2, 3]));
  await until(() => received.length === 2, { message: "the echoes" });
  assert.deepEqual(received, ["handlers", new Uint8Array([1, 2, 3])]);
  ws.close(1000, "bye");
  await until(() => ws.readyState === 3, { message: "the handler connection to close" });
});

test(`${runtime} client: signal aborts the connect, or closes the open session with 1001`, async () => {
  const before = new AbortController();
  before.abort(new Error("not now"));
  assert.equal(
    (await rejection(connect(`ws://127.0.0.1:${hybi.port}/echo`, { signal: before.signal }))).message,
    "not now",
  );

  // A server that accepts and never answers: the abort comes during the handshake.
  const silent = await silentServer();
  try {
    const during = new AbortController();
    const pending = connect(`ws://127.0.0.1:${silent.port}/`, { signal: during.signal });
    await until(() => silent.sockets.length === 1, { message: "the client's TCP connection" });
    during.abort(new Error("changed my mind"));
    assert.equal((await rejection(pending)).message, "changed my mind");
    await until(() => silent.closed === 1, { message: "the aborted socket to close" });

    const timeout = await rejection(connect(`ws://127.0.0.1:${silent.port}/`, { handshakeTimeout: 200 }));
    assert.equal(timeout.code, ErrorCode.HandshakeTimeout);
    await until(() => silent.closed === 2, { message: "the timed-out socket to close" });
  } finally {
    await silent.close();
  }

  const open = new AbortController();
  const session = await connect(`ws://127.0.0.1:${wsPlain.port}/`, { signal: open.signal, extensions: false });
  const closes = wsPlain.closes.length;
  open.abort();
  assert.equal((await session.closeReason)?.code, CloseCode.GoingAway);
  await until(() => wsPlain.closes.length === closes + 1, { message: "the server to see the close" });
  assert.equal(wsPlain.closes.at(-1)![0], CloseCode.GoingAway);
});

test(`${runtime} client: refused, DNS failure, a 404 and redirects have their codes`, async () => {
  const port = await freePort();
  const refused = await rejection(connect(`ws://127.0.0.1:${port}/`));
  assert.equal(refused.code, ErrorCode.ConnectRefused);
  const dns = await rejection(connect("ws://no-such-host.invalid/"));
  assert.equal(dns.code, ErrorCode.ConnectDns);

  const missing = await rejection(connect(`ws://127.0.0.1:${hybi.port}/missing`));
  assert.ok(missing instanceof ClientHandshakeError);
  assert.equal(missing.code, ErrorCode.HandshakeStatus);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("x-why"), "test");

  const moved = await rejection(connect(`ws://127.0.0.1:${hybi.port}/moved`));
  assert.equal(moved.code, ErrorCode.HandshakeStatus);
  assert.equal(moved.status, 302);
  const followed = await connect(`ws://127.0.0.1:${hybi.port}/moved`, { redirects: 1 });
  await followed.sendText("after a redirect");
  assert.equal(await nextMessage(followed), "after a redirect");
  await followed.close();
});

test(`${runtime} client: a masked frame from the server fails the connection with 1002`, async () => {
  const server = await scriptedServer((socket, key) => {
    socket.write(switchingProtocols(key));
    // A masked text frame "hi": servers must not mask (RFC 6455 §5.1).
    socket.write(new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]));
  });
  try {
    const session = await connect(`ws://127.0.0.1:${server.port}/`, { extensions: false });
    const error = await rejection(nextMessage(session));
    assert.equal(error.code, ErrorCode.UnexpectedMask);
    await until(() => server.received.length >= 1, { message: "the client's close frame" });
    // The client's close frame: masked, code 1002.
    const frame = server.received[0];
    assert.equal(frame[0], 0x88);
    assert.equal(frame[1] & 0x80, 0x80);
    assert.equal(((frame[6] ^ frame[2]) << 8) | (frame[7] ^ frame[3]), 1002);
  } finally {
    await server.close();
  }
});

test(`${runtime} client: wss with a CA made for this run (and refused without it)`, async () => {
  const certs: TestCertificates = await makeCertificates();
  const serve = await engineServe();
  const secure = await serve(
    { port: 0, cert: certs.cert, key: certs.key, onError: () => {} },
    router([webSocket("/echo", { message: (ws, data) => void ws.send(data) })]),
  );
  try {
    const untrusted = await rejection(connect(`wss://127.0.0.1:${secure.port}/echo`));
    assert.equal(untrusted.code, ErrorCode.ConnectTls);
    const session = await connect(`wss://localhost:${secure.port}/echo`, { caCerts: [certs.ca] });
    await session.sendText("over TLS");
    assert.equal(await nextMessage(session), "over TLS");
    const big = bytes(256 * 1024);
    await session.sendBinary(big);
    assert.deepEqual(await nextMessage(session), big);
    await session.close();
    const byIp = await connect(`wss://127.0.0.1:${secure.port}/echo`, { caCerts: [certs.ca] });
    await byIp.close();
  } finally {
    await secure.shutdown({ timeout: 1000 });
    await certs.remove();
  }
});

// ---- servers written for one test each ----

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts and never answers. */
async function silentServer(): Promise<
  { port: number; sockets: net.Socket[]; closed: number; close(): Promise<void> }
> {
  const sockets: net.Socket[] = [];
  const state = { port: 0, sockets, closed: 0, close: async () => {} };
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    socket.on("close", () => state.closed++);
    // Read (and drop) the request, so the client's end of the stream is seen.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as net.AddressInfo).port;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

function switchingProtocols(key: string): string {
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${acceptOf(key)}\r\n\r\n`;
}

/** A TCP server that reads the request head, then runs `script` with the client's key; records what follows. */
async function scriptedServer(
  script: (socket: net.Socket, key: string) => void,
): Promise<{ port: number; received: Uint8Array[]; close(): Promise<void> }> {
  const received: Uint8Array[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    let head = "";
    let upgraded = false;
    socket.on("data", (chunk: Buffer) => {
      if (upgraded) {
        received.push(new Uint8Array(chunk));
        return;
      }
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      upgraded = true;
      const line = head.slice(0, end).split("\r\n").find((l) => l.toLowerCase().startsWith("sec-websocket-key:"))!;
      script(socket, line.slice(line.indexOf(":") + 1).trim());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
