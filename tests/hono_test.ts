/**
 * `@hybi/websocket/hono` with the real `hono` package: an unchanged Hono app
 * (routes, middleware, `upgradeWebSocket`) served by the current runtime's
 * engine through `honoHandler`, driven by the `ws` client (and Chromium,
 * where installed).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { PerMessageDeflate, router, type ServeHandlerInfo, webSocket, WebSocketUpgrade } from "../mod.ts";
import { getConnInfo, honoHandler, upgradeWebSocket } from "../src/hono.ts";
import { chromiumSkip, withChromium } from "./_helpers/chromium.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { UPGRADE_HEADERS } from "./_helpers/client.ts";
import { until } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient, type WsDeflateOptions } from "./_helpers/ws_client.ts";

/** What the app's WebSocket events saw, for the assertions. */
interface Seen {
  opens: string[];
  messages: string[];
  closes: { code: number; reason: string; wasClean: boolean; readyState: number }[];
  errors: string[];
}

/** An ordinary Hono app, as it would be written for `hono/deno` or `hono/bun`. */
function makeApp(seen: Seen): Hono {
  const app = new Hono();
  app.get("/", (c) => c.text("home"));
  app.get("/ip", (c) => c.text(getConnInfo(c).remote.address ?? "none"));
  app.use("/private/*", async (c, next) => {
    if (c.req.query("token") !== "s3cret") return c.text("who are you?", 401);
    await next();
  });
  app.use("/broken/*", async (_c, next) => {
    await next();
    throw new Error("a middleware failed after the upgrade was made");
  });
  app.onError((error, c) => c.text(`app error: ${error.message}`, 500));
  const events = upgradeWebSocket((c) => {
    const user = c.req.query("user") ?? "anonymous";
    return {
      onOpen(_event, ws) {
        seen.opens.push(`${user} ${ws.readyState} ${ws.protocol ?? "-"} ${ws.url?.pathname}`);
        ws.send(`welcome ${user}`);
      },
      onMessage(event, ws) {
        const data = event.data;
        if (typeof data === "string") {
          seen.messages.push(data);
          if (data === "throw") throw new Error("boom");
          if (data === "close") return ws.close(4001, "server bye");
          if (data === "blob") {
            ws.binaryType = "blob";
            return ws.send("blobs now");
          }
          return ws.send(`echo: ${data}`);
        }
        if (data instanceof Blob) {
          seen.messages.push(`blob ${data.size}`);
          void data.arrayBuffer().then((bytes) => ws.send(new Uint8Array(bytes).reverse()));
          return;
        }
        const bytes = new Uint8Array(data as ArrayBuffer);
        seen.messages.push(`binary ${bytes.length}`);
        ws.send(bytes.slice().reverse());
      },
      onClose(event, ws) {
        seen.closes.push({
          code: event.code,
          reason: event.reason,
          wasClean: event.wasClean,
          readyState: ws.readyState,
        });
      },
      onError(event) {
        seen.errors.push(((event as ErrorEvent).error as Error).message);
      },
    };
  });
  app.get("/ws", events);
  app.get("/private/ws", events);
  app.get("/broken/ws", events);
  app.get("/v1", upgradeWebSocket(() => ({}), { protocol: "chat.v1" }));
  // ws.raw is hybi's ServerWebSocket: its topics reach the server's publish.
  app.get(
    "/room",
    upgradeWebSocket(() => ({
      onOpen(_event, ws) {
        ws.raw!.subscribe("room");
        ws.send("joined");
      },
      onMessage(event, ws) {
        ws.raw!.publish("room", String(event.data));
      },
    })),
  );
  app.get(
    "/uncompressed",
    upgradeWebSocket(() => ({ onMessage: (e, ws) => ws.send(String(e.data)) }), { extensions: [] }),
  );
  return app;
}

function freshSeen(): Seen {
  return { opens: [], messages: [], closes: [], errors: [] };
}

/** A `ws` client that keeps what it receives. */
interface Peer {
  client: WsClient;
  received: (string | Uint8Array)[];
  closed: Promise<{ code: number; reason: string }>;
}

