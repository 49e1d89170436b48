/**
 * The handler path (`webSocket(path, handlers, options)`, one
 * `ServerWebSocket` per connection) on the current runtime's engine, against
 * clients we did not write: the `ws` package, the runtime's own
 * `WebSocket`, Python's `websockets` and Chromium (each of the last two
 * skipped with a reason when missing), plus a raw socket client
 * (tests/_helpers/raw_client.ts, its own framing) for what no well-behaved
 * client sends: fragments, floods, protocol violations.
 *
 * Every wait is for a condition, with a deadline; nothing asserts a timing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawn, spawnSync } from "node:child_process";
import type { Socket } from "node:net";
import {
  ErrorCode,
  PerMessageDeflate,
  type Route,
  route,
  router,
  type ServerWebSocket,
  webSocket,
  WebSocketError,
  type WebSocketHandlers,
  type WebSocketHandlersRouteOptions,
  WebSocketUpgrade,
} from "../mod.ts";
import { chromiumSkip, withChromium } from "./_helpers/chromium.ts";
import { delay, engineServe, next, runtime } from "./_helpers/engine.ts";
import { encodeClientFrame, nextMessage, RawClient, type WireFrame } from "./_helpers/raw_client.ts";
import { SocketClient } from "./_helpers/socket_client.ts";
import { seededBytes } from "./_helpers/seeded_bytes.ts";
import { WebSocketClient, type WsClient, type WsDeflateOptions } from "./_helpers/ws_client.ts";

const serve = await engineServe();
const encoder = new TextEncoder();
const KiB = 1024;
const MiB = 1024 * 1024;

// ---- helpers ----

/** Waits until `condition()` holds, polling, up to `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(5);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/** The first 4 bytes, big-endian (the sequence number of a numbered message). */
function seqOf(data: Uint8Array): number {
  return ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]) >>> 0;
}

/** A message of `size` bytes whose first 4 bytes are `seq` and the rest derived from it. */
function numbered(seq: number, size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  out[0] = seq >>> 24;
  out[1] = (seq >>> 16) & 255;
  out[2] = (seq >>> 8) & 255;
  out[3] = seq & 255;
  for (let i = 4; i < size; i++) out[i] = (seq + i) & 255;
  return out;
}

function isNumbered(data: Uint8Array, seq: number, size: number): boolean {
  if (data.length !== size || seqOf(data) !== seq) return false;
  for (let i = 4; i < size; i += 997) if (data[i] !== ((seq + i) & 255)) return false;
  return data[size - 1] === ((seq + size - 1) & 255) || size <= 4;
}

/** Starts a server with `routes` on this runtime's engine, runs `body`, and shuts it down. */
async function withServer(routes: Route[], body: (port: number) => Promise<void>): Promise<void> {
  const failures: unknown[] = [];
  const server = await serve(
    { port: 0, hostname: "127.0.0.1", onError: (e) => void failures.push(e) },
    router(routes),
  );
  try {
    await body(server.port);
  } finally {
    await server.shutdown({ timeout: 2000 });
  }
  assert.deepEqual(failures, [], "the server itself reported no failure");
}

/** What the test's handlers saw. */
interface Log {
  opens: number;
  closes: { code: number; reason: string; readyState: number; sendAfter: number }[];
  errors: unknown[];
}

const newLog = (): Log => ({ opens: 0, closes: [], errors: [] });

/** An echo on handlers; "close me" closes with 4000 "bye" instead. */
function echoHandlers(log: Log): WebSocketHandlers {
  return {
    open() {
      log.opens++;
    },
    message(ws, data) {
      if (data === "close me") ws.close(4000, "bye");
      else if (data === "terminate me") ws.terminate();
      else ws.send(data);
    },
    close(ws, code, reason) {
      log.closes.push({ code, reason, readyState: ws.readyState, sendAfter: ws.send("too late") });
    },
    error(_ws, error) {
      log.errors.push(error);
    },
  };
}

interface WsMessage {
  data: Buffer;
  isBinary: boolean;
}

/** A `ws` client that keeps what it receives. */
class WsPeer {
  readonly ws: WsClient;
  readonly messages: WsMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  closeCode: number | null = null;

  private constructor(ws: WsClient) {
    this.ws = ws;
    ws.on("message", (data, isBinary) => this.messages.push({ data, isBinary }));
    this.closed = new Promise((resolve) =>
      ws.once("close", (code, reason) => {
        this.closeCode = code;
        resolve({ code, reason: reason.toString() });
      })
    );
  }

  static async open(url: string, perMessageDeflate: boolean | WsDeflateOptions = false): Promise<WsPeer> {
    const ws = new WebSocketClient(url, undefined, { perMessageDeflate });
    const peer = new WsPeer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return peer;
  }

  /** The next message, in order. */
  async next(ms = 10_000): Promise<WsMessage> {
    await until(() => this.messages.length > 0 || this.closeCode !== null, ms, "a message on the ws client");
    const m = this.messages.shift();
    if (m === undefined) throw new Error(`the connection closed (${this.closeCode}) instead of a message`);
    return m;
  }

  async close(code = 1000, reason = ""): Promise<{ code: number; reason: string }> {
    this.ws.close(code, reason);
    return await this.closed;
  }
}

/** The code of the server's close frame (data frames before it are skipped), then that the server ends the TCP. */
async function closedWith(client: RawClient): Promise<{ code: number; reason: string }> {
  let frame: WireFrame | null;
  do frame = await client.next(10_000); while (frame !== null && frame.opcode !== 8);
  assert.ok(frame !== null, "a close frame before the end of the connection");
  const code = frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
  const reason = new TextDecoder().decode(frame.payload.subarray(2));
  assert.equal(await client.next(10_000), null, "the server ends the connection after its close frame");
  return { code, reason };
}

