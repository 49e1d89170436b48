/**
 * The idle timeout (`idleTimeout`, `pingWhenIdle`; src/session/idle_sweeper.ts)
 * on real sockets on the current runtime's engine, with the `ws` client:
 *
 * - a `ws` client that goes silent (it does not answer pings: `autoPong:
 *   false`) is pinged once, then dropped (1006; the handler's `close` gets
 *   "idle timeout"), on the handler path, the default session and a RAW
 *   session (which is not pinged: it would see the pong);
 * - a `ws` client that stays quiet but answers pings stays open however many
 *   idle pings go by;
 * - with `pingWhenIdle: false` a quiet client is dropped without a ping;
 * - a client sending one large message slowly but steadily is not dropped
 *   (a byte is a sign of life, not only a whole frame);
 * - a connection whose reading the application paused is not dropped.
 *
 * Waits are counted in pings and events, with deadlines; nothing asserts a
 * timing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type Route, type ServerWebSocket, webSocket, webSocketRaw } from "../mod.ts";
import { runtime, withServer } from "./_helpers/engine.ts";
import { RawClient } from "./_helpers/raw_client.ts";
import { until } from "./_helpers/wait.ts";
import { WsRecorder } from "./_helpers/ws_package.ts";

/** Short enough for a test: swept every 50 ms, a ping after about 300 ms of silence, the drop after 400. */
const IDLE = { idleTimeout: 400 };

/** A `ws` client, open; with `autoPong: false` it does not answer pings. */
async function connect(url: string, autoPong: boolean): Promise<WsRecorder> {
  const peer = new WsRecorder(url, [], { autoPong });
  await peer.open();
  return peer;
}

for (const api of ["handlers", "default session", "raw session"] as const) {
  test(`a ws client that goes silent is dropped (1006) after idleTimeout (${api}, ${runtime})`, async () => {
    const closes: string[] = [];
    let sessionEnd: string | null = null;
    const routes: Route[] = [];
    if (api === "handlers") {
      routes.push(webSocket("/idle", { close: (_ws, code, reason) => void closes.push(`${code} ${reason}`) }, IDLE));
    } else if (api === "default session") {
      routes.push(webSocket("/idle", null, async (session) => {
        for await (const _ of session);
        sessionEnd = `closeReason ${await session.closeReason}`;
      }, IDLE));
    } else {
      routes.push(webSocketRaw("/idle", null, async (session) => {
        let frames = 0;
        for await (const _ of session) frames++;
        sessionEnd = `frames ${frames}`;
      }, IDLE));
    }
    await withServer(routes, async (port) => {
      const peer = await connect(`ws://127.0.0.1:${port}/idle`, false);
      try {
        await until(() => peer.closed, { timeout: 10_000, message: "the drop" });
      } finally {
        peer.client.terminate();
      }
      // A drop, not a close handshake: the client saw no close frame.
      assert.equal(peer.closed!.code, 1006);
      // Pinged once before the drop, except a RAW session, which would see the pong as a frame.
      assert.equal(peer.pings.length, api === "raw session" ? 0 : 1);
      if (api === "handlers") {
        await until(() => closes.length === 1, { message: "the close handler" });
        assert.deepEqual(closes, ["1006 idle timeout"]);
      } else {
        await until(() => sessionEnd, { message: "the session's end" });
        assert.equal(sessionEnd, api === "raw session" ? "frames 0" : "closeReason null");
      }
    });
  });
}

