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
  runDefaultSession,
  WebSocketError,
  WebSocketUpgrade,
  type WebSocketUpgradeOptions,
} from "../mod.ts";
import process from "node:process";
import { hex, pipe, type TestClient, upgradeRequest } from "./_helpers/client.ts";
import { until } from "./_helpers/wait.ts";

type Handler = (s: DefaultWebSocketSession) => Promise<void> | void;

function start(handler: Handler, options: DefaultSessionOptions = {}, upgradeOptions: WebSocketUpgradeOptions = {}) {
  const p = pipe();
  let session!: DefaultWebSocketSession;
  const upgrade = new WebSocketUpgrade(
    upgradeRequest(),
    null,
    (raw) =>
      runDefaultSession(raw, (s) => {
        session = s;
        return handler(s);
      }, options),
    upgradeOptions,
  );
  const job = upgrade.upgrade(p.input, p.output);
  return { client: p.client, transport: p.transport, job, session: () => session };
}

async function echo(session: DefaultWebSocketSession): Promise<void> {
  for await (const m of session.incoming) await session.send(m);
}

async function expectClose(client: TestClient, code: number): Promise<CloseReason | null> {
  for (;;) {
    const f = await client.next();
    assert.ok(f !== null, `expected a close frame with ${code}, the server just ended`);
    if (f instanceof Frame.Close) {
      const reason = f.readReason();
      assert.equal(reason?.code, code, `close reason: ${reason}`);
      return reason;
    }
  }
}

/** Completes the handshake from the client side and checks the server then ends the transport. */
async function finish(client: TestClient, job: PromiseLike<void>, answer = true): Promise<void> {
  if (answer) await client.send(new Frame.Close(new CloseReason(1000)));
  assert.equal(await client.next(), null, "the server closes the transport after the close handshake");
  await client.end();
  await job;
}

test("echoes whole text and binary messages; fragments are reassembled around control frames", async () => {
  const { client, job } = start(echo);
  await client.send(new Frame.Text("héllo"));
  assert.equal((await client.next())?.readText(), "héllo");
  await client.send(new Frame.Binary(hex("00 01 02")));
  const bin = await client.next();
  assert.ok(bin instanceof Frame.Binary);
  assert.deepEqual(bin.data, hex("00 01 02"));
  // A fragmented text message with a ping in the middle: the pong comes first.
  await client.send(
    new Frame.Text("frag", false),
    new Frame.Continuation(new TextEncoder().encode("men"), false),
    new Frame.Ping(hex("aa bb")),
    new Frame.Continuation(new Uint8Array(0), false),
    new Frame.Continuation(new TextEncoder().encode("ted"), true),
  );
  const pong = await client.next();
  assert.ok(pong instanceof Frame.Pong);
  assert.deepEqual(pong.data, hex("aa bb"));
  const text = await client.next();
  assert.ok(text instanceof Frame.Text && text.fin);
  assert.equal(text.readText(), "fragmented");
  await client.send(new Frame.Close(new CloseReason(CloseCode.Normal, "bye")));
  await expectClose(client, CloseCode.Normal);
  assert.equal(await client.next(), null);
  await client.end();
  await job;
});

test("for await over the session itself: whole messages, a second loop after break, the end at the peer's close", async () => {
  const seen: string[] = [];
  const { client, job } = start(async (session) => {
    for await (const m of session) {
      seen.push(m.readText());
      break;
    }
    for await (const m of session) {
      seen.push(m.readText());
      await session.send(m);
    }
    seen.push("end");
  });
  await client.send(new Frame.Text("one"), new Frame.Text("tw", false), new Frame.Continuation(hex("6f"), true));
  assert.equal((await client.next())?.readText(), "two");
  await client.send(new Frame.Close(new CloseReason(CloseCode.Normal)));
  await expectClose(client, CloseCode.Normal);
  assert.equal(await client.next(), null);
  await client.end();
  await job;
  assert.deepEqual(seen, ["one", "two", "end"]);
});

