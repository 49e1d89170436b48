/**
 * The default session's policy for messages nobody has read yet
 * (src/session/default_session.ts), on real sockets on the current
 * runtime's engine:
 *
 * - while nobody reads, reading goes on, so the peer's pings and close are
 *   still answered; once 1 MiB of messages is unread the connection fails
 *   with 1008 (`ErrorCode.UnreadMessages`), and the close completes at once
 *   (the routes' `closeTimeout` is far beyond the test's waits, so no
 *   answer below comes from a timer);
 * - while a `for await` loop (or a reader of `incoming`) reads, however
 *   slowly, 1 MiB of unread messages holds reading instead: the peer is
 *   held back by TCP, and nothing is lost or closed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import {
  CloseCode,
  type CloseReason,
  type DefaultWebSocketSession,
  ErrorCode,
  type Route,
  router,
  webSocket,
  WebSocketError,
} from "../mod.ts";
import { delay, engineServe, runtime } from "./_helpers/engine.ts";
import { encodeClientFrame, RawClient } from "./_helpers/raw_client.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

const serve = await engineServe();
const KiB = 1024;
const MiB = 1024 * 1024;
/** Far beyond every wait below: a close that completes does so by the handshake, not by this timer. */
const CLOSE_TIMEOUT = 60_000;

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

/** `promise`'s value, or `fallback` if it has not settled within `ms` (the timer is cleared either way). */
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<T>((resolve) => timer = setTimeout(() => resolve(fallback), ms))]);
  } finally {
    clearTimeout(timer);
  }
}

async function withServer(routes: Route[], body: (port: number) => Promise<void>): Promise<void> {
  const failures: unknown[] = [];
  const server = await serve({ port: 0, hostname: "127.0.0.1", onError: (e) => void failures.push(e) }, router(routes));
  try {
    await body(server.port);
  } finally {
    await server.shutdown({ timeout: 2000 });
  }
  assert.deepEqual(failures, []);
}

/** What a session route saw, recorded as it happened. */
interface Seen {
  closeReason: CloseReason | null | undefined;
  aborted: boolean;
  /** What a read after the end gave: how many messages, then the error (or null at a clean end). */
  lateRead: { messages: number; error: unknown } | undefined;
}

function watch(session: DefaultWebSocketSession, seen: Seen): Promise<void> {
  void session.closeReason.then((r) => seen.closeReason = r);
  return new Promise((resolve) =>
    session.signal.addEventListener("abort", () => {
      seen.aborted = true;
      resolve();
    }, { once: true })
  );
}

async function readAfterEnd(session: DefaultWebSocketSession, seen: Seen): Promise<void> {
  let messages = 0;
  try {
    for await (const _ of session) messages++;
    seen.lateRead = { messages, error: null };
  } catch (error) {
    seen.lateRead = { messages, error };
  }
}

const newSeen = (): Seen => ({ closeReason: undefined, aborted: false, lateRead: undefined });

async function openWs(url: string): Promise<{ ws: WsClient; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocketClient(url);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { ws, closed };
}

function numbered(seq: number, size: number): Uint8Array {
  const out = new Uint8Array(size).fill(seq & 255);
  new DataView(out.buffer).setUint32(0, seq);
  return out;
}

const seqOf = (data: Uint8Array): number => new DataView(data.buffer, data.byteOffset, data.length).getUint32(0);

test(`a session that never reads (a ticker) on ${runtime}: 3 MB then a close → 1008 once 1 MiB is unread, the close completes`, async () => {
  const seen = newSeen();
  let ticks = 0;
  const route = webSocket("/ticker", null, async (session) => {
    const ended = watch(session, seen);
    const timer = setInterval(() => {
      ticks++;
      session.sendText(`tick ${ticks}`).catch(() => {});
    }, 20);
    await ended;
    clearInterval(timer);
    await readAfterEnd(session, seen);
  }, { closeTimeout: CLOSE_TIMEOUT });
  await withServer([route], async (port) => {
    const { ws, closed } = await openWs(`ws://127.0.0.1:${port}/ticker`);
    const received: string[] = [];
    ws.on("message", (data) => received.push(data.toString()));
    // 48 × 64 KiB = 3 MiB, then our close.
    for (let i = 0; i < 48; i++) ws.send(numbered(i, 64 * KiB));
    ws.close(1000, "done sending");
    const { code, reason } = await within(closed, 20_000, {
      code: -1,
      reason: "no close within 20 s (closeTimeout 60 s)",
    });
    assert.equal(code, CloseCode.ViolatedPolicy, `the client's close: ${code} ${reason}`);
    assert.match(reason, /nobody reads/);
    await until(() => seen.lateRead !== undefined, 10_000, "the handler to end");
    assert.equal(seen.closeReason?.code, CloseCode.ViolatedPolicy, "closeReason: ours, 1008");
    assert.equal(seen.aborted, true, "signal aborted");
    // What was accepted is not dropped: a late reader gets it, then the error.
    const late = seen.lateRead!;
    assert.ok(late.error instanceof WebSocketError, String(late.error));
    assert.equal(late.error.code, ErrorCode.UnreadMessages);
    assert.equal(late.error.closeCode, 1008);
    assert.ok(late.messages * 64 * KiB >= MiB - 64 * KiB && late.messages < 48, `${late.messages} messages kept`);
    console.log(
      `unread on ${runtime}: failed with ${late.messages} messages unread; ${received.length} ticks reached the client`,
    );
  });
});

