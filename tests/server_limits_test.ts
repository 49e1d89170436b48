/**
 * Policies on a real server (the current runtime's engine) against clients
 * we did not write: the connection limit (503), the `Origin` policy of a
 * plain `WebSocketUpgrade` (403), and the `verify` hook refusing an upgrade
 * with the application's own response before any WebSocket byte is sent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type RawWebSocketSession, router, webSocketRaw, WebSocketUpgrade } from "../mod.ts";
import type { ServeHandler, ServeOptions, Server } from "../src/http/serve_types.ts";
import { engineServe, next, rawEcho, runtime } from "./_helpers/engine.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { delay, until } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

const serve = await engineServe();

async function start(handler: ServeHandler, options: ServeOptions = {}): Promise<Server> {
  return await serve({ port: 0, hostname: "127.0.0.1", onError: () => {}, ...options }, handler);
}

/** Opens a `ws` client; resolves with it once open, or with the status of the response that refused it. */
function open(url: string, origin?: string): Promise<{ ws: WsClient; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocketClient(url, [], origin === undefined ? {} : { origin });
    ws.once("open", () => resolve({ ws, status: 101, body: "" }));
    ws.once("unexpected-response", (_request, response) => {
      const res = response as { statusCode: number; on(e: string, f: (c?: Uint8Array) => void): void };
      let body = "";
      res.on("data", (c) => body += new TextDecoder().decode(c));
      res.on("end", () => resolve({ ws, status: res.statusCode, body }));
    });
    ws.once("error", (e) => reject(e));
  });
}

async function closeWs(ws: WsClient): Promise<void> {
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  ws.close(1000);
  await closed;
}

test(`maxConnections (${runtime}): HTTP and WebSocket connections count; one more gets 503 and is closed; a slot frees on close`, async () => {
  let sessions = 0;
  const server = await start((request) => {
    if (request.headers.get("upgrade") === null) return new Response("page");
    return new WebSocketUpgrade(request, null, async (session: RawWebSocketSession) => {
      sessions++;
      await rawEcho(session);
    });
  }, { maxConnections: 3 });
  // Two WebSocket sessions and one idle keep-alive HTTP connection fill the server.
  const a = await open(`ws://127.0.0.1:${server.port}/`);
  const b = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  await next(b, "open");
  const http = await SocketClient.connect(server.port);
  http.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await http.until(() => http.text().endsWith("page"));

  // The fourth: a WebSocket handshake answered 503, the socket closed by the server.
  const refused = await open(`ws://127.0.0.1:${server.port}/`);
  assert.equal(refused.status, 503);
  const raw = await SocketClient.connect(server.port);
  raw.write(handshake());
  await raw.until(() => raw.ended);
  assert.equal(raw.status(), 503);
  assert.match(raw.text(), /connection: close/i);
  assert.equal(sessions, 2);

  // The sessions and the HTTP connection still work.
  const echoed = new Promise<string>((resolve) => a.ws.once("message", (data) => resolve(data.toString())));
  a.ws.send("still here");
  assert.equal(await echoed, "still here");
  http.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await http.until(() => http.text().split("page").length === 3);

  // Closing one session frees its slot (once the server has seen the socket close).
  await closeWs(a.ws);
  const admitted = await until(async () => {
    const attempt = await open(`ws://127.0.0.1:${server.port}/`);
    return attempt.status === 101 ? attempt : null;
  }, { timeout: 2000, interval: 20, message: "a connection to be admitted once a slot is free" });
  await closeWs(admitted.ws);
  b.close();
  await next(b, "close");
  http.close();
  raw.close();
  await server.shutdown({ timeout: 1000 });
});

test(`origins on a plain WebSocketUpgrade (${runtime}): a foreign Origin gets 403, its own and none are served`, async () => {
  const server = await start((request) =>
    new WebSocketUpgrade(request, null, rawEcho, { origins: ["https://app.example"], closeTimeout: 1000 })
  );
  const url = `ws://127.0.0.1:${server.port}/`;
  const foreign = await open(url, "https://evil.example");
  assert.equal(foreign.status, 403);
  assert.match(foreign.body, /Origin/);
  const allowed = await open(url, "https://APP.example");
  assert.equal(allowed.status, 101);
  await closeWs(allowed.ws);
  // Not from a browser: no Origin header at all.
  const raw = await SocketClient.connect(server.port);
  raw.write(handshake());
  await raw.until(() => raw.text().includes("\r\n\r\n"));
  assert.equal(raw.status(), 101);
  raw.close();
  await server.shutdown({ timeout: 1000 });
});

test(`verify (${runtime}): WebSocketUpgrade.accept and a route refuse with the application's Response; no WebSocket byte is sent`, async () => {
  let started = 0;
  const counted = async (session: RawWebSocketSession) => {
    started++;
    await rawEcho(session);
  };
  const routes = router([
    webSocketRaw("/rooms/:room", null, counted, {
      closeTimeout: 1000,
      verify: (_request, { params }) => {
        if (params.room !== "lobby") return new Response(`no room ${params.room}\n`, { status: 404 });
      },
    }),
  ]);
  const server = await start((request, info) => {
    if (new URL(request.url).pathname.startsWith("/rooms/")) return routes(request, info);
    return WebSocketUpgrade.accept(request, null, counted, {
      closeTimeout: 1000,
      verify: async (req) => {
        await delay(5); // the point: an asynchronous check (a token store …)
        if (req.headers.get("authorization") !== "Bearer s3cret") {
          return new Response("who are you?\n", {
            status: 401,
            headers: { "www-authenticate": 'Bearer realm="chat"', "x-refused-by": "verify" },
          });
        }
      },
    });
  });
  // The runtime's own WebSocket is refused (it cannot send Authorization).
  const browserLike = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  const failed = await Promise.race([
    next(browserLike, "close").then(() => "closed"),
    next(browserLike, "open").then(() => "opened", () => "closed"),
  ]);
  assert.equal(failed, "closed");

  // On the wire: exactly the application's response, no 101, no frame.
  const raw = await SocketClient.connect(server.port);
  raw.write(handshake("/", "Connection: close\r\n"));
  await raw.until(() => raw.ended);
  const text = raw.text();
  assert.match(text, /^HTTP\/1\.1 401 /);
  assert.match(text, /www-authenticate: Bearer realm="chat"/i);
  assert.match(text, /x-refused-by: verify/i);
  assert.ok(text.endsWith("who are you?\n"), text);
  assert.doesNotMatch(text, /101|sec-websocket-accept/i);
  raw.close();

  const withToken = await new Promise<WsClient>((resolve, reject) => {
    const ws = new WebSocketClient(`ws://127.0.0.1:${server.port}/`, [], {
      headers: { authorization: "Bearer s3cret" },
    });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
  await closeWs(withToken);

  const noRoom = await open(`ws://127.0.0.1:${server.port}/rooms/attic`);
  assert.equal(noRoom.status, 404);
  assert.equal(noRoom.body, "no room attic\n");
  const lobby = await open(`ws://127.0.0.1:${server.port}/rooms/lobby`);
  assert.equal(lobby.status, 101);
  await closeWs(lobby.ws);
  assert.equal(started, 2, "only the accepted upgrades ran their handler");
  await server.shutdown({ timeout: 1000 });
});
