/**
 * Resources of a server under peers that do not play along, on real
 * sockets, with the current runtime's engine running in a child process
 * (so that its memory is measured alone): a peer that never reads while
 * the handler sends 100 MiB, and connection churn. Figures are printed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { type ChildServer, startChildServer, type Stats } from "./_helpers/child_server.ts";
import { runtime } from "./_helpers/engine.ts";
import { encodeClientFrame } from "./_helpers/raw_client.ts";
import { handshake } from "./_helpers/socket_client.ts";
import { settled, until } from "./_helpers/wait.ts";
import { WebSocketClient } from "./_helpers/ws_client.ts";

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** A socket that counts what it receives without keeping it, and can stop reading. */
class CountingSocket {
  readonly socket: net.Socket;
  received = 0;
  ended = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.received += chunk.length;
    });
    socket.on("error", () => {});
    socket.on("close", () => this.ended = true);
  }

  static connect(port: number): Promise<CountingSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port }, () => resolve(new CountingSocket(socket)));
      socket.once("error", reject);
    });
  }
}

/** Polls the server until the `/send` record `index` stops growing (or fails); its stats then. */
async function untilStalled(server: ChildServer, index: number): Promise<Stats> {
  await until(async () => (await server.stats()).sends[index] !== undefined, { message: "the sender to start" });
  let stats!: Stats;
  await settled(async () => {
    // After a full GC: what the server holds, not the garbage its sending loop left.
    stats = await server.stats(true);
    const record = stats.sends[index];
    // A failed sender is done: a value that changes no more.
    return record.error !== null ? `failed: ${record.error}` : record.queued;
  }, { quiet: 150, interval: 150, timeout: 30_000, message: "the sender to stall" });
  return stats;
}

/** An echo round trip through the `ws` package's client on another connection. */
async function echoRoundTrip(port: number): Promise<void> {
  const ws = new WebSocketClient(`ws://127.0.0.1:${port}/echo`);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  for (let i = 0; i < 3; i++) {
    const reply = new Promise<string>((resolve) => ws.once("message", (data) => resolve(data.toString())));
    ws.send(`still served ${i}`);
    assert.equal(await reply, `still served ${i}`);
  }
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  ws.close(1000);
  assert.equal(await closed, 1000);
}

/** Memory the server's JavaScript owns: its heap and the buffers outside it. */
const live = (s: Stats) => s.heapUsed + s.external;

/** One slow-reader scenario in a fresh server process, so that its memory figures are its own. */
async function scenario(
  path: string,
  check: (stats: Stats, base: Stats, server: ChildServer) => Promise<void>,
): Promise<{
  base: Stats;
  stalled: Stats;
}> {
  const server = await startChildServer();
  try {
    const base = await server.stats(true);
    const client = await CountingSocket.connect(server.port);
    client.socket.pause();
    client.socket.write(handshake(path));
    const stalled = await untilStalled(server, 0);
    // Another connection is served meanwhile.
    await echoRoundTrip(server.port);
    client.socket.resume();
    await check(stalled, base, server);
    client.socket.destroy();
    await untilIdle(server);
    return { base, stalled };
  } finally {
    await server.kill();
  }
}

function describe(name: string, base: Stats, stalled: Stats): string {
  const r = stalled.sends[0];
  return `${name}: ${mib(r.queued)} handed to send(), at most ${mib(r.bufferedMax)} queued, ` +
    `${r.error ?? "no error"}; RSS ${mib(base.rss)} -> ${mib(stalled.rss)}, ` +
    `heap+external ${mib(live(base))} -> ${mib(live(stalled))}`;
}