const closeFrame = (code: number, reason = ""): { opcode: number; payload: Uint8Array } => ({
  opcode: 8,
  payload: new Uint8Array([code >> 8, code & 255, ...encoder.encode(reason)]),
});

// ---- 1. echo through handlers with real clients ----

test(`handlers echo on ${runtime} with the ws client: text, binary of 0 B .. 1 MiB, a ping, the close`, async () => {
  const log = newLog();
  await withServer([webSocket("/echo", echoHandlers(log))], async (port) => {
    const peer = await WsPeer.open(`ws://127.0.0.1:${port}/echo`);
    for (const text of ["", "héllo ✓ 🙂", "x".repeat(70_000), "é".repeat(300_000)]) {
      peer.ws.send(text);
      const m = await peer.next();
      assert.equal(m.isBinary, false);
      assert.equal(m.data.toString("utf8"), text);
    }
    for (const n of [0, 1, 125, 126, 127, 65_535, 65_536, 65_537, 100_000, MiB]) {
      const bytes = seededBytes(n, n + 1);
      peer.ws.send(bytes);
      const m = await peer.next();
      assert.equal(m.isBinary, true, `${n} B comes back binary`);
      assert.ok(sameBytes(bytes, m.data), `${n} B comes back intact`);
    }
    // Many at once, in order.
    for (let i = 0; i < 200; i++) peer.ws.send(i % 2 === 0 ? `n${i}` : numbered(i, 1000));
    for (let i = 0; i < 200; i++) {
      const m = await peer.next();
      if (i % 2 === 0) assert.equal(m.data.toString(), `n${i}`);
      else assert.ok(m.isBinary && isNumbered(m.data, i, 1000), `message ${i} in order`);
    }
    const pong = new Promise<Buffer>((resolve) => peer.ws.once("pong", resolve));
    peer.ws.ping(encoder.encode("are you there"));
    assert.equal((await pong).toString(), "are you there");
    assert.deepEqual(await peer.close(1000), { code: 1000, reason: "" });
    await until(() => log.closes.length === 1, 10_000, "the close handler");
    assert.deepEqual(log.closes, [{ code: 1000, reason: "", readyState: 3, sendAfter: 0 }]);
    assert.equal(log.opens, 1);
    assert.deepEqual(log.errors, []);
  });
});

test(`handlers echo on ${runtime}: fragmented messages from a raw client, a ping between fragments, bytes dribbled`, async () => {
  const log = newLog();
  await withServer([webSocket("/echo", echoHandlers(log))], async (port) => {
    const client = await RawClient.open(port, { path: "/echo" });
    try {
      const text = encoder.encode("fragmented ✓ text: κόσμε 𝄞");
      // Five fragments, the cut points inside multi-byte characters, a ping after the first.
      await client.sendMessage(1, text, { fragments: 5, ping: encoder.encode("mid") });
      const pong = await nextMessage(client);
      assert.equal(pong?.opcode, 10, "the pong comes first");
      assert.equal(new TextDecoder().decode(pong!.payload), "mid");
      const echoed = await nextMessage(client);
      assert.equal(echoed?.opcode, 1);
      assert.equal(new TextDecoder().decode(echoed!.payload), "fragmented ✓ text: κόσμε 𝄞");

      // A binary message of 1 MiB in 16 fragments.
      const bytes = seededBytes(MiB, 99);
      await client.sendMessage(2, bytes, { fragments: 16 });
      const big = await nextMessage(client);
      assert.equal(big?.opcode, 2);
      assert.ok(sameBytes(bytes, big!.payload));

      // Text in 3 fragments delivered 7 bytes per write: frames end mid-read, characters mid-write.
      const slow = encoder.encode("dribbled ✓ ".repeat(20));
      await client.sendMessage(1, slow, { fragments: 3, chop: 7 });
      assert.equal(new TextDecoder().decode((await nextMessage(client))!.payload), "dribbled ✓ ".repeat(20));

      // Empty fragments only.
      await client.send([{ opcode: 2, fin: false }, { opcode: 0, fin: false }, { opcode: 0, fin: true }]);
      const empty = await nextMessage(client);
      assert.equal(empty?.opcode, 2);
      assert.equal(empty?.payload.length, 0);

      await client.send([closeFrame(1000, "done")]);
      assert.deepEqual(await closedWith(client), { code: 1000, reason: "" });
    } finally {
      client.close();
    }
    await until(() => log.closes.length === 1, 10_000, "the close handler");
    assert.equal(log.closes[0].code, 1000);
    assert.equal(log.closes[0].reason, "done");
    assert.deepEqual(log.errors, []);
  });
});

test(`handlers echo on ${runtime} with the runtime's own WebSocket client`, async () => {
  const log = newLog();
  await withServer([webSocket("/echo", echoHandlers(log))], async (port) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
    ws.binaryType = "arraybuffer";
    await next(ws, "open");
    let reply = next<MessageEvent>(ws, "message");
    ws.send("héllo from the runtime ✓");
    assert.equal((await reply).data, "héllo from the runtime ✓");
    for (const n of [0, 200, 70_000, MiB]) {
      const bytes = seededBytes(n, 7 + n);
      reply = next<MessageEvent>(ws, "message");
      ws.send(bytes);
      const data = (await reply).data;
      assert.ok(data instanceof ArrayBuffer, `${n} B comes back binary`);
      assert.ok(sameBytes(bytes, new Uint8Array(data)), `${n} B intact`);
    }
    const closed = next<CloseEvent>(ws, "close");
    ws.close(4001, "done");
    const event = await closed;
    assert.equal(event.code, 4001, "the server echoes the client's code");
    assert.equal(event.wasClean, true);
    await until(() => log.closes.length === 1, 10_000, "the close handler");
    assert.equal(log.closes[0].code, 4001);
    assert.equal(log.closes[0].reason, "done");
    assert.deepEqual(log.errors, []);
  });
});

