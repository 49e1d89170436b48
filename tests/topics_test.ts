/**
 * Topics on one server (`ws.subscribe`, `ws.publish`, `server.publish`) on
 * the current runtime's engine, against the `ws` package's client, plus the
 * registry alone (framed once, every subscriber gets the same bytes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { router, type ServerWebSocket, Topics, type TopicSubscriber, webSocket } from "../mod.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { until } from "./_helpers/wait.ts";
import { RawClient } from "./_helpers/raw_client.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

const serve = await engineServe();

/** A `ws` client that records what it receives. */
class Peer {
  readonly messages: { text: string | null; bytes: Uint8Array }[] = [];
  closeCode: number | null = null;
  readonly closed: Promise<number>;
  readonly ws: WsClient;

  constructor(ws: WsClient) {
    this.ws = ws;
    ws.on(
      "message",
      (data: Buffer, isBinary: boolean) =>
        this.messages.push({ text: isBinary ? null : data.toString("utf8"), bytes: new Uint8Array(data) }),
    );
    this.closed = new Promise((resolve) =>
      ws.once("close", (code: number) => {
        this.closeCode = code;
        resolve(code);
      })
    );
  }

  static async open(port: number, options: { perMessageDeflate?: boolean } = {}): Promise<Peer> {
    const ws = new WebSocketClient(`ws://127.0.0.1:${port}/ws`, undefined, {
      perMessageDeflate: options.perMessageDeflate ?? false,
    });
    const peer = new Peer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return peer;
  }

  texts(): (string | null)[] {
    return this.messages.map((m) => m.text);
  }
}

test("Topics alone: one frame for every subscriber, the publisher left out, empty topics removed", () => {
  const topics = new Topics();
  const frames: Uint8Array[] = [];
  const subscriber = (): TopicSubscriber => ({
    deliverPublished(frame: Uint8Array, opcode: number, payload: Uint8Array): number {
      frames.push(frame);
      assert.equal(opcode, 1);
      assert.equal(new TextDecoder().decode(payload), "hi");
      return frame.length;
    },
  });
  const a = subscriber(), b = subscriber(), c = subscriber();
  assert.equal(topics.subscribe(a, "room"), true);
  assert.equal(topics.subscribe(a, "room"), false, "a second subscribe changes nothing");
  topics.subscribe(b, "room");
  topics.subscribe(c, "room");
  assert.equal(topics.subscriberCount("room"), 3);
  assert.equal(topics.publish("room", "hi", a), 2);
  assert.equal(frames.length, 2);
  assert.equal(frames[0], frames[1], "the same bytes (one frame) for every subscriber");
  assert.deepEqual([...frames[0]], [0x81, 2, 0x68, 0x69]);
  for (const s of [a, b, c]) topics.unsubscribe(s, "room");
  assert.equal(topics.subscriberCount("room"), 0);
  assert.equal(topics.size, 0, "a topic without subscribers is gone");
  assert.equal(topics.publish("room", "hi"), 0);
});

