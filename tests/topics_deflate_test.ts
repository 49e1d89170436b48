/**
 * Topics with permessage-deflate on the current runtime's engine: a
 * published message is compressed once for every subscriber whose server
 * side has no context takeover (the same window and level), per connection
 * for the others, and sent plain to those without the extension; everyone
 * gets every message, identical, in order, also behind a large message of
 * its own still being compressed; the slow-subscriber policy holds for
 * shared frames. Peers: the `ws` package's client (with and without
 * `serverNoContextTakeover`), and a raw client that sees the frames on the
 * wire (RSV1, the compressed bytes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import { PerMessageDeflate, router, type ServerWebSocket, webSocket } from "../mod.ts";
import { sharedDeflater } from "../src/extensions/shared_deflater.ts";
import { deflateMessageSync, loadZlib, MessageDeflater } from "../src/extensions/deflate_codec.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { until } from "./_helpers/wait.ts";
import { RawClient } from "./_helpers/raw_client.ts";
import { WebSocketClient, type WsClient, type WsDeflateOptions } from "./_helpers/ws_client.ts";
import { seededBytes } from "./_helpers/seeded_bytes.ts";

const serve = await engineServe();
const decoder = new TextDecoder();

/** A `ws` client that records the texts it receives. */
class Peer {
  readonly texts: string[] = [];
  readonly ws: WsClient;
  readonly closed: Promise<number>;

  constructor(ws: WsClient) {
    this.ws = ws;
    ws.on("message", (data: Buffer) => this.texts.push(data.toString("utf8")));
    this.closed = new Promise((resolve) => ws.once("close", (code: number) => resolve(code)));
  }

  static async open(port: number, perMessageDeflate: boolean | WsDeflateOptions): Promise<Peer> {
    const ws = new WebSocketClient(`ws://127.0.0.1:${port}/ws`, undefined, { perMessageDeflate });
    const peer = new Peer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    return peer;
  }
}

/** ~1 KiB of JSON, different for each `i`: what a chat or a feed publishes. */
function json(i: number): string {
  const items = Array.from({ length: 12 }, (_, k) => ({ id: i * 100 + k, user: `user${(i + k) % 7}`, text: "hello" }));
  return JSON.stringify({ seq: i, items });
}

