/**
 * The Redis backplane (`@hybi/websocket/redis`) against a real
 * `redis-server`: two servers in one process, each with its own Redis
 * clients, carry each other's publishes (text and binary, in order, once);
 * a Redis outage mid-traffic (local delivery goes on, failures counted, the
 * clients reconnect and resubscribe by themselves); Redis offline at start.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { createClient } from "redis";
import { router, Topics, type TopicSubscriber, webSocket } from "../mod.ts";
import type { Backplane } from "../src/topics.ts";
import type { Server } from "../src/http/serve_types.ts";
import { createRedisBackplane, type RedisBackplane, type RedisClientLike } from "../src/redis.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { freePort, RedisServer, redisSkip } from "./_helpers/redis_server.ts";
import { settled, until } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

const serve = await engineServe();

/** `server.topics` (every engine's server has it; the `Server` type does not declare it yet). */
function topicsOf(server: Server): Topics {
  return (server as unknown as { topics: Topics }).topics;
}
const skip = redisSkip;

let redis: RedisServer | null = null;
before(async () => {
  if (!skip) redis = await RedisServer.start();
});
after(async () => {
  await redis?.dispose();
});

/** A `ws` client that records what it receives. */
class Peer {
  readonly messages: { text: string | null; bytes: Uint8Array }[] = [];
  readonly closed: Promise<number>;
  readonly ws: WsClient;

  constructor(ws: WsClient) {
    this.ws = ws;
    ws.on(
      "message",
      (data: Buffer, isBinary: boolean) =>
        this.messages.push({ text: isBinary ? null : data.toString("utf8"), bytes: new Uint8Array(data) }),
    );
    this.closed = new Promise((resolve) => ws.once("close", (code: number) => resolve(code)));
  }

  static async open(port: number): Promise<Peer> {
    const ws = new WebSocketClient(`ws://127.0.0.1:${port}/ws`, undefined, { perMessageDeflate: false });
    const peer = new Peer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return peer;
  }

  async join(topic = "room"): Promise<void> {
    const before = this.messages.length;
    this.ws.send(topic === "room" ? "join" : `join ${topic}`);
    await until(() => this.messages.slice(before).some((m) => m.text === "joined"), { message: "joined" });
  }

  /** What it got, probes and the join left out: texts, and binaries as `bin:` + bytes. */
  got(): string[] {
    return this.messages
      .map((m) => m.text ?? `bin:${[...m.bytes].join(",")}`)
      .filter((t) => t !== "joined" && !t.startsWith("probe"));
  }

  async close(): Promise<void> {
    this.ws.close(1000);
    await this.closed;
  }
}

/** A server whose `/ws` subscribes on "join" and publishes anything else to "room", with a Redis backplane. */
class Node {
  readonly server: Server;
  readonly backplane: RedisBackplane;
  readonly publisher: RedisClientLike;
  readonly subscriber: RedisClientLike;
  readonly errors: string[] = [];

  private constructor(
    server: Server,
    backplane: RedisBackplane,
    publisher: RedisClientLike,
    subscriber: RedisClientLike,
  ) {
    this.server = server;
    this.backplane = backplane;
    this.publisher = publisher;
    this.subscriber = subscriber;
    backplane.addEventListener("error", (e) => this.errors.push((e as unknown as { failure: string }).failure));
  }

  static async start(url: string): Promise<Node> {
    const server = await serve(
      { port: 0, hostname: "127.0.0.1" },
      router([
        webSocket("/ws", {
          message(ws, data) {
            if (typeof data === "string" && data.startsWith("join")) {
              ws.subscribe(data === "join" ? "room" : data.slice(5));
              ws.send("joined");
            } else ws.publish("room", data);
          },
        }),
      ]),
    );
    const publisher = createClient({
      url,
      socket: { reconnectStrategy: (retries) => Math.min(20 + retries * 20, 200) },
    });
    const subscriber = publisher.duplicate();
    try {
      const backplane = await createRedisBackplane(topicsOf(server), {
        publisher,
        subscriber,
        channelPrefix: "test:",
      });
      return new Node(server, backplane, publisher, subscriber);
    } catch (error) {
      await server.shutdown();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.backplane.close();
    this.publisher.destroy();
    this.subscriber.destroy();
    await this.server.shutdown();
  }
}

/** Publishes probes from `from` until `to` has a new one: `from` publishes, and `to`'s process is subscribed. */
async function probe(from: Node, to: Peer, timeout = 10_000, topic = "room"): Promise<void> {
  const start = to.messages.length;
  let n = 0;
  await until(() => {
    from.server.publish(topic, `probe ${n++}`);
    return to.messages.slice(start).some((m) => m.text?.startsWith("probe"));
  }, { timeout, interval: 50, message: "a probe across Redis" });
}

async function numSub(url: string, channel: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    const reply = await client.sendCommand(["PUBSUB", "NUMSUB", channel]) as unknown[];
    return Number(reply[1]);
  } finally {
    client.destroy();
  }
}