test(`topics on ${runtime}: subscribe, publish to all but the sender, server.publish to all, unsubscribe, close leaves`, async () => {
  const open: ServerWebSocket<undefined>[] = [];
  const server = await serve(
    { port: 0, hostname: "127.0.0.1" },
    router([
      webSocket("/ws", {
        open(ws) {
          open.push(ws);
        },
        message(ws, data) {
          if (data === "join") {
            ws.subscribe("room");
            ws.send("joined");
          } else if (data === "leave") {
            ws.unsubscribe("room");
            ws.send(`left ${ws.isSubscribed("room")}`);
          } else {
            ws.publish("room", data);
          }
        },
      }),
    ]),
  );
  try {
    const [a, b, c] = await Promise.all([Peer.open(server.port), Peer.open(server.port), Peer.open(server.port)]);
    for (const p of [a, b, c]) p.ws.send("join");
    await until(() => [a, b, c].every((p) => p.messages.length === 1), { message: "three joins" });
    assert.equal(server.subscriberCount("room"), 3);
    assert.deepEqual(open.map((ws) => ws.subscriptions), [["room"], ["room"], ["room"]]);

    // ws.publish: everyone but the sender, in order, text and binary.
    for (let i = 0; i < 50; i++) a.ws.send(`m${i}`);
    a.ws.send(new Uint8Array([1, 2, 3]));
    await until(() => b.messages.length === 52 && c.messages.length === 52, { message: "50 + 1 published" });
    for (const p of [b, c]) {
      assert.deepEqual(p.texts().slice(1, 51), Array.from({ length: 50 }, (_, i) => `m${i}`));
      assert.equal(p.messages[51].text, null);
      assert.deepEqual([...p.messages[51].bytes], [1, 2, 3]);
    }
    assert.equal(a.messages.length, 1, "the publisher does not get its own message");

    // server.publish: every subscriber, the sender's connection included.
    assert.equal(server.publish("room", "from the server"), 3);
    await until(() => [a, b, c].every((p) => p.texts().at(-1) === "from the server"), { message: "server.publish" });

    // unsubscribe, then a close: both leave the topic.
    c.ws.send("leave");
    await until(() => c.texts().at(-1) === "left false", { message: "c left" });
    assert.equal(server.subscriberCount("room"), 2);
    b.ws.close(1000);
    await b.closed;
    await until(() => server.subscriberCount("room") === 1, { message: "b's close to leave the topic" });
    assert.equal(server.publish("room", "last"), 1);
    await until(() => a.texts().at(-1) === "last", { message: "a gets the last" });
    assert.notEqual(c.texts().at(-1), "last");
    a.ws.close(1000);
    c.ws.close(1000);
    await Promise.all([a.closed, c.closed]);
    await until(() => server.subscriberCount("room") === 0, { message: "the topic to empty" });
  } finally {
    await server.shutdown();
  }
});

test(`topics on ${runtime}: a compressing subscriber and a plain one get the same messages`, async () => {
  const { PerMessageDeflate } = await import("../mod.ts");
  const server = await serve(
    { port: 0, hostname: "127.0.0.1" },
    router([
      webSocket("/ws", {
        message(ws, data) {
          if (data === "join") {
            ws.subscribe("t");
            ws.send("joined");
          } else ws.publish("t", data);
        },
      }, { extensions: [new PerMessageDeflate({ compressIfBiggerThan: 0 })] }),
    ]),
  );
  try {
    const plain = await Peer.open(server.port);
    const deflating = await Peer.open(server.port, { perMessageDeflate: true });
    const sender = await Peer.open(server.port);
    for (const p of [plain, deflating]) p.ws.send("join");
    await until(() => plain.messages.length === 1 && deflating.messages.length === 1, { message: "joins" });
    const big = "x".repeat(70_000);
    for (let i = 0; i < 20; i++) sender.ws.send(i === 10 ? big : `n${i}`);
    await until(() => plain.messages.length === 21 && deflating.messages.length === 21, { message: "20 each" });
    assert.deepEqual(plain.texts(), deflating.texts());
    assert.equal(plain.texts()[11], big);
    for (const p of [plain, deflating, sender]) p.ws.close(1000);
    await Promise.all([plain.closed, deflating.closed, sender.closed]);
  } finally {
    await server.shutdown();
  }
});

