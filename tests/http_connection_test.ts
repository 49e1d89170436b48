import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, Frame, FrameReader, FrameWriter, HandshakeError, WebSocketUpgrade } from "../mod.ts";
import type { ServeHandler, ServeOptions } from "../src/http/serve_types.ts";
import { HttpServer } from "../src/http/server.ts";
import { MemoryTransport, parseResponses } from "./_helpers/memory_transport.ts";
import { delay, until } from "./_helpers/wait.ts";

const WS_HEAD = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

function setup(handler: ServeHandler, options: ServeOptions = {}) {
  const errors: unknown[] = [];
  const server = new HttpServer({ onError: (e) => errors.push(e), ...options }, handler);
  server.listening({ hostname: "127.0.0.1", port: 8000, transport: "tcp" }, { close() {} });
  const connect = () => {
    const t = new MemoryTransport();
    server.accept(t, { hostname: "127.0.0.1", port: 50000, transport: "tcp" });
    return t;
  };
  return { server, connect, errors };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

test("keep-alive and pipelining: requests are answered in order on one connection", async () => {
  const seen: string[] = [];
  let releaseSlow!: () => void;
  const slow = new Promise<void>((resolve) => releaseSlow = resolve);
  const { server, connect } = setup(async (req) => {
    const path = new URL(req.url).pathname;
    seen.push(path);
    if (path === "/slow") await slow;
    return new Response(`path ${path}`);
  });
  const t = connect();
  t.push("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HT");
  t.push("TP/1.1\r\nHost: x\r\n\r\n");
  await until(() => seen.length > 0, { message: "the first request to reach the handler" });
  // While the first response is pending, the pipelined requests wait: nothing else is handled or answered.
  await delay(20); // negative check: nothing may happen in this time
  assert.deepEqual(seen, ["/slow"]);
  assert.equal(t.text(), "");
  releaseSlow();
  const text = await t.until((s) => count(s, "HTTP/1.1 200") === 3);
  const responses = parseResponses(text);
  assert.deepEqual(responses.map((r) => r.body), ["path /slow", "path /a", "path /b"]);
  assert.deepEqual(seen, ["/slow", "/a", "/b"]);
  assert.equal(responses[0].headers.get("content-length"), "10");
  assert.ok(responses[0].headers.has("date"));
  assert.equal(t.outputEnded, false);
  await server.shutdown();
  assert.equal(t.outputEnded, true);
});

test("the handler sees method, URL, headers and the remote address", async () => {
  let got: { method: string; url: string; host: string | null; custom: string | null; remote: string } | null = null;
  const { server, connect } = setup((req, info) => {
    got = {
      method: req.method,
      url: req.url,
      host: req.headers.get("host"),
      custom: req.headers.get("x-custom"),
      remote: `${info.remoteAddr.hostname}:${info.remoteAddr.port}`,
    };
    return new Response(null, { status: 204 });
  });
  const t = connect();
  t.push("DELETE /items/1?x=%20y HTTP/1.1\r\nHost: example.com:9\r\nX-Custom:  v  \r\n\r\n");
  await t.until((s) => s.includes("204"));
  assert.deepEqual(got, {
    method: "DELETE",
    url: "http://example.com:9/items/1?x=%20y",
    host: "example.com:9",
    custom: "v",
    remote: "127.0.0.1:50000",
  });
  const [response] = parseResponses(t.text());
  assert.equal(response.headers.has("content-length"), false);
  assert.equal(response.headers.has("transfer-encoding"), false);
  await server.shutdown();
});

test("request bodies: Content-Length and chunked, split anywhere, then the next request", async () => {
  const { server, connect } = setup(async (req) => new Response(`${req.method} ${await req.text()}`));
  const t = connect();
  const input = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world" +
    "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext\r\n \r\n5\r\nworld\r\n0\r\n\r\n" +
    "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (let i = 0; i < input.length; i += 7) t.push(input.slice(i, i + 7));
  const text = await t.until((s) => count(s, "HTTP/1.1 200") === 3);
  assert.deepEqual(parseResponses(text).map((r) => r.body), ["POST hello world", "PUT hello world", "GET "]);
  await server.shutdown();
});

test("a body the handler does not read is skipped, and the connection goes on", async () => {
  const { server, connect } = setup((req) => new Response(`ok ${req.method}`));
  const t = connect();
  t.push("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  await t.until((s) => s.includes("ok POST"));
  t.push(new Uint8Array(100000));
  t.push("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await t.until((s) => s.includes("ok GET"));
  await server.shutdown();
});

test("request-body backpressure: a handler that does not read stops the socket", async () => {
  let release!: () => void;
  const { server, connect } = setup(async (req) => {
    await new Promise<void>((r) => release = r);
    return new Response(`read ${(await req.arrayBuffer()).byteLength}`);
  });
  const t = connect();
  t.push("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n");
  for (let i = 0; i < 2; i++) t.push(new Uint8Array(100000));
  await until(() => t.paused, { message: "the server to stop reading the body nobody reads" });
  release();
  await until(() => !t.paused, { message: "the server to read again once the handler reads" });
  t.push(new Uint8Array(100000));
  await t.until((s) => s.includes("read 300000"));
  await server.shutdown();
});

test("Expect: 100-continue gets 100 Continue before the body", async () => {
  const { server, connect } = setup(async (req) => new Response(await req.text()));
  const t = connect();
  t.push("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  await t.until((s) => s.startsWith("HTTP/1.1 100 Continue\r\n\r\n"));
  t.push("hi");
  await t.until((s) => s.endsWith("\r\n\r\nhi"));
  await server.shutdown();
});

test("responses: streamed bodies are chunked, HEAD has no body, a declared Content-Length is kept", async () => {
  const { server, connect } = setup((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/stream") {
      let n = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(c) {
            await delay(5); // a slow source: each part is written on its own
            if (n === 3) c.close();
            else c.enqueue(new TextEncoder().encode(`part${n++};`));
          },
        }),
      );
    }
    if (path === "/declared") {
      return new Response(
        new ReadableStream<Uint8Array>({
          async start(c) {
            await delay(5); // a slow source: the head goes first, then each part
            c.enqueue(new Uint8Array([65, 66]));
            await delay(5); // (slow source)
            c.enqueue(new Uint8Array([67]));
            c.close();
          },
        }),
        { headers: { "content-length": "3" } },
      );
    }
    return new Response("x".repeat(1000), { headers: { "x-kind": "fixed" } });
  });
  const t = connect();
  t.push("GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /declared HTTP/1.1\r\nHost: x\r\n\r\n");
  const text = await t.until((s) => count(s, "HTTP/1.1 200") === 2 && s.endsWith("ABC"));
  const [streamed, declared] = parseResponses(text);
  assert.equal(streamed.headers.get("transfer-encoding"), "chunked");
  assert.equal(streamed.body, "part0;part1;part2;");
  assert.equal(declared.headers.get("content-length"), "3");
  assert.equal(declared.body, "ABC");
  const before = t.text().length;
  t.push("HEAD /fixed HTTP/1.1\r\nHost: x\r\n\r\nGET /fixed HTTP/1.1\r\nHost: x\r\n\r\n");
  const after = (await t.until((s) => count(s.slice(before), "HTTP/1.1 200") === 2 && s.endsWith("x"))).slice(before);
  const headEnd = after.indexOf("\r\n\r\n") + 4;
  assert.match(after.slice(0, headEnd), /content-length: 1000\r\n/);
  assert.match(after.slice(0, headEnd), /x-kind: fixed\r\n/);
  assert.ok(after.slice(headEnd).startsWith("HTTP/1.1 200"), "HEAD sent no body");
  assert.equal(parseResponses(after.slice(headEnd))[0].body.length, 1000);
  await server.shutdown();
});

