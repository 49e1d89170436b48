import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CloseCode,
  CloseReason,
  ErrorCode,
  Frame,
  type RawWebSocketSession,
  WebSocketError,
  WebSocketUpgrade,
  type WebSocketUpgradeOptions,
} from "../mod.ts";
import { hex, type Pipe, pipe, streamPipe, type TransportPipe, upgradeRequest } from "./_helpers/client.ts";
import { delay, until } from "./_helpers/wait.ts";

/** Runs `handle` on a RAW session over `p` (an engine's transport by default). */
function start<P extends Pipe = TransportPipe>(
  handle: (s: RawWebSocketSession) => Promise<void> | void,
  options: WebSocketUpgradeOptions = {},
  contexts: { engine?: AbortSignal; user?: AbortSignal } = {},
  p: P = pipe() as Pipe as P,
) {
  const upgrade = new WebSocketUpgrade(upgradeRequest(), null, handle, options);
  const job = upgrade.upgrade(p.input, p.output, { signal: contexts.engine }, { signal: contexts.user });
  return { ...p, job };
}

async function echo(session: RawWebSocketSession): Promise<void> {
  for await (const frame of session.incoming) {
    if (frame instanceof Frame.Close) {
      await session.send(frame);
      return;
    }
    await session.send(frame);
  }
}

// Over an engine's streams (a transport under TRANSPORT) and over plain web streams (the StreamTransport fallback).
for (const [over, connect] of [["an engine's transport", pipe], ["plain web streams", streamPipe]] as const) {
  test(`an in-memory client and a RAW echo exchange text, binary, fragments, ping and close, over ${over}`, async () => {
    const { client, job } = start(echo, {}, {}, connect());
    assert.equal(job.isActive, true);
    await client.send(new Frame.Text("héllo"));
    const text = await client.next();
    assert.ok(text instanceof Frame.Text);
    assert.equal(text.readText(), "héllo");

    const bytes = new Uint8Array(70_000).map((_, i) => i & 255);
    await client.send(new Frame.Binary(bytes));
    const bin = await client.next();
    assert.ok(bin instanceof Frame.Binary);
    assert.deepEqual(bin.data, bytes);

    // RAW: fragments and pings come through as they are; no reassembly, no auto-pong.
    await client.send(
      new Frame.Text("ab", false),
      new Frame.Ping(hex("01 02")),
      new Frame.Continuation(hex("63"), true),
    );
    const got = [await client.next(), await client.next(), await client.next()];
    assert.ok(got[0] instanceof Frame.Text && got[0].fin === false);
    assert.ok(got[1] instanceof Frame.Ping);
    assert.deepEqual(got[1].data, hex("01 02"));
    assert.ok(got[2] instanceof Frame.Continuation && got[2].fin);

    await client.send(new Frame.Close(new CloseReason(CloseCode.Normal, "done")));
    const close = await client.next();
    assert.ok(close instanceof Frame.Close);
    assert.equal(close.readReason()?.code, 1000);
    assert.equal(close.readReason()?.message, "done");
    // The handler returned: the server ends its output, then the client ends its own.
    assert.equal(await client.next(), null);
    await client.end();
    await job;
    assert.equal(job.isActive, false);
    assert.equal(job.isCancelled, false);
  });
}