function connect(
  url: string,
  protocols: string[] = [],
  perMessageDeflate: boolean | WsDeflateOptions = false,
): Promise<Peer> {
  const client = new WebSocketClient(url, protocols, { perMessageDeflate });
  const received: (string | Uint8Array)[] = [];
  client.on("message", (data, isBinary) => received.push(isBinary ? new Uint8Array(data) : data.toString("utf8")));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    client.once("close", (code, reason) => resolve({ code, reason: reason.toString("utf8") }))
  );
  return new Promise((resolve, reject) => {
    client.once("open", () => resolve({ client, received, closed }));
    client.once("error", reject);
  });
}

/** The status a `ws` client's upgrade is refused with. */
function refusal(url: string, protocols: string[] = []): Promise<number> {
  const client = new WebSocketClient(url, protocols);
  return new Promise<number>((resolve, reject) => {
    client.once("unexpected-response", (_request, response) => {
      resolve(response.statusCode);
      client.terminate();
    });
    client.once("open", () => reject(new Error("the upgrade was accepted")));
    client.once("error", () => {});
  });
}

async function startServer(seen: Seen) {
  const serve = await engineServe();
  const reported: unknown[] = [];
  const server = await serve(
    { port: 0, onError: (error) => reported.push(error) },
    honoHandler(makeApp(seen), { extensions: [new PerMessageDeflate()], onError: (error) => reported.push(error) }),
  );
  return { server, base: `127.0.0.1:${server.port}`, reported };
}

