import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpError } from "../src/http/http_error.ts";
import { BODY_HIGH_WATER_MARK, type BodyFlow, RequestBody } from "../src/http/request_body.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A fake socket: feeds chunks to a body, and is paused and resumed by it as the connection would be. */
class FakeSocket implements BodyFlow {
  paused = false;
  pauses = 0;
  resumes = 0;
  /** What followed the body in the chunk it ended in. */
  rest = "";

  pauseBody(): void {
    if (this.paused) return;
    this.paused = true;
    this.pauses++;
  }

  resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumes++;
  }

  /** Sends `input` to `body` in chunks of `size`, as a socket would. */
  feed(body: RequestBody, input: string | Uint8Array, size = Infinity): void {
    const bytes = typeof input === "string" ? ascii(input) : input;
    for (let i = 0; i < bytes.length && !body.done; i += size) {
      const chunk = bytes.subarray(i, Math.min(bytes.length, i + size));
      const end = body.read(chunk, 0);
      if (body.done) this.rest = text(chunk.subarray(end)) + text(bytes.subarray(i + chunk.length));
    }
  }
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let out = "";
  for await (const piece of stream) out += text(piece);
  return out;
}

test("a Content-Length body reaches the stream in the pieces it came in, and ends where the next request starts", async () => {
  for (const size of [1, 4, 1000]) {
    const socket = new FakeSocket();
    const body = new RequestBody(11, 1 << 20, socket);
    const stream = body.stream();
    socket.feed(body, "hello worldGET / HTTP/1.1", size);
    assert.equal(body.done, true);
    assert.equal(socket.rest, "GET / HTTP/1.1");
    assert.equal(await readAll(stream), "hello world");
  }
});

test("a chunked body is decoded into the stream", async () => {
  const socket = new FakeSocket();
  const body = new RequestBody(-1, 1 << 20, socket);
  const stream = body.stream();
  socket.feed(body, "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\nNEXT", 3);
  assert.equal(body.done, true);
  assert.equal(socket.rest, "NEXT");
  assert.equal(await readAll(stream), "hello world");
});

test("the stream's pieces are plain Uint8Arrays, not the runtime's Buffer", async () => {
  class RuntimeBuffer extends Uint8Array {}
  const socket = new FakeSocket();
  const body = new RequestBody(3, 1 << 20, socket);
  const reader = body.stream().getReader();
  const chunk = new RuntimeBuffer(3);
  chunk.set([1, 2, 3]);
  body.read(chunk, 0);
  const { value } = await reader.read();
  assert.equal(value!.constructor, Uint8Array);
  assert.deepEqual([...value!], [1, 2, 3]);
});

test("a handler that does not read stops the socket at the high-water mark; reading starts it again", async () => {
  const socket = new FakeSocket();
  const size = 3 * BODY_HIGH_WATER_MARK;
  const body = new RequestBody(size, 1 << 20, socket);
  const reader = body.stream().getReader();
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK / 2), 0);
  assert.equal(socket.paused, false);
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK / 2), 0);
  assert.equal(socket.paused, true, "paused once the queue holds the high-water mark");
  // A chunk already read when the socket was paused still goes in the queue.
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK), 0);
  assert.equal(socket.pauses, 1);
  let read = 0;
  while (read < 2 * BODY_HIGH_WATER_MARK) read += (await reader.read()).value!.length;
  await macrotask();
  assert.equal(socket.paused, false, "the handler pulled: the socket is read again");
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK), 0);
  assert.equal(body.done, true);
  read += (await reader.read()).value!.length;
  assert.equal(read, size);
  assert.equal((await reader.read()).done, true);
});

test("the end of the body releases the socket, even when the handler has not read", async () => {
  const socket = new FakeSocket();
  const body = new RequestBody(2 * BODY_HIGH_WATER_MARK, 1 << 20, socket);
  const stream = body.stream();
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK), 0);
  assert.equal(socket.paused, true);
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK), 0);
  assert.equal(body.done, true);
  assert.equal(socket.paused, false, "what follows the body is not held back by the body's queue");
  assert.equal((await new Response(stream).arrayBuffer()).byteLength, 2 * BODY_HIGH_WATER_MARK);
});

test("a cancelled body is read to its end and dropped, and releases the socket", async () => {
  const socket = new FakeSocket();
  const body = new RequestBody(3 * BODY_HIGH_WATER_MARK, 1 << 20, socket);
  const stream = body.stream();
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK), 0);
  assert.equal(socket.paused, true);
  await stream.cancel();
  assert.equal(socket.paused, false);
  body.read(new Uint8Array(2 * BODY_HIGH_WATER_MARK), 0);
  assert.equal(socket.pauses, 1, "bytes nobody reads do not stop the socket");
  assert.equal(body.done, true);
});

test("detach: the response is done first, the rest of the body is read and dropped", async () => {
  const socket = new FakeSocket();
  const body = new RequestBody(2 * BODY_HIGH_WATER_MARK, 1 << 20, socket);
  const reader = body.stream().getReader();
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK), 0);
  assert.equal(socket.paused, true);
  body.detach();
  assert.equal(socket.paused, false);
  socket.feed(body, new Uint8Array(BODY_HIGH_WATER_MARK));
  assert.equal(body.done, true);
  assert.equal(socket.pauses, 1);
  // What was queued before stays readable; the stream never ends, nobody is meant to read it.
  assert.equal((await reader.read()).value!.length, BODY_HIGH_WATER_MARK);
});

test("malformed and oversized bodies throw HttpErrors", () => {
  const malformed = new RequestBody(-1, 1 << 20, new FakeSocket());
  assert.throws(() => malformed.read(ascii("zz\r\n"), 0), (e) => e instanceof HttpError && e.status === 400);
  const large = new RequestBody(-1, 10, new FakeSocket());
  assert.throws(() => large.read(ascii("b\r\n"), 0), (e) => e instanceof HttpError && e.status === 413);
});

test("fail: the client went away; the handler's read fails with the error, the socket is left to the connection", async () => {
  const socket = new FakeSocket();
  const body = new RequestBody(2 * BODY_HIGH_WATER_MARK, 1 << 20, socket);
  const reader = body.stream().getReader();
  body.read(new Uint8Array(BODY_HIGH_WATER_MARK), 0);
  const error = new HttpError(400, "the connection closed");
  body.fail(error);
  assert.equal(socket.paused, true, "the connection decides when the socket is read again");
  await assert.rejects(reader.read(), (e) => e === error);
  body.fail(new HttpError(400, "again")); // a second failure is a no-op
});

test("a body with no stream (a GET with a body) is decoded and dropped", () => {
  const socket = new FakeSocket();
  const body = new RequestBody(2 * BODY_HIGH_WATER_MARK, 1 << 20, socket);
  socket.feed(body, new Uint8Array(2 * BODY_HIGH_WATER_MARK + 3), 1000);
  assert.equal(body.done, true);
  assert.equal(socket.pauses, 0);
  assert.equal(socket.rest.length, 3);
});