test("a body that breaks its Content-Length drops the connection instead of corrupting it", async () => {
  const { server, connect, errors } = setup(() =>
    new Response(
      new ReadableStream({
        async start(c) {
          await delay(1); // the body comes after the head (with its Content-Length) was written
          c.enqueue(new Uint8Array(5));
          c.close();
        },
      }),
      { headers: { "content-length": "3" } },
    )
  );
  const t = connect();
  t.push("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await t.closed;
  assert.equal(t.destroyed, true);
  assert.equal(errors.length, 1);
  await server.shutdown();
});

test("Connection: close, HTTP/1.0 and HTTP/1.0 keep-alive", async () => {
  const { server, connect } = setup(() => new Response("hi"));
  const closing = connect();
  closing.push("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  await closing.until((s) => s.endsWith("hi"));
  assert.match(closing.text(), /connection: close\r\n/);
  assert.equal(closing.outputEnded, true);

  const old = connect();
  old.push("GET / HTTP/1.0\r\n\r\n");
  await old.until((s) => s.endsWith("hi"));
  assert.equal(old.outputEnded, true);

  const kept = connect();
  kept.push("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  await kept.until((s) => s.endsWith("hi"));
  assert.match(kept.text(), /connection: keep-alive\r\n/);
  assert.equal(kept.outputEnded, false);
  await server.shutdown();
});

test("an HTTP/1.0 client gets an unknown-length body delimited by the end of the connection", async () => {
  const { server, connect } = setup(() =>
    new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(new Uint8Array([0x41]));
          await delay(20); // a slow source: the body is streamed, its length unknown
          c.enqueue(new Uint8Array([0x42]));
          c.close();
        },
      }),
    )
  );
  const t = connect();
  t.push("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  await t.until((s) => s.endsWith("AB") && t.outputEnded);
  const head = t.text();
  assert.doesNotMatch(head, /transfer-encoding|content-length/);
  assert.match(head, /connection: close/);
  assert.equal(t.outputEnded, true);
  await server.shutdown();
});