test("a UTF-8 text split inside a character across fragments is accepted", async () => {
  const { client, job } = start(echo);
  const bytes = new TextEncoder().encode("κόσμε𝄞");
  await client.send(new Frame.Text(bytes.subarray(0, 1), false), new Frame.Continuation(bytes.subarray(1, 9), false));
  await client.send(new Frame.Continuation(bytes.subarray(9), true));
  assert.equal((await client.next())?.readText(), "κόσμε𝄞");
  await client.send(new Frame.Close());
  await expectClose(client, 1000);
  await finish(client, job, false);
});

test("unsolicited pongs are ignored; pings are answered with the same payload", async () => {
  const { client, job } = start(echo);
  await client.send(new Frame.Pong(hex("01")), new Frame.Ping(hex("de ad")), new Frame.Text("after"));
  const pong = await client.next();
  assert.ok(pong instanceof Frame.Pong);
  assert.deepEqual(pong.data, hex("de ad"));
  assert.equal((await client.next())?.readText(), "after");
  await client.send(new Frame.Close());
  await expectClose(client, 1000);
  await finish(client, job, false);
});

test("invalid UTF-8 in one frame closes with 1007", async () => {
  const { client, job, session } = start(echo);
  await client.send(new Frame.Text(hex("ce ba ed a0 80")));
  await expectClose(client, CloseCode.NotConsistent);
  await finish(client, job, false);
  const reason = await session().closeReason;
  assert.equal(reason?.code, 1007);
});

test("invalid UTF-8 fails fast: the close comes before the message's last fragment is sent", async () => {
  let failure: unknown;
  const { client, job } = start(async (s) => {
    try {
      for await (const _ of s.incoming) { /* nothing completes */ }
    } catch (e) {
      failure = e;
    }
  });
  await client.send(new Frame.Text(hex("ce ba e1 bd b9"), false));
  await client.send(new Frame.Continuation(hex("ce bc ce b5 f4 90"), false)); // U+110000 starts here
  await expectClose(client, CloseCode.NotConsistent);
  await finish(client, job, false);
  assert.ok(failure instanceof WebSocketError);
  assert.equal(failure.code, ErrorCode.InvalidUtf8);
});

test("a text message ending mid-character closes with 1007", async () => {
  const { client, job } = start(echo);
  await client.send(new Frame.Text(hex("f0 9d"), false), new Frame.Continuation(hex("84"), true));
  await expectClose(client, 1007);
  await finish(client, job, false);
});

test("continuation without a start, and a new message inside a fragmented one: 1002", async () => {
  for (
    const frames of [
      [new Frame.Continuation(hex("61"), true)],
      [new Frame.Text("a", false), new Frame.Text("b")],
      [new Frame.Binary(hex("01"), false), new Frame.Binary(hex("02"), true)],
    ]
  ) {
    const { client, job } = start(echo);
    await client.send(...frames);
    await expectClose(client, CloseCode.ProtocolError);
    await finish(client, job, false);
  }
});

test("close handshake initiated by the peer: echo its code, report its reason, close the transport", async () => {
  const { client, job, session } = start(echo);
  await client.send(new Frame.Close(new CloseReason(4001, "custom")));
  await expectClose(client, 4001);
  await finish(client, job, false);
  assert.deepEqual(await session().closeReason, new CloseReason(4001, "custom"));
});

test("an empty close frame is answered with 1000 and reported as 1005", async () => {
  const { client, job, session } = start(echo);
  await client.send(new Frame.Close());
  await expectClose(client, 1000);
  await finish(client, job, false);
  assert.equal((await session().closeReason)?.code, CloseCode.NoStatus);
});

