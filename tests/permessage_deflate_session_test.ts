/**
 * permessage-deflate through WebSocketUpgrade and the sessions, over an
 * in-memory connection whose client compresses with node:zlib directly.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CloseCode,
  CloseReason,
  type DefaultSessionOptions,
  type DefaultWebSocketSession,
  ErrorCode,
  Frame,
  FrameWriter,
  HandshakeError,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
  type PerMessageDeflateOptions,
  type RawWebSocketSession,
  runDefaultSession,
  WebSocketError,
  WebSocketUpgrade,
} from "../mod.ts";
import { pipe, type TestClient, upgradeRequest } from "./_helpers/client.ts";
import { deflateAlone, inflateAlone, StreamDeflater, StreamInflater } from "./_helpers/zlib_peer.ts";

const utf8 = new TextEncoder();

function sample(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  const words = ["alpha", "beta", "gamma", " ", "delta", "é", "{", "}"];
  let i = 0;
  while (i < length) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = utf8.encode(words[(x >>> 16) % words.length]);
    if (i + w.length > length) {
      out.fill(0x2e, i);
      break;
    }
    out.set(w, i);
    i += w.length;
  }
  return out;
}

interface Started {
  client: TestClient;
  job: PromiseLike<void>;
  upgrade: WebSocketUpgrade;
  errors: unknown[];
}

function startDefault(
  offer: string | null,
  handler: (s: DefaultWebSocketSession) => Promise<void> | void,
  deflate: PerMessageDeflateOptions = {},
  options: DefaultSessionOptions = {},
): Started {
  const p = pipe();
  const errors: unknown[] = [];
  const upgrade = new WebSocketUpgrade(
    upgradeRequest(offer === null ? {} : { "sec-websocket-extensions": offer }),
    null,
    (raw) => runDefaultSession(raw, handler, options),
    { extensions: [new PerMessageDeflate(deflate)], onError: (e) => void errors.push(e) },
  );
  if (upgrade.extensions.length > 0) p.client.allowRsv(0x40);
  return { client: p.client, job: upgrade.upgrade(p.input, p.output), upgrade, errors };
}

async function echo(session: DefaultWebSocketSession): Promise<void> {
  for await (const m of session.incoming) await session.send(m);
}

async function expectClose(client: TestClient, code: number): Promise<void> {
  for (;;) {
    const f = await client.next();
    assert.ok(f !== null, `expected a close frame with ${code}, the server just ended`);
    if (f instanceof Frame.Close) {
      assert.equal(f.readReason()?.code, code, `close reason: ${f.readReason()}`);
      return;
    }
  }
}

async function finish(client: TestClient, job: PromiseLike<void>): Promise<void> {
  await client.send(new Frame.Close(new CloseReason(1000)));
  for (let f = await client.next(); f !== null; f = await client.next()) {
    assert.ok(f instanceof Frame.Close, `unexpected ${f}`);
  }
  await client.end();
  await job;
}

test("the handshake answers the first acceptable offer and the session lists the extension", async () => {
  let extensions: readonly unknown[] = [];
  const { client, job, upgrade } = startDefault(
    "permessage-deflate; foo, permessage-deflate; client_max_window_bits",
    (s) => void (extensions = s.extensions),
  );
  assert.equal(upgrade.headers.get("sec-websocket-extensions"), "permessage-deflate");
  assert.equal(upgrade.extensions.length, 1);
  await finish(client, job);
  assert.equal(extensions.length, 1);
});

test("no offer, or no acceptable one: no header, no extension, RSV1 refused with 1002", async () => {
  for (const offer of [null, "permessage-deflate; server_max_window_bits=16", "x-webkit-deflate-frame"]) {
    const { client, job, upgrade } = startDefault(offer, echo);
    assert.equal(upgrade.headers.get("sec-websocket-extensions"), null, String(offer));
    assert.equal(upgrade.extensions.length, 0);
    await client.send(new Frame.Text(deflateAlone(utf8.encode("Hello")), true, true));
    await expectClose(client, CloseCode.ProtocolError);
    await client.end();
    await job;
  }
});

test("a malformed Sec-WebSocket-Extensions fails the handshake with 400 when extensions are configured", () => {
  const request = upgradeRequest({ "sec-websocket-extensions": "permessage-deflate; client_max_window_bits=" });
  assert.throws(
    () => new WebSocketUpgrade(request, null, () => {}, { extensions: [new PerMessageDeflate()] }),
    (e: unknown) => e instanceof HandshakeError && e.status === 400,
  );
  // Without extensions configured the header is not read.
  assert.equal(new WebSocketUpgrade(request, null, () => {}).headers.get("sec-websocket-extensions"), null);
});

for (const takeover of [true, false]) {
  const offer = takeover
    ? "permessage-deflate; client_max_window_bits"
    : "permessage-deflate; client_max_window_bits; server_no_context_takeover; client_no_context_takeover";
  test(`default session echo: small and large, whole and fragmented, context takeover ${takeover ? "on" : "off"}`, async () => {
    const { client, job, upgrade } = startDefault(offer, echo, { compressIfBiggerThan: 64 });
    const toServer = new StreamDeflater();
    const fromServer = new StreamInflater();
    const compress = (data: Uint8Array) => takeover ? toServer.deflate(data) : Promise.resolve(deflateAlone(data));
    const decompress = (data: Uint8Array) => takeover ? fromServer.inflate(data) : Promise.resolve(inflateAlone(data));
    for (const size of [0, 5, 64, 65, 1000, 70_000, 1 << 20]) {
      for (const fragments of [1, 3]) {
        const data = sample(size, size + fragments);
        const payload = await compress(data);
        const step = Math.ceil(payload.length / fragments) || 1;
        const frames: Frame[] = [];
        for (let i = 0; i < fragments; i++) {
          const part = payload.subarray(i * step, Math.min(payload.length, (i + 1) * step));
          const fin = i === fragments - 1;
          frames.push(i === 0 ? new Frame.Text(part, fin, true) : new Frame.Continuation(part, fin));
        }
        await client.send(...frames);
        const reply = await client.next();
        assert.ok(reply instanceof Frame.Text && reply.fin, `reply to ${size}: ${reply}`);
        // At most 64 bytes go uncompressed (compressIfBiggerThan).
        assert.equal(reply.rsv1, size > 64, `RSV1 of the reply to ${size}`);
        const text = reply.rsv1 ? await decompress(reply.data) : reply.data;
        assert.deepEqual(text, data, `echo of ${size} in ${fragments}`);
      }
    }
    // Uncompressed messages from the client are fine too.
    await client.send(new Frame.Binary(sample(300)));
    const plain = await client.next();
    assert.ok(plain instanceof Frame.Binary && plain.rsv1);
    assert.deepEqual(await decompress(plain.data), sample(300));
    const ext = upgrade.extensions[0] as PerMessageDeflateExtension;
    assert.deepEqual(ext.allocated, { inflater: takeover, deflater: takeover });
    await finish(client, job);
    assert.deepEqual(ext.allocated, { inflater: false, deflater: false }, "freed when the connection ends");
    toServer.close();
    fromServer.close();
  });
}

test("RSV1 on a continuation frame or a control frame fails with 1002", async () => {
  const cases: Frame[][] = [
    [
      new Frame.Text(deflateAlone(utf8.encode("Hel")), false, true),
      new Frame.Continuation(new Uint8Array(1), true, true),
    ],
    [new Frame.Text("He", false), new Frame.Continuation(utf8.encode("llo"), true, true)],
    [new Frame.Ping(new Uint8Array(0), true)],
    [new Frame.Pong(new Uint8Array(0), true)],
    [new Frame.Close(new CloseReason(1000), true)],
  ];
  for (const frames of cases) {
    const { client, job } = startDefault("permessage-deflate", echo);
    await client.send(...frames);
    await expectClose(client, CloseCode.ProtocolError);
    await client.end();
    await job;
  }
});

test("invalid compressed data closes with 1007, and the handler sees WS_ERR_INVALID_COMPRESSED_DATA", async () => {
  let seen: unknown;
  const { client, job } = startDefault("permessage-deflate", async (s) => {
    try {
      for await (const _ of s.incoming) { /* nothing */ }
    } catch (e) {
      seen = e;
    }
  });
  await client.send(new Frame.Binary(new Uint8Array([0xff, 0xff, 0xff, 0xff]), true, true));
  await expectClose(client, CloseCode.NotConsistent);
  await client.end();
  await job;
  assert.ok(seen instanceof WebSocketError && seen.code === ErrorCode.InvalidCompressedData, String(seen));
});