const PYTHON = "/usr/bin/python3";
const pythonSkip = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0
  ? false
  : `${PYTHON} with the websockets package is not installed (.ci/run installs python3-websockets)`;

/** Python `websockets` against `url`: echoes (with its default permessage-deflate offer), then both close directions. */
const PYTHON_CLIENT = `
import asyncio, json, sys
import websockets

async def main(url):
    out = {}
    async with websockets.connect(url, max_size=None) as ws:
        out["extensions"] = [e.name for e in ws.extensions]
        await ws.send("héllo from Python ✓")
        out["text"] = await ws.recv()
        data = bytes((i * 7) & 255 for i in range(300000))
        await ws.send(data)
        out["binary"] = (await ws.recv()) == data
        await ws.send(iter(["frag", "men", "ted ✓"]))
        out["fragmented"] = await ws.recv()
        await (await ws.ping(b"py"))
        await ws.close(4001, "done")
        out["close_code"] = ws.close_code
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send("close me")
        await ws.wait_closed()
        out["server_close"] = [ws.close_code, ws.close_reason]
    print(json.dumps(out))

asyncio.run(asyncio.wait_for(main(sys.argv[1]), 20))
`;

test(
  `handlers echo on ${runtime} with Python websockets (permessage-deflate offered)`,
  { skip: pythonSkip },
  async () => {
    const log = newLog();
    const options = { extensions: [new PerMessageDeflate({ compressIfBiggerThan: 0 })] };
    await withServer([webSocket("/echo", echoHandlers(log), options)], async (port) => {
      const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const child = spawn(PYTHON, ["-c", PYTHON_CLIENT, `ws://127.0.0.1:${port}/echo`], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        child.stdout!.on("data", (d) => out += String(d));
        child.stderr!.on("data", (d) => err += String(d));
        child.on("error", reject);
        child.on("close", (code) => {
          if (code !== 0) reject(new Error(`python exited with ${code}:\n${err}${out}`));
          else resolve(JSON.parse(out.trim().split("\n").pop()!));
        });
      });
      assert.deepEqual(result, {
        extensions: ["permessage-deflate"],
        text: "héllo from Python ✓",
        binary: true,
        fragmented: "fragmented ✓",
        close_code: 4001,
        server_close: [4000, "bye"],
      });
      await until(() => log.closes.length === 2, 10_000, "both close handlers");
      const closes = log.closes.map((c) => `${c.code} ${c.reason}`).sort();
      assert.deepEqual(closes, ["4000 bye", "4001 done"]);
      assert.deepEqual(log.errors, []);
    });
  },
);

interface PageResult {
  extensions: string;
  text: string;
  binary: boolean;
  clientClose: string;
  serverClose: string;
}

/** Runs in the page: an echo of text and binary, the page's close, then the server's. */
async function chromiumPage(url: string): Promise<PageResult> {
  const open = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error("the WebSocket failed to open"));
    });
  const reply = (ws: WebSocket): Promise<string | ArrayBuffer> =>
    new Promise((resolve) => ws.onmessage = (e) => resolve(e.data));
  const closed = (ws: WebSocket): Promise<string> =>
    new Promise((resolve) => ws.onclose = (e) => resolve(`${e.code} ${e.reason} ${e.wasClean}`));
  const ws = await open();
  let answer = reply(ws);
  ws.send("héllo from Chromium ✓");
  const text = await answer as string;
  const bytes = new Uint8Array(100_000).map((_, i) => (i * 13) & 255);
  answer = reply(ws);
  ws.send(bytes);
  const back = new Uint8Array(await answer as ArrayBuffer);
  const binary = back.length === bytes.length && back.every((b, i) => b === bytes[i]);
  let done = closed(ws);
  ws.close(4001, "done");
  const clientClose = await done;
  const second = await open();
  done = closed(second);
  second.send("close me");
  const serverClose = await done;
  return { extensions: ws.extensions, text, binary, clientClose, serverClose };
}

test(`handlers echo on ${runtime} with Chromium (permessage-deflate offered)`, { skip: chromiumSkip }, async () => {
  const log = newLog();
  const options = { extensions: [new PerMessageDeflate()] };
  const page = route(
    "/",
    () => new Response("<!doctype html><title>hybi</title>", { headers: { "content-type": "text/html" } }),
  );
  await withServer([webSocket("/echo", echoHandlers(log), options), page], async (port) => {
    await withChromium(async (browser) => {
      const tab = await browser.newPage();
      // A page of the server's own origin: Chromium does not let about:blank reach loopback.
      await tab.goto(`http://127.0.0.1:${port}/`);
      const result = await tab.evaluate(chromiumPage, `ws://127.0.0.1:${port}/echo`);
      assert.deepEqual(
        result,
        {
          extensions: "permessage-deflate",
          text: "héllo from Chromium ✓",
          binary: true,
          // The server echoes the code; the reason is the server's own (none).
          clientClose: "4001  true",
          serverClose: "4000 bye true",
        } satisfies PageResult,
      );
    });
    await until(() => log.closes.length === 2, 10_000, "both close handlers");
    assert.deepEqual(log.closes.map((c) => `${c.code} ${c.reason}`).sort(), ["4000 bye", "4001 done"]);
    assert.deepEqual(log.errors, []);
  });
});