test("invalid close payloads: 1-byte → 1002, forbidden codes → 1002, bad UTF-8 reason → 1007", async () => {
  const cases: [Uint8Array, number][] = [[hex("03"), 1002]];
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    cases.push([new Uint8Array([code >> 8, code & 255]), 1002]);
  }
  cases.push([hex("03 e8 ce ba ed a0 80"), 1007]);
  for (const [payload, expected] of cases) {
    const { client, job } = start(echo);
    await client.send(new Frame.Close(payload));
    await expectClose(client, expected);
    await finish(client, job, false);
  }
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    const { client, job } = start(echo);
    await client.send(new Frame.Close(new CloseReason(code, "ok")));
    await expectClose(client, code);
    await finish(client, job, false);
  }
});

test("data after the peer's close is ignored", async () => {
  const seen: string[] = [];
  const { client, job } = start(async (s) => {
    for await (const m of s.messages()) seen.push(m as string);
  });
  await client.send(new Frame.Text("before"), new Frame.Close(), new Frame.Text("after"), new Frame.Ping());
  await expectClose(client, 1000);
  await finish(client, job, false);
  assert.deepEqual(seen, ["before"]);
});

test("maxMessageSize: a single frame or the reassembled fragments beyond it close with 1009", async () => {
  {
    const { client, job } = start(echo, { maxMessageSize: 1000 });
    await client.send(new Frame.Binary(new Uint8Array(1001)));
    await expectClose(client, CloseCode.MessageTooBig);
    await finish(client, job, false);
  }
  {
    const { client, job, session } = start(echo, { maxMessageSize: 1000 });
    await client.send(new Frame.Binary(new Uint8Array(600), false), new Frame.Continuation(new Uint8Array(401), false));
    await expectClose(client, CloseCode.MessageTooBig);
    await finish(client, job, false);
    assert.equal((await session().closeReason)?.code, 1009);
  }
  {
    const { client, job } = start(echo, { maxMessageSize: 1000 });
    await client.send(new Frame.Binary(new Uint8Array(600), false), new Frame.Continuation(new Uint8Array(400), true));
    assert.equal((await client.next())?.data.length, 1000);
    await client.send(new Frame.Close());
    await expectClose(client, 1000);
    await finish(client, job, false);
  }
});

test("a 4 MiB message in 65,536 fragments is accepted with the defaults", async () => {
  const { client, job } = start(echo);
  const piece = new Uint8Array(64).fill(7);
  const frames: Frame[] = [new Frame.Binary(piece, false)];
  for (let i = 1; i < 65_535; i++) frames.push(new Frame.Continuation(piece, false));
  frames.push(new Frame.Continuation(piece, true));
  for (let i = 0; i < frames.length; i += 4096) await client.send(...frames.slice(i, i + 4096));
  const got = await client.next();
  assert.equal(got?.data.length, 4 * 1024 * 1024);
  await client.send(new Frame.Close());
  await expectClose(client, 1000);
  await finish(client, job, false);
});

test("a handler that returns closes with 1000 and waits for the peer's close", async () => {
  const { client, job, session } = start(async (s) => {
    await s.sendText("hi");
  });
  assert.equal((await client.next())?.readText(), "hi");
  await expectClose(client, CloseCode.Normal);
  assert.equal(job.isActive, true);
  await finish(client, job);
  assert.equal((await session().closeReason)?.code, 1000);
});

test("a handler that throws closes with 1011 and is reported once the handshake is over", async () => {
  const errors: unknown[] = [];
  const boom = new Error("boom");
  const { client, job, session } = start(
    () => {
      throw boom;
    },
    {},
    { onError: (e) => errors.push(e) },
  );
  const reason = await expectClose(client, CloseCode.InternalError);
  assert.equal(reason?.message, "internal error", "no internals leak to the peer");
  await finish(client, job);
  assert.deepEqual(errors, [boom]);
  assert.equal((await session().closeReason)?.code, 1011);
});

