/**
 * The output batcher alone, over a transport that records what it is given:
 * what one batch holds, when it is flushed under each flush policy, large
 * payloads written without a copy, and buffer reuse.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Frame, FrameReader, FrameWriter } from "../mod.ts";
import { OutputBatcher } from "../src/session/output_batcher.ts";
import type { Transport, TransportSink } from "../src/transport.ts";

/** Records writes (and cork/uncork around them); hands buffers back at once unless told to hold them. */
class RecordingTransport implements Transport {
  writes: Uint8Array[] = [];
  events: string[] = [];
  holdBuffers = false;
  held: (() => void)[] = [];
  declare defer?: (task: () => void) => void;

  constructor(withDefer: boolean) {
    if (withDefer) this.defer = (task) => process.nextTick(task);
  }
  get bufferedAmount(): number {
    return 0;
  }
  start(_sink: TransportSink): void {}
  pause(): void {}
  resume(): void {}
  write(chunk: Uint8Array, done?: (chunk: Uint8Array) => void): boolean {
    // A copy: the batcher may reuse the memory once `done` is called.
    this.writes.push(chunk.slice());
    this.events.push(`write ${chunk.length}`);
    if (done !== undefined) {
      if (this.holdBuffers) this.held.push(() => done(chunk));
      else done(chunk);
    }
    return true;
  }
  flushed(): Promise<void> {
    return Promise.resolve();
  }
  end(): void {}
  destroy(): void {}
  cork(): void {
    this.events.push("cork");
  }
  uncork(): void {
    this.events.push("uncork");
  }
}

let flushes = 0;
const owner = { batchFlushed: () => void flushes++ };

/** The frames in `bytes` (as a client reads them). */
function framesIn(...chunks: Uint8Array[]): Frame[] {
  const reader = new FrameReader({ role: "client" });
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let f = reader.read(); f !== null; f = reader.read()) frames.push(f);
  }
  return frames;
}

const text = (s: string) => new TextEncoder().encode(s);

test("frames sent in one turn go out in one write once the I/O event's work is over (defer)", async () => {
  const transport = new RecordingTransport(true);
  const batcher = new OutputBatcher(transport, new FrameWriter(), owner, false);
  batcher.frame(new Frame.Text("one"));
  batcher.message(0x2, new Uint8Array([1, 2, 3]));
  batcher.frame(new Frame.Ping(text("p")));
  assert.equal(transport.writes.length, 0, "nothing is written before the turn is over");
  assert.equal(batcher.length, 5 + 5 + 3);
  batcher.frame(new Frame.Text("two"));
  await new Promise<void>((resolve) => setTimeout(resolve, 0)); // the next macrotask: the deferred flush has run
  assert.equal(transport.writes.length, 1);
  const frames = framesIn(...transport.writes);
  assert.deepEqual(frames.map((f) => [f.opcode, [...f.data]]), [
    [1, [...text("one")]],
    [2, [1, 2, 3]],
    [9, [...text("p")]],
    [1, [...text("two")]],
  ]);
  assert.equal(batcher.length, 0);
});

test("without defer, the batch goes out after quiet microtask turns, gathering sends a few turns apart", async () => {
  const transport = new RecordingTransport(false);
  const batcher = new OutputBatcher(transport, new FrameWriter(), owner, false);
  batcher.frame(new Frame.Text("a"));
  await Promise.resolve();
  await Promise.resolve();
  batcher.frame(new Frame.Text("b"));
  assert.equal(transport.writes.length, 0);
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  assert.equal(transport.writes.length, 1, "one write for both");
  assert.deepEqual(framesIn(...transport.writes).map((f) => f.readText()), ["a", "b"]);
});

test("flushAfterRead: sends inside a read go out at its end, synchronously; outside a read they are deferred", async () => {
  const transport = new RecordingTransport(true);
  const batcher = new OutputBatcher(transport, new FrameWriter(), owner, true);
  batcher.readStarted();
  batcher.message(0x1, text("x"));
  batcher.message(0x1, text("y"));
  assert.equal(transport.writes.length, 0);
  batcher.readEnded();
  assert.equal(transport.writes.length, 1, "written at the end of the read, before any tick");
  assert.deepEqual(framesIn(transport.writes[0]).map((f) => f.readText()), ["x", "y"]);
  // Outside a read (a timer, another connection's handler): the deferred flush.
  batcher.message(0x1, text("z"));
  assert.equal(transport.writes.length, 1);
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  assert.equal(transport.writes.length, 2);
  // A read that sent nothing writes nothing.
  batcher.readStarted();
  batcher.readEnded();
  assert.equal(transport.writes.length, 2);
});

test("a payload of 16 KiB or more is written as it is, its header flushed with the batch under one cork", () => {
  const transport = new RecordingTransport(true);
  const batcher = new OutputBatcher(transport, new FrameWriter(), owner, true);
  const big = new Uint8Array(20_000).fill(7);
  batcher.readStarted();
  batcher.message(0x1, text("before"));
  batcher.message(0x2, big);
  batcher.readEnded();
  assert.deepEqual(transport.events, ["cork", `write ${2 + 6 + 4}`, "write 20000", "uncork"]);
  const frames = framesIn(...transport.writes);
  assert.equal(frames.length, 2);
  assert.equal(frames[0].readText(), "before");
  assert.equal(frames[1].data.length, 20_000);
  assert.ok(frames[1].data.every((b) => b === 7));
});

test("a frame that does not fit flushes the batch first; batches grow and buffers are reused once written", () => {
  const transport = new RecordingTransport(true);
  transport.holdBuffers = true;
  const batcher = new OutputBatcher(transport, new FrameWriter(), owner, true);
  const payload = new Uint8Array(1500).fill(1);
  batcher.readStarted();
  batcher.message(0x2, payload); // 1504 bytes into a 2 KiB batch
  batcher.message(0x2, payload); // does not fit: the first batch goes out
  assert.equal(transport.writes.length, 1);
  batcher.readEnded();
  assert.equal(transport.writes.length, 2);
  assert.equal(framesIn(...transport.writes).length, 2);
  // Nothing handed back yet: a new buffer each time; once handed back, the spare is reused.
  for (const giveBack of transport.held.splice(0)) giveBack();
  batcher.readStarted();
  batcher.message(0x2, payload);
  batcher.readEnded();
  assert.equal(framesIn(...transport.writes).length, 3);
});

test("masking (client role): each frame masked with its own key, readable by a server", () => {
  const transport = new RecordingTransport(true);
  const batcher = new OutputBatcher(transport, new FrameWriter({ masking: true }), owner, true);
  batcher.readStarted();
  batcher.message(0x1, text("masked"));
  batcher.frame(new Frame.Binary(new Uint8Array(20_000).fill(3)));
  batcher.readEnded();
  const reader = new FrameReader({ role: "server" });
  for (const w of transport.writes) reader.push(w);
  const a = reader.read()!;
  const b = reader.read()!;
  assert.equal(a.readText(), "masked");
  assert.ok(b.data.every((x) => x === 3));
});

test("after close nothing is written", async () => {
  const transport = new RecordingTransport(true);
  const batcher = new OutputBatcher(transport, new FrameWriter(), owner, false);
  batcher.frame(new Frame.Text("late"));
  batcher.close();
  batcher.flush();
  await new Promise<void>((resolve) => setTimeout(resolve, 0));
  assert.equal(transport.writes.length, 0);
  assert.equal(batcher.length, 0);
});
