/**
 * The server's open connections (`server.clients`, `server.clientCount`)
 * with real `ws` clients, including abrupt disconnects; WebSocket handler
 * errors reaching `serve({ onError })`; and a failed listen that rejects
 * `serve` without being reported as well.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type ConnectedClient,
  DefaultWebSocketSession,
  RawWebSocketSession,
  router,
  ServerWebSocket,
  webSocket,
  webSocketRaw,
} from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { engineServe, rawEcho, runtime } from "./_helpers/engine.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { delay, until } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

/** A `ws` client, once open. */
function open(url: string): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const client = new WebSocketClient(url);
    client.once("open", () => resolve(client)).once("error", reject);
  });
}

/** What each kind of client is, by name, sorted. */
function kinds(clients: Iterable<ConnectedClient>): string[] {
  return [...clients].map((c) =>
    c instanceof ServerWebSocket
      ? "handlers"
      : c instanceof DefaultWebSocketSession
      ? "session"
      : c instanceof RawWebSocketSession
      ? "raw"
      : "?"
  ).sort();
}

test(`clients on ${runtime}: the open connections of every route shape, counted up and down with ws clients`, async () => {
  const serve = await engineServe();
  // What the handlers saw of the set while running.
  const seen = { openCount: [] as number[], openListed: [] as boolean[], closeListed: [] as boolean[] };
  const sessionsListedThemselves: boolean[] = [];
  const server: Server = await serve(
    { port: 0, hostname: "127.0.0.1" },
    router([
      webSocket("/handlers", {
        open(ws) {
          seen.openCount.push(server.clientCount);
          seen.openListed.push([...server.clients].includes(ws as ServerWebSocket<unknown>));
        },
        message(ws, data) {
          ws.send(data);
        },
        close(ws) {
          seen.closeListed.push([...server.clients].includes(ws as ServerWebSocket<unknown>));
        },
      }),
      webSocket("/session", null, async (session) => {
        sessionsListedThemselves.push([...server.clients].includes(session as DefaultWebSocketSession<unknown>));
        for await (const message of session.messages()) {
          if (typeof message === "string") await session.sendText(message);
        }
      }),
      webSocketRaw("/raw", null, rawEcho),
    ]),
  );
  const url = (path: string) => `ws://127.0.0.1:${server.port}${path}`;
  try {
    assert.equal(server.clientCount, 0);
    assert.deepEqual([...server.clients], []);

    const handlers = await open(url("/handlers"));
    const session = await open(url("/session"));
    const raw = await open(url("/raw"));
    await until(() => server.clientCount === 3, { message: () => `3 clients, not ${server.clientCount}` });
    assert.deepEqual(kinds(server.clients), ["handlers", "raw", "session"]);
    assert.equal(server.clients.size, 3);
    // Listed before `open` ran, and a session function finds its own session (not the RAW one under it).
    assert.deepEqual(seen.openCount, [1]);
    assert.deepEqual(seen.openListed, [true]);
    assert.deepEqual(sessionsListedThemselves, [true]);

    // More on the handler path, then gone in every way a client goes.
    const more = await Promise.all([open(url("/handlers")), open(url("/handlers")), open(url("/session"))]);
    await until(() => server.clientCount === 6, { message: () => `6 clients, not ${server.clientCount}` });
    const socket = await SocketClient.connect(server.port);
    socket.write(handshake("/handlers"));
    await socket.until(() => socket.text().includes("\r\n\r\n"));
    await until(() => server.clientCount === 7, { message: () => `7 clients, not ${server.clientCount}` });

    handlers.close(1000, "bye"); // a close handshake
    await until(() => server.clientCount === 6, { message: () => `6 after a close, not ${server.clientCount}` });
    more[0].terminate(); // the TCP connection dropped without a close frame
    await until(() => server.clientCount === 5, { message: () => `5 after a terminate, not ${server.clientCount}` });
    socket.close(); // a raw socket destroyed mid-session
    await until(() => server.clientCount === 4, {
      message: () => `4 after a dropped socket, not ${server.clientCount}`,
    });
    raw.terminate();
    session.terminate();
    await until(() => server.clientCount === 2, { message: () => `2 left, not ${server.clientCount}` });
    assert.deepEqual(kinds(server.clients), ["handlers", "session"]);

    // Closing each while iterating the live set.
    const closed = more.slice(1).map((c) => new Promise<number>((resolve) => c.once("close", (code) => resolve(code))));
    for (const client of server.clients) {
      if (client instanceof ServerWebSocket) client.close(4000, "from the set");
      else if (client instanceof DefaultWebSocketSession) await client.close();
    }
    assert.deepEqual((await Promise.all(closed)).sort(), [1000, 4000]);
    await until(() => server.clientCount === 0, { message: () => `0 left, not ${server.clientCount}` });
    assert.deepEqual([...server.clients], []);
    // Out of the set before the close handler ran, for each of the four handler-path connections.
    assert.deepEqual(seen.closeListed, [false, false, false, false]);
  } finally {
    await server.shutdown({ timeout: 2000 });
  }
});

