/**
 * hybi's client against servers that answer badly (issue 13, "Bad
 * servers"; tests/_helpers/bad_servers.ts): each scenario gets its precise
 * error code (`WS_ERR_HANDSHAKE_*`) or close code, the client's close frame
 * is checked on the wire, and nothing is left behind: the fixture sees the
 * client's TCP end, no timer set by hybi is pending, and (on Node and Deno,
 * whose `process.getActiveResourcesInfo()` lists sockets) no socket stays
 * open. Also the order of the TCP close with a server that behaves (RFC
 * 6455 §7.1.1: the server closes first, the client after it).
 */
import { markTimers, openSockets, pendingSourceTimers } from "./_helpers/live_handles.ts";
import { after, afterEach, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import {
  ClientHandshakeError,
  CloseCode,
  CloseReason,
  computeAccept,
  type DefaultWebSocketSession,
  ErrorCode,
} from "../mod.ts";
import { engineConnect, nextMessage, rejection } from "./_helpers/connect.ts";
import { runtime } from "./_helpers/engine.ts";
import {
  type BadScenario,
  type BadServer,
  type BadServerOptions,
  RecordedConnection,
  startBadServer,
  STATUS_200_BODY,
} from "./_helpers/bad_servers.ts";
import { type Peer, type PeerRequestInfo, startWsPeer } from "./_helpers/peer_servers.ts";
import { makeCertificates, type TestCertificates } from "./_helpers/tls.ts";
import { settled, until, within } from "./_helpers/wait.ts";

const connect = await engineConnect();

let certs: TestCertificates;
let peer: Peer;
before(async () => {
  certs = await makeCertificates();
  peer = await startWsPeer();
});
after(async () => {
  await peer?.close();
  await certs?.remove();
});

const servers: BadServer[] = [];
const sessions: DefaultWebSocketSession[] = [];
let socketsBefore: number | null = null;
let timerMark = 0;
beforeEach(() => {
  socketsBefore = openSockets();
  timerMark = markTimers();
});
afterEach(async () => {
  // A test that failed half-way may leave its session: drop it, so the checks below look at the next test only.
  for (const session of sessions.splice(0)) session.terminate();
  for (const server of servers.splice(0)) await server.close();
  await until(() => pendingSourceTimers(timerMark) === 0, {
    message: () => `hybi's timers to end (${pendingSourceTimers(timerMark)} pending)`,
  });
  if (socketsBefore !== null) {
    // At most as many as before (another test file's sockets, in the same process, may close meanwhile).
    await until(() => openSockets()! <= socketsBefore!, {
      message: () => `the sockets to close (${openSockets()} open, ${socketsBefore} before the test)`,
    });
  }
});

/**
 * Whether the client is done with TCP: it sent FIN, or dropped the socket (Bun's `terminate()` resets it, so
 * the fixture sees its socket close without an `end`).
 */
function clientGone(connection: RecordedConnection): boolean {
  return connection.ended || connection.closed;
}

async function start(scenario: BadScenario, options: BadServerOptions = {}): Promise<BadServer> {
  const server = await startBadServer(scenario, options);
  servers.push(server);
  return server;
}

async function open(url: string, options: Parameters<typeof connect>[1] & { raw?: false } = {}) {
  const session = await connect(url, options as { raw?: false; handlers?: undefined });
  sessions.push(session);
  return session;
}

/** The connect fails with a `ClientHandshakeError` of `code`; the client sent no frame and closed TCP. */
async function handshakeFails(
  server: BadServer,
  code: ErrorCode,
  options: Parameters<typeof connect>[1] = {},
): Promise<ClientHandshakeError> {
  const error = await rejection(connect(server.url, options as { raw?: false; handlers?: undefined }));
  assert.ok(error instanceof ClientHandshakeError, `a ClientHandshakeError, not ${error}`);
  assert.equal(error.code, code, error.message);
  const connection = server.connections.at(-1)!;
  assert.match(connection.request(), /^GET \/ HTTP\/1\.1\r\n/);
  assert.deepEqual(connection.frames(), [], "no frame after a failed handshake");
  await until(() => clientGone(connection), { message: "the client to close TCP" });
  return error;
}

test(`${runtime} client, wrong-accept: WS_ERR_HANDSHAKE_ACCEPT`, async () => {
  const server = await start("wrong-accept");
  const error = await handshakeFails(server, ErrorCode.HandshakeAccept);
  assert.equal(error.status, 101);
  assert.ok(error.headers.has("sec-websocket-accept"));
});

test(`${runtime} client, status-200: WS_ERR_HANDSHAKE_STATUS with the status and headers`, async () => {
  const server = await start("status-200");
  const error = await handshakeFails(server, ErrorCode.HandshakeStatus);
  assert.equal(error.status, 200);
  assert.equal(error.headers.get("content-type"), "text/plain");
  assert.equal(error.headers.get("content-length"), String(STATUS_200_BODY.length));
});

test(`${runtime} client, redirect: WS_ERR_HANDSHAKE_STATUS unless redirects allows it, then followed to ws without the credentials`, async () => {
  const server = await start("redirect", { location: peer.url, status: 307 });
  const error = await handshakeFails(server, ErrorCode.HandshakeStatus);
  assert.equal(error.status, 307);
  assert.equal(error.headers.get("location"), peer.url);

  const credentials = { authorization: "Bearer s3cret", cookie: "id=42", "x-kept": "yes" };
  const session = await open(server.url, { redirects: 1, headers: credentials });
  assert.equal(server.connections.length, 2, "one more request to the redirecting server");
  assert.equal(server.connections[1].header("authorization"), "Bearer s3cret");
  await session.sendText("after the redirect");
  assert.equal(await nextMessage(session), "after the redirect");
  // The peer is another origin (another port): the credentials stayed behind, other headers went along.
  await session.sendText("headers");
  const info = JSON.parse(String(await nextMessage(session))) as PeerRequestInfo;
  assert.equal(info.headers["x-kept"], "yes");
  assert.equal(info.headers.authorization, undefined);
  assert.equal(info.headers.cookie, undefined);
  await session.close();
});

test(`${runtime} client, redirect-downgrade: wss to ws is refused with WS_ERR_HANDSHAKE_REDIRECT`, async () => {
  const server = await start("redirect-downgrade", { tls: certs, location: peer.url, status: 301 });
  const error = await handshakeFails(server, ErrorCode.HandshakeRedirect, { caCerts: [certs.ca], redirects: 1 });
  assert.equal(error.status, 301);
  assert.equal(error.headers.get("location"), peer.url);
  // Without redirects allowed, it is the plain 3xx failure.
  const status = await handshakeFails(server, ErrorCode.HandshakeStatus, { caCerts: [certs.ca] });
  assert.equal(status.status, 301);
});

test(`${runtime} client, extension-not-offered: WS_ERR_HANDSHAKE_EXTENSION, offering deflate or nothing`, async () => {
  const server = await start("extension-not-offered");
  const offering = await handshakeFails(server, ErrorCode.HandshakeExtension);
  assert.equal(offering.headers.get("sec-websocket-extensions"), "x-hybi-not-offered");
  assert.match(server.connections[0].header("sec-websocket-extensions") ?? "", /^permessage-deflate/);
  await handshakeFails(server, ErrorCode.HandshakeExtension, { extensions: false });
  assert.equal(server.connections[1].header("sec-websocket-extensions"), null);
});

test(`${runtime} client, protocol-not-offered: WS_ERR_HANDSHAKE_PROTOCOL, offering some or none`, async () => {
  const server = await start("protocol-not-offered");
  const error = await handshakeFails(server, ErrorCode.HandshakeProtocol, { protocols: ["chat", "superchat"] });
  assert.equal(error.headers.get("sec-websocket-protocol"), "not-offered");
  await handshakeFails(server, ErrorCode.HandshakeProtocol);
});

/**
 * A bad frame after a good handshake: reading fails with `code`, the client's
 * close frame (masked) carries `closeCode`, the session's closeReason says the
 * same, and the connection finishes (the fixture answers the close and ends TCP).
 */
async function frameFails(scenario: BadScenario, code: ErrorCode, closeCode: number): Promise<void> {
  const server = await start(scenario);
  const session = await open(server.url);
  const error = await rejection(within(nextMessage(session), { message: "the read to fail" }));
  assert.equal(error.code, code, error.message);
  assert.equal((error as Error & { closeCode?: number }).closeCode, closeCode);
  const reason = await session.closeReason;
  assert.equal(reason?.code, closeCode);
  const connection = server.connections[0];
  await until(() => connection.closeFrame() !== null, { message: "the client's close frame" });
  assert.equal(connection.closeFrame()!.code, closeCode);
  assert.equal(connection.closeFrame()!.reason, reason!.message);
  assert.ok(connection.frames().every((frame) => frame.masked), "every client frame masked");
  await within(session.close(), { message: "the connection to finish" });
  await until(() => connection.closed, { message: "TCP to close" });
}

test(`${runtime} client, masked-frame: 1002 WS_ERR_UNEXPECTED_MASK`, () =>
  frameFails("masked-frame", ErrorCode.UnexpectedMask, CloseCode.ProtocolError));

test(`${runtime} client, invalid-utf8: 1007 WS_ERR_INVALID_UTF8`, () =>
  frameFails("invalid-utf8", ErrorCode.InvalidUtf8, CloseCode.NotConsistent));

// RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0, so such a header is a
// protocol error (1002) before it is a size (ws answers 1009 "payload length > 2^53 - 1").
test(`${runtime} client, huge-length (2^63): 1002 WS_ERR_INVALID_PAYLOAD_LENGTH`, () =>
  frameFails("huge-length", ErrorCode.InvalidLength, CloseCode.ProtocolError));

test(`${runtime} client, a frame above maxFrameSize from ws: 1009 WS_ERR_FRAME_TOO_BIG`, async () => {
  const session = await open(peer.url, { maxFrameSize: 1024, extensions: false });
  await session.sendBinary(new Uint8Array(1025));
  const error = await rejection(within(nextMessage(session), { message: "the read to fail" }));
  assert.equal(error.code, ErrorCode.FrameTooBig);
  assert.equal((await session.closeReason)?.code, CloseCode.MessageTooBig);
  await within(session.close(), { message: "the connection to finish" });
});

test(`${runtime} client, close-1005: 1002 WS_ERR_INVALID_CLOSE_CODE`, () =>
  frameFails("close-1005", ErrorCode.InvalidCloseCode, CloseCode.ProtocolError));

test(`${runtime} client, silent: WS_ERR_HANDSHAKE_TIMEOUT after handshakeTimeout`, async () => {
  const server = await start("silent");
  const error = await rejection(connect(server.url, { handshakeTimeout: 200 }));
  assert.equal(error.code, ErrorCode.HandshakeTimeout);
  assert.equal(server.connections.length, 1);
  await until(() => clientGone(server.connections[0]), { message: "the client to close TCP" });
});

test(`${runtime} client, stall-mid-message: the signal closes with 1001, closeTimeout drops TCP`, async () => {
  const server = await start("stall-mid-message");
  const controller = new AbortController();
  const session = await open(server.url, { signal: controller.signal, closeTimeout: 300 });
  const reading = nextMessage(session);
  const connection = server.connections[0];
  // Half a message came: nothing is delivered; the reader waits.
  await until(() => connection.request() !== "", { message: "the handshake" });
  controller.abort();
  assert.equal((await session.closeReason)?.code, CloseCode.GoingAway);
  await until(() => connection.closeFrame() !== null, { message: "the client's close frame" });
  assert.deepEqual(connection.closeFrame(), { code: CloseCode.GoingAway, reason: "" });
  // The server never answers: after closeTimeout the client drops TCP, and the reader ends.
  await within(session.close(), { message: "the close timeout" });
  await until(() => clientGone(connection), { message: "the client to close TCP" });
  assert.equal(await within(reading, { message: "the reader to end" }).catch((e: Error) => e.message), null);
});

test(`${runtime} client, stall-mid-message: close() with closeTimeout ends it too`, async () => {
  const server = await start("stall-mid-message");
  const session = await open(server.url, { closeTimeout: 300 });
  const connection = server.connections[0];
  await within(session.close(new CloseReason(4000, "giving up")), { message: "the close timeout" });
  assert.deepEqual(connection.closeFrame(), { code: 4000, reason: "giving up" });
  assert.deepEqual(await session.closeReason, new CloseReason(4000, "giving up"));
  await until(() => clientGone(connection), { message: "the client to close TCP" });
});

test(`${runtime} client, close-then-linger: the client answers, waits for the server, drops TCP after closeTimeout`, async () => {
  const server = await start("close-then-linger");
  const session = await open(server.url, { closeTimeout: 1000 });
  const connection = server.connections[0];
  assert.equal(await within(nextMessage(session), { message: "the end of messages" }), null);
  assert.deepEqual(await session.closeReason, new CloseReason(CloseCode.Normal, "bye"));
  await until(() => connection.closeFrame() !== null, { message: "the client's close reply" });
  assert.equal(connection.closeFrame()!.code, CloseCode.Normal);
  // The client leaves closing TCP to the server (RFC 6455 §7.1.1): no FIN with the reply.
  assert.equal(clientGone(connection), false, "the client waits for the server's FIN");
  // What afterEach checks is seen while it is alive: the close timer, and the socket where the runtime lists it.
  assert.ok(pendingSourceTimers(timerMark) > 0, "hybi's close timer is pending");
  if (socketsBefore !== null) assert.ok(openSockets()! > socketsBefore, "the client's socket is listed");
  await within(session.close(), { message: "closeTimeout to drop the lingering server" });
  await until(() => clientGone(connection), { message: "the client to close TCP" });
});

// ---------------------------------------------------------------------------
// A server that behaves, but holds its FIN until the test lets it go: the client's FIN must come after it.

interface PoliteServer {
  url: string;
  connections: RecordedConnection[];
  /** The events on each connection, in order: `client-close`, `server-fin`, `client-fin`. */
  events: string[][];
  /** Lets connection `i` end its side of TCP. */
  finish(i: number): void;
  close(): Promise<void>;
}

async function startPoliteServer(): Promise<PoliteServer> {
  const connections: RecordedConnection[] = [];
  const events: string[][] = [];
  const sockets: Socket[] = [];
  const server: NetServer = createServer({ allowHalfOpen: true }, (socket) => {
    const connection = new RecordedConnection();
    const log: string[] = [];
    connections.push(connection);
    events.push(log);
    sockets.push(socket);
    socket.on("error", () => {});
    socket.on("end", () => {
      connection.ended = true;
      log.push("client-fin");
    });
    socket.on("close", () => connection.closed = true);
    let answered = false;
    socket.on("data", (chunk: Uint8Array) => {
      connection.record(chunk);
      if (!answered) {
        const key = connection.header("sec-websocket-key");
        if (key === null) return;
        answered = true;
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${computeAccept(key)}\r\n\r\n`,
        );
        return;
      }
      const close = connection.closeFrame();
      if (close !== null && !log.includes("client-close")) {
        log.push("client-close");
        // The close reply (echoing the code) unless the server closed first; FIN waits for finish().
        if (!log.includes("server-close")) socket.write(new Uint8Array([0x88, 2, close.code! >> 8, close.code! & 255]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    connections,
    events,
    finish(i) {
      events[i].push("server-fin");
      sockets[i].end();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test(`${runtime} client: after the close handshake the client's FIN comes after the server's (RFC 6455 §7.1.1)`, async () => {
  const polite = await startPoliteServer();
  try {
    // A close timeout far longer than the test: only the server's FIN can let the client go.
    const session = await open(polite.url, { closeTimeout: 60_000, extensions: false });
    const closing = session.close(new CloseReason(4005, "done"));
    await until(() => polite.events[0].includes("client-close"), { message: "the client's close frame" });
    // The point of the test: with the handshake complete, the client holds its FIN while the server has not sent one.
    assert.equal(await settled(() => polite.connections[0].ended, { quiet: 300 }), false);
    polite.finish(0);
    await within(closing, { message: "the close to finish once the server closed" });
    await until(() => polite.connections[0].closed, { message: "TCP to close" });
    assert.deepEqual(polite.events[0], ["client-close", "server-fin", "client-fin"]);
    assert.deepEqual(await session.closeReason, new CloseReason(4005, "done"));
  } finally {
    await polite.close();
  }
});