for (const overflow of ["close", "drop"] as const) {
  test(`topics on ${runtime}: a subscriber that does not read (publishOverflow "${overflow}") never holds the others back`, async () => {
    const errors: unknown[] = [];
    let slowSocket: ServerWebSocket<undefined> | null = null;
    const server = await serve(
      { port: 0, hostname: "127.0.0.1" },
      router([
        webSocket("/ws", {
          message(ws, data) {
            if (data === "join") {
              ws.subscribe("feed");
              ws.send("joined");
            } else if (data === "slow") {
              slowSocket = ws;
              ws.send("ok");
            }
          },
          error(_ws, error) {
            errors.push(error);
          },
        }, { maxQueuedBytes: 512 * 1024, writeHighWaterMark: 64 * 1024, publishOverflow: overflow }),
      ]),
    );
    try {
      const fast = await Peer.open(server.port);
      fast.ws.send("join");
      // The slow subscriber is a raw socket client that stops reading once joined.
      const slow = await RawClient.open(server.port, { path: "/ws" });
      await slow.send([{ opcode: 1, payload: "join" }, { opcode: 1, payload: "slow" }]);
      assert.equal((await slow.next())?.opcode, 1);
      assert.equal((await slow.next())?.opcode, 1);
      await until(() => fast.messages.length === 1 && slowSocket !== null, { message: "joins" });
      slow.socket.pause();
      const chunk = "y".repeat(16 * 1024);
      let published = 0;
      // Publish until the slow subscriber is behind its limit (closed, or skipped), with a deadline; a
      // little at a time, so that the fast subscriber keeps up on every engine.
      await until(() => {
        for (let i = 0; i < 4; i++) server.publish("feed", `${published++} ${chunk}`);
        return overflow === "close" ? slowSocket!.readyState !== 1 : slowSocket!.droppedMessages > 0;
      }, { timeout: 20_000, message: "the slow subscriber to overflow" });
      // The fast one gets everything, in order.
      await until(() => fast.messages.length === 1 + published, { timeout: 20_000, message: "every message to fast" });
      const numbers = fast.texts().slice(1).map((t) => Number(t!.split(" ")[0]));
      assert.deepEqual(numbers, Array.from({ length: published }, (_, i) => i));
      slow.socket.resume();
      if (overflow === "close") {
        let frame = await slow.next(20_000);
        while (frame !== null && frame.opcode !== 8) frame = await slow.next(20_000);
        assert.ok(frame !== null, "a close frame");
        assert.equal((frame.payload[0] << 8) | frame.payload[1], 1008, "the slow subscriber is closed with 1008");
        slow.close();
      } else {
        assert.equal(slowSocket!.readyState, 1, "the slow subscriber stays open");
        assert.ok(errors.length >= 1, "the error handler is told");
        assert.equal((errors[0] as { code: string }).code, "WS_ERR_SEND_QUEUE_FULL");
        slow.close();
      }
      fast.ws.close(1000);
      await fast.closed;
    } finally {
      await server.shutdown();
    }
  });
}

test(`topics on ${runtime}: default sessions (for await) subscribe and publish beside handler connections`, async () => {
  const server = await serve(
    { port: 0, hostname: "127.0.0.1" },
    router([
      webSocket("/ws", null, async (session) => {
        session.subscribe("mixed");
        await session.sendText(`subscribed ${session.isSubscribed("mixed")} ${session.subscriptions.join(",")}`);
        for await (const message of session.messages()) {
          if (message === "leave") {
            session.unsubscribe("mixed");
            await session.sendText("left");
          } else session.publish("mixed", message);
        }
      }),
      webSocket("/h", {
        open(ws) {
          ws.subscribe("mixed");
          ws.send("subscribed");
        },
        message(ws, data) {
          ws.publish("mixed", data);
        },
      }),
    ]),
  );
  try {
    const s1 = await Peer.open(server.port);
    const s2 = await Peer.open(server.port);
    const ws = new WebSocketClient(`ws://127.0.0.1:${server.port}/h`);
    const h = new Peer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    await until(() => [s1, s2, h].every((p) => p.messages.length === 1), { message: "three subscribed" });
    assert.equal(s1.texts()[0], "subscribed true mixed");
    assert.equal(server.subscriberCount("mixed"), 3);
    s1.ws.send("from a session");
    h.ws.send(new Uint8Array([9, 8, 7]));
    await until(() => s2.messages.length === 3 && h.messages.length === 2 && s1.messages.length === 2, {
      message: "both publishes",
    });
    assert.equal(h.texts()[1], "from a session");
    assert.deepEqual([...s1.messages[1].bytes], [9, 8, 7]);
    s2.ws.send("leave");
    await until(() => s2.texts().at(-1) === "left", { message: "s2 left" });
    assert.equal(server.subscriberCount("mixed"), 2);
    s1.ws.close(1000);
    await s1.closed;
    await until(() => server.subscriberCount("mixed") === 1, { message: "a closed session to leave its topics" });
    for (const p of [s2, h]) p.ws.close(1000);
    await Promise.all([s2.closed, h.closed]);
  } finally {
    await server.shutdown();
  }
});
