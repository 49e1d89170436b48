import { test } from "node:test";
import assert from "node:assert/strict";
import { CONNECTION_GONE, type ResponseOwner, ResponseWriter } from "../src/http/response_writer.ts";

const text = (bytes: Uint8Array) => {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return s;
};

/** A fake transport: keeps each write; reports a full queue once `room` writes are used up. */
class FakeTransport {
  readonly writes: string[] = [];
  room = Infinity;

  write(chunk: Uint8Array): boolean {
    this.writes.push(text(chunk));
    return --this.room > 0;
  }

  get output(): string {
    return this.writes.join("");
  }
}

/** The connection side: keep-alive unless told otherwise. */
class FakeConnection implements ResponseOwner {
  keepAlive = true;
  ended = 0;

  endAfterResponse(): void {
    this.keepAlive = false;
    this.ended++;
  }
}

const GET = { method: "GET", minorVersion: 1 };
const HEAD = { method: "HEAD", minorVersion: 1 };
const macrotask = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup() {
  const transport = new FakeTransport();
  const connection = new FakeConnection();
  const writer = new ResponseWriter(transport, connection);
  return { transport, connection, writer };
}

/** Splits one response into head fields and body. */
function parse(output: string) {
  const split = output.indexOf("\r\n\r\n");
  const [status, ...lines] = output.slice(0, split).split("\r\n");
  const headers = new Map(lines.map((l) => l.split(": ", 2) as [string, string]));
  return { status, headers, body: output.slice(split + 4) };
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A body that sends `pieces`, each 10 ms after the previous one: too late to be gathered before the head. */
function slowBody(pieces: (string | Uint8Array)[], error?: Error): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i > 0) await delay(10);
      const piece = pieces[i++];
      if (typeof piece === "string") controller.enqueue(new TextEncoder().encode(piece));
      else if (piece !== undefined) controller.enqueue(piece);
      else if (error !== undefined) controller.error(error);
      else controller.close();
    },
  });
}

test("a body ready at once gets a Content-Length, head and body in one write", async () => {
  const { transport, writer } = setup();
  await writer.write(new Response("hello", { headers: { "x-a": "1" } }), GET);
  assert.equal(transport.writes.length, 1);
  const { status, headers, body } = parse(transport.output);
  assert.equal(status, "HTTP/1.1 200 OK");
  assert.equal(headers.get("content-length"), "5");
  assert.equal(headers.get("x-a"), "1");
  assert.ok(headers.has("date"));
  assert.equal(headers.has("connection"), false);
  assert.equal(body, "hello");
});

test("a body that keeps coming is chunked", async () => {
  const { transport, writer } = setup();
  await writer.write(new Response(slowBody(["ab", "", "cde"])), GET);
  const { headers, body } = parse(transport.output);
  assert.equal(headers.get("transfer-encoding"), "chunked");
  assert.equal(headers.has("content-length"), false);
  assert.equal(body, "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n");
});

test("a chunk too large to copy is written as size line, data and CRLF", async () => {
  const { transport, writer } = setup();
  const big = new Uint8Array(100_000).fill(0x61);
  await writer.write(new Response(slowBody(["x", big])), GET);
  assert.deepEqual(transport.writes.slice(-4), ["186a0\r\n", text(big), "\r\n", "0\r\n\r\n"]);
});

test("HTTP/1.0: a body of unknown length ends the connection; a known one may keep it", async () => {
  const http10 = { method: "GET", minorVersion: 0 };
  {
    const { transport, connection, writer } = setup();
    await writer.write(new Response(slowBody(["a", "b"])), http10);
    const { headers, body } = parse(transport.output);
    assert.equal(connection.ended, 1);
    assert.equal(headers.get("connection"), "close");
    assert.equal(headers.has("transfer-encoding"), false);
    assert.equal(body, "ab");
  }
  {
    const { transport, writer } = setup();
    await writer.write(new Response("ab"), http10);
    assert.equal(parse(transport.output).headers.get("connection"), "keep-alive");
  }
});