test("handler failures: 500 and the connection keeps serving; HandshakeError answers its own status", async () => {
  const { server, connect, errors } = setup((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/throw") throw new Error("boom");
    if (path === "/reject") return Promise.reject(new Error("async boom"));
    if (path === "/junk") return "not a response" as unknown as Response;
    if (path === "/ws") return new WebSocketUpgrade(req, null, () => {});
    return new Response("fine");
  });
  const t = connect();
  t.push(
    "GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /reject HTTP/1.1\r\nHost: x\r\n\r\nGET /junk HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  );
  const text = await t.until((s) => s.endsWith("fine"));
  assert.deepEqual(parseResponses(text).map((r) => r.status), [500, 500, 500, 200]);
  assert.equal(errors.length, 3);
  const bad = connect();
  bad.push("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  await bad.until((s) => s.includes("\r\n\r\n") && bad.outputEnded);
  assert.equal(parseResponses(bad.text())[0].status, 426);
  await server.shutdown();
});

test("bad heads get 400/414/431/501/505 and the connection is closed", async () => {
  const { server, connect } = setup(() => new Response("never"), { maxHeaderCount: 5 });
  const cases: [string, number][] = [
    ["GET / HTTP/1.1\r\n\r\n", 400], // no Host
    ["GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    [`GET /${"a".repeat(10 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
    ["GET / HTTP/1.1\r\nHost: x\r\n" + "A: 1\r\n".repeat(6) + "\r\n", 431],
    ["GET / HTTP/1.1\r\nHost: x\r\nX: " + "y".repeat(17000) + "\r\n\r\n", 431],
    ["TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 501],
    ["GET / HTTP/2.0\r\n\r\n", 505],
    ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413],
    ["GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400],
  ];
  for (const [input, status] of cases) {
    const t = connect();
    t.push(input);
    const text = await t.until(() => t.outputEnded);
    assert.equal(parseResponses(text)[0].status, status, input.slice(0, 40));
    assert.match(text, /connection: close/);
  }
  await server.shutdown();
});

test("a chunked body over maxBodySize is 413", async () => {
  const { server, connect } = setup(async (req) => new Response(await req.text()), { maxBodySize: 8 });
  const t = connect();
  t.push("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
  const text = await t.until(() => t.outputEnded);
  assert.equal(parseResponses(text)[0].status, 413);
  await server.shutdown();
});

test("head timeout: a slow head gets 408; an idle keep-alive connection is closed quietly", async () => {
  const { server, connect } = setup(() => new Response("ok"), { headTimeout: 60, idleTimeout: 60 });
  const slow = connect();
  slow.push("GET / HT");
  await delay(30); // a client that trickles its head on purpose: half of it now, the rest in 30 ms
  slow.push("TP/1.1\r\n");
  const text = await slow.until(() => slow.outputEnded);
  assert.equal(parseResponses(text)[0].status, 408);

  const silent = connect();
  await silent.until(() => silent.outputEnded);
  assert.equal(silent.text(), "");

  const idle = connect();
  idle.push("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await idle.until((s) => s.endsWith("ok"));
  assert.equal(idle.outputEnded, false);
  await idle.until(() => idle.outputEnded);
  assert.equal(count(idle.text(), "HTTP/1.1"), 1);
  await server.shutdown();
});

test("an upgrade over HTTP/1.0 or with a body is refused with 400", async () => {
  const { server, connect } = setup((req) => new WebSocketUpgrade(req, null, () => {}));
  const old = connect();
  old.push(WS_HEAD.replace("HTTP/1.1", "HTTP/1.0"));
  assert.equal(parseResponses(await old.until(() => old.outputEnded))[0].status, 400);
  const withBody = connect();
  withBody.push(WS_HEAD.replace("\r\n\r\n", "\r\nContent-Length: 2\r\n\r\nhi"));
  assert.equal(parseResponses(await withBody.until(() => withBody.outputEnded))[0].status, 400);
  await server.shutdown();
});

test("upgrade: 101 is written, and a frame sent with the head reaches the session", async () => {
  const { server, connect } = setup((req) =>
    new WebSocketUpgrade(req, null, async (session) => {
      for await (const frame of session.incoming) {
        await session.send(frame);
        if (frame instanceof Frame.Close) return;
      }
    })
  );
  const t = connect();
  const writer = new FrameWriter({ masking: true });
  const frame = writer.encode(new Frame.Text("first"));
  const head = Uint8Array.from(WS_HEAD, (c) => c.charCodeAt(0));
  const both = new Uint8Array(head.length + frame.length);
  both.set(head);
  both.set(frame, head.length);
  t.push(both);
  const text = await t.until((s) => s.includes("first"));
  assert.ok(text.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
  assert.match(text, /sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n/);
  const reader = new FrameReader({ role: "client" });
  reader.push(t.bytes().subarray(text.indexOf("\r\n\r\n") + 4));
  const echoed = reader.read();
  assert.ok(echoed instanceof Frame.Text);
  assert.equal(echoed.readText(), "first");
  // Shutdown closes the session with 1001 and waits for the client's close.
  const stopping = server.shutdown({ timeout: 2000 });
  const afterHead = text.indexOf("\r\n\r\n") + 4;
  const frames = () => {
    const r = new FrameReader({ role: "client" });
    r.push(t.bytes().subarray(afterHead));
    const out: Frame[] = [];
    for (let f = r.read(); f !== null; f = r.read()) out.push(f);
    return out;
  };
  await t.until(() => frames().some((f) => f instanceof Frame.Close));
  const close = frames().find((f) => f instanceof Frame.Close) as InstanceType<typeof Frame.Close>;
  assert.equal(close.readReason()?.code, CloseCode.GoingAway);
  t.push(writer.encode(new Frame.Close()));
  t.endInput();
  await stopping;
  assert.equal(t.destroyed, true);
});

test("shutdown: idle connections close at once, a response in progress finishes with Connection: close", async () => {
  let release!: () => void;
  let handling = false;
  const { server, connect } = setup(async () => {
    handling = true;
    await new Promise<void>((r) => release = r);
    return new Response("late");
  });
  const idle = connect();
  const busy = connect();
  busy.push("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await until(() => handling, { message: "the request to reach the handler" });
  const stopping = server.shutdown();
  assert.equal(idle.outputEnded, true);
  assert.equal(busy.outputEnded, false);
  release();
  const text = await busy.until((s) => s.endsWith("late"));
  assert.match(text, /connection: close/);
  busy.endInput();
  idle.endInput();
  await stopping;
  // A socket accepted after shutdown is dropped.
  const late = connect();
  assert.equal(late.destroyed, true);
});

test("a HandshakeError thrown by the handler is answered with its response", async () => {
  const { server, connect } = setup(() => {
    throw new HandshakeError("WS_ERR_BAD_HANDSHAKE", 403, "origin not allowed");
  });
  const t = connect();
  t.push("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const [r] = parseResponses(await t.until(() => t.outputEnded));
  assert.equal(r.status, 403);
  assert.equal(r.body, "origin not allowed\n");
  await server.shutdown();
});