test(`a session that never reads, below 1 MiB on ${runtime}: pings are answered and the peer's close at once`, async () => {
  const seen = newSeen();
  const route = webSocket("/quiet", null, async (session) => {
    await watch(session, seen);
  }, { closeTimeout: CLOSE_TIMEOUT });
  await withServer([route], async (port) => {
    const { ws, closed } = await openWs(`ws://127.0.0.1:${port}/quiet`);
    for (let i = 0; i < 10; i++) ws.send(numbered(i, 10 * KiB));
    const pong = new Promise<string>((resolve) => ws.once("pong", (d) => resolve(d.toString())));
    ws.ping(new TextEncoder().encode("seen?"));
    assert.equal(await pong, "seen?");
    ws.close(4001, "bye");
    const result = await within(closed, 20_000, { code: -1, reason: "no answer" });
    assert.equal(result.code, 4001, "the close is answered by the handshake, not the close timeout");
    await until(() => seen.aborted, 10_000, "the session to finish");
    assert.equal(seen.closeReason?.code, 4001);
    assert.equal(seen.closeReason?.message, "bye");
  });
});

test(`a session that left its loop on ${runtime}: 3 MB more → 1008; below that the peer's close is answered at once`, async () => {
  for (const flood of [true, false]) {
    const seen = newSeen();
    let first: string | null = null;
    const route = webSocket("/left", null, async (session) => {
      const ended = watch(session, seen);
      for await (const m of session.messages()) {
        first = String(m);
        break;
      }
      await ended;
    }, { closeTimeout: CLOSE_TIMEOUT });
    await withServer([route], async (port) => {
      const { ws, closed } = await openWs(`ws://127.0.0.1:${port}/left`);
      ws.send("hello");
      await until(() => first !== null, 10_000, "the first message");
      for (let i = 0; i < (flood ? 48 : 4); i++) ws.send(numbered(i, 64 * KiB));
      ws.close(1000);
      const result = await within(closed, 20_000, { code: -1, reason: "no answer" });
      assert.equal(result.code, flood ? 1008 : 1000, `${flood ? "3 MiB" : "256 KiB"} after the loop: ${result.reason}`);
      await until(() => seen.aborted, 10_000, "the session to finish");
      assert.equal(seen.closeReason?.code, flood ? 1008 : 1000);
    });
  }
});

const FLOOD_FRAME = 64 * KiB;
const PATIENCE = 300;

/** Writes masked numbered binary frames until the peer holds us back (no `drain` within PATIENCE) or `max`. */
async function floodUntilHeld(socket: Socket, max: number): Promise<number> {
  let n = 0;
  while (n < max) {
    const flushed = socket.write(encodeClientFrame({ opcode: 2, payload: numbered(n, FLOOD_FRAME) }));
    n++;
    if (!flushed) {
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.off("drain", onDrain);
          resolve(false);
        }, PATIENCE);
        const onDrain = () => {
          clearTimeout(timer);
          resolve(true);
        };
        socket.once("drain", onDrain);
      });
      if (!drained) return n;
    }
  }
  return n;
}

for (const reader of ["for await", "incoming stream"] as const) {
  test(`a slow reader (${reader}) on ${runtime}: held back by TCP at 1 MiB unread, not closed; then everything in order`, async () => {
    const seen = newSeen();
    const got: number[] = [];
    let open!: () => void;
    const gate = new Promise<void>((resolve) => open = resolve);
    const route = webSocket("/slow", null, async (session) => {
      void watch(session, seen);
      const take = async (data: Uint8Array) => {
        got.push(seqOf(data));
        if (got.length === 1) await gate; // a reader stuck on its first message
      };
      if (reader === "for await") {
        for await (const m of session) await take(m.data);
      } else {
        const r = session.incoming.getReader();
        for (let x = await r.read(); !x.done; x = await r.read()) await take(x.value.data);
      }
    }, { closeTimeout: CLOSE_TIMEOUT });
    await withServer([route], async (port) => {
      const client = await RawClient.open(port, { path: "/slow" });
      try {
        const max = 1024; // 64 MiB
        const written = await floodUntilHeld(client.socket, max);
        assert.ok(written < max, "the peer was held back");
        await until(() => got.length > 0, 10_000, "the first message");
        assert.deepEqual(got, [0], "the reader is on its first message");
        assert.equal(seen.closeReason !== undefined, false, "not closed");
        assert.equal(seen.aborted, false);
        assert.ok(client.socket.writableLength > 0, "the client's writes wait");
        open();
        await until(() => got.length === written, 30_000, `all ${written} messages (${got.length} so far)`);
        assert.deepEqual(got, Array.from({ length: written }, (_, i) => i), "in order, none lost");
        await until(() => client.socket.writableLength === 0, 10_000, "the client's backlog");
        await client.send([{ opcode: 8, payload: new Uint8Array([0x03, 0xe8]) }]);
        for (let f = await client.next(10_000); f !== null; f = await client.next(10_000)) {
          assert.equal(f.opcode, 8);
          assert.equal((f.payload[0] << 8) | f.payload[1], 1000);
        }
        console.log(`slow reader (${reader}) on ${runtime}: the peer was held after ${written} frames of 64 KiB`);
      } finally {
        client.close();
      }
      await until(() => seen.aborted, 10_000, "the session to finish");
      assert.equal(seen.closeReason?.code, 1000);
    });
  });
}