test("Topics and a backplane: first/last subscriber told, local publishes forwarded, remote ones delivered locally only", () => {
  const topics = new Topics();
  const calls: string[] = [];
  const backplane: Backplane = {
    topicAdded: (topic) => calls.push(`+${topic}`),
    topicRemoved: (topic) => calls.push(`-${topic}`),
    publish: (topic, opcode, payload) => calls.push(`pub ${topic} ${opcode} ${[...payload].join(",")}`),
  };
  const got: string[] = [];
  const subscriber = (name: string): TopicSubscriber => ({
    deliverPublished(frame: Uint8Array, opcode: number, payload: Uint8Array): number {
      got.push(`${name} ${opcode} ${[...payload].join(",")}`);
      return frame.length;
    },
  });
  const a = subscriber("a"), b = subscriber("b");
  topics.subscribe(a, "old");
  topics.setBackplane(backplane);
  assert.equal(topics.backplane, backplane);
  assert.deepEqual(calls.splice(0), ["+old"], "the topics already there are told at once");
  topics.subscribe(a, "room");
  topics.subscribe(b, "room");
  topics.subscribe(b, "room");
  assert.deepEqual(calls.splice(0), ["+room"], "only the first subscriber");
  assert.equal(topics.publish("room", "hi", a), 1);
  assert.equal(topics.publish("nobody", new Uint8Array([7])), 0);
  assert.deepEqual(
    calls.splice(0),
    ["pub room 1 104,105", "pub nobody 2 7"],
    "forwarded, with or without local subscribers",
  );
  assert.deepEqual(got.splice(0), ["b 1 104,105"]);
  assert.equal(topics.deliverRemote("room", 2, new Uint8Array([1, 2])), 2);
  assert.equal(topics.deliverRemote("nobody", 1, new Uint8Array([1])), 0);
  assert.deepEqual(got.splice(0), ["a 2 1,2", "b 2 1,2"], "to every local subscriber");
  assert.deepEqual(calls, [], "a remote message is not forwarded again");
  topics.unsubscribe(a, "room");
  assert.deepEqual(calls, []);
  topics.unsubscribe(b, "room");
  assert.deepEqual(calls.splice(0), ["-room"], "only the last subscriber");
  topics.setBackplane(null);
  assert.deepEqual(calls.splice(0), ["-old"], "a detached backplane drops every topic");
  topics.publish("old", "x");
  assert.deepEqual(calls, []);
});

test(
  `redis backplane on ${runtime}: a publish on one server reaches the other's subscribers, text and binary, in order, once`,
  {
    skip,
  },
  async () => {
    const a = await Node.start(redis!.url);
    const b = await Node.start(redis!.url);
    try {
      assert.equal(await numSub(redis!.url, "test:room"), 0, "no subscription without local subscribers");
      const a1 = await Peer.open(a.server.port);
      const b1 = await Peer.open(b.server.port);
      const sender = await Peer.open(b.server.port);
      await a1.join();
      await b1.join();
      await probe(b, a1);
      await probe(a, b1);
      await until(async () => (await numSub(redis!.url, "test:room")) === 2, { message: "one subscription each" });

      const expected: string[] = [];
      for (let i = 0; i < 100; i++) {
        if (i % 10 === 5) {
          sender.ws.send(new Uint8Array([i, 0, 255, 0xc3]));
          expected.push(`bin:${i},0,255,195`);
        } else {
          sender.ws.send(`m${i} é`);
          expected.push(`m${i} é`);
        }
      }
      const big = "z".repeat(100_000);
      sender.ws.send(big);
      expected.push(big);
      await until(() => a1.got().length >= expected.length && b1.got().length >= expected.length, {
        message: () => `all on both (a1 ${a1.got().length}, b1 ${b1.got().length})`,
      });
      assert.equal(a.server.publish("room", "from a"), 1);
      expected.push("from a");
      await until(() => a1.got().length === expected.length && b1.got().length === expected.length, {
        message: "server.publish on a",
      });
      // Nothing more arrives: no echo of a process's own publishes.
      await settled(() => a1.messages.length + b1.messages.length, { quiet: 300 });
      assert.deepEqual(a1.got(), expected, "the other server's subscriber: everything, in order, once");
      assert.deepEqual(b1.got(), expected, "the local subscriber: everything, in order, once");
      assert.equal(sender.messages.length, 0, "the sender is not subscribed");
      assert.equal(a.backplane.failedPublishes + b.backplane.failedPublishes, 0);

      // The last local subscriber leaves: the process leaves the channel.
      await a1.close();
      await until(() => a.backplane.topics.length === 0, { message: "a's backplane to drop the topic" });
      await until(async () => (await numSub(redis!.url, "test:room")) === 1, { message: "a to unsubscribe" });
      await Promise.all([b1.close(), sender.close()]);
      await until(async () => (await numSub(redis!.url, "test:room")) === 0, { message: "b to unsubscribe" });
    } finally {
      await a.stop();
      await b.stop();
    }
  },
);