test("over an engine's streams the session runs on their transport: a turn's sends go out in one write after its promise reactions, and written batches are handed back", async () => {
  // Three sends separated by promise reactions but by no I/O.
  const burst = async (session: RawWebSocketSession, tag: string) => {
    for (const part of ["a", "b", "c"]) {
      await session.send(new Frame.Text(`${tag}${part}`));
      for (let i = 0; i < 20; i++) await null;
    }
  };
  const handler = async (session: RawWebSocketSession) => {
    for await (const frame of session.incoming) {
      if (frame instanceof Frame.Close) return await session.close();
      await burst(session, frame.readText());
    }
  };
  const engine = start(handler);
  for (const tag of ["1", "2"]) {
    await engine.client.send(new Frame.Text(tag));
    const before = engine.client.received.length;
    const texts = [await engine.client.next(), await engine.client.next(), await engine.client.next()];
    assert.deepEqual(texts.map((f) => f?.readText()), [`${tag}a`, `${tag}b`, `${tag}c`]);
    // The transport's defer runs once the microtask queue is empty: one write for the three.
    assert.equal(engine.client.received.length - before, 1, "one write per burst");
  }
  assert.equal(engine.transport.bufferedAmount, 0);
  // Connection passed its batches with a `done` callback, as to an engine's socket (streams pass none).
  await until(() => engine.transport.handedBack >= 2, { message: "both batches handed back through done" });
  await engine.client.send(new Frame.Close());
  assert.ok((await engine.client.next()) instanceof Frame.Close);
  assert.equal(await engine.client.next(), null);
  await engine.client.end();
  await engine.job;

  // Over plain web streams StreamTransport has no defer: the batch goes after a few quiet microtask turns.
  const plain = start(handler, {}, {}, streamPipe());
  await plain.client.send(new Frame.Text("3"));
  const texts = [await plain.client.next(), await plain.client.next(), await plain.client.next()];
  assert.deepEqual(texts.map((f) => f?.readText()), ["3a", "3b", "3c"]);
  assert.equal(plain.client.received.length, 3, "one write per send");
  await plain.client.send(new Frame.Close());
  assert.ok((await plain.client.next()) instanceof Frame.Close);
  await plain.client.end();
  await plain.job;
});

test("a protocol violation closes with its code and the handler sees the error after earlier frames", async () => {
  let seen: Frame[] = [];
  let failure: unknown;
  const { client, job } = start(async (session) => {
    try {
      for await (const f of session.incoming) seen.push(f);
    } catch (e) {
      failure = e;
    }
  });
  await client.send(new Frame.Text("first"));
  await client.sendBytes(hex("81 05 48 65 6c 6c 6f")); // unmasked
  const close = await client.next();
  assert.ok(close instanceof Frame.Close);
  assert.equal(close.readReason()?.code, CloseCode.ProtocolError);
  assert.equal(await client.next(), null, "the server closes after the close frame");
  await client.end();
  await job;
  assert.deepEqual(seen.map((f) => f.readText()), ["first"]);
  assert.ok(failure instanceof WebSocketError);
  assert.equal(failure.code, ErrorCode.UnmaskedFrame);
  assert.equal(failure.closeCode, 1002);
  seen = [];
});

test("a frame over maxFrameSize closes with 1009", async () => {
  const { client, job } = start(echo, { maxFrameSize: 1024 });
  await client.send(new Frame.Binary(new Uint8Array(1025)));
  const close = await client.next();
  assert.ok(close instanceof Frame.Close);
  assert.equal(close.readReason()?.code, CloseCode.MessageTooBig);
  await client.end();
  await job;
});

for (const which of ["engine", "user"] as const) {
  test(`aborting the ${which} context closes with 1001, waits for the peer's close, and ends the job`, async () => {
    const controller = new AbortController();
    let sessionSignal: AbortSignal | undefined;
    const frames: Frame[] = [];
    const { client, job } = start(
      async (session) => {
        sessionSignal = session.signal;
        for await (const f of session.incoming) frames.push(f);
      },
      {},
      which === "engine" ? { engine: controller.signal } : { user: controller.signal },
    );
    await client.send(new Frame.Text("x"));
    await until(() => frames.length === 1, { message: "the handler to get the text frame" });
    controller.abort(new Error("shutdown"));
    const close = await client.next();
    assert.ok(close instanceof Frame.Close);
    assert.equal(close.readReason()?.code, CloseCode.GoingAway);
    assert.equal(job.isActive, true, "the job waits for the close handshake");
    await client.send(new Frame.Close(new CloseReason(CloseCode.GoingAway)));
    assert.equal(await client.next(), null, "the server closes the transport after the handshake");
    await client.end();
    await job;
    assert.equal(job.isActive, false);
    assert.equal(sessionSignal?.aborted, true);
    assert.equal(job.signal.aborted, true);
    assert.deepEqual(frames.map((f) => f.constructor), [Frame.Text, Frame.Close]);
  });
}