test(`slow reader (${runtime}): 100 MiB for a peer that never reads — send waits, or the queue limit closes with 1008; memory stays bounded`, async () => {
  // 1. The handler awaits every send: it waits at the high-water mark.
  const awaiting = await scenario("/send?mib=100&await=1", async (stats, base, server) => {
    const r = stats.sends[0];
    assert.equal(r.error, null);
    assert.ok(r.queued < 50 * MiB, `handed ${mib(r.queued)} of 100 MiB to send() for a peer that reads nothing`);
    assert.ok(r.bufferedMax <= 2 * MiB, `at most ${mib(r.bufferedMax)} queued in the server`);
    assert.ok(live(stats) - live(base) < 16 * MiB, `heap+external grew by ${mib(live(stats) - live(base))}`);
    assert.ok(stats.rss - base.rss < 48 * MiB, `RSS grew by ${mib(stats.rss - base.rss)}`);
    // The peer reads at last: all 100 MiB arrive, and the handler finishes.
    await until(async () => (await server.stats()).sends[0].done, {
      timeout: 30_000,
      interval: 100,
      message: "the handler to send all 100 MiB",
    });
    assert.equal((await server.stats()).sends[0].queued, 100 * MiB);
  });

  // 2. The handler sends without awaiting: the default queue limit (16 MiB) closes with 1008.
  const flooding = await scenario("/send?mib=100&await=0", async (stats, base, server) => {
    const r = stats.sends[0];
    assert.equal(r.error, "WS_ERR_SEND_QUEUE_FULL");
    assert.equal(r.errorCloseCode, 1008);
    assert.ok(r.queued < 40 * MiB, `handed ${mib(r.queued)} to send() before the limit`);
    assert.ok(live(stats) - live(base) < 48 * MiB, `heap+external grew by ${mib(live(stats) - live(base))}`);
    await until(async () => (await server.stats()).sends[0].closeCode !== null, {
      timeout: 10_000,
      interval: 100,
      message: "the session to close",
    });
    assert.equal((await server.stats()).sends[0].closeCode, 1008);
  });

  // 3. The same without the limit ("wait" only): nothing bounds what a non-awaiting handler queues.
  const unbounded = await scenario("/send?mib=100&await=0&limit=inf", (stats) => {
    const r = stats.sends[0];
    assert.equal(r.error, null);
    assert.ok(r.bufferedMax > 40 * MiB, `${mib(r.bufferedMax)} queued without a limit`);
    return Promise.resolve();
  });

  console.log(`slow reader on ${runtime}:`);
  console.log("  " + describe("awaiting sender, default limits", awaiting.base, awaiting.stalled));
  console.log("  " + describe("non-awaiting sender, default 16 MiB limit", flooding.base, flooding.stalled));
  console.log("  " + describe("non-awaiting sender, no limit", unbounded.base, unbounded.stalled));
});

/**
 * Waits until the server holds nothing but the stats request's own
 * connection (in its own books and in the kernel's), and its open file
 * descriptors stopped changing (a runtime may close the last sockets'
 * descriptors a moment after the connection ended); returns its stats
 * after GC.
 */
async function untilIdle(server: ChildServer): Promise<Stats> {
  let stats: Stats | null = null;
  let fds = -1;
  return await until(async () => {
    const previous = fds;
    stats = await server.stats(true);
    fds = stats.fds;
    const idle = stats.connections === 1 && stats.sessions === 0 && stats.tcpSockets === 2 && stats.fds === previous;
    return idle ? stats : null;
  }, {
    timeout: 10_000,
    interval: 100,
    message: () =>
      `the server to be idle; it still holds ${stats!.connections - 1} connections, ${stats!.sessions} sessions, ` +
      `${stats!.tcpSockets - 2} TCP sockets beyond the listener and this request's`,
  });
}

const latin1 = new TextDecoder("latin1");
const CLOSE_1000 = encodeClientFrame({ opcode: 8, payload: new Uint8Array([0x03, 0xe8]) });
// A binary frame announcing 1000 bytes, cut after 10 of them.
const HALF_FRAME = encodeClientFrame({ opcode: 2, payload: new Uint8Array(1000) }).subarray(0, 18);

/**
 * One client life: connect, handshake, then either close properly (send
 * 1000, wait for the server's close and its FIN) or vanish mid-frame.
 */