test(
  `redis backplane on ${runtime}: Redis stops mid-traffic and comes back; local delivery goes on, failures counted, resubscribed`,
  {
    skip,
  },
  async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const a = await Node.start(redis!.url);
    const b = await Node.start(redis!.url);
    try {
      const a1 = await Peer.open(a.server.port);
      const b1 = await Peer.open(b.server.port);
      await a1.join();
      await b1.join();
      await probe(b, a1);
      for (let i = 0; i < 20; i++) b.server.publish("room", `before ${i}`);
      await until(() => a1.got().length === 20, { message: "the traffic before" });

      await redis!.stop();
      await until(() => !b.publisher.isReady && !a.subscriber.isReady, { message: "the clients to see Redis go" });
      for (let i = 0; i < 5; i++) assert.equal(b.server.publish("room", `down ${i}`), 1, "delivered locally");
      assert.equal(b.backplane.failedPublishes, 5);
      assert.equal(b.errors.filter((e) => e === "publish").length, 5, "an error event per failed publish");
      await until(() => b1.got().length === 25, { message: "local delivery while Redis is down" });
      // A topic that gets its first local subscriber while Redis is down is subscribed once it is back.
      const a2 = await Peer.open(a.server.port);
      await a2.join("late");
      assert.deepEqual(a.backplane.topics.sort(), ["late", "room"]);

      await redis!.restart();
      // Nobody subscribes again by hand: the clients reconnect and resubscribe.
      await probe(b, a1, 15_000);
      await probe(a, b1, 15_000);
      await probe(b, a2, 15_000, "late");
      // Probes published before the publisher was back failed too; none fails from here on.
      const failedBefore = b.backplane.failedPublishes;
      assert.ok(failedBefore >= 5);
      for (let i = 0; i < 20; i++) b.server.publish("room", `after ${i}`);
      await until(() => a1.got().length === 40, {
        message: () =>
          `the traffic after (a1 ${a1.got().length}, failed ${b.backplane.failedPublishes}, published ${b.backplane.publishedMessages}, errors ${
            b.errors.join(" ")
          }, a received ${a.backplane.receivedMessages}, ready ${b.publisher.isReady} ${a.subscriber.isReady})`,
      });
      assert.deepEqual(
        a1.got(),
        [...Array.from({ length: 20 }, (_, i) => `before ${i}`), ...Array.from({ length: 20 }, (_, i) => `after ${i}`)],
      );
      assert.deepEqual(b1.got().slice(20, 25), Array.from({ length: 5 }, (_, i) => `down ${i}`));
      assert.equal(b.backplane.failedPublishes, failedBefore, "no failure once back");
      await Promise.all([a1.close(), b1.close(), a2.close()]);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      if (redis !== null) await redis.restart().catch(() => {});
      await a.stop();
      await b.stop();
    }
  },
);

test(
  `redis backplane on ${runtime}: Redis offline at start is a clear error at creation, not a hang`,
  { skip },
  async () => {
    const port = await freePort();
    const server = await serve({ port: 0, hostname: "127.0.0.1" }, router([webSocket("/ws", {})]));
    try {
      const publisher = createClient({ url: `redis://127.0.0.1:${port}` });
      const subscriber = publisher.duplicate();
      const started = Date.now();
      await assert.rejects(
        createRedisBackplane(topicsOf(server), {
          publisher,
          subscriber,
          connectTimeout: 1500,
        }),
        /Redis backplane: Redis is unreachable \(not ready within 1500 ms\)/,
      );
      assert.ok(Date.now() - started < 5000, "within a few seconds");
      assert.equal(publisher.isOpen, false, "the clients it started are closed again");
      assert.equal(subscriber.isOpen, false);
      assert.equal(topicsOf(server).backplane, null);
    } finally {
      await server.shutdown();
    }
  },
);