test("our close with a silent peer: the transport is dropped after closeTimeout", async () => {
  const { client, job, session } = start(
    async (s) => {
      await s.close(new CloseReason(CloseCode.GoingAway, "restart"));
    },
    {},
    { closeTimeout: 50 },
  );
  await expectClose(client, CloseCode.GoingAway);
  await job;
  assert.deepEqual(await session().closeReason, new CloseReason(1001, "restart"));
  await assert.rejects(client.next());
});

test("a transport that drops without a close frame gives closeReason null", async () => {
  const { client, job, session } = start(echo);
  await client.send(new Frame.Text("x"));
  await client.next();
  await client.end();
  await job;
  assert.equal(await session().closeReason, null);
});

test("pingInterval sends pings; an answered ping keeps the session, a silent peer gets 1011 after timeout", async () => {
  {
    const { client, job, session } = start(echo, { pingInterval: 20, timeout: 60 });
    for (let i = 0; i < 4; i++) {
      const ping = await client.next();
      assert.ok(ping instanceof Frame.Ping, `expected a ping, got ${ping}`);
      await client.send(new Frame.Pong(ping.data));
    }
    await client.send(new Frame.Close());
    await expectClose(client, 1000);
    await finish(client, job, false);
    assert.equal((await session().closeReason)?.code, CloseCode.NoStatus);
  }
  {
    const { client, job, session } = start(echo, { pingInterval: 20, timeout: 60 });
    const reason = await expectClose(client, CloseCode.InternalError);
    assert.equal(reason?.message, "ping timeout");
    await finish(client, job);
    assert.equal((await session().closeReason)?.message, "ping timeout");
  }
});

test("frames that reached the RAW session before the default session took over are replayed", async () => {
  const p = pipe();
  let arrived!: () => void;
  const framesIn = new Promise<void>((resolve) => arrived = resolve);
  const upgrade = new WebSocketUpgrade(upgradeRequest(), null, async (raw) => {
    await framesIn; // the frames arrive meanwhile and queue in the RAW session
    await runDefaultSession(raw, echo);
  });
  const job = upgrade.upgrade(p.input, p.output);
  await p.client.send(
    new Frame.Text("early", false),
    new Frame.Continuation(hex("21"), true),
    new Frame.Ping(hex("07")),
  );
  // The server has read them (send resolves once it has), and the RAW session has not answered the ping.
  assert.equal(p.transport.bufferedAmount + p.transport.written.length, 0);
  arrived();
  const pong = await p.client.next();
  assert.ok(pong instanceof Frame.Pong);
  assert.equal((await p.client.next())?.readText(), "early!");
  await p.client.send(new Frame.Close());
  await expectClose(p.client, 1000);
  await finish(p.client, job, false);
});

test("the outgoing stream: writes send, close runs the handshake", async () => {
  const { client, job } = start(async (s) => {
    const w = s.outgoing.getWriter();
    await w.write(new Frame.Text("via stream"));
    await w.close();
  });
  assert.equal((await client.next())?.readText(), "via stream");
  await expectClose(client, 1000);
  await finish(client, job);
});

