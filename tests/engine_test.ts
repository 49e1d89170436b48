/**
 * The current runtime's engine (Deno under `deno test`, Bun under `bun test`,
 * Node under `node --test`) against clients we did not write: the runtime's
 * built-in `WebSocket`, the `ws` package and `fetch`; plus raw sockets for
 * bytes no well-behaved client sends.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { CloseReason, Frame, FrameReader, FrameWriter, type RawWebSocketSession, WebSocketUpgrade } from "../mod.ts";
import type { ServeHandler, ServeOptions, Server } from "../src/http/serve_types.ts";
import { engineServe, next, rawEcho, runtime } from "./_helpers/engine.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { delay, settled, until } from "./_helpers/wait.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

const serve = await engineServe();

async function start(handler: ServeHandler, options: ServeOptions = {}): Promise<Server> {
  return await serve({ port: 0, hostname: "127.0.0.1", onError: () => {}, ...options }, handler);
}

const echoServer = (options: ServeOptions = {}) =>
  start((request) => new WebSocketUpgrade(request, null, rawEcho, { closeTimeout: 1000 }), options);

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

test(`${runtime}'s built-in WebSocket: text and binary of 1 B, 125 B, 64 KiB and 1 MiB come back`, async () => {
  const server = await echoServer();
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/echo`);
  ws.binaryType = "arraybuffer";
  await next(ws, "open");
  ws.send("héllo wörld");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "héllo wörld");
  for (const size of [1, 125, 64 * 1024, 1024 * 1024]) {
    const data = random(size);
    ws.send(data);
    const got = (await next<MessageEvent>(ws, "message")).data;
    assert.ok(got instanceof ArrayBuffer, `binary of ${size} arrives as binary`);
    assert.deepEqual(new Uint8Array(got), data, `binary of ${size}`);
  }
  ws.close(4000, "bye now");
  const closed = await next<CloseEvent>(ws, "close");
  assert.equal(closed.code, 4000);
  assert.equal(closed.reason, "bye now");
  assert.equal(closed.wasClean, true);
  await server.shutdown();
});

test(`${runtime}'s built-in WebSocket: the server closes with a code and a reason`, async () => {
  const server = await start((request) =>
    new WebSocketUpgrade(request, null, async (session) => {
      for await (const frame of session.incoming) {
        if (frame instanceof Frame.Text) await session.close(new CloseReason(4001, "server says bye"));
        if (frame instanceof Frame.Close) return;
      }
    })
  );
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  await next(ws, "open");
  ws.send("close me");
  const closed = await next<CloseEvent>(ws, "close");
  assert.equal(closed.code, 4001);
  assert.equal(closed.reason, "server says bye");
  await server.shutdown();
});

test("the ws package: ping gets a pong with the same data; text, binary and a close with a reason", async () => {
  const server = await echoServer();
  const ws = new WebSocketClient(`ws://127.0.0.1:${server.port}/`);
  await new Promise<void>((resolve, reject) => ws.once("open", resolve).once("error", reject));
  ws.ping(Buffer.from("are you there"));
  const pong = await new Promise<Buffer>((resolve) => ws.once("pong", resolve));
  assert.equal(pong.toString(), "are you there");
  ws.send("text");
  const [text, isBinary] = await new Promise<[Buffer, boolean]>((r) =>
    ws.once("message", (d, b) => r([d as Buffer, b]))
  );
  assert.equal(text.toString(), "text");
  assert.equal(isBinary, false);
  const big = random(1024 * 1024);
  ws.send(big);
  const [bin, binIsBinary] = await new Promise<[Buffer, boolean]>((r) =>
    ws.once("message", (d, b) => r([d as Buffer, b]))
  );
  assert.equal(binIsBinary, true);
  assert.deepEqual(new Uint8Array(bin), big);
  ws.close(4002, "done");
  const [code, reason] = await new Promise<[number, Buffer]>((r) => ws.once("close", (c, why) => r([c, why])));
  assert.equal(code, 4002);
  assert.equal(reason.toString(), "done");
  await server.shutdown();
});

test("a frame sent in the same write as the opening handshake is not lost", async () => {
  const server = await echoServer();
  const client = await SocketClient.connect(server.port);
  const frame = new FrameWriter({ masking: true }).encode(new Frame.Text("early bird"));
  client.write(Buffer.concat([Buffer.from(handshake(), "latin1"), frame]));
  await client.until(() => client.text().includes("early bird"));
  const bytes = client.bytes();
  const text = client.text();
  assert.ok(text.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
  const reader = new FrameReader({ role: "client" });
  reader.push(bytes.subarray(text.indexOf("\r\n\r\n") + 4));
  assert.equal(reader.read()?.readText(), "early bird");
  client.close();
  await server.shutdown();
});

test("HTTP over the socket: fetch, a streamed (chunked) response, a streamed (chunked) request body", async () => {
  const server = await start(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/stream") {
      let n = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(c) {
            await delay(5); // a slow source: each chunk is written on its own
            if (n === 4) c.close();
            else c.enqueue(new TextEncoder().encode(`chunk${n++} `));
          },
        }),
      );
    }
    if (request.method === "POST") {
      const body = new Uint8Array(await request.arrayBuffer());
      let sum = 0;
      for (const b of body) sum += b;
      return Response.json({ length: body.length, sum, te: request.headers.get("transfer-encoding") });
    }
    return new Response("plain " + path, { headers: { "x-test": "yes" } });
  });
  const base = `http://127.0.0.1:${server.port}`;
  const plain = await fetch(`${base}/hello`);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers.get("x-test"), "yes");
  assert.equal(plain.headers.get("content-length"), "12");
  assert.equal(await plain.text(), "plain /hello");

  const streamed = await fetch(`${base}/stream`);
  assert.equal(await streamed.text(), "chunk0 chunk1 chunk2 chunk3 ");

  const parts = [random(1000), random(70000), random(5)];
  const upload = new ReadableStream<Uint8Array>({
    async pull(c) {
      await delay(2); // a slow source: the request body is streamed
      const p = parts.shift();
      if (p === undefined) c.close();
      else c.enqueue(p);
    },
  });
  const init: RequestInit & { duplex: "half" } = { method: "POST", body: upload, duplex: "half" };
  const result = await (await fetch(`${base}/upload`, init)).json();
  assert.equal(result.length, 71005);
  assert.equal(result.te, "chunked");

  // The same, byte for byte, on a raw socket: chunked framing both ways.
  const raw = await SocketClient.connect(server.port);
  raw.write("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\x01\x02\x03\r\n0\r\n\r\n");
  raw.write("GET /stream HTTP/1.1\r\nHost: h\r\n\r\n");
  await raw.until(() => raw.text().endsWith("0\r\n\r\n"));
  const text = raw.text();
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(text, /\{"length":3,"sum":6,"te":"chunked"\}/);
  assert.match(text, /transfer-encoding: chunked\r\n\r\n7\r\nchunk0 \r\n/);
  raw.close();
  await server.shutdown();
});

test("keep-alive and pipelining on one socket; Connection: close ends it", async () => {
  const server = await start((request) => new Response(new URL(request.url).pathname));
  const raw = await SocketClient.connect(server.port);
  raw.write("GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n");
  await raw.until(() => raw.text().endsWith("/two"));
  raw.write("GET /three HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  await raw.until(() => raw.ended);
  const bodies = raw.text().split("\r\n\r\n").slice(1).map((s) => s.split("HTTP/1.1")[0]);
  assert.deepEqual(bodies, ["/one", "/two", "/three"]);
  raw.close();
  await server.shutdown();
});

test("bad input gets its status and closes, while another client keeps being served", async () => {
  const server = await echoServer({ headTimeout: 1500 });
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  await next(ws, "open");
  const cases: [string, string, number][] = [
    ["an over-long head", "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + "a".repeat(20 * 1024) + "\r\n\r\n", 431],
    ["101 headers", "GET / HTTP/1.1\r\nHost: h\r\n" + "X-H: v\r\n".repeat(101) + "\r\n", 431],
    ["a request line of 10 KiB", `GET /${"a".repeat(10 * 1024)} HTTP/1.1\r\nHost: h\r\n\r\n`, 414],
    ["a non-GET upgrade", handshake().replace("GET", "POST"), 405],
    ["a wrong key", handshake().replace("dGhlIHNhbXBsZSBub25jZQ==", "not-a-key"), 400],
    ["an HTTP/1.0 upgrade", handshake().replace("HTTP/1.1", "HTTP/1.0"), 400],
    ["garbage", "\x16\x03\x01\x00\xff\x01\x00\x00\r\n\r\n", 400],
  ];
  const bad = cases.map(async ([name, input, status]) => {
    const client = await SocketClient.connect(server.port);
    client.write(input);
    await client.until(() => client.ended);
    assert.equal(client.status(), status, name);
    client.close();
  });
  // A head sent one byte every 250 ms: 408 once the head timeout (1.5 s here) runs out.
  const slow = (async () => {
    const client = await SocketClient.connect(server.port);
    const head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    for (let i = 0; i < head.length && !client.ended; i++) {
      client.write(head[i]);
      await delay(250); // the point: a client trickling its head
    }
    assert.equal(client.status(), 408, "a head sent one byte every 250 ms");
    client.close();
  })();
  // Meanwhile the WebSocket client is served as usual.
  for (let i = 0; i < 10; i++) {
    ws.send(`still here ${i}`);
    assert.equal((await next<MessageEvent>(ws, "message")).data, `still here ${i}`);
    await delay(150); // the point: round trips spread over the time the bad clients take
  }
  await Promise.all([...bad, slow]);
  ws.send("after all that");
  assert.equal((await next<MessageEvent>(ws, "message")).data, "after all that");
  ws.close();
  await next(ws, "close");
  await server.shutdown();
});

test("write backpressure: a client that does not read slows send(), and nothing is lost", async () => {
  const frame = random(1024 * 1024);
  const total = 48;
  let sent = 0;
  let maxBuffered = 0;
  const server = await start((request) =>
    new WebSocketUpgrade(request, null, async (session: RawWebSocketSession) => {
      for (let i = 0; i < total; i++) {
        await session.send(new Frame.Binary(frame));
        sent++;
        maxBuffered = Math.max(maxBuffered, session.bufferedAmount);
      }
      await session.flush();
      for await (const f of session.incoming) if (f instanceof Frame.Close) return;
    })
  );
  const client = await SocketClient.connect(server.port);
  client.socket.pause();
  client.write(handshake());
  await until(() => sent > 0, { message: "the handler to send" });
  // The sender blocks once the kernel's buffers (some megabytes, depending on the system) and the server's
  // queue are full: `sent` stops growing, short of the total, with the server's own queue bounded.
  const stalledAt = await settled(() => sent, {
    quiet: 400,
    message: "send() to block on a client that reads nothing",
  });
  assert.ok(stalledAt < total, `sent all ${total} MiB to a client that reads nothing`);
  assert.ok(maxBuffered <= 3 * 1024 * 1024, `at most ${maxBuffered} bytes queued`);
  client.socket.resume();
  const expected = total * (1024 * 1024 + 10);
  await client.until(() => client.received >= expected, 20000);
  const bytes = client.bytes();
  const reader = new FrameReader({ role: "client", maxFrameSize: Infinity });
  reader.push(bytes.subarray(client.text().indexOf("\r\n\r\n") + 4));
  let frames = 0;
  for (let f = reader.read(); f !== null; f = reader.read()) {
    assert.equal(f.data.length, frame.length);
    frames++;
  }
  assert.equal(frames, total);
  assert.deepEqual(reader.read(), null);
  client.close();
  await server.shutdown({ timeout: 500 });
});

test("a streamed HTTP response is pulled no faster than the client reads", async () => {
  const piece = random(256 * 1024);
  const total = 192; // 48 MiB
  let pulled = 0;
  const server = await start(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (pulled === total) c.close();
          else {
            pulled++;
            c.enqueue(piece);
          }
        },
      }, { highWaterMark: 0 }),
    )
  );
  const client = await SocketClient.connect(server.port);
  client.socket.pause();
  client.write("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  await until(() => pulled > 0, { message: "the response to start" });
  // Pulling stops once the kernel's buffers are full, short of the total.
  const stalledAt = await settled(() => pulled, {
    quiet: 400,
    message: "pulling to stop for a client that reads nothing",
  });
  assert.ok(stalledAt < total, `pulled all ${total} pieces for a client that reads nothing`);
  client.socket.resume();
  await client.until(() => client.tail(7) === "\r\n0\r\n\r\n", 20000);
  assert.equal(pulled, total);
  assert.ok(client.received > total * piece.length);
  client.close();
  await server.shutdown({ timeout: 500 });
});

test("read backpressure: a handler that does not read stops reading the socket", async () => {
  let release!: () => void;
  let receivedBytes = 0;
  const server = await start((request) =>
    new WebSocketUpgrade(request, null, async (session) => {
      await new Promise<void>((r) => release = r);
      for await (const f of session.incoming) {
        if (f instanceof Frame.Close) return;
        receivedBytes += f.data.length;
      }
    }, { closeTimeout: 500 })
  );
  const client = await SocketClient.connect(server.port);
  client.write(handshake());
  await client.until(() => client.text().includes("\r\n\r\n"));
  const frame = new FrameWriter({ masking: true }).encode(new Frame.Binary(random(1024 * 1024)));
  const total = 48;
  // A flow-controlled writer: `accepted` counts what the kernel took, so it
  // stalls exactly when the server stops reading.
  let accepted = 0;
  const writing = (async () => {
    for (let i = 0; i < total; i++) {
      for (let o = 0; o < frame.length; o += 65536) {
        const piece = frame.subarray(o, o + 65536);
        if (!client.write(piece)) await new Promise((r) => client.socket.once("drain", r));
        accepted += piece.length;
      }
    }
  })();
  await until(() => accepted > 0, { message: "the client to write" });
  // The writer blocks once the kernel's buffers (some megabytes, depending on the system) are full:
  // `accepted` stops growing, short of the total, while the handler reads nothing.
  const first = await settled(() => accepted, {
    quiet: 400,
    message: "the client's writes to block while the handler reads nothing",
  });
  assert.ok(
    first < total * frame.length,
    `the server took all ${total * frame.length} bytes while its handler read nothing`,
  );
  assert.equal(receivedBytes, 0);
  release();
  await writing;
  client.write(new FrameWriter({ masking: true }).encode(new Frame.Close()));
  await client.until(() => client.ended, 10000);
  assert.equal(receivedBytes, total * 1024 * 1024);
  client.close();
  await server.shutdown({ timeout: 500 });
});

test("shutdown closes every session with 1001 Going Away and resolves finished", async () => {
  const server = await echoServer();
  const clients = [new WebSocket(`ws://127.0.0.1:${server.port}/`), new WebSocket(`ws://127.0.0.1:${server.port}/`)];
  await Promise.all(clients.map((c) => next(c, "open")));
  const closes = clients.map((c) => next<CloseEvent>(c, "close"));
  let finished = false;
  server.finished.then(() => finished = true);
  await server.shutdown({ timeout: 3000 });
  assert.equal(finished, true);
  for (const c of await Promise.all(closes)) assert.equal(c.code, 1001);
  // The port no longer accepts connections.
  await assert.rejects(SocketClient.connect(server.port));
});

test("server.addr, onListen, the signal option and Symbol.asyncDispose", async () => {
  const controller = new AbortController();
  let announced = 0;
  const server = await start(() => new Response("ok"), {
    signal: controller.signal,
    onListen: (addr) => announced = addr.port,
  });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.equal(server.addr.port, server.port);
  assert.equal(announced, server.port);
  controller.abort();
  await server.finished;
  const other = await start(() => new Response("ok"));
  await other[Symbol.asyncDispose]();
  await other.finished;
});

test("serve rejects when the port is taken, and bad options are refused", async () => {
  const first = await start(() => new Response("first"));
  await assert.rejects(start(() => new Response("second"), { port: first.port }));
  await assert.rejects(async () => await start(() => new Response("x"), { headTimeout: -1 }), RangeError);
  await assert.rejects(async () => await start(() => new Response("x"), { cert: "only a cert" }), TypeError);
  assert.equal(await (await fetch(`http://127.0.0.1:${first.port}/`)).text(), "first");
  await first.shutdown();
});
