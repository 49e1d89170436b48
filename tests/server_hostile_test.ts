/**
 * Hostile peers on real sockets against the current runtime's engine with
 * default limits, while a normal client (the `ws` package) keeps being
 * served: each gets its close code or status at once (no timeout involved),
 * and the normal client's round trips go on throughout. Times are printed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { type DefaultWebSocketSession, runDefaultSession, WebSocketUpgrade } from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { encodeClientFrame, nextMessage, RawClient } from "./_helpers/raw_client.ts";
import { handshake, SocketClient } from "./_helpers/socket_client.ts";
import { delay, until } from "./_helpers/wait.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

const serve = await engineServe();

async function echo(session: DefaultWebSocketSession): Promise<void> {
  for await (const message of session.incoming) await session.send(message);
}

async function start(): Promise<Server> {
  // Timeouts far beyond the test's waits: every answer below comes from a check, not a timer.
  return await serve(
    { port: 0, hostname: "127.0.0.1", onError: () => {}, headTimeout: 60_000, idleTimeout: 60_000 },
    (request) => new WebSocketUpgrade(request, null, (raw) => runDefaultSession(raw, echo), { closeTimeout: 60_000 }),
  );
}

/** A `ws` client echoing in a loop until stopped; counts its round trips. */
function normalClient(port: number): { roundTrips: () => number; stop: () => Promise<void> } {
  let count = 0;
  let running = true;
  const done = (async () => {
    const ws = new WebSocketClient(`ws://127.0.0.1:${port}/`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    while (running) {
      const reply = new Promise<string>((resolve) => ws.once("message", (data) => resolve(data.toString())));
      ws.send(`round trip ${count}`);
      assert.equal(await reply, `round trip ${count}`);
      count++;
      await delay(2); // the point: a normal client's pace, not a flood
    }
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  })();
  return {
    roundTrips: () => count,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** The server's close code, and that it then ended the connection. */
async function closedWith(client: RawClient): Promise<number> {
  const frame = await client.next(10_000);
  assert.ok(frame !== null && frame.opcode === 8, `a close frame, not ${JSON.stringify(frame)}`);
  const code = (frame.payload[0] << 8) | frame.payload[1];
  assert.equal(await client.next(10_000), null, "the server ends the connection after its close frame");
  return code;
}

const MASK = [0x12, 0x34, 0x56, 0x78];

/**
 * A client that sends pings of 125 bytes (payload byte = ping number & 255)
 * as fast as the kernel takes them, and checks the pongs as they come:
 * same order, same payload. Its own parsing, for speed: a pong is 127 bytes.
 */
class PingFlooder {
  readonly socket: net.Socket;
  written = 0;
  pongs = 0;
  #offset = 0; // position inside the current pong
  #error: string | null = null;
  static readonly #pings: Uint8Array[] = Array.from(
    { length: 256 },
    (_, b) => encodeClientFrame({ opcode: 9, payload: new Uint8Array(125).fill(b) }),
  );

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("error", () => {});
  }

  static async open(port: number): Promise<PingFlooder> {
    const socket = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.write(handshake());
    const head = await new Promise<string>((resolve) => {
      let text = "";
      const onData = (chunk: Uint8Array) => {
        text += new TextDecoder("latin1").decode(chunk);
        if (text.includes("\r\n\r\n")) {
          socket.off("data", onData);
          resolve(text);
        }
      };
      socket.on("data", onData);
    });
    assert.ok(head.startsWith("HTTP/1.1 101"), head);
    assert.ok(head.endsWith("\r\n\r\n"), "nothing after the 101 head yet");
    return new PingFlooder(socket);
  }

  #onData(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length && this.#error === null; i++) {
      const b = chunk[i], at = this.#offset;
      const expected = at === 0 ? 0x8a : at === 1 ? 125 : this.pongs & 255;
      if (b !== expected) this.#error = `pong ${this.pongs}, byte ${at}: ${b}, expected ${expected}`;
      if (++this.#offset === 127) {
        this.#offset = 0;
        this.pongs++;
      }
    }
  }

  /** Writes pings up to `total`; false when the kernel took no more for `patience` ms. */
  async writePings(total: number, patience: number): Promise<boolean> {
    while (this.written < total) {
      const n = Math.min(256, total - this.written);
      const batch = new Uint8Array(n * 131);
      for (let k = 0; k < n; k++) batch.set(PingFlooder.#pings[(this.written + k) & 255], k * 131);
      const flushed = this.socket.write(batch);
      this.written += n;
      if (!flushed) {
        const drained = await Promise.race([
          new Promise<boolean>((r) => this.socket.once("drain", () => r(true))),
          delay(patience).then(() => false), // negative check: no drain for `patience` ms is a stalled reader
        ]);
        if (!drained) return false;
      }
    }
    return true;
  }

  async untilPongs(total: number, ms: number): Promise<void> {
    await until(() => this.pongs >= total || this.#error !== null, {
      timeout: ms,
      interval: 20,
      message: () => `${total} pongs (${this.pongs} came)`,
    });
    assert.equal(this.#error, null);
    assert.equal(this.pongs, total);
  }
}