test(`hono on ${runtime}: plain routes, 426 for a plain GET on a WebSocket route, 400 for a broken handshake`, async () => {
  const seen = freshSeen();
  const { server, base } = await startServer(seen);
  try {
    const home = await fetch(`http://${base}/`);
    assert.equal(home.status, 200);
    assert.equal(await home.text(), "home");
    assert.equal(await (await fetch(`http://${base}/ip`)).text(), "127.0.0.1");
    const missing = await fetch(`http://${base}/nope`);
    assert.equal(missing.status, 404); // Hono's own not-found
    await missing.body?.cancel();
    const plain = await fetch(`http://${base}/ws`);
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.get("upgrade"), "websocket");
    await plain.body?.cancel();
    // The middleware refuses before any upgrade: a plain request to the private route gets its 401.
    assert.equal((await fetch(`http://${base}/private/ws`)).status, 401);
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
  // Handshake errors, through the handler itself (fetch cannot send Upgrade headers).
  const handle = honoHandler(makeApp(seen));
  const info: ServeHandlerInfo = { remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" } };
  const answer = (headers: Record<string, string>, init: RequestInit = {}) =>
    handle(new Request("http://x/ws", { ...init, headers: { ...UPGRADE_HEADERS, ...headers } }), info);
  assert.ok(await answer({}) instanceof WebSocketUpgrade);
  assert.equal((await answer({ "sec-websocket-key": "short" }) as Response).status, 400);
  assert.equal((await answer({ "sec-websocket-version": "8" }) as Response).status, 426);
  assert.equal((await answer({ "sec-websocket-protocol": "bad token" }) as Response).status, 400);
  assert.equal(seen.opens.length, 0);
});

test(`hono on ${runtime}: text and binary both ways, onOpen, onClose with the client's code and reason`, async () => {
  const seen = freshSeen();
  const { server, base, reported } = await startServer(seen);
  try {
    const peer = await connect(`ws://${base}/ws?user=ada`, ["chat.v2", "chat.v1"]);
    // Hono's adapters speak the first subprotocol the client offers.
    assert.equal(peer.client.protocol, "chat.v2");
    peer.client.send("hello");
    peer.client.send(new Uint8Array([1, 2, 3, 250]));
    await until(() => peer.received.length === 3, { message: "welcome and two echoes" });
    assert.deepEqual(peer.received, ["welcome ada", "echo: hello", new Uint8Array([250, 3, 2, 1])]);
    assert.deepEqual(seen.opens, ["ada 1 chat.v2 /ws"]);
    assert.deepEqual(seen.messages, ["hello", "binary 4"]);

    // binaryType "blob", set by the app, holds for the next messages.
    peer.client.send("blob");
    peer.client.send(new Uint8Array([7, 8, 9]));
    await until(() => peer.received.length === 5, { message: "the blob echo" });
    assert.deepEqual(peer.received.slice(3), ["blobs now", new Uint8Array([9, 8, 7])]);
    assert.deepEqual(seen.messages.slice(2), ["blob", "blob 3"]);

    peer.client.close(4000, "client bye");
    assert.equal((await peer.closed).code, 4000); // the server's answer echoes the code
    await until(() => seen.closes.length === 1, { message: "onClose" });
    assert.deepEqual(seen.closes, [{ code: 4000, reason: "client bye", wasClean: true, readyState: 3 }]);
    assert.deepEqual(seen.errors, []);

    // The server closes: ws.close(code, reason) reaches the client.
    const other = await connect(`ws://${base}/ws`);
    other.client.send("close");
    assert.deepEqual(await other.closed, { code: 4001, reason: "server bye" });
    await until(() => seen.closes.length === 2, { message: "onClose of the server's close" });
    assert.equal(seen.closes[1].code, 4001);
    assert.deepEqual(reported, []);
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});

test(`hono on ${runtime}: a handler that throws gets onError and closes with 1011; the server goes on`, async () => {
  const seen = freshSeen();
  const { server, base } = await startServer(seen);
  try {
    const peer = await connect(`ws://${base}/ws`);
    peer.client.send("throw");
    const closed = await peer.closed;
    assert.equal(closed.code, 1011);
    await until(() => seen.closes.length === 1, { message: "onClose after the failure" });
    assert.deepEqual(seen.errors, ["boom"]);
    assert.equal(seen.closes[0].code, 1011);
    // The next connection works.
    const next = await connect(`ws://${base}/ws`);
    next.client.send("still here");
    await until(() => next.received.length === 2, { message: "an echo after the failure" });
    assert.equal(next.received[1], "echo: still here");
    next.client.close();
    await next.closed;
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});

test(`hono on ${runtime}: permessage-deflate from honoHandler's defaults, off where a route says so`, async () => {
  const seen = freshSeen();
  const { server, base } = await startServer(seen);
  try {
    const peer = await connect(`ws://${base}/ws`, [], { threshold: 0 });
    assert.equal(peer.client.extensions, "permessage-deflate");
    const long = "compressible ".repeat(5000);
    peer.client.send(long);
    peer.client.send(new Uint8Array(100_000).fill(7));
    await until(() => peer.received.length === 3, { message: "compressed echoes" });
    assert.equal(peer.received[1], `echo: ${long}`);
    assert.deepEqual(peer.received[2], new Uint8Array(100_000).fill(7));
    peer.client.close();
    await peer.closed;

    const plain = await connect(`ws://${base}/uncompressed`, [], { threshold: 0 });
    assert.equal(plain.client.extensions, "");
    plain.client.send("x");
    await until(() => plain.received.length === 1, { message: "the uncompressed echo" });
    assert.equal(plain.received[0], "x");
    plain.client.close();
    await plain.closed;
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});

test(`hono on ${runtime}: middleware refuses the upgrade (401), a later failure refuses it (500), subprotocols`, async () => {
  const seen = freshSeen();
  const { server, base } = await startServer(seen);
  try {
    assert.equal(await refusal(`ws://${base}/private/ws`), 401);
    const allowed = await connect(`ws://${base}/private/ws?token=s3cret&user=root`);
    await until(() => allowed.received.length === 1, { message: "the welcome" });
    assert.equal(allowed.received[0], "welcome root");
    allowed.client.close();
    await allowed.closed;

    // A middleware that throws after upgradeWebSocket answered: the app's error response, no upgrade.
    assert.equal(await refusal(`ws://${base}/broken/ws`), 500);
    // A route that speaks one subprotocol refuses a client that does not offer it.
    assert.equal(await refusal(`ws://${base}/v1`, ["chat.v2"]), 400);
    const v1 = await connect(`ws://${base}/v1`, ["chat.v2", "chat.v1"]);
    assert.equal(v1.client.protocol, "chat.v1");
    v1.client.close();
    await v1.closed;
    assert.deepEqual(seen.opens, ["root 1 - /private/ws"]);
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});

test(`hono on ${runtime}: without honoHandler, upgradeWebSocket says what is missing`, async () => {
  const app = new Hono();
  let failure: Error | null = null;
  app.onError((error, c) => {
    failure = error;
    return c.text("failed", 500);
  });
  app.get("/ws", upgradeWebSocket(() => ({})));
  const res = await app.fetch(new Request("http://x/ws", { headers: UPGRADE_HEADERS }));
  assert.equal(res.status, 500);
  assert.ok(failure! instanceof TypeError);
  assert.match((failure as TypeError).message, /honoHandler/);
});

test(`hono on ${runtime}: a Hono app as a router's fallback, behind hybi's own routes`, async () => {
  const seen = freshSeen();
  const serve = await engineServe();
  const server = await serve(
    { port: 0 },
    router([webSocket("/fast", { message: (ws, data) => void ws.send(data) })], honoHandler(makeApp(seen))),
  );
  const base = `127.0.0.1:${server.port}`;
  try {
    assert.equal(await (await fetch(`http://${base}/`)).text(), "home");
    const fast = await connect(`ws://${base}/fast`);
    fast.client.send("direct");
    await until(() => fast.received.length === 1, { message: "the route's echo" });
    assert.equal(fast.received[0], "direct");
    const viaHono = await connect(`ws://${base}/ws`);
    viaHono.client.send("through hono");
    await until(() => viaHono.received.length === 2, { message: "the app's echo" });
    assert.equal(viaHono.received[1], "echo: through hono");
    fast.client.close();
    viaHono.client.close();
    await Promise.all([fast.closed, viaHono.closed]);
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});

test(`hono on ${runtime}: ws.raw is hybi's ServerWebSocket, its topics shared with server.publish`, async () => {
  const { server, base } = await startServer(freshSeen());
  try {
    const alice = await connect(`ws://${base}/room`);
    const bob = await connect(`ws://${base}/room`);
    await until(() => alice.received.length === 1 && bob.received.length === 1, { message: "both joined" });
    assert.equal(server.subscriberCount("room"), 2);
    alice.client.send("hi bob");
    await until(() => bob.received.length === 2, { message: "bob gets alice's message" });
    assert.equal(bob.received[1], "hi bob");
    assert.equal(server.publish("room", "from the server"), 2);
    await until(() => alice.received.length === 2 && bob.received.length === 3, { message: "the server's publish" });
    assert.deepEqual(alice.received, ["joined", "from the server"]); // a publisher does not get its own message
    alice.client.close();
    bob.client.close();
    await Promise.all([alice.closed, bob.closed]);
    await until(() => server.subscriberCount("room") === 0, { message: "the topic emptied" });
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});

test(`hono on ${runtime}: Chromium talks to a Hono WebSocket route`, { skip: chromiumSkip }, async () => {
  const seen = freshSeen();
  const app = makeApp(seen);
  app.get("/page", (c) => c.html("<!doctype html><title>hono</title>"));
  const serve = await engineServe();
  const server = await serve({ port: 0 }, honoHandler(app, { extensions: [new PerMessageDeflate()] }));
  try {
    await withChromium(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${server.port}/page`);
      const result = await page.evaluate(async () => {
        const ws = new WebSocket(`ws://${location.host}/ws?user=chromium`);
        ws.binaryType = "arraybuffer";
        const got: string[] = [];
        const done = new Promise<void>((resolve) => {
          ws.onmessage = (e) => {
            got.push(typeof e.data === "string" ? e.data : Array.from(new Uint8Array(e.data)).join(","));
            if (got.length === 3) resolve();
          };
        });
        ws.onopen = () => {
          ws.send("from the browser");
          ws.send(new Uint8Array([1, 2, 3]));
        };
        await done;
        const closed = new Promise<number>((resolve) => ws.onclose = (e) => resolve(e.code));
        ws.close(4002, "tab closed");
        return { got, extensions: ws.extensions, closed: await closed };
      });
      assert.deepEqual(result.got, ["welcome chromium", "echo: from the browser", "3,2,1"]);
      assert.match(result.extensions, /^permessage-deflate/);
      assert.equal(result.closed, 4002);
      await until(() => seen.closes.length === 1, { message: "onClose from the browser's close" });
      assert.deepEqual(seen.closes[0], { code: 4002, reason: "tab closed", wasClean: true, readyState: 3 });
    });
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});

test(`hono on ${runtime}: without the app's onError, a handler's error reaches serve's onError (1011 to the client)`, async () => {
  const app = new Hono();
  app.get(
    "/ws",
    upgradeWebSocket(() => ({
      onMessage() {
        throw new Error("no onError here");
      },
    })),
  );
  const serve = await engineServe();
  const reported: unknown[] = [];
  const server = await serve({ port: 0, onError: (error) => reported.push(error) }, honoHandler(app));
  try {
    const peer = await connect(`ws://127.0.0.1:${server.port}/ws`);
    peer.client.send("go");
    assert.equal((await peer.closed).code, 1011);
    await until(() => reported.length === 1, { message: "the error at serve's onError" });
    assert.equal((reported[0] as Error).message, "no onError here");
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});