function cycle(port: number, abrupt: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let head = "";
    let upgraded = false;
    let received = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`a cycle timed out (upgraded: ${upgraded}, ${received} bytes after the head)`));
    }, 15_000);
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("connect", () => socket.write(handshake("/echo")));
    socket.on("data", (chunk: Uint8Array) => {
      if (!upgraded) {
        head += latin1.decode(chunk);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!head.startsWith("HTTP/1.1 101")) {
          clearTimeout(timer);
          socket.destroy();
          reject(new Error(`handshake answered ${head.slice(0, 40)}`));
          return;
        }
        upgraded = true;
        received = head.length - end - 4;
        if (abrupt) {
          socket.write(HALF_FRAME);
          const sock = socket as net.Socket & { resetAndDestroy?: () => void };
          if (typeof sock.resetAndDestroy === "function") sock.resetAndDestroy();
          else socket.destroy();
          clearTimeout(timer);
          resolve();
          return;
        }
        socket.write(CLOSE_1000);
        return;
      }
      received += chunk.length;
    });
    socket.on("end", () => {
      // The server's close frame (4 bytes: 88 02 03 e8) came before its FIN.
      if (received !== 4) reject(new Error(`expected the server's close frame, got ${received} bytes`));
      socket.end();
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Runs `total` cycles, `concurrency` at a time. */
async function churn(port: number, total: number, concurrency: number, abrupt: boolean): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await cycle(port, abrupt);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

test(`churn (${runtime}): 20,000 connect–handshake–close cycles and 5,000 abrupt disconnects mid-frame leak nothing`, async () => {
  const server = await startChildServer();
  try {
    const idle = await untilIdle(server);
    // The first quarter also takes the runtime's heap to its working size (V8 keeps the capacity it grew to).
    const quarters: Stats[] = [];
    const t = Date.now();
    for (let q = 0; q < 4; q++) {
      await churn(server.port, 5000, 50, false);
      quarters.push(await untilIdle(server));
    }
    const cyclesMs = Date.now() - t;
    const t2 = Date.now();
    await churn(server.port, 5000, 50, true);
    const abruptMs = Date.now() - t2;
    const after = await untilIdle(server);
    const base = quarters[0];
    const row = (name: string, s: Stats) =>
      `  ${name}: RSS ${mib(s.rss)}, heap ${mib(s.heapUsed)} of ${mib(s.heapTotal)}, external ${mib(s.external)}, ` +
      `${s.tcpSockets} TCP sockets (${s.fds} fds), ${s.timers} timers, ${s.abortListeners} signal listeners, ${
        s.connections - 1
      } connections`;
    console.log(
      [
        `churn on ${runtime}: 20,000 cycles in ${cyclesMs} ms, 5,000 abrupt disconnects in ${abruptMs} ms`,
        row("idle, before", idle),
        ...quarters.map((s, i) => row(`after ${(i + 1) * 5000} cycles`, s)),
        row("after the abrupt disconnects", after),
      ].join("\n"),
    );
    assert.equal(after.sessions, 0);
    assert.equal(after.connections, 1, "only the stats request's own connection is open");
    assert.equal(after.abortListeners, 0, "every session removed its listener from the engine's signal");
    assert.ok(after.timers <= idle.timers, `${after.timers} live timers, ${idle.timers} before`);
    assert.equal(after.tcpSockets, 2, "TCP sockets: the listener and the stats request's connection");
    assert.ok(after.fds <= base.fds, `${after.fds} open file descriptors, ${base.fds} after the first 5,000 cycles`);
    // Near the idle baseline (the runtime's own warm-up aside: compiled code, pools) …
    assert.ok(
      live(after) - live(idle) < 16 * MiB,
      `heap+external grew from ${mib(live(idle))} idle to ${mib(live(after))}`,
    );
    // … and not growing with the connection count: 20,000 connections after the first 5,000 add
    // less than 200 bytes each.
    assert.ok(
      live(after) - live(base) < 4 * MiB,
      `heap+external grew from ${mib(live(base))} to ${mib(live(after))} over 20,000 more connections`,
    );
    // After the first quarter RSS has reached its working size; 20,000 more connections must not grow it
    // (a leak of even 2.5 KiB a connection would). V8 may still double its heap's capacity at any
    // point (seen at 5,000 or 15,000 cycles from run to run): that capacity is not counted here, what
    // lives in it is checked above.
    const outsideHeap = (s: Stats) => s.rss - s.heapTotal;
    assert.ok(
      outsideHeap(after) - outsideHeap(base) < 48 * MiB,
      `RSS outside the JS heap grew from ${mib(outsideHeap(base))} to ${
        mib(outsideHeap(after))
      } over 20,000 more connections`,
    );
  } finally {
    await server.kill();
  }
});