test(`hostile peers (${runtime}): each gets its close code or status at once, a normal client keeps being served`, async () => {
  const server = await start();
  const normal = normalClient(server.port);
  const timings: string[] = [];
  const hostile = async (name: string, run: () => Promise<void>) => {
    const before = normal.roundTrips();
    const t = performance.now();
    await run();
    const ms = performance.now() - t;
    // The normal client is still being served after (and during) each case.
    await until(() => normal.roundTrips() >= before + 2, {
      timeout: 1000,
      message: `the normal client to be served around "${name}"`,
    });
    timings.push(`${name} ${ms.toFixed(0)} ms`);
  };
  try {
    await hostile("frame of 2^63-1 bytes → 1009", async () => {
      const c = await RawClient.open(server.port);
      await c.write(new Uint8Array([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, ...MASK, 1, 2, 3]));
      assert.equal(await closedWith(c), 1009);
      c.close();
    });

    await hostile("unmasked frame → 1002", async () => {
      const c = await RawClient.open(server.port);
      await c.write(new Uint8Array([0x81, 0x02, 0x68, 0x69]));
      assert.equal(await closedWith(c), 1002);
      c.close();
    });

    await hostile("RSV1 without an extension → 1002", async () => {
      const c = await RawClient.open(server.port);
      await c.send([{ rsv: 4, opcode: 1, payload: "hi" }]);
      assert.equal(await closedWith(c), 1002);
      c.close();
    });

    await hostile("1 MiB of headers → 431", async () => {
      const c = await SocketClient.connect(server.port);
      const line = "X-Padding: " + "a".repeat(1000) + "\r\n";
      const head = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" + line.repeat(1048) + "\r\n";
      c.write(head);
      await c.until(() => c.ended, 10_000);
      assert.equal(c.status(), 431);
      c.close();
    });

    await hostile("10,000 fragments of one message → the whole message", async () => {
      const c = await RawClient.open(server.port);
      const frames = [{ fin: false, opcode: 1, payload: "a" }];
      for (let i = 0; i < 9998; i++) frames.push({ fin: false, opcode: 0, payload: "a" });
      frames.push({ fin: true, opcode: 0, payload: "a" });
      await c.send(frames);
      const message = await nextMessage(c, 10_000);
      assert.equal(message?.opcode, 1);
      assert.equal(message?.payload.length, 10_000);
      await c.send([{ opcode: 8, payload: new Uint8Array([0x03, 0xe8]) }]);
      assert.equal(await closedWith(c), 1000);
      c.close();
    });

    await hostile(
      "400,000 pings from a peer that does not read → every pong, read no faster than pongs are",
      async () => {
        const total = 400_000;
        const flooder = await PingFlooder.open(server.port);
        flooder.socket.pause();
        const allWritten = await flooder.writePings(total, 500);
        // Loopback buffers hold a few MB each way; 52 MB of pings only fit if the server read without bound.
        assert.equal(allWritten, false, `all ${total} pings (52 MB) were taken while nothing was read`);
        const stalledAt = flooder.written;
        flooder.socket.resume();
        const writing = (async () => {
          for (let k = 0; k < 200 && !(await flooder.writePings(total, 500)); k++);
        })();
        await flooder.untilPongs(total, 30_000);
        await writing;
        flooder.socket.destroy();
        timings.push(`(the flooder was held after ${stalledAt} pings)`);
      },
    );

    const roundTrips = normal.roundTrips();
    await normal.stop();
    console.log(`hostile peers on ${runtime}: ${timings.join("; ")}; ${roundTrips} normal round trips meanwhile`);
  } finally {
    await server.shutdown({ timeout: 1000 });
  }
});