// ---- 2. handlers that throw or reject ----

for (const kind of ["throws", "rejects"] as const) {
  for (const sink of ["error handler", "route onError"] as const) {
    test(`a message handler that ${kind} on ${runtime}: the client sees 1011, the ${sink} gets the error, the server goes on`, async () => {
      const errors: unknown[] = [];
      const onError: unknown[] = [];
      const closes: number[] = [];
      const fail = (data: string | Uint8Array) => {
        if (data === "fail") throw new Error(`boom (${kind})`);
      };
      const handlers: WebSocketHandlers = {
        message: kind === "throws"
          ? (ws, data) => {
            fail(data);
            ws.send(data);
          }
          : async (ws, data) => {
            await Promise.resolve();
            fail(data);
            ws.send(data);
          },
        close(_ws, code) {
          closes.push(code);
        },
      };
      if (sink === "error handler") handlers.error = (_ws, error) => void errors.push(error);
      const options: WebSocketHandlersRouteOptions = { onError: (error) => void onError.push(error) };
      await withServer([webSocket("/fail", handlers, options)], async (port) => {
        const first = await WsPeer.open(`ws://127.0.0.1:${port}/fail`);
        first.ws.send("before");
        assert.equal((await first.next()).data.toString(), "before");
        first.ws.send("fail");
        const closed = await first.closed;
        assert.equal(closed.code, 1011);
        assert.equal(closed.reason, "internal error");
        const got = sink === "error handler" ? errors : onError;
        await until(() => got.length === 1, 10_000, `the ${sink}`);
        assert.ok(got[0] instanceof Error && got[0].message === `boom (${kind})`, String(got[0]));
        assert.equal((sink === "error handler" ? onError : errors).length, 0, "reported once, to one place");

        // The server keeps serving.
        const second = await WsPeer.open(`ws://127.0.0.1:${port}/fail`);
        second.ws.send("after");
        assert.equal((await second.next()).data.toString(), "after");
        assert.equal((await second.close(1000)).code, 1000);
        await until(() => closes.length === 2, 10_000, "both close handlers");
        assert.deepEqual(closes, [1011, 1000]);
        assert.equal(errors.length + onError.length, 1);
      });
    });
  }
}

test(`an open handler that throws on ${runtime}: 1011 before any message; an error handler that throws goes to onError`, async () => {
  const onError: unknown[] = [];
  const handlers: WebSocketHandlers = {
    open() {
      throw new Error("open failed");
    },
    message(ws, data) {
      ws.send(data);
    },
    error(_ws, error) {
      throw new Error(`the error handler failed on: ${(error as Error).message}`);
    },
  };
  await withServer([webSocket("/open", handlers, { onError: (e) => void onError.push(e) })], async (port) => {
    const peer = await WsPeer.open(`ws://127.0.0.1:${port}/open`);
    peer.ws.send("ignored");
    assert.equal((await peer.closed).code, 1011);
    assert.equal(peer.messages.length, 0, "messages after the failure are dropped");
    await until(() => onError.length >= 1, 10_000, "onError");
    const messages = onError.map((e) => (e as Error).message);
    assert.ok(messages.includes("the error handler failed on: open failed"), messages.join("; "));
  });
});

// ---- 3. pause() holds a flooding peer back by TCP ----

const FLOOD_FRAME = 64 * KiB;
/** How long a write may wait for `drain` before the peer counts as holding us back. */
const PATIENCE = 300;

/**
 * Writes masked numbered binary frames from `from` until the socket's
 * `write` returns false and no `drain` comes within PATIENCE (the peer holds
 * us back), or `max` frames are written. Returns how many were written.
 */
