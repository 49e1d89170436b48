import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Frame,
  originAllowed,
  route,
  router,
  type ServeHandlerInfo,
  webSocket,
  webSocketRaw,
  WebSocketUpgrade,
} from "../mod.ts";
import { pathOf } from "../src/routing.ts";
import { engineServe, next, rawEcho } from "./_helpers/engine.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";
import { UPGRADE_HEADERS } from "./_helpers/client.ts";

const info: ServeHandlerInfo = { remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" } };
const get = (url: string, headers: Record<string, string> = {}) => new Request(url, { headers });
const upgrade = (url: string, extra: Record<string, string> = {}) => get(url, { ...UPGRADE_HEADERS, ...extra });

async function status(handler: ReturnType<typeof router>, request: Request): Promise<number | "upgrade"> {
  try {
    const result = await handler(request, info);
    return result instanceof WebSocketUpgrade ? "upgrade" : result.status;
  } catch (error) {
    return (error as { status: number }).status;
  }
}

test("pathOf takes the path of an absolute URL without its query or fragment", () => {
  assert.equal(pathOf("http://h:1/a/b?c=/d#e"), "/a/b");
  assert.equal(pathOf("https://h"), "/");
  assert.equal(pathOf("http://h/"), "/");
});

test("paths match exactly, segment by segment, with percent-decoded :params", async () => {
  const seen: Record<string, string>[] = [];
  const handle = router([
    route("/", () => new Response("root")),
    route("/rooms/:room/users/:user", (_req, { params }) => {
      seen.push({ ...params });
      return new Response("user");
    }),
    route("/static/app.js", () => new Response("js")),
  ]);
  assert.equal(await status(handle, get("http://x/")), 200);
  assert.equal(await status(handle, get("http://x/rooms/r%201/users/%C3%A9?q=1")), 200);
  assert.deepEqual(seen, [{ room: "r 1", user: "é" }]);
  for (const miss of ["/rooms/r/users", "/rooms/r/users/", "/rooms//users/u", "/static/app.js/", "/static", "//"]) {
    assert.equal(await status(handle, get(`http://x${miss}`)), 404, miss);
  }
  assert.throws(() => route("no-slash", () => new Response()), TypeError);
});

test("a fallback answers what no route takes", async () => {
  const handle = router([route("/a", () => new Response("a"))], (req) => new Response(`fallback ${pathOf(req.url)}`));
  const res = await handle(get("http://x/b"), info) as Response;
  assert.equal(await res.text(), "fallback /b");
});

test("a WebSocket path: upgrades are taken, a plain request gets 426, a wrong subprotocol 400", async () => {
  const handle = router([
    webSocketRaw("/ws", "chat.v1", () => {}),
    route("/both", () => new Response("page")),
    webSocketRaw("/both", null, () => {}),
  ]);
  assert.equal(await status(handle, upgrade("http://x/ws", { "sec-websocket-protocol": "x, chat.v1" })), "upgrade");
  const plain = await handle(get("http://x/ws"), info) as Response;
  assert.equal(plain.status, 426);
  assert.equal(plain.headers.get("upgrade"), "websocket");
  assert.equal(await status(handle, upgrade("http://x/ws", { "sec-websocket-protocol": "other" })), 400);
  assert.equal(await status(handle, upgrade("http://x/ws")), 400);
  // A plain route and a WebSocket route can share a path.
  assert.equal(await status(handle, get("http://x/both")), 200);
  assert.equal(await status(handle, upgrade("http://x/both")), 200); // the plain route comes first and takes it
  const wsFirst = router([webSocketRaw("/both", null, () => {}), route("/both", () => new Response("page"))]);
  assert.equal(await status(wsFirst, upgrade("http://x/both")), "upgrade");
  assert.equal(await status(wsFirst, get("http://x/both")), 200);
  // An invalid handshake on a WebSocket path throws the HandshakeError the front answers with.
  assert.equal(
    await status(handle, upgrade("http://x/ws", { "sec-websocket-protocol": "chat.v1", "sec-websocket-version": "8" })),
    426,
  );
});

test("origin policies", () => {
  const req = (origin?: string) => get("http://example.com:8080/ws", origin === undefined ? {} : { origin });
  assert.equal(originAllowed(req("http://evil.test"), "any"), true);
  assert.equal(originAllowed(req("http://example.com:8080"), "same-origin"), true);
  assert.equal(originAllowed(req("HTTP://Example.com:8080"), "same-origin"), true);
  assert.equal(originAllowed(req(), "same-origin"), true);
  assert.equal(originAllowed(req("http://example.com:8081"), "same-origin"), false);
  assert.equal(originAllowed(req("https://example.com:8080"), "same-origin"), false);
  assert.equal(originAllowed(req("null"), "same-origin"), false);
  assert.equal(originAllowed(req("https://app.test"), ["https://app.test"]), true);
  assert.equal(originAllowed(req("https://other.test"), ["https://app.test"]), false);
  assert.equal(originAllowed(req("x"), (origin) => origin === "x"), true);
});

test("routes on a real server: params reach the session, a foreign Origin gets 403", async () => {
  const serve = await engineServe();
  const server = await serve(
    { port: 0, onError: () => {} },
    router([
      route("/", () => new Response("home")),
      webSocketRaw("/rooms/:room", null, async (session, { params, request }) => {
        await session.send(new Frame.Text(`welcome to ${params.room} at ${new URL(request.url).pathname}`));
        await rawEcho(session);
      }, { origins: "same-origin" }),
    ]),
  );
  const base = `127.0.0.1:${server.port}`;
  assert.equal(await (await fetch(`http://${base}/`)).text(), "home");
  assert.equal((await fetch(`http://${base}/rooms/a`)).status, 426);
  assert.equal((await fetch(`http://${base}/elsewhere`)).status, 404);

  const ws = new WebSocket(`ws://${base}/rooms/lobby`);
  await next(ws, "open");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "welcome to lobby at /rooms/lobby");
  ws.close();
  await next(ws, "close");

  const same = new WebSocketClient(`ws://${base}/rooms/x`, [], { origin: `http://${base}` });
  await new Promise<void>((resolve, reject) => same.once("open", resolve).once("error", reject));
  same.close();
  const foreign = new WebSocketClient(`ws://${base}/rooms/x`, [], { origin: "http://evil.test" });
  const refused = await new Promise<number>((resolve) => {
    foreign.once("unexpected-response", (_req, res) => resolve(res.statusCode));
    foreign.once("error", () => {});
  });
  assert.equal(refused, 403);
  foreign.terminate();
  await server.shutdown({ timeout: 1000 });
});