test("a compressed message inflating past maxMessageSize closes with 1009 without inflating it all", async () => {
  let seen: unknown;
  const { client, job } = startDefault(
    "permessage-deflate",
    async (s) => {
      try {
        for await (const _ of s.incoming) { /* nothing */ }
      } catch (e) {
        seen = e;
      }
    },
    {},
    { maxMessageSize: 64 * 1024 },
  );
  // 16 MiB of zeros in about 16 KiB.
  await client.send(new Frame.Binary(deflateAlone(new Uint8Array(16 << 20)), true, true));
  await expectClose(client, CloseCode.MessageTooBig);
  await client.end();
  await job;
  assert.ok(seen instanceof WebSocketError && seen.code === ErrorCode.MessageTooBig, String(seen));
});

test("invalid UTF-8 in a compressed text message fails fast with 1007", async () => {
  const { client, job } = startDefault("permessage-deflate", echo, {}, { maxMessageSize: 1 << 30 });
  // Bad UTF-8 at the start of a 4 MiB message: the session fails on the first decoded chunk.
  const data = new Uint8Array(4 << 20).fill(0x61);
  data[0] = 0xff;
  await client.send(new Frame.Text(deflateAlone(data), true, true));
  await expectClose(client, CloseCode.NotConsistent);
  await client.end();
  await job;
});

