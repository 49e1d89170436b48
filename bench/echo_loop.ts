/**
 * In-process echo: examples/echo.ts's handler on an in-memory transport, fed
 * reads of K masked 32-byte frames; measures the library's cost per echoed
 * message without sockets. `ECHO_API=handlers` (the default: the handler
 * path, `ws.send(data)` inside the read) or `ECHO_API=session` (the default
 * session, `for await` + `await send`). `ECHO_TEXT=1` sends text (ASCII) instead of binary.
 *
 *   node bench/echo_loop.ts [K=16] [SIZE=32] [SECONDS=3] [CHUNK=0]
 *   deno run -A bench/echo_loop.ts 16;  bun bench/echo_loop.ts 16
 */
import process from "node:process";
import { type DefaultWebSocketSession, runDefaultSession, type WebSocketHandlers, WebSocketUpgrade } from "../mod.ts";
import { TRANSPORT, type Transport, type TransportSink } from "../src/transport.ts";
import { maskedFrame, seededBytes } from "./micro/case.ts";

const K = Number(process.argv[2] ?? 16);
const SIZE = Number(process.argv[3] ?? 32);
const SECONDS = Number(process.argv[4] ?? 3);
// Reads are cut into pieces of at most this many bytes (0: one read per round).
const CHUNK = Number(process.argv[5] ?? 0);

class LoopTransport implements Transport {
  sink!: TransportSink;
  writes = 0;
  bytes = 0;
  onWrite: (() => void) | null = null;
  get bufferedAmount(): number {
    return 0;
  }
  start(sink: TransportSink): void {
    this.sink = sink;
  }
  pause(): void {}
  resume(): void {}
  write(chunk: Uint8Array, done?: (chunk: Uint8Array) => void): boolean {
    this.writes++;
    this.bytes += chunk.length;
    // As a socket whose kernel buffer takes everything at once (Bun's `write` returns at once).
    done?.(chunk);
    const w = this.onWrite;
    if (w !== null && this.bytes >= expectedBytes) {
      this.onWrite = null;
      w();
    }
    return true;
  }
  flushed(): Promise<void> {
    return Promise.resolve();
  }
  // The engines' hook (ECHO_DEFER=tick: process.nextTick, as on Node and Deno); none: the microtask estimate.
  declare defer?: (task: () => void) => void;
  end(): void {}
  destroy(): void {}
}

// ECHO_TEXT=1: text messages (ASCII, as wsbench's small scenario sends), else binary.
const TEXT = process.env.ECHO_TEXT === "1";
const payload = TEXT ? seededBytes(SIZE).map((b) => 0x20 + (b % 90)) : seededBytes(SIZE);
const frame = maskedFrame(TEXT ? 0x1 : 0x2, payload, new Uint8Array([1, 2, 3, 4]));
const pristine = new Uint8Array(frame.length * K);
for (let i = 0; i < K; i++) pristine.set(frame, i * frame.length);
const echoed = SIZE + (SIZE < 126 ? 2 : SIZE < 65536 ? 4 : 10);
let expectedBytes = 0;

async function echo(session: DefaultWebSocketSession): Promise<void> {
  for await (const message of session) await session.send(message);
}

const transport = new LoopTransport();
if (process.env.ECHO_DEFER === "tick") transport.defer = (task) => process.nextTick(task);
if (process.env.ECHO_DEFER === "immediate") transport.defer = (task) => setImmediate(task);
const input = new ReadableStream<Uint8Array>();
const output = new WritableStream<Uint8Array>();
Object.defineProperty(input, TRANSPORT, { value: transport });
Object.defineProperty(output, TRANSPORT, { value: transport });
const request = new Request("http://localhost/", {
  headers: {
    upgrade: "websocket",
    connection: "Upgrade",
    "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec-websocket-version": "13",
  },
});
const handlers: WebSocketHandlers = {
  message(ws, data) {
    ws.send(data);
  },
};
if (process.env.ECHO_API === "session") {
  new WebSocketUpgrade(request, null, (raw) => runDefaultSession(raw, echo)).upgrade(input, output);
} else {
  new WebSocketUpgrade(request, null, handlers).upgrade(input, output);
}

function round(): Promise<void> {
  expectedBytes = transport.bytes + K * echoed;
  const done = new Promise<void>((resolve) => transport.onWrite = resolve);
  if (CHUNK === 0) transport.sink.data(pristine.slice());
  else for (let i = 0; i < pristine.length; i += CHUNK) transport.sink.data(pristine.slice(i, i + CHUNK));
  return done;
}

const warmup = Math.max(50, Math.floor(20000 * 32 / SIZE));
for (let i = 0; i < warmup; i++) await round();
// The best of several short rounds: on a shared machine the minimum is the
// figure least disturbed by other jobs.
const writes0 = transport.writes;
const began = performance.now();
let rounds = 0;
let best = Infinity;
const times: number[] = [];
const batch = Math.max(20, Math.floor(2000 * 32 / SIZE));
while (performance.now() - began < SECONDS * 1000) {
  const start = performance.now();
  for (let i = 0; i < batch; i++) await round();
  const ns = (performance.now() - start) * 1e6 / (batch * K);
  times.push(ns);
  if (ns < best) best = ns;
  rounds += batch;
}
times.sort((a, b) => a - b);
console.log(
  `${K} × ${SIZE} B per read${CHUNK ? ` in ${CHUNK} B chunks` : ""}: best ${best.toFixed(0)} ns/message, median ${
    times[times.length >> 1].toFixed(0)
  }, ${((transport.writes - writes0) / rounds).toFixed(2)} writes/read`,
);
process.exit(0);