test("webSocket: the default session on a real server — messages reassembled, pings answered, handler return closes 1000", async () => {
  const serve = await engineServe();
  let reason: unknown;
  const server = await serve(
    { port: 0, onError: () => {} },
    router([
      webSocket("/chat/:room", "chat.v1", async (session, { params }) => {
        assert.equal(session.protocol, "chat.v1");
        for await (const message of session.messages()) {
          if (message === "bye") break;
          await session.sendText(`${params.room}: ${typeof message === "string" ? message : message.length}`);
        }
        reason = "handler returned";
      }),
    ]),
  );
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/chat/lobby`, "chat.v1");
  ws.binaryType = "arraybuffer";
  await next(ws, "open");
  assert.equal(ws.protocol, "chat.v1");
  ws.send("hello");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "lobby: hello");
  ws.send(new Uint8Array(70_000));
  assert.equal((await next<MessageEvent>(ws, "message")).data, "lobby: 70000");
  ws.send("bye");
  const closed = await next<CloseEvent>(ws, "close");
  assert.equal(closed.code, 1000);
  assert.equal(reason, "handler returned");
  // A client not offering the route's subprotocol is refused.
  const wrong = new WebSocket(`ws://127.0.0.1:${server.port}/chat/lobby`, "other");
  await assert.rejects(next(wrong, "open"));
  await server.shutdown({ timeout: 1000 });
});
