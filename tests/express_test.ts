/**
 * Express (the real package, 5.x) with hybi attached to its `http.Server`:
 * Express serves the pages, hybi the WebSocket routes, on one port. Runs
 * on every runtime (Express and `node:http`'s `'upgrade'` event work on
 * Node, Bun and Deno).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import expressModule from "express";
import { router, webSocket } from "../mod.ts";
import { runtime } from "./_helpers/engine.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { until } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

/** The part of Express this test uses (the package ships no types, and `@types/express` is not a dependency). */
interface ExpressApp {
  get(path: string, handler: (req: IncomingMessage, res: ServerResponse & { send(body: string): void }) => void): void;
  listen(port: number, hostname: string, callback: () => void): HttpServer;
}
const express = expressModule as unknown as () => ExpressApp;

test(`Express on ${runtime}: pages from Express and a WebSocket route attached on the same port`, async () => {
  const { attach } = await import("../src/engine/node.ts");
  const app = express();
  app.get("/", (_req, res) => res.send("<h1>served by Express</h1>"));
  const httpServer = await new Promise<HttpServer>((resolve) => {
    const server = app.listen(0, "127.0.0.1", () => resolve(server));
  });
  const port = (httpServer.address() as AddressInfo).port;
  const errors: unknown[] = [];
  const ws = attach(
    httpServer,
    router([
      webSocket("/ws", {
        open: (ws) => void ws.sendText(`hello, ${ws.protocol}`),
        message(ws, data) {
          if (data === "throw") throw new Error("from the handler");
          ws.send(data);
        },
      }, { handleProtocols: (offered) => offered.find((p) => p === "chat.v1") }),
    ]),
    { onError: (e) => errors.push(e) },
  );
  try {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), "<h1>served by Express</h1>");
    // A plain request on the WebSocket path is Express's: 404 from it.
    assert.equal((await fetch(`http://127.0.0.1:${port}/ws`)).status, 404);

    const client = new WebSocketClient(`ws://127.0.0.1:${port}/ws`, ["chat.v1"]);
    const messages: string[] = [];
    client.on("message", (data) => void messages.push(data.toString()));
    await new Promise<void>((resolve, reject) => client.once("open", resolve).once("error", reject));
    assert.equal(client.protocol, "chat.v1");
    client.send("ping over Express");
    await until(() => messages.length === 2, { message: () => `2 messages, got ${JSON.stringify(messages)}` });
    assert.deepEqual(messages, ["hello, chat.v1", "ping over Express"]);
    assert.equal(ws.clientCount, 1);

    // A handler's error goes to attach's onError; the client sees 1011.
    const closed = new Promise<number>((resolve) => client.once("close", (code) => resolve(code)));
    client.send("throw");
    assert.equal(await closed, 1011);
    await until(() => errors.length === 1 && ws.clientCount === 0, { message: "the error reported, the client gone" });
    assert.equal((errors[0] as Error).message, "from the handler");

    // An upgrade on a path no route takes gets the router's 404; Express keeps serving.
    const stray = await SocketClient.connect(port);
    stray.write(handshake("/nowhere"));
    await stray.until(() => stray.ended);
    assert.equal(stray.status(), 404);
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "<h1>served by Express</h1>");

    // Shutting down: sessions close with 1001, then the http.Server closes.
    const last = await new Promise<WsClient>((resolve, reject) => {
      const c = new WebSocketClient(`ws://127.0.0.1:${port}/ws`);
      c.once("open", () => resolve(c)).once("error", reject);
    });
    const goingAway = new Promise<number>((resolve) => last.once("close", (code) => resolve(code)));
    await ws.shutdown({ timeout: 2000 });
    assert.equal(await goingAway, 1001);
  } finally {
    await ws.shutdown({ timeout: 2000 });
    await new Promise((resolve) => httpServer.close(resolve));
  }
});