test("10,000,000 empty continuation frames do not grow memory: a message costs its bytes, not its fragments", async () => {
  let length = -1;
  const { client, job } = start(async (s) => {
    for await (const m of s.incoming) length = m.data.length;
  });
  const one = new FrameWriter({ masking: true }).encode(new Frame.Continuation(new Uint8Array(0), false));
  const perChunk = 100_000;
  const chunk = new Uint8Array(one.length * perChunk);
  for (let i = 0; i < perChunk; i++) chunk.set(one, i * one.length);
  await client.send(new Frame.Text("a", false));
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  for (let i = 0; i < 10_000_000 / perChunk; i++) {
    await client.sendBytes(chunk.slice());
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  await client.send(new Frame.Continuation(new TextEncoder().encode("b"), true));
  await until(() => length >= 0, { message: "the message to complete" });
  assert.equal(length, 2);
  const growth = (peak - before) / 1024 / 1024;
  // A list of 10,000,000 fragments would take hundreds of MiB; chunks in flight take a few.
  assert.ok(growth < 64, `heap grew by ${growth.toFixed(1)} MiB`);
  job.cancel();
});

test("a ping flood from a peer that does not read: every ping gets its pong, and reading waits while pongs are queued", async () => {
  const pings = 2000;
  const writer = new FrameWriter({ masking: true });
  const frames = Array.from(
    { length: pings },
    (_, i) => writer.encode(new Frame.Ping(new Uint8Array(125).fill(i & 255))),
  );
  const flood = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((o, f) => (flood.set(f, o), o + f.length), 0);
  const { client, transport, job, session } = start(echo, {}, { writeHighWaterMark: 16 * 1024 });
  await client.sendBytes(flood);
  await until(() => session().bufferedAmount >= 16 * 1024, { message: "pongs to fill the queue" });
  // Without the wait, all 2000 pongs (254 KB) would be queued now.
  const queued = session().bufferedAmount;
  assert.ok(queued < 16 * 1024 + 200, `${queued} bytes of pongs queued for a peer that reads nothing`);
  assert.equal(transport.paused, true, "the server stopped reading");
  for (let i = 0; i < pings; i++) {
    const pong = await client.next();
    assert.ok(pong instanceof Frame.Pong, `frame ${i}`);
    assert.deepEqual(pong.data, new Uint8Array(125).fill(i & 255));
  }
  await client.send(new Frame.Text("after the flood"));
  const after = await client.next();
  assert.ok(after instanceof Frame.Text);
  assert.equal(after.readText(), "after the flood");
  await client.send(new Frame.Close(new CloseReason(1000)));
  await expectClose(client, 1000);
  await finish(client, job, false);
});

test("maxQueuedBytes: sends that do not wait for a peer that does not read close with 1008 and SendQueueFull", async () => {
  const errors: WebSocketError[] = [];
  const { client, job, session } = start(
    async (s) => {
      for (let i = 0; i < 64; i++) {
        s.sendBinary(new Uint8Array(64 * 1024)).catch((e) => errors.push(e));
      }
      await s.closeReason;
    },
    {},
    { writeHighWaterMark: 256 * 1024, maxQueuedBytes: 1024 * 1024 },
  );
  await until(() => errors.length > 40, { message: () => `more than 40 sends to reject (${errors.length} did)` });
  for (const e of errors) {
    assert.ok(e instanceof WebSocketError);
    assert.equal(e.code, ErrorCode.SendQueueFull);
    assert.equal(e.closeCode, CloseCode.ViolatedPolicy);
  }
  assert.equal((await session().closeReason)?.code, 1008);
  // The peer gets what was queued up to the limit (sends that were waiting reject too), then the close frame.
  let binary = 0;
  for (let f = await client.next(); !(f instanceof Frame.Close); f = await client.next()) {
    assert.ok(f instanceof Frame.Binary);
    binary++;
  }
  assert.ok(binary * 64 * 1024 <= 1024 * 1024 + 64 * 1024, `${binary} frames of 64 KiB were queued`);
  assert.ok(errors.length >= 64 - binary);
  await client.end();
  await job;
});

test("maxQueuedBytes: Infinity only waits; a sender that awaits never reaches the limit", async () => {
  let rejected = 0;
  const { client, job } = start(
    async (s) => {
      for (let i = 0; i < 64; i++) s.sendBinary(new Uint8Array(64 * 1024)).catch(() => rejected++);
      for (let i = 0; i < 64; i++) await s.sendBinary(new Uint8Array(64 * 1024));
    },
    {},
    { writeHighWaterMark: 256 * 1024, maxQueuedBytes: Infinity },
  );
  let binary = 0;
  for (let f = await client.next(); !(f instanceof Frame.Close); f = await client.next()) binary++;
  assert.equal(binary, 128);
  assert.equal(rejected, 0);
  await finish(client, job);
});