test(`a ws client that is quiet but answers pings stays open (handlers and default session, ${runtime})`, async () => {
  let handlerPongs = 0;
  let sessionPongs = 0;
  const closes: string[] = [];
  const routes = [
    webSocket("/handlers", {
      pong: () => void handlerPongs++,
      message: (ws, data) => void ws.send(data),
      close: (_ws, code, reason) => void closes.push(`${code} ${reason}`),
    }, IDLE),
    webSocket("/session", null, async (session) => {
      session.onPong = () => void sessionPongs++;
      for await (const m of session.messages()) await session.sendText(`${m}`);
    }, IDLE),
  ];
  await withServer(routes, async (port) => {
    for (const path of ["/handlers", "/session"]) {
      const peer = await connect(`ws://127.0.0.1:${port}${path}`, true);
      try {
        // Three idle pings answered: well past three idle timeouts, and the connection is open.
        await until(() => peer.pings.length >= 3 || peer.closed, { timeout: 20_000, message: "three idle pings" });
        assert.equal(peer.closed, null, `${path} still open`);
        peer.client.send("still here");
        assert.equal(await peer.message(1), "still here");
        peer.client.close(1000);
        await until(() => peer.closed, { message: "the close" });
        assert.equal(peer.closed!.code, 1000);
      } finally {
        peer.client.terminate();
      }
    }
    assert.ok(handlerPongs >= 3, `the pong handler saw the answers (${handlerPongs})`);
    assert.ok(sessionPongs >= 3, `onPong saw the answers (${sessionPongs})`);
    await until(() => closes.length === 1, { message: "the close handler" });
    assert.deepEqual(closes, ["1000 "]);
  });
});

test(`pingWhenIdle: false drops a quiet client that would have answered, without pinging it (${runtime})`, async () => {
  await withServer([webSocket("/idle", {}, { ...IDLE, pingWhenIdle: false })], async (port) => {
    const peer = await connect(`ws://127.0.0.1:${port}/idle`, true);
    try {
      await until(() => peer.closed, { timeout: 10_000, message: "the drop" });
    } finally {
      peer.client.terminate();
    }
    assert.equal(peer.closed!.code, 1006);
    assert.equal(peer.pings.length, 0);
  });
});

test(`a client sending a large message slowly but steadily is not dropped (${runtime})`, async () => {
  const received: number[] = [];
  // No ping would help: the client below never answers one. Only its bytes keep it.
  const options = { ...IDLE, pingWhenIdle: false };
  await withServer(
    [webSocket("/slow", { message: (_ws, data) => void received.push(data.length) }, options)],
    async (port) => {
      const client = await RawClient.open(port, { path: "/slow" });
      try {
        // 2 KiB in 64-byte writes a quarter of idleTimeout apart: the message takes
        // eight idle timeouts to arrive, yet a byte comes well within each.
        await client.send([{ opcode: 2, payload: new Uint8Array(2048).fill(7) }], { chop: 64, delay: 100 });
        await until(() => received.length === 1 || client.ended, { message: "the message" });
        assert.deepEqual(received, [2048]);
        assert.equal(client.ended, false, "still connected");
        // Then silence: dropped.
        assert.equal(await client.next(10_000), null);
      } finally {
        client.close();
      }
    },
  );
});

test(`a connection the application paused is not dropped while paused; once resumed, it is (${runtime})`, async () => {
  const opened: ServerWebSocket[] = [];
  const closes: string[] = [];
  const handlers = {
    open(ws: ServerWebSocket) {
      // The first connection is paused; the others are the witnesses that time passes.
      if (opened.length === 0) ws.pause();
      opened.push(ws);
    },
    close: (_ws: ServerWebSocket, code: number, reason: string) => void closes.push(`${code} ${reason}`),
  };
  await withServer([webSocket("/idle", handlers, { ...IDLE, pingWhenIdle: false })], async (port) => {
    const paused = await RawClient.open(port, { path: "/idle" });
    try {
      await until(() => opened.length === 1, { message: "open" });
      // Two witnesses dropped one after the other: the paused one outlived two idle timeouts.
      for (let i = 1; i <= 2; i++) {
        const witness = await RawClient.open(port, { path: "/idle" });
        assert.equal(await witness.next(10_000), null, `witness ${i} dropped`);
        witness.close();
        await until(() => closes.length === i, { message: `witness ${i}'s close handler` });
      }
      assert.equal(paused.ended, false);
      assert.equal(opened[0].readyState, 1);
      opened[0].resume();
      assert.equal(await paused.next(10_000), null, "dropped once resumed");
    } finally {
      paused.close();
    }
    await until(() => closes.length === 3, { message: "the close handler" });
    assert.deepEqual(closes, ["1006 idle timeout", "1006 idle timeout", "1006 idle timeout"]);
  });
});