async function floodUntilHeld(socket: Socket, from: number, max: number): Promise<number> {
  let n = from;
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

test(`pause() in open on ${runtime}: a flooding peer is held back by TCP, resume() delivers everything in order`, async () => {
  let paused: ServerWebSocket | null = null;
  let count = 0;
  let outOfOrder = 0;
  const closes: number[] = [];
  const handlers: WebSocketHandlers = {
    open(ws) {
      ws.pause();
      paused = ws;
    },
    message(_ws, data) {
      if (typeof data === "string" || !isNumbered(data, count, FLOOD_FRAME)) outOfOrder++;
      count++;
    },
    close(_ws, code) {
      closes.push(code);
    },
  };
  await withServer([webSocket("/paused", handlers)], async (port) => {
    const client = await RawClient.open(port, { path: "/paused" });
    try {
      await until(() => paused !== null, 10_000, "open");
      const ws: ServerWebSocket = paused!;
      assert.equal(ws.isPaused, true);
      const max = 1024; // 64 MiB: far beyond what loopback buffers hold
      const written = await floodUntilHeld(client.socket, 0, max);
      assert.ok(written < max, `all ${max} frames (64 MiB) were taken while the server was paused`);
      assert.equal(count, 0, "no message while paused");
      assert.ok(client.socket.writableLength > 0, "the client's write backlog waits");
      assert.equal(ws.readyState, 1);

      ws.resume();
      assert.equal(ws.isPaused, false);
      await until(() => count === written, 30_000, `all ${written} messages after resume() (${count} so far)`);
      assert.equal(outOfOrder, 0, "every message intact and in order");
      await until(() => client.socket.writableLength === 0, 10_000, "the client's backlog to drain");
      await client.send([closeFrame(1000)]);
      assert.equal((await closedWith(client)).code, 1000);
      console.log(`pause on ${runtime}: the peer was held after ${written} frames of 64 KiB`);
    } finally {
      client.close();
    }
    await until(() => closes.length === 1, 10_000, "the close handler");
    assert.deepEqual(closes, [1000]);
  });
});

test(`a paused connection on ${runtime}: our close resumes reading, so the peer's close is seen`, async () => {
  let paused: ServerWebSocket | null = null;
  const closes: string[] = [];
  const handlers: WebSocketHandlers = {
    open(ws) {
      ws.pause();
      paused = ws;
    },
    message() {
      throw new Error("no message is delivered after our close");
    },
    close(_ws, code, reason) {
      closes.push(`${code} ${reason}`);
    },
  };
  await withServer([webSocket("/paused", handlers)], async (port) => {
    const client = await RawClient.open(port, { path: "/paused" });
    try {
      await until(() => paused !== null, 10_000, "open");
      await client.send([{ opcode: 1, payload: "unread" }, closeFrame(1000, "client done")]);
      paused!.close(4002, "server done");
      const got = await closedWith(client);
      assert.deepEqual(got, { code: 4002, reason: "server done" });
    } finally {
      client.close();
    }
    await until(() => closes.length === 1, 10_000, "the close handler");
    assert.deepEqual(closes, ["4002 server done"], "ours went first");
  });
});

// ---- 4. drain after backpressure ----

test(`drain on ${runtime}: sends return -1 to a peer that does not read, drain fires once it reads, all in order`, async () => {
  const total = 256; // 16 MiB of 64 KiB messages: more than loopback buffers hold
  const size = 64 * KiB;
  const state = { sent: 0, backpressured: 0, dropped: 0, drains: 0, drainsWhileReading: 0, waiting: false };
  let reading = false;
  let server: ServerWebSocket | null = null;
  const pump = (ws: ServerWebSocket) => {
    while (state.sent < total) {
      const result = ws.send(numbered(state.sent, size));
      state.sent++;
      if (result === 0) state.dropped++;
      if (result === -1) {
        state.backpressured++;
        state.waiting = true;
        return;
      }
    }
  };
  const handlers: WebSocketHandlers = {
    open(ws) {
      server = ws;
      pump(ws);
    },
    drain(ws) {
      state.drains++;
      if (reading) state.drainsWhileReading++;
      state.waiting = false;
      pump(ws);
    },
  };
  await withServer([webSocket("/drain", handlers)], async (port) => {
    const client = await RawClient.open(port, { path: "/drain" });
    client.socket.pause();
    try {
      // The server stalls: waiting for drain, its queue above the mark, for 10 polls in a row.
      let last = -1;
      let still = 0;
      await until(
        () => {
          if (state.waiting && state.sent === last && server!.bufferedAmount > 0) still++;
          else still = 0;
          last = state.sent;
          return still >= 10;
        },
        20_000,
        "the server to stall on a peer that does not read",
      );
      const sentWhileStalled = state.sent;
      assert.ok(sentWhileStalled < total, "the server could not send everything to a peer that does not read");
      assert.ok(state.backpressured >= 1, "send returned -1");
      assert.ok(server!.bufferedAmount >= 1 * MiB - size, `bufferedAmount ${server!.bufferedAmount}`);

      reading = true;
      client.socket.resume();
      for (let i = 0; i < total; i++) {
        const m = await client.next(10_000);
        assert.ok(m !== null && m.opcode === 2 && m.fin, `message ${i} arrives`);
        assert.ok(isNumbered(m.payload, i, size), `message ${i} intact and in order`);
      }
      assert.equal(state.sent, total);
      assert.equal(state.dropped, 0);
      assert.ok(state.drainsWhileReading >= 1, "drain fired after the peer read");
      assert.ok(state.drains <= state.backpressured, "one drain per backpressure at most");
      await client.send([closeFrame(1000)]);
      assert.equal((await closedWith(client)).code, 1000);
      console.log(
        `drain on ${runtime}: stalled after ${sentWhileStalled} of ${total} messages; ` +
          `${state.backpressured} sends returned -1, ${state.drains} drains`,
      );
    } finally {
      client.close();
    }
  });
});

// ---- 5. per-connection data from verify ----

interface User {
  user: string;
  room?: string;
}

test(`verify on ${runtime}: its result is ws.data (typed), a Response refuses with 401; the upgrade's data option`, async () => {
  const seen: User[] = [];
  const handlers: WebSocketHandlers<User> = {
    open(ws) {
      const user: string = ws.data.user;
      seen.push(ws.data);
      ws.sendText(`hello ${user}${ws.data.room === undefined ? "" : ` in ${ws.data.room}`}`);
    },
    message(ws, data) {
      ws.send(`${ws.data.user}: ${data}`);
    },
  };
  const who = (request: Request): Response | User => {
    const user = new URL(request.url).searchParams.get("user");
    return user === null ? new Response("who?", { status: 401 }) : { user };
  };
  const routes = [
    webSocket<User>("/me", handlers, { verify: who }),
    webSocket<User>("/rooms/:room", handlers, {
      verify: async (request, context) => {
        await Promise.resolve();
        const verdict = who(request);
        return verdict instanceof Response ? verdict : { ...verdict, room: context.params.room };
      },
    }),
    route("/fixed", (request) => new WebSocketUpgrade<User>(request, null, handlers, { data: { user: "fixed" } })),
  ];
  await withServer(routes, async (port) => {
    const ann = await WsPeer.open(`ws://127.0.0.1:${port}/me?user=ann`);
    assert.equal((await ann.next()).data.toString(), "hello ann");
    ann.ws.send("hi");
    assert.equal((await ann.next()).data.toString(), "ann: hi");
    await ann.close();

    const bob = await WsPeer.open(`ws://127.0.0.1:${port}/rooms/k%C3%BCche?user=b%C3%B6b`);
    assert.equal((await bob.next()).data.toString(), "hello böb in küche");
    await bob.close();

    const fixed = await WsPeer.open(`ws://127.0.0.1:${port}/fixed`);
    assert.equal((await fixed.next()).data.toString(), "hello fixed");
    await fixed.close();

    for (const path of ["/me", "/rooms/x"]) {
      const refused = new WebSocketClient(`ws://127.0.0.1:${port}${path}`);
      const status = await new Promise<number>((resolve, reject) => {
        refused.once("unexpected-response", (_request, response) => resolve(response.statusCode));
        refused.once("open", () => reject(new Error("the upgrade was accepted")));
        refused.once("error", () => {});
      });
      assert.equal(status, 401);
      refused.terminate();
    }
    // The refusal is the verifier's own response, before any WebSocket byte.
    const raw = await SocketClient.connect(port);
    raw.write(
      `GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await raw.until(() => raw.text().endsWith("who?"), 10_000);
    assert.equal(raw.status(), 401);
    raw.close();
    assert.deepEqual(seen, [{ user: "ann" }, { user: "böb", room: "küche" }, { user: "fixed" }]);
  });
});

test(`subprotocol and remote address on ${runtime}: the route's protocol, as ws and the runtime's WebSocket see it`, async () => {
  const seen: { protocol: string | null; remoteAddress: string }[] = [];
  const handlers: WebSocketHandlers = {
    open(ws) {
      seen.push({ protocol: ws.protocol, remoteAddress: ws.remoteAddress });
    },
    message(ws, data) {
      ws.send(data);
    },
  };
  await withServer([webSocket("/chat", handlers, { protocol: "chat.v2" })], async (port) => {
    const peer = new WebSocketClient(`ws://127.0.0.1:${port}/chat`, ["chat.v1", "chat.v2"]);
    await new Promise<void>((resolve, reject) => {
      peer.once("open", resolve);
      peer.once("error", reject);
    });
    assert.equal(peer.protocol, "chat.v2");
    const closed = new Promise<number>((resolve) => peer.once("close", resolve));
    peer.close(1000);
    assert.equal(await closed, 1000);
    const socket = new WebSocket(`ws://127.0.0.1:${port}/chat`, ["chat.v2"]);
    await next(socket, "open");
    assert.equal(socket.protocol, "chat.v2");
    const socketClosed = next<CloseEvent>(socket, "close");
    socket.close(1000);
    assert.equal((await socketClosed).code, 1000);
    assert.equal(seen.length, 2);
    for (const s of seen) {
      assert.equal(s.protocol, "chat.v2");
      assert.match(s.remoteAddress, /^(::ffff:)?127\.0\.0\.1$/);
    }
    // A client that offers none of the route's subprotocols is refused.
    const refused = new WebSocketClient(`ws://127.0.0.1:${port}/chat`, ["chat.v1"]);
    const status = await new Promise<number>((resolve, reject) => {
      refused.once("unexpected-response", (_request, response) => resolve(response.statusCode));
      refused.once("open", () => reject(new Error("the upgrade was accepted")));
      refused.once("error", () => {});
    });
    assert.equal(status, 400);
    refused.terminate();
  });
});

// ---- 6. close codes both ways, and a dropped TCP ----

test(`close codes on ${runtime}: ws.close(4000, "bye") as seen by ws and the runtime's WebSocket; the peer's 4001; 1006 on a drop either way`, async () => {
  const log = newLog();
  await withServer([webSocket("/close", echoHandlers(log))], async (port) => {
    const url = `ws://127.0.0.1:${port}/close`;
    // Ours, seen by ws.
    const a = await WsPeer.open(url);
    a.ws.send("close me");
    assert.deepEqual(await a.closed, { code: 4000, reason: "bye" });
    // Ours, seen by the runtime's WebSocket.
    const b = new WebSocket(url);
    await next(b, "open");
    const bClosed = next<CloseEvent>(b, "close");
    b.send("close me");
    const bEvent = await bClosed;
    assert.deepEqual([bEvent.code, bEvent.reason, bEvent.wasClean], [4000, "bye", true]);
    await until(() => log.closes.length === 2, 10_000, "two close handlers");
    assert.deepEqual(log.closes.map((c) => [c.code, c.reason]), [[4000, "bye"], [4000, "bye"]]);

    // The peer's, from ws and from the runtime's WebSocket.
    const c = await WsPeer.open(url);
    assert.deepEqual(await c.close(4001, "done"), { code: 4001, reason: "" });
    await until(() => log.closes.length === 3, 10_000, "the close handler");
    const d = new WebSocket(url);
    await next(d, "open");
    const dClosed = next<CloseEvent>(d, "close");
    d.close(4001, "done");
    assert.equal((await dClosed).code, 4001);
    await until(() => log.closes.length === 4, 10_000, "the close handler");
    assert.deepEqual(log.closes.slice(2).map((c) => [c.code, c.reason]), [[4001, "done"], [4001, "done"]]);

    // The TCP drops without a close frame: ws's terminate(), a raw socket destroyed.
    const e = await WsPeer.open(url);
    e.ws.send("still here?");
    await e.next();
    e.ws.terminate();
    await until(() => log.closes.length === 5, 10_000, "the close handler after terminate()");
    const f = await RawClient.open(port, { path: "/close" });
    f.socket.destroy();
    await until(() => log.closes.length === 6, 10_000, "the close handler after a destroyed socket");
    // The server drops the TCP itself: terminate().
    const g = await WsPeer.open(url);
    g.ws.send("terminate me");
    assert.equal((await g.closed).code, 1006, "the client sees no close frame");
    await until(() => log.closes.length === 7, 10_000, "the close handler after terminate() on the server");
    assert.deepEqual(log.closes.slice(4).map((c) => [c.code, c.reason]), [[1006, ""], [1006, ""], [1006, ""]]);

    for (const close of log.closes) {
      assert.equal(close.readyState, 3, "closed in the close handler");
      assert.equal(close.sendAfter, 0, "a send in the close handler sends nothing");
    }
    assert.equal(log.opens, 7);
    assert.deepEqual(log.errors, []);
  });
});

test(`ws.close() arguments on ${runtime}: codes a close frame may not carry and reasons over 123 bytes throw`, async () => {
  const thrown: string[] = [];
  const handlers: WebSocketHandlers = {
    message(ws) {
      for (const [code, reason] of [[1005, ""], [1006, ""], [999, ""], [1000, "é".repeat(62)]] as const) {
        try {
          ws.close(code, reason);
          thrown.push("none");
        } catch (e) {
          thrown.push((e as Error).name);
        }
      }
      ws.close(1000, "é".repeat(61));
    },
  };
  await withServer([webSocket("/args", handlers)], async (port) => {
    const peer = await WsPeer.open(`ws://127.0.0.1:${port}/args`);
    peer.ws.send("go");
    const closed = await peer.closed;
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, "é".repeat(61));
    assert.deepEqual(thrown, ["RangeError", "RangeError", "RangeError", "RangeError"]);
  });
});

// ---- 7. protocol failures on the handler path ----

interface Violation {
  name: string;
  bytes: () => Uint8Array;
  code: number;
  error: string;
}

const masked = (f: Parameters<typeof encodeClientFrame>[0]) => encodeClientFrame(f);
const join2 = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

const violations: Violation[] = [
  {
    name: "an unmasked frame",
    bytes: () => new Uint8Array([0x81, 0x02, 0x68, 0x69]),
    code: 1002,
    error: ErrorCode.UnmaskedFrame,
  },
  {
    name: "reserved opcode 3",
    bytes: () => masked({ opcode: 3, payload: "x" }),
    code: 1002,
    error: ErrorCode.InvalidOpcode,
  },
  {
    name: "reserved control opcode 11",
    bytes: () => masked({ opcode: 11 }),
    code: 1002,
    error: ErrorCode.InvalidOpcode,
  },
  {
    name: "invalid UTF-8 in a text frame",
    bytes: () => masked({ opcode: 1, payload: new Uint8Array([0xce, 0xba, 0xed, 0xa0, 0x80]) }),
    code: 1007,
    error: ErrorCode.InvalidUtf8,
  },
  {
    name: "invalid UTF-8 in the part of a text frame sent so far (the frame never completes)",
    bytes: () => {
      const payload = new Uint8Array(1000).fill(0x61);
      payload[10] = 0xff;
      return masked({ opcode: 1, payload }).subarray(0, 2 + 2 + 4 + 20);
    },
    code: 1007,
    error: ErrorCode.InvalidUtf8,
  },
  {
    name: "invalid UTF-8 in a fragment, the message unfinished",
    bytes: () =>
      join2(
        masked({ opcode: 1, fin: false, payload: "valid " }),
        masked({ opcode: 0, fin: false, payload: new Uint8Array([0xf8]) }),
      ),
    code: 1007,
    error: ErrorCode.InvalidUtf8,
  },
  {
    name: "a continuation without a message to continue",
    bytes: () => masked({ opcode: 0, payload: "x" }),
    code: 1002,
    error: ErrorCode.UnexpectedContinuation,
  },
  {
    name: "a new message inside a fragmented one",
    bytes: () => join2(masked({ opcode: 1, fin: false, payload: "a" }), masked({ opcode: 2, payload: "b" })),
    code: 1002,
    error: ErrorCode.ExpectedContinuation,
  },
  { name: "close code 1005", bytes: () => masked(closeFrame(1005)), code: 1002, error: ErrorCode.InvalidCloseCode },
  { name: "close code 999", bytes: () => masked(closeFrame(999)), code: 1002, error: ErrorCode.InvalidCloseCode },
  { name: "close code 1004", bytes: () => masked(closeFrame(1004)), code: 1002, error: ErrorCode.InvalidCloseCode },
  {
    name: "a 1-byte close payload",
    bytes: () => masked({ opcode: 8, payload: new Uint8Array([3]) }),
    code: 1002,
    error: ErrorCode.InvalidClosePayload,
  },
  {
    name: "a close reason that is not UTF-8",
    bytes: () => masked({ opcode: 8, payload: new Uint8Array([0x03, 0xe8, 0xff]) }),
    code: 1007,
    error: ErrorCode.InvalidUtf8,
  },
  {
    name: "a message of 2 KiB over maxMessageSize 1 KiB",
    bytes: () => masked({ opcode: 2, payload: new Uint8Array(2048) }),
    code: 1009,
    error: ErrorCode.MessageTooBig,
  },
  {
    name: "fragments adding up past maxMessageSize",
    bytes: () =>
      join2(
        masked({ opcode: 1, fin: false, payload: "a".repeat(600) }),
        masked({ opcode: 0, fin: false, payload: "b".repeat(600) }),
      ),
    code: 1009,
    error: ErrorCode.MessageTooBig,
  },
  {
    name: "RSV1 without an extension",
    bytes: () => masked({ opcode: 1, rsv: 4, payload: "hi" }),
    code: 1002,
    error: ErrorCode.UnexpectedRsv,
  },
  {
    name: "RSV2",
    bytes: () => masked({ opcode: 2, rsv: 2, payload: "hi" }),
    code: 1002,
    error: ErrorCode.UnexpectedRsv,
  },
  { name: "RSV3 on a ping", bytes: () => masked({ opcode: 9, rsv: 1 }), code: 1002, error: ErrorCode.UnexpectedRsv },
  {
    name: "a fragmented ping",
    bytes: () => masked({ opcode: 9, fin: false, payload: "p" }),
    code: 1002,
    error: ErrorCode.FragmentedControlFrame,
  },
  {
    name: "a ping of 126 bytes",
    bytes: () => masked({ opcode: 9, payload: new Uint8Array(126) }),
    code: 1002,
    error: ErrorCode.ControlFrameTooLong,
  },
];

test(`protocol failures on the handler path on ${runtime}: each closes with its code, reaches error and close, then the TCP ends`, async () => {
  const log = newLog();
  let messages = 0;
  const handlers = echoHandlers(log);
  const echo = handlers.message!;
  handlers.message = (ws, data) => {
    messages++;
    return echo(ws, data);
  };
  await withServer([webSocket("/strict", handlers, { maxMessageSize: KiB })], async (port) => {
    for (const [i, v] of violations.entries()) {
      const client = await RawClient.open(port, { path: "/strict" });
      try {
        // A valid message first: everything before the violation is handled.
        await client.send([{ opcode: 1, payload: `before ${i}` }]);
        assert.equal(new TextDecoder().decode((await nextMessage(client))!.payload), `before ${i}`);
        await client.write(v.bytes());
        assert.equal((await closedWith(client)).code, v.code, v.name);
      } finally {
        client.close();
      }
      await until(() => log.closes.length === i + 1, 10_000, `the close handler after ${v.name}`);
      assert.equal(log.closes[i].code, v.code, `close handler: ${v.name}`);
      assert.equal(log.errors.length, i + 1, `the error handler got ${v.name}`);
      const error = log.errors[i];
      assert.ok(error instanceof WebSocketError, `${v.name}: ${error}`);
      assert.equal(error.code, v.error, v.name);
      assert.equal(error.closeCode, v.code, v.name);
    }
    assert.equal(messages, violations.length, "only the valid messages reached message()");
    // The server still serves.
    const peer = await WsPeer.open(`ws://127.0.0.1:${port}/strict`);
    peer.ws.send("still serving");
    assert.equal((await peer.next()).data.toString(), "still serving");
    await peer.close();
  });
});

// ---- 8. permessage-deflate on the handler path ----

test(`permessage-deflate on the handler path on ${runtime} with the ws client: many sends both ways stay in order`, async () => {
  const extensions: string[] = [];
  const handlers: WebSocketHandlers = {
    open(ws) {
      extensions.push(...ws.extensions.map((e) => e.name));
    },
    message(ws, data) {
      if (typeof data === "string" && data.startsWith("burst ")) {
        // Many sends in one read, compressed in order.
        const n = Number(data.slice(6));
        for (let i = 0; i < n; i++) {
          ws.send(i % 3 === 0 ? `burst message ${i} `.repeat(i % 50) : numbered(i, 100 + i * 37));
        }
        ws.sendText("burst done");
        return;
      }
      ws.send(data);
    },
  };
  const options = { extensions: [new PerMessageDeflate({ compressIfBiggerThan: 0 })] };
  await withServer([webSocket("/deflate", handlers, options)], async (port) => {
    const peer = await WsPeer.open(`ws://127.0.0.1:${port}/deflate`, { threshold: 0 });
    assert.equal(peer.ws.extensions, "permessage-deflate");
    assert.deepEqual(extensions, ["permessage-deflate"]);
    const sent: (string | Uint8Array)[] = [];
    for (let i = 0; i < 500; i++) {
      const m = i % 4 === 0
        ? `message ${i}: ${"compressible words ".repeat(i % 97)}`
        : i % 4 === 1
        ? seededBytes(i * 131, i)
        : i % 4 === 2
        ? numbered(i, 4 + (i * 257) % 70_000)
        : "";
      sent.push(m);
      peer.ws.send(m);
    }
    // A fragmented compressed message.
    peer.ws.send("frag", { fin: false });
    peer.ws.send("mented", { fin: true });
    for (const [i, m] of sent.entries()) {
      const got = await peer.next();
      if (typeof m === "string") {
        assert.equal(got.isBinary, false, `message ${i} is text`);
        assert.equal(got.data.toString(), m, `message ${i}`);
      } else {
        assert.ok(got.isBinary && sameBytes(m, got.data), `message ${i} intact and in order`);
      }
    }
    assert.equal((await peer.next()).data.toString(), "fragmented");
    peer.ws.send("burst 300");
    for (let i = 0; i < 300; i++) {
      const got = await peer.next();
      if (i % 3 === 0) assert.equal(got.data.toString(), `burst message ${i} `.repeat(i % 50), `burst ${i}`);
      else assert.ok(got.isBinary && isNumbered(got.data, i, 100 + i * 37), `burst ${i} intact and in order`);
    }
    assert.equal((await peer.next()).data.toString(), "burst done");
    assert.deepEqual(await peer.close(1000), { code: 1000, reason: "" });
  });
});
