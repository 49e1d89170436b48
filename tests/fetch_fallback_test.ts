/**
 * A plain fetch-style app (`(request) => Response`) as the fallback of
 * `router`, on the current runtime's engine: the app serves every path the
 * routes do not take, and the WebSocket routes in front of it still
 * upgrade (checked with the `ws` client).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { router, webSocket } from "../mod.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { until } from "./_helpers/wait.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

/** An application written against nothing but the fetch API. */
async function app(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/") return new Response("app home", { headers: { "content-type": "text/plain" } });
  if (url.pathname === "/echo" && request.method === "POST") return new Response(`app got ${await request.text()}`);
  if (url.pathname === "/ws/elsewhere") return new Response("the app's own page under /ws");
  return new Response("not in the app", { status: 404 });
}

test(`a fetch-style app as router's fallback on ${runtime}: the app serves the rest, WebSocket routes upgrade`, async () => {
  const serve = await engineServe();
  const server = await serve(
    { port: 0 },
    router([webSocket("/ws", { message: (ws, data) => void ws.send(data) })], app),
  );
  const base = `127.0.0.1:${server.port}`;
  try {
    const home = await fetch(`http://${base}/`);
    assert.equal(home.status, 200);
    assert.equal(home.headers.get("content-type"), "text/plain");
    assert.equal(await home.text(), "app home");
    const posted = await fetch(`http://${base}/echo`, { method: "POST", body: "a body" });
    assert.equal(await posted.text(), "app got a body");
    assert.equal(await (await fetch(`http://${base}/ws/elsewhere`)).text(), "the app's own page under /ws");
    const missing = await fetch(`http://${base}/missing`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "not in the app");
    // A plain request on the WebSocket route is the router's answer, not the app's.
    const plain = await fetch(`http://${base}/ws`);
    assert.equal(plain.status, 426);
    await plain.body?.cancel();

    const client = new WebSocketClient(`ws://${base}/ws`);
    const received: string[] = [];
    client.on("message", (data) => received.push(data.toString("utf8")));
    await new Promise<void>((resolve, reject) => {
      client.once("open", resolve);
      client.once("error", reject);
    });
    client.send("through the route");
    await until(() => received.length === 1, { message: "the route's echo" });
    assert.deepEqual(received, ["through the route"]);
    const closed = new Promise<number>((resolve) => client.once("close", (code) => resolve(code)));
    client.close(1000);
    assert.equal(await closed, 1000);
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});