test("a close frame right behind a compressed message waits for it: the message is delivered first", async () => {
  const received: string[] = [];
  const { client, job } = startDefault("permessage-deflate", async (s) => {
    for await (const m of s.messages()) received.push(m as string);
    received.push(`closed ${(await s.closeReason)?.code}`);
  });
  const big = sample(300_000, 9);
  await client.send(
    new Frame.Text(deflateAlone(big), true, true),
    new Frame.Text(deflateAlone(utf8.encode("second")), true, true),
    new Frame.Close(new CloseReason(1000)),
  );
  await expectClose(client, CloseCode.Normal);
  await client.end();
  await job;
  assert.equal(received.length, 3);
  assert.equal(received[0], new TextDecoder().decode(big));
  assert.deepEqual(received.slice(1), ["second", "closed 1000"]);
});

test("messages sent without waiting go out in order, compressed or not, before the close", async () => {
  const messages = [sample(200_000, 1), sample(10, 2), sample(5000, 3), sample(20, 4), sample(1 << 20, 5)];
  const { client, job } = startDefault("permessage-deflate", async (s) => {
    for (const m of messages) void s.sendBinary(m);
    await s.close();
  }, { compressIfBiggerThan: 100 });
  const peer = new StreamInflater();
  for (const m of messages) {
    const f = await client.next();
    assert.ok(f instanceof Frame.Binary, `got ${f}`);
    assert.equal(f.rsv1, m.length > 100);
    assert.deepEqual(f.rsv1 ? await peer.inflate(f.data) : f.data, m);
  }
  assert.ok((await client.next()) instanceof Frame.Close);
  await client.send(new Frame.Close(new CloseReason(1000)));
  assert.equal(await client.next(), null);
  await client.end();
  await job;
  peer.close();
});

