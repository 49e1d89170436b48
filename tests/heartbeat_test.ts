/**
 * The heartbeat (`pingInterval` + `timeout`, src/session/heartbeat.ts) on
 * real sockets on the current runtime's engine: a peer that never answers
 * is closed with 1011 "ping timeout", on the handler path and on the
 * default session; healthy peers (the `ws` client, the runtime's own
 * `WebSocket`, a raw peer that sends data instead of pongs) are not closed
 * however many pings go by; a connection whose reading the application
 * paused is not timed out while paused.
 *
 * Waits are counted in pings seen, never in time, and nothing asserts a
 * timing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ServerWebSocket, webSocket, type WebSocketHandlers } from "../mod.ts";
import { next, runtime, withServer } from "./_helpers/engine.ts";
import { RawClient, type WireFrame } from "./_helpers/raw_client.ts";
import { until } from "./_helpers/wait.ts";
import { WsRecorder } from "./_helpers/ws_package.ts";

/** Pings every 50 ms; a ping without a sign of life for 500 ms closes. */
const INTERVAL = 50;
const TIMEOUT = 500;
/** Pings a healthy peer must see: well past the first ping's timeout. */
const HEALTHY_PINGS = Math.ceil(TIMEOUT / INTERVAL) + 6;

interface Log {
  pongs: number;
  closes: string[];
  paused: ServerWebSocket | null;
}

function handlers(log: Log, pause = false): WebSocketHandlers {
  return {
    open(ws) {
      if (pause) {
        ws.pause();
        log.paused = ws;
      }
    },
    message(ws, data) {
      ws.send(data);
    },
    pong() {
      log.pongs++;
    },
    close(_ws, code, reason) {
      log.closes.push(`${code} ${reason}`);
    },
  };
}

const newLog = (): Log => ({ pongs: 0, closes: [], paused: null });
const OPTIONS = { pingInterval: INTERVAL, timeout: TIMEOUT };

/** Reads the server's frames: the pings' payloads until the close frame, whose code and reason are returned. */
async function pingsUntilClose(client: RawClient, pings: number[]): Promise<string> {
  for (;;) {
    const f: WireFrame | null = await client.next(10_000);
    assert.ok(f !== null, "a close frame before the connection ends");
    if (f.opcode === 9) {
      pings.push(new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length).getUint32(0));
      continue;
    }
    assert.equal(f.opcode, 8, `a ping or the close, not opcode ${f.opcode}`);
    return `${(f.payload[0] << 8) | f.payload[1]} ${new TextDecoder().decode(f.payload.subarray(2))}`;
  }
}

for (const api of ["handlers", "default session"] as const) {
  test(`a peer that never answers pings is closed with 1011 "ping timeout" (${api}, ${runtime})`, async () => {
    const log = newLog();
    let sessionClose: string | null = null;
    const closeTimeout = 200; // the silent peer will not answer our close either
    const routes = api === "handlers"
      ? [webSocket("/hb", handlers(log), { ...OPTIONS, closeTimeout })]
      : [webSocket("/hb", null, async (session) => {
        for await (const m of session) await session.send(m);
        const reason = await session.closeReason;
        sessionClose = `${reason?.code} ${reason?.message}`;
      }, { ...OPTIONS, closeTimeout })];
    await withServer(routes, async (port) => {
      const client = await RawClient.open(port, { path: "/hb" });
      try {
        const pings: number[] = [];
        assert.equal(await pingsUntilClose(client, pings), "1011 ping timeout");
        assert.ok(pings.length >= 1, "pinged first");
        assert.deepEqual(pings, pings.map((_, i) => i + 1), "ping payloads count up from 1");
        assert.equal(await client.next(10_000), null, "then the connection ends");
      } finally {
        client.close();
      }
      if (api === "handlers") {
        await until(() => log.closes.length === 1, { timeout: 10_000, message: "the close handler" });
        assert.deepEqual(log.closes, ["1011 ping timeout"]);
      } else {
        await until(() => sessionClose !== null, { timeout: 10_000, message: "the session's closeReason" });
        assert.equal(sessionClose, "1011 ping timeout");
      }
    });
  });
}