test("Connection: close from the response, or from the connection meanwhile, is in the head", async () => {
  {
    const { transport, connection, writer } = setup();
    await writer.write(new Response("x", { headers: { connection: "close" } }), GET);
    assert.equal(connection.ended, 1);
    assert.equal(parse(transport.output).headers.get("connection"), "close");
  }
  {
    const { transport, connection, writer } = setup();
    const written = writer.write(new Response(slowBody(["a", "b"])), GET);
    connection.keepAlive = false; // a shutdown while the body is gathered
    await written;
    assert.equal(parse(transport.output).headers.get("connection"), "close");
  }
});

test("HEAD: the head the GET would have, no body", async () => {
  const { transport, writer } = setup();
  let cancelled = false;
  const body = new ReadableStream({
    pull: (c) => c.enqueue(new Uint8Array(3)),
    cancel: () => void (cancelled = true),
  });
  await writer.write(new Response(body, { headers: { "content-length": "3" } }), HEAD);
  const { headers, body: rest } = parse(transport.output);
  assert.equal(headers.get("content-length"), "3");
  assert.equal(rest, "");
  assert.equal(cancelled, true);
  const empty = setup();
  await empty.writer.write(new Response(null, { headers: { "content-length": "42" } }), HEAD);
  assert.equal(parse(empty.transport.output).headers.get("content-length"), "42");
});

test("204 and 304 have no body and no Content-Length (a 304 keeps the one it declares)", async () => {
  {
    const { transport, writer } = setup();
    await writer.write(new Response(null, { status: 204 }), GET);
    const { status, headers, body } = parse(transport.output);
    assert.equal(status, "HTTP/1.1 204 No Content");
    assert.equal(headers.has("content-length"), false);
    assert.equal(body, "");
  }
  {
    const { transport, writer } = setup();
    await writer.write(new Response(null, { status: 304, headers: { "content-length": "7" } }), GET);
    assert.equal(parse(transport.output).headers.get("content-length"), "7");
  }
});

test("a declared Content-Length is checked against the body", async () => {
  {
    const { writer } = setup();
    const response = new Response(slowBody(["abc"]), { headers: { "content-length": "5" } });
    await assert.rejects(writer.write(response, GET), /shorter than its Content-Length/);
  }
  {
    const { writer } = setup();
    const response = new Response(slowBody(["abc", "def"]), { headers: { "content-length": "5" } });
    await assert.rejects(writer.write(response, GET), /longer than its Content-Length/);
  }
});

test("a body that fails mid-way: the write fails with its error after the head was sent", async () => {
  const { transport, writer } = setup();
  const error = new Error("the database went away");
  await assert.rejects(writer.write(new Response(slowBody(["a", "b"], error)), GET), (e) => e === error);
  assert.match(transport.output, /^HTTP\/1\.1 200 OK\r\n/);
  assert.doesNotMatch(transport.output, /0\r\n\r\n$/, "no last chunk: the framing is lost");
});

test("a full transport queue: the body waits for the drain", async () => {
  const { transport, writer } = setup();
  transport.room = 1;
  let done = false;
  const written = writer.write(new Response(slowBody(["a", "b"])), GET).then(() => done = true);
  while (transport.writes.length < 1) await macrotask();
  await macrotask();
  await macrotask();
  assert.equal(done, false);
  assert.equal(transport.writes.length, 1, "nothing more is written before the drain");
  transport.room = Infinity;
  writer.drained();
  await written;
  assert.equal(parse(transport.output).body, "1\r\na\r\n1\r\nb\r\n0\r\n\r\n");
});

test("the socket closes while waiting for the drain: the write fails with CONNECTION_GONE, the body is cancelled", async () => {
  const { transport, writer } = setup();
  transport.room = 1;
  let cancelled: unknown = null;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => c.enqueue(new Uint8Array(70_000)),
    cancel: (reason) => void (cancelled = reason),
  });
  const written = writer.write(new Response(body), GET);
  while (transport.writes.length < 1) await macrotask();
  writer.closed();
  await assert.rejects(written, (e) => e === CONNECTION_GONE);
  assert.equal(cancelled, CONNECTION_GONE);
});