test("an aborted context with a silent peer drops the connection after closeTimeout", async () => {
  const controller = new AbortController();
  const { client, job } = start(
    async (s) => {
      for await (const _ of s.incoming) { /* wait */ }
    },
    { closeTimeout: 50 },
    { engine: controller.signal },
  );
  controller.abort();
  assert.ok((await client.next()) instanceof Frame.Close);
  await job;
  await assert.rejects(client.next());
});

test("job.cancel() drops the connection at once", async () => {
  let sessionSignal: AbortSignal | undefined;
  let frames = 0;
  const { client, job } = start(async (session) => {
    sessionSignal = session.signal;
    for await (const _ of session.incoming) frames++;
  });
  await client.send(new Frame.Text("x"));
  await until(() => frames === 1, { message: "the handler to get the text frame" });
  const reason = new Error("stop");
  job.cancel(reason);
  await job;
  assert.equal(job.isCancelled, true);
  assert.equal(job.signal.reason, reason);
  assert.equal(sessionSignal?.aborted, true);
  await assert.rejects(client.next());
});

test("an already-aborted signal starts the close handshake at once", async () => {
  const { client, job } = start(
    async (s) => {
      for await (const _ of s.incoming) { /* wait */ }
    },
    {},
    { user: AbortSignal.abort() },
  );
  const close = await client.next();
  assert.equal((close as InstanceType<typeof Frame.Close>).readReason()?.code, CloseCode.GoingAway);
  await client.send(new Frame.Close());
  await client.end();
  await job;
  assert.equal(job.isActive, false);
});

test("a handler that throws is reported and the output is aborted", async () => {
  const errors: unknown[] = [];
  const boom = new Error("boom");
  const { client, job } = start(() => {
    throw boom;
  }, { onError: (e) => errors.push(e) });
  await job;
  assert.deepEqual(errors, [boom]);
  await assert.rejects(client.next());
});

test("a peer that disconnects mid-frame ends the session and the job", async () => {
  let ended = false;
  const { client, job } = start(async (session) => {
    for await (const _ of session.incoming) { /* nothing arrives whole */ }
    ended = true;
  });
  await client.sendBytes(hex("82 fe 01 00 01 02 03 04 05 06")); // 256 bytes announced, 2 sent
  await client.end();
  await job;
  assert.equal(ended, true);
});

test("a peer whose transport fails ends the session with ConnectionLost", async () => {
  let failure: unknown;
  const { client, job } = start(async (session) => {
    try {
      for await (const _ of session.incoming) { /* wait */ }
    } catch (e) {
      failure = e;
    }
  });
  await client.sendBytes(hex("82 85 01 02"));
  await client.abort(new Error("reset"));
  await job;
  assert.ok(failure instanceof WebSocketError);
  assert.equal(failure.code, ErrorCode.ConnectionLost);
});

test("send waits while the peer does not read, and resumes when it does", async () => {
  let sent = 0;
  let done = false;
  const chunk = new Uint8Array(256 * 1024);
  const { client, job, transport } = start(async (session) => {
    for (let i = 0; i < 16; i++) {
      await session.send(new Frame.Binary(chunk));
      sent++;
    }
    done = true;
  }, { writeHighWaterMark: 1024 * 1024 });
  await until(() => transport.bufferedAmount >= 1024 * 1024, { message: "the queue to reach the high-water mark" });
  const waiting = sent;
  // The sender makes no progress while the peer reads nothing (sends would resolve in microtasks).
  await delay(20); // negative check: nothing may happen in this time
  assert.equal(sent, waiting, "the sender went on while the peer read nothing");
  assert.ok(sent < 16, `sent ${sent} frames of 256 KiB to a peer that reads nothing`);
  assert.equal(done, false);
  let frames = 0;
  for (let f = await client.next(); f !== null; f = await client.next()) frames++;
  assert.equal(frames, 16);
  assert.equal(done, true);
  await client.end();
  await job;
});