/** Text that compresses poorly (hex of pseudo-random bytes), so compressed frames still fill queues. */
function noise(bytes: number, seed: number): string {
  return Array.from(seededBytes(bytes / 2, seed), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A server whose sockets join topic "t" on "join"; "big" sends the sender a large message, then publishes. */
async function topicServer(deflate: PerMessageDeflate, big: string, after: string[]) {
  const sockets: ServerWebSocket<undefined>[] = [];
  const server = await serve(
    { port: 0, hostname: "127.0.0.1" },
    router([
      webSocket("/ws", {
        open(ws) {
          sockets.push(ws);
        },
        message(ws, data) {
          if (data === "join") {
            ws.subscribe("t");
            ws.send("joined");
          } else if (data === "big") {
            // The large message is still being compressed for this connection when these are published.
            ws.send(big);
            for (const m of after) server.publish("t", m);
          }
        },
      }, { extensions: [deflate] }),
    ]),
  );
  return { server, sockets };
}

test(`shared deflate on ${runtime}: a small message compressed synchronously is the same bytes as through the stream`, async () => {
  await loadZlib();
  for (const [windowBits, level, memLevel] of [[15, 6, 8], [9, 1, 1], [8, 9, 9], [12, 0, 8]]) {
    const options = { windowBits, level, memLevel, noContextTakeover: true };
    const deflater = new MessageDeflater(options);
    for (const message of [json(3), noise(4000, 5), "a", json(4).repeat(10)]) {
      const bytes = new TextEncoder().encode(message);
      const viaStream = await deflater.deflate(bytes, true);
      assert.deepEqual(deflateMessageSync(bytes, options), viaStream, `${windowBits}/${level}/${memLevel}`);
    }
    deflater.dispose();
  }
});

test(`topics + deflate on ${runtime}: shared compression for server_no_context_takeover subscribers, per connection for the others, plain for the rest`, async () => {
  const deflate = new PerMessageDeflate({ compressIfBiggerThan: 64 });
  const { server } = await topicServer(deflate, "", []);
  try {
    const sharing = await Promise.all(
      [1, 2, 3].map(() => Peer.open(server.port, { serverNoContextTakeover: true, threshold: 0 })),
    );
    const own = await Promise.all([1, 2].map(() => Peer.open(server.port, { threshold: 0 })));
    const plain = await Peer.open(server.port, false);
    const all = [...sharing, ...own, plain];
    for (const p of sharing) assert.equal(p.ws.extensions, "permessage-deflate");
    assert.equal(plain.ws.extensions, "");
    for (const p of all) p.ws.send("join");
    await until(() => all.every((p) => p.texts.length === 1), { message: "six joins" });

    // Raw clients see the frames: two that share, one with context takeover.
    const rawSharing = await Promise.all(
      [1, 2].map(() =>
        RawClient.open(server.port, { path: "/ws", deflate: "permessage-deflate; server_no_context_takeover" })
      ),
    );
    const rawOwn = await RawClient.open(server.port, { path: "/ws", deflate: "permessage-deflate" });
    for (const r of [...rawSharing, rawOwn]) {
      await r.sendMessage(1, new TextEncoder().encode("join"), { compress: false });
      assert.equal(decoder.decode((await r.receiveMessage())!.payload), "joined");
    }
    assert.equal(rawSharing[0].deflate!.agreement.serverNoContextTakeover, true);

    const shared = sharedDeflater(15, 6, 8);
    const before = shared.compressions;
    const sent: string[] = [];
    let compressible = 0;
    for (let i = 0; i < 40; i++) {
      const m = i % 5 === 4 ? `short ${i}` : i === 21 ? noise(300_000, i) : json(i);
      if (m.length > 64) compressible++;
      sent.push(m);
      assert.equal(server.publish("t", m), 9);
    }
    assert.equal(
      shared.compressions - before,
      compressible,
      "one compression per compressed publish, not per subscriber",
    );
    await until(() => all.every((p) => p.texts.length === 41), { timeout: 20_000, message: "every message to all" });
    for (const p of all) assert.deepEqual(p.texts.slice(1), sent, "in order, identical");

    const wire = await Promise.all([...rawSharing, rawOwn].map(async (r) => {
      const got = [];
      for (let i = 0; i < sent.length; i++) got.push((await r.receiveMessage(20_000))!);
      return got;
    }));
    for (const got of wire) assert.deepEqual(got.map((m) => decoder.decode(m.payload)), sent);
    for (let i = 0; i < sent.length; i++) {
      const [a, b] = [wire[0][i], wire[1][i]];
      assert.equal(a.rsv, sent[i].length > 64 ? 4 : 0, `message ${i}: RSV1 when above the threshold`);
      assert.equal(a.wireLength, b.wireLength, `message ${i}: the same compressed bytes for both sharing`);
    }
    // With context takeover, later messages refer back to earlier ones: smaller than compressed alone.
    const ownTotal = wire[2].reduce((n, m) => n + m.wireLength, 0);
    const sharedTotal = wire[0].reduce((n, m) => n + m.wireLength, 0);
    assert.ok(ownTotal < sharedTotal, `context takeover compresses per connection (${ownTotal} < ${sharedTotal})`);

    for (const r of [...rawSharing, rawOwn]) r.close();
    for (const p of all) p.ws.close(1000);
    await Promise.all(all.map((p) => p.closed));
  } finally {
    await server.shutdown();
  }
});

test(`topics + deflate on ${runtime}: a subscriber's own large message still compressing goes out before the publishes after it`, async () => {
  const big = noise(4_000_000, 7);
  const after = ["small 1", json(1), "small 2", json(2), noise(200_000, 3)];
  const deflate = new PerMessageDeflate({ compressIfBiggerThan: 64 });
  const { server } = await topicServer(deflate, big, after);
  try {
    const busy = await Peer.open(server.port, { serverNoContextTakeover: true, threshold: 0 });
    const idle = await Peer.open(server.port, { serverNoContextTakeover: true, threshold: 0 });
    const own = await Peer.open(server.port, { threshold: 0 });
    const plain = await Peer.open(server.port, false);
    const all = [busy, idle, own, plain];
    for (const p of all) p.ws.send("join");
    await until(() => all.every((p) => p.texts.length === 1), { message: "joins" });
    busy.ws.send("big");
    await until(() => busy.texts.length === 2 + after.length && idle.texts.length === 1 + after.length, {
      timeout: 30_000,
      message: "the big message and the publishes",
    });
    assert.equal(busy.texts[1].length, big.length, "the big message first");
    assert.equal(busy.texts[1], big);
    assert.deepEqual(busy.texts.slice(2), after, "then the publishes, in order");
    for (const p of [idle, own, plain]) {
      await until(() => p.texts.length === 1 + after.length, { timeout: 30_000, message: "the publishes" });
      assert.deepEqual(p.texts.slice(1), after);
    }

    // The same with the busy connection not sharing (context takeover): its own order holds too.
    own.ws.send("big");
    await until(() => own.texts.length === 2 + 2 * after.length, { timeout: 30_000, message: "own's big message" });
    assert.equal(own.texts[1 + after.length], big);
    assert.deepEqual(own.texts.slice(2 + after.length), after);
    for (const p of all) p.ws.close(1000);
    await Promise.all(all.map((p) => p.closed));
  } finally {
    await server.shutdown();
  }
});

for (const overflow of ["close", "drop"] as const) {
  test(`topics + deflate on ${runtime}: a sharing subscriber that does not read (publishOverflow "${overflow}") never holds the others back`, async () => {
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
        }, {
          maxQueuedBytes: 512 * 1024,
          writeHighWaterMark: 64 * 1024,
          publishOverflow: overflow,
          extensions: [new PerMessageDeflate({ serverNoContextTakeover: true })],
        }),
      ]),
    );
    try {
      const fast = await Peer.open(server.port, { serverNoContextTakeover: true });
      fast.ws.send("join");
      const slow = await RawClient.open(server.port, { path: "/ws", deflate: "permessage-deflate" });
      assert.equal(slow.deflate!.agreement.serverNoContextTakeover, true, "the server's option applies");
      await slow.sendMessage(1, new TextEncoder().encode("join"), { compress: false });
      await slow.sendMessage(1, new TextEncoder().encode("slow"), { compress: false });
      assert.equal((await slow.next())?.opcode, 1);
      assert.equal((await slow.next())?.opcode, 1);
      await until(() => fast.texts.length === 1 && slowSocket !== null, { message: "joins" });
      slow.socket.pause();
      let published = 0;
      await until(() => {
        for (let i = 0; i < 4; i++) server.publish("feed", `${published} ${noise(16 * 1024, published++)}`);
        return overflow === "close" ? slowSocket!.readyState !== 1 : slowSocket!.droppedMessages > 0;
      }, { timeout: 20_000, message: "the slow subscriber to overflow" });
      await until(() => fast.texts.length === 1 + published, { timeout: 20_000, message: "every message to fast" });
      assert.deepEqual(
        fast.texts.slice(1).map((t) => Number(t.split(" ")[0])),
        Array.from({ length: published }, (_, i) => i),
      );
      slow.socket.resume();
      if (overflow === "close") {
        let frame = await slow.next(20_000);
        while (frame !== null && frame.opcode !== 8) frame = await slow.next(20_000);
        assert.ok(frame !== null, "a close frame");
        assert.equal((frame.payload[0] << 8) | frame.payload[1], 1008, "closed with 1008");
      } else {
        assert.equal(slowSocket!.readyState, 1, "the slow subscriber stays open");
        assert.equal((errors[0] as { code: string }).code, "WS_ERR_SEND_QUEUE_FULL");
      }
      slow.close();
      fast.ws.close(1000);
      await fast.closed;
    } finally {
      await server.shutdown();
    }
  });
}
