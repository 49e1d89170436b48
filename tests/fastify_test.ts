/**
 * Fastify (the real package, 5.x) with hybi attached to its `http.Server`
 * (`app.server`): Fastify serves the pages, hybi the WebSocket routes, on
 * one port; `app.close()` closes the sessions first (a `preClose` hook).
 * Runs on every runtime (Fastify and `node:http`'s `'upgrade'` event work
 * on Node, Bun and Deno).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { DefaultWebSocketSession, router, webSocket } from "../mod.ts";
import { runtime } from "./_helpers/engine.ts";
import { until } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

/** A `ws` client, once open, with the messages it got from the start. */
function open(url: string, protocols?: string[]): Promise<{ client: WsClient; said: string[] }> {
  return new Promise((resolve, reject) => {
    const client = new WebSocketClient(url, protocols);
    const said: string[] = [];
    client.on("message", (data) => void said.push(data.toString()));
    client.once("open", () => resolve({ client, said })).once("error", reject);
  });
}

test(`Fastify on ${runtime}: pages from Fastify and WebSocket routes attached on the same port`, async () => {
  const { attach } = await import("../src/engine/node.ts");
  const app = Fastify();
  app.get("/", (_request, reply) => reply.type("text/html").send("<h1>served by Fastify</h1>"));
  app.get("/api/time", (_request, reply) => reply.send({ now: 1 }));
  // `app.server` exists before `listen`: attach, and add the hook, first (Fastify takes no hook once listening).
  const ws = attach(
    app.server,
    router([
      webSocket("/echo", { message: (ws, data) => void ws.send(data) }),
      webSocket("/rooms/:room", null, async (session, { params }) => {
        await session.sendText(`welcome to ${params.room} (${session.protocol})`);
        for await (const message of session.messages()) {
          if (typeof message === "string") await session.sendText(message.toUpperCase());
        }
      }, { handleProtocols: (offered) => offered.includes("chat.v2") ? "chat.v2" : null }),
    ]),
  );
  // Sessions close with 1001 before Fastify closes its server (which waits for every socket).
  app.addHook("preClose", async () => await ws.shutdown({ timeout: 2000 }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  const port = (app.server.address() as AddressInfo).port;
  try {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.headers.get("content-type"), "text/html");
    assert.equal(await page.text(), "<h1>served by Fastify</h1>");
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/api/time`)).json(), { now: 1 });

    const echo = await open(`ws://127.0.0.1:${port}/echo`);
    echo.client.send("over Fastify");
    await until(() => echo.said.length === 1, { message: "the echo" });
    assert.deepEqual(echo.said, ["over Fastify"]);

    const { client: room, said } = await open(`ws://127.0.0.1:${port}/rooms/l%C3%B6bby`, ["chat.v1", "chat.v2"]);
    room.send("hi");
    await until(() => said.length === 2, { message: () => `2 messages, got ${JSON.stringify(said)}` });
    assert.deepEqual(said, ["welcome to löbby (chat.v2)", "HI"]);
    assert.equal(room.protocol, "chat.v2");
    assert.equal(ws.clientCount, 2);
    assert.equal([...ws.clients].filter((c) => c instanceof DefaultWebSocketSession).length, 1);

    echo.client.terminate();
    await until(() => ws.clientCount === 1, { message: () => `1 client left, not ${ws.clientCount}` });

    const goingAway = new Promise<number>((resolve) => room.once("close", (code) => resolve(code)));
    await app.close();
    assert.equal(await goingAway, 1001);
    assert.equal(ws.clientCount, 0);
  } finally {
    await ws.shutdown({ timeout: 2000 });
    await app.close();
  }
});