test("sending after a close frame or after the end rejects with SessionClosed, never unhandled", async () => {
  let session!: RawWebSocketSession;
  const { client, job } = start(async (s) => {
    session = s;
    await s.close(new CloseReason(CloseCode.GoingAway, "bye"));
    await assert.rejects(
      s.send(new Frame.Text("late")),
      (e: unknown) => e instanceof WebSocketError && e.code === ErrorCode.SessionClosed,
    );
  });
  const close = await client.next();
  assert.ok(close instanceof Frame.Close);
  assert.equal(close.readReason()?.code, 1001);
  await client.end();
  await job;
  // Fire and forget after the end: the rejection is marked handled.
  void session.send(new Frame.Text("after the end"));
  await assert.rejects(session.send(new Frame.Text("after the end")));
});

test("incoming as a plain ReadableStream reader, and outgoing as a WritableStream", async () => {
  const { client, job } = start(async (session) => {
    const reader = session.incoming.getReader();
    const writer = session.outgoing.getWriter();
    for (;;) {
      const { value, done } = await reader.read();
      if (done || value instanceof Frame.Close) break;
      await writer.write(value);
    }
    await writer.close();
  });
  await client.send(new Frame.Text("one"), new Frame.Text("two"));
  assert.equal((await client.next())?.readText(), "one");
  assert.equal((await client.next())?.readText(), "two");
  await client.send(new Frame.Close());
  assert.equal(await client.next(), null);
  await client.end();
  await job;
});

test("breaking out of for-await keeps the session: a second loop gets the later frames", async () => {
  const { client, job } = start(async (session) => {
    for await (const f of session.incoming) {
      await session.send(new Frame.Text("first:" + f.readText()));
      break;
    }
    for await (const f of session.incoming) {
      if (f instanceof Frame.Close) return;
      await session.send(new Frame.Text("second:" + f.readText()));
    }
  });
  await client.send(new Frame.Text("a"));
  assert.equal((await client.next())?.readText(), "first:a");
  await client.send(new Frame.Text("b"));
  assert.equal((await client.next())?.readText(), "second:b");
  await client.send(new Frame.Close());
  assert.equal(await client.next(), null);
  await client.end();
  await job;
});

test("for await over the RAW session reads the frames without a stream; leaving the loop keeps the session", async () => {
  let lockedError: unknown = null;
  const { client, job } = start(async (session) => {
    for await (const f of session) {
      await session.send(new Frame.Text("first:" + f.readText()));
      break;
    }
    // The stream and the direct iteration are one reader at a time.
    const reader = session.incoming.getReader();
    try {
      session[Symbol.asyncIterator]();
    } catch (e) {
      lockedError = e;
    }
    reader.releaseLock();
    for await (const f of session) {
      if (f instanceof Frame.Close) return;
      await session.send(new Frame.Text("second:" + f.readText()));
    }
  });
  await client.send(new Frame.Text("a"));
  assert.equal((await client.next())?.readText(), "first:a");
  await client.send(new Frame.Text("b"));
  assert.equal((await client.next())?.readText(), "second:b");
  assert.ok(lockedError instanceof TypeError, "iterating while the stream is locked throws");
  await client.send(new Frame.Close());
  assert.equal(await client.next(), null);
  await client.end();
  await job;
});

test("upgrade() may be called only once", () => {
  const p = pipe();
  const upgrade = new WebSocketUpgrade(upgradeRequest(), null, () => {});
  const job = upgrade.upgrade(p.input, p.output);
  assert.throws(() => upgrade.upgrade(p.input, p.output), TypeError);
  job.cancel();
});