test("the RAW session sees compressed frames as they arrive (RSV1 set, data compressed)", async () => {
  const p = pipe();
  const got: Frame[] = [];
  const upgrade = new WebSocketUpgrade(
    upgradeRequest({ "sec-websocket-extensions": "permessage-deflate" }),
    null,
    async (raw: RawWebSocketSession) => {
      for await (const f of raw.incoming) {
        got.push(f);
        if (f instanceof Frame.Close) return void await raw.send(new Frame.Close(new CloseReason(1000)));
      }
    },
    { extensions: [new PerMessageDeflate()] },
  );
  const job = upgrade.upgrade(p.input, p.output);
  const payload = deflateAlone(utf8.encode("Hello"));
  await p.client.send(
    new Frame.Text(payload, false, true),
    new Frame.Continuation(new Uint8Array(0), true),
    new Frame.Close(new CloseReason(1000)),
  );
  assert.ok((await p.client.next()) instanceof Frame.Close);
  await p.client.end();
  await job;
  assert.equal(got.length, 3);
  assert.equal(got[0].rsv1, true);
  assert.deepEqual(got[0].data, payload);
  assert.equal(got[1].rsv1, false);
});

test("a compressed frame arriving in pieces is not checked as text before it is decoded", async () => {
  const { client, job } = startDefault("permessage-deflate", echo, { compressIfBiggerThan: 1 << 30 });
  const writer = new FrameWriter({ masking: true });
  const text = sample(200_000, 4);
  const payload = deflateAlone(text);
  const half = payload.length >> 1;
  // A first frame split across two reads, then a continuation split across two more.
  const first = writer.encode(new Frame.Text(payload.subarray(0, half), false, true));
  const second = writer.encode(new Frame.Continuation(payload.subarray(half), true));
  for (const bytes of [first, second]) {
    const cut = bytes.length >> 1;
    // Each sendBytes is one read of the server's, done when it resolves.
    await client.sendBytes(bytes.slice(0, cut));
    await client.sendBytes(bytes.slice(cut));
  }
  const reply = await client.next();
  assert.ok(reply instanceof Frame.Text && !reply.rsv1, String(reply));
  assert.deepEqual(reply.data, text);
  await finish(client, job);
});

test("messages waiting for the compressor count toward maxQueuedBytes: sending without awaiting closes with 1008", async () => {
  const p = pipe();
  const failures: unknown[] = [];
  let refusedAtOnce = 0;
  let session!: DefaultWebSocketSession;
  const upgrade = new WebSocketUpgrade(
    upgradeRequest({ "sec-websocket-extensions": "permessage-deflate" }),
    null,
    (raw) =>
      runDefaultSession(raw, async (s) => {
        session = s;
        const random = new Uint8Array(1024 * 1024);
        for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
        // 64 MiB of incompressible data, none of it awaited, to a peer that reads nothing.
        for (let i = 0; i < 64; i++) s.sendBinary(random).catch((e) => failures.push(e));
        // Refused before the compressor took them: at most a few MiB wait there, not 64.
        for (let i = 0; i < 3; i++) await null;
        refusedAtOnce = failures.length;
        await s.closeReason;
      }),
    { extensions: [new PerMessageDeflate()], maxQueuedBytes: 4 * 1024 * 1024, closeTimeout: 100 },
  );
  const job = upgrade.upgrade(p.input, p.output);
  await job;
  assert.equal((await session.closeReason)?.code, CloseCode.ViolatedPolicy);
  assert.ok(refusedAtOnce >= 56, `only ${refusedAtOnce} of 64 sends refused before compression`);
  assert.ok(
    failures.every((e) => e instanceof WebSocketError && e.code === ErrorCode.SendQueueFull),
    String(failures[0]),
  );
});