test(`healthy peers are not closed however many pings go by: ws, the runtime's WebSocket (handlers, ${runtime})`, async () => {
  const log = newLog();
  await withServer([webSocket("/hb", handlers(log), OPTIONS)], async (port) => {
    // The ws client answers pings by itself.
    const peer = new WsRecorder(`ws://127.0.0.1:${port}/hb`);
    await peer.open();
    await until(() => log.pongs >= HEALTHY_PINGS || peer.closed, {
      timeout: 20_000,
      message: `${HEALTHY_PINGS} pongs`,
    });
    assert.equal(peer.closed, null, "still open");
    peer.client.send("still here");
    assert.equal(await peer.message(1), "still here");
    peer.client.close(1000);
    assert.equal((await peer.close()).code, 1000);
    await until(() => log.closes.length === 1, { timeout: 10_000, message: "the close handler" });
    assert.deepEqual(log.closes, ["1000 "]);

    // The runtime's WebSocket answers pings by itself too: counted at the server.
    const before = log.pongs;
    const socket = new WebSocket(`ws://127.0.0.1:${port}/hb`);
    const socketClosed = next<CloseEvent>(socket, "close");
    let early: CloseEvent | null = null;
    void socketClosed.then((e) => early = e);
    await next(socket, "open");
    await until(() => log.pongs - before >= HEALTHY_PINGS || early !== null, {
      timeout: 20_000,
      message: `${HEALTHY_PINGS} pongs`,
    });
    assert.equal(early, null, "still open");
    socket.close(1000);
    assert.equal((await socketClosed).code, 1000);
    await until(() => log.closes.length === 2, { timeout: 10_000, message: "the close handler" });
    assert.deepEqual(log.closes, ["1000 ", "1000 "]);
  });
});

test(`any frame is a sign of life: a peer that sends data instead of pongs is not closed (handlers, ${runtime})`, async () => {
  const log = newLog();
  await withServer([webSocket("/hb", handlers(log), OPTIONS)], async (port) => {
    const client = await RawClient.open(port, { path: "/hb" });
    try {
      let pings = 0;
      let echoes = 0;
      while (pings < HEALTHY_PINGS) {
        const f = await client.next(10_000);
        assert.ok(f !== null && f.opcode !== 8, `no close (${f?.opcode}) after ${pings} pings`);
        if (f.opcode === 9) {
          pings++;
          await client.send([{ opcode: 1, payload: `alive ${pings}` }]);
        } else echoes++;
      }
      await client.send([{ opcode: 8, payload: new Uint8Array([0x03, 0xe8]) }]);
      for (let f = await client.next(10_000); f !== null; f = await client.next(10_000)) {
        if (f.opcode === 8) assert.equal((f.payload[0] << 8) | f.payload[1], 1000);
      }
      assert.ok(echoes >= 1);
    } finally {
      client.close();
    }
    await until(() => log.closes.length === 1, { timeout: 10_000, message: "the close handler" });
    assert.deepEqual(log.closes, ["1000 "]);
    assert.equal(log.pongs, 0);
  });
});

test(`a paused connection is not timed out while paused; once resumed, a silent peer is (handlers, ${runtime})`, async () => {
  const log = newLog();
  await withServer([webSocket("/hb", handlers(log, true), { ...OPTIONS, closeTimeout: 200 })], async (port) => {
    const client = await RawClient.open(port, { path: "/hb" });
    try {
      // While paused: pings go out, nothing is read, and the silence is not the peer's fault.
      let pings = 0;
      while (pings < HEALTHY_PINGS) {
        const f = await client.next(10_000);
        assert.ok(f !== null && f.opcode === 9, `a ping, not ${f === null ? "the end" : `opcode ${f.opcode}`}`);
        pings++;
      }
      assert.equal(log.closes.length, 0);
      assert.equal(log.paused!.readyState, 1);
      log.paused!.resume();
      assert.equal(await pingsUntilClose(client, []), "1011 ping timeout");
      assert.equal(await client.next(10_000), null);
    } finally {
      client.close();
    }
    await until(() => log.closes.length === 1, { timeout: 10_000, message: "the close handler" });
    assert.deepEqual(log.closes, ["1011 ping timeout"]);
  });
});
