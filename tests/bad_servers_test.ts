/**
 * Self-tests of the bad-server fixtures (tests/_helpers/bad_servers.ts) with
 * the `ws` 8.23 client: each scenario makes `ws` fail the way RFC 6455 says
 * (its error message, the close code it sends, what it does with TCP), and
 * the server records what the client sent.
 */
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { type BadScenario, type BadServer, type BadServerOptions, startBadServer } from "./_helpers/bad_servers.ts";
import { type Peer, type PeerRequestInfo, startWsPeer } from "./_helpers/peer_servers.ts";
import { makeCertificates, type TestCertificates } from "./_helpers/tls.ts";
import { until } from "./_helpers/wait.ts";
import { type WsClientOptions, WsRecorder } from "./_helpers/ws_package.ts";

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
const clients: WsRecorder[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.client.terminate();
  for (const server of servers.splice(0)) await server.close();
});

async function start(scenario: BadScenario, options: BadServerOptions = {}): Promise<BadServer> {
  const server = await startBadServer(scenario, options);
  servers.push(server);
  return server;
}

function connect(url: string, protocols: string[] = [], options: WsClientOptions = {}): WsRecorder {
  const client = new WsRecorder(url, protocols, options);
  clients.push(client);
  return client;
}

/** The handshake fails with `message`; the client sent its request and no frame. */
async function handshakeFails(server: BadServer, client: WsRecorder, message: string): Promise<void> {
  assert.equal((await client.error()).message, message);
  assert.equal((await client.close()).code, 1006);
  assert.match(server.connections[0].request(), /^GET \/ HTTP\/1\.1\r\n/);
  assert.deepEqual(server.connections[0].frames(), []);
}

test("wrong-accept: Invalid Sec-WebSocket-Accept header", async () => {
  const server = await start("wrong-accept");
  await handshakeFails(server, connect(server.url), "Invalid Sec-WebSocket-Accept header");
});

test("status-200: the client reports the unexpected status", async () => {
  const server = await start("status-200");
  await handshakeFails(server, connect(server.url), "Unexpected server response: 200");
});

test("redirect: refused unless the client opts in, then followed", async () => {
  const server = await start("redirect", { location: peer.url });
  await handshakeFails(server, connect(server.url), "Unexpected server response: 302");
  const follows = connect(server.url, [], { followRedirects: true });
  await follows.open();
  assert.equal(server.connections.length, 2);
  follows.client.send("after redirect");
  assert.equal(await follows.message(1), "after redirect");
});

test("redirect-downgrade: wss to ws; ws follows when asked, dropping Authorization", async () => {
  const server = await start("redirect-downgrade", { tls: certs, location: peer.url, status: 301 });
  assert.ok(server.url.startsWith("wss://"));
  const refused = connect(server.url, [], { ca: certs.ca });
  assert.equal((await refused.error()).message, "Unexpected server response: 301");
  const follows = connect(server.url, [], {
    ca: certs.ca,
    followRedirects: true,
    headers: { Authorization: "Bearer secret", "X-Kept": "yes" },
  });
  await follows.open();
  assert.equal(server.connections[1].header("authorization"), "Bearer secret");
  follows.client.send("headers");
  const info = JSON.parse(String(await follows.message(1))) as PeerRequestInfo;
  assert.equal(info.headers.authorization, undefined);
  assert.equal(info.headers["x-kept"], "yes");
});

test("extension-not-offered: refused with and without an offer of its own", async () => {
  const server = await start("extension-not-offered");
  await handshakeFails(
    server,
    connect(server.url, [], { perMessageDeflate: false }),
    "Server sent a Sec-WebSocket-Extensions header but no extension was requested",
  );
  const offering = connect(server.url);
  assert.equal((await offering.error()).message, "Server indicated an extension that was not requested");
  assert.match(server.connections[1].header("sec-websocket-extensions") ?? "", /^permessage-deflate/);
});

test("protocol-not-offered: refused with and without an offer", async () => {
  const server = await start("protocol-not-offered");
  await handshakeFails(server, connect(server.url), "Server sent a subprotocol but none was requested");
  const offering = connect(server.url, ["chat"]);
  assert.equal((await offering.error()).message, "Server sent an invalid subprotocol");
});

/** A bad frame after the handshake: `message`, and the client's close frame carries `code`. */
async function frameFails(scenario: BadScenario, message: string, code: number): Promise<void> {
  const server = await start(scenario);
  const client = connect(server.url);
  assert.equal((await client.error()).message, message);
  assert.ok(client.opened, "the handshake succeeded");
  // ws stops reading after a protocol error, so it never sees the server's close reply: 1006.
  assert.equal((await client.close()).code, 1006);
  assert.equal(server.connections[0].closeFrame()?.code, code);
  assert.ok(server.connections[0].frames().every((f) => f.masked));
  assert.deepEqual(client.messages, []);
}

test("masked-frame: 1002", () => frameFails("masked-frame", "Invalid WebSocket frame: MASK must be clear", 1002));

test("invalid-utf8: 1007", () => frameFails("invalid-utf8", "Invalid WebSocket frame: invalid UTF-8 sequence", 1007));

test("huge-length: a 2^63 length is refused (ws: 1009)", () =>
  frameFails("huge-length", "Unsupported WebSocket frame: payload length > 2^53 - 1", 1009));

test("close-1005: 1002", () => frameFails("close-1005", "Invalid WebSocket frame: invalid status code 1005", 1002));

test("silent: the handshake times out", async () => {
  const server = await start("silent");
  const client = connect(server.url, [], { handshakeTimeout: 300 });
  await handshakeFails(server, client, "Opening handshake has timed out");
  await until(() => server.connections[0].closed, { message: "the client to drop TCP" });
});

test("stall-mid-message: nothing delivered; the client's close goes out, then its close timeout drops TCP", async () => {
  const server = await start("stall-mid-message");
  const client = connect(server.url, [], { closeTimeout: 300 });
  await client.open();
  client.client.close(1000, "leaving");
  assert.deepEqual(await client.close(), { code: 1006, reason: "" });
  assert.deepEqual(server.connections[0].closeFrame(), { code: 1000, reason: "leaving" });
  assert.deepEqual(client.messages, []);
  // ws ends TCP only when its close timeout fires (no close came back).
  assert.ok(server.connections[0].ended, "the client sent FIN");
});

test("close-then-linger: the client answers the close and ends; its close timeout drops TCP", async () => {
  const server = await start("close-then-linger");
  const client = connect(server.url, [], { closeTimeout: 300 });
  await client.open();
  // ws emits close only once its socket is closed: here, by its close timeout.
  assert.deepEqual(await client.close(), { code: 1000, reason: "bye" });
  const connection = server.connections[0];
  assert.equal(connection.closeFrame()?.code, 1000);
  assert.ok(connection.ended, "the client sent FIN");
  assert.ok(!connection.closed, "the server kept its side open");
});