test(`onError on ${runtime}: serve's onError hears WebSocket handler errors, unless the route has its own`, async () => {
  const serve = await engineServe();
  const errors: string[] = [];
  const own: string[] = [];
  const printed: unknown[][] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  const server = await serve(
    { port: 0, hostname: "127.0.0.1", onError: (e) => errors.push((e as Error).message) },
    router([
      webSocket("/handlers", {
        message() {
          throw new Error("from a message handler");
        },
      }),
      webSocket("/session", null, async (session) => {
        for await (const _ of session.messages()) throw new Error("from a session function");
      }),
      webSocketRaw("/raw", null, async (session) => {
        for await (const _ of session.incoming) throw new Error("from a RAW handler");
      }),
      webSocket("/own", {
        message() {
          throw new Error("to the route's own onError");
        },
      }, { onError: (e) => own.push((e as Error).message) }),
    ]),
  );
  try {
    const codes: number[] = [];
    for (const path of ["/handlers", "/session", "/raw", "/own"]) {
      const client = await open(`ws://127.0.0.1:${server.port}${path}`);
      const closed = new Promise<number>((resolve) => client.once("close", (code) => resolve(code)));
      client.send("go");
      codes.push(await closed);
    }
    await until(() => errors.length === 3 && own.length === 1, {
      message: () => `the errors reported: ${JSON.stringify({ errors, own })}`,
    });
    assert.deepEqual(errors.sort(), ["from a RAW handler", "from a message handler", "from a session function"]);
    assert.deepEqual(own, ["to the route's own onError"]);
    // 1011 from the handler path and the default session; the RAW handler's connection is dropped (1006).
    assert.deepEqual(codes, [1011, 1011, 1006, 1011]);
    assert.deepEqual(printed, []);
  } finally {
    console.error = consoleError;
    await server.shutdown({ timeout: 2000 });
  }
});

test(`listen on ${runtime}: a taken port rejects serve once, and nothing is printed`, async () => {
  const serve = await engineServe();
  const first = await serve({ port: 0, hostname: "127.0.0.1" }, () => new Response("first"));
  const printed: unknown[][] = [];
  const reported: unknown[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    await assert.rejects(
      serve({ port: first.port, hostname: "127.0.0.1" }, () => new Response("second")),
      (error: Error & { code?: string }) => error.code === "EADDRINUSE",
    );
    await assert.rejects(
      serve(
        { port: first.port, hostname: "127.0.0.1", onError: (e) => reported.push(e) },
        () => new Response("third"),
      ),
      (error: Error & { code?: string }) => error.code === "EADDRINUSE",
    );
    // A negative check: a report would follow the rejection within a turn of the event loop.
    await delay(50);
    assert.deepEqual(printed, []);
    assert.deepEqual(reported, []);
    assert.equal(await (await fetch(`http://127.0.0.1:${first.port}/`)).text(), "first");
  } finally {
    console.error = consoleError;
    await first.shutdown({ timeout: 2000 });
  }
});
