/**
 * `server.shutdown()` with traffic in flight, on the current runtime's
 * engine in a child process: every message the server accepted before the
 * shutdown reaches the handler, every client gets 1001 Going Away, and the
 * process then exits by itself (nothing left holding the event loop).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { get, startChildServer } from "./_helpers/child_server.ts";
import { runtime } from "./_helpers/engine.ts";
import { delay, until } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

interface Client {
  id: string;
  ws: WsClient;
  /** Messages sent, in order. */
  sent: string[];
  /** How many of `sent` the server had read when the shutdown was asked for. */
  accepted: number;
  closeCode: Promise<number>;
}

async function connect(port: number, id: string): Promise<Client> {
  const ws = new WebSocketClient(`ws://127.0.0.1:${port}/collect?id=${id}`);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const closeCode = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  return { id, ws, sent: [], accepted: 0, closeCode };
}

/** Resolves once the server answered a ping sent after everything so far: it has read all of it. */
function readByServer(client: Client): Promise<void> {
  return new Promise((resolve) => {
    client.ws.once("pong", () => resolve());
    client.ws.ping();
  });
}

test(`shutdown with traffic in flight (${runtime}): accepted messages reach the handler, clients get 1001, the process exits by itself`, async () => {
  const server = await startChildServer();
  let exited = false;
  try {
    const settled = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(server.port, `settled${i}`)));
    const streaming = await Promise.all(Array.from({ length: 4 }, (_, i) => connect(server.port, `streaming${i}`)));
    // Settled clients send 300 messages each and make sure the server read them; the handler
    // takes 1 ms a message, so most of them still wait in the session's queue.
    for (const c of settled) {
      for (let i = 0; i < 300; i++) {
        const m = `${c.id}:${i}`;
        c.ws.send(m);
        c.sent.push(m);
      }
    }
    await Promise.all(settled.map(async (c) => {
      await readByServer(c);
      c.accepted = c.sent.length;
    }));
    // Streaming clients keep sending until the server's close arrives.
    let streamingOn = true;
    const pumps = streaming.map(async (c) => {
      let closed = false;
      c.closeCode.then(() => closed = true);
      for (let i = 0; streamingOn && !closed; i++) {
        const m = `${c.id}:${i}`;
        c.ws.send(m);
        c.sent.push(m);
        if (i === 50) {
          await readByServer(c);
          c.accepted = 51;
        }
        if (i % 10 === 9) await delay(1); // the point: clients that keep sending over time, not in one burst
      }
    });
    // The shutdown comes while they stream, after the server read their first 51 messages each.
    await until(() => streaming.every((c) => c.accepted > 0), { message: "the streaming clients to get going" });
    const started = Date.now();
    // Well within every timeout the server has (5 s): a timer or socket left behind would keep it alive longer.
    const code = await server.shutdown(4000);
    const exitMs = Date.now() - started;
    exited = code !== null;
    streamingOn = false;
    await Promise.all(pumps);
    assert.equal(code, 0, `the server process exits by itself after shutdown (output:\n${server.output()})`);

    for (const c of [...settled, ...streaming]) assert.equal(await c.closeCode, 1001, `${c.id} gets 1001`);
    // What each handler received, printed by the child as it finished.
    const records = new Map<string, { messages: string[]; closeCode: number | null }>();
    for (const line of server.output().split("\n")) {
      if (!line.startsWith("collected ")) continue;
      const space = line.indexOf(" ", 10);
      records.set(line.slice(10, space), JSON.parse(line.slice(space + 1)));
    }
    let inQueue = 0;
    for (const c of [...settled, ...streaming]) {
      const record = records.get(c.id);
      assert.ok(record !== undefined, `${c.id}'s handler finished`);
      assert.equal(record.closeCode, 1001);
      // In order, nothing lost in the middle, and at least everything the server had read.
      assert.deepEqual(
        record.messages,
        c.sent.slice(0, record.messages.length),
        `${c.id} got a prefix of what it sent`,
      );
      assert.ok(
        record.messages.length >= c.accepted,
        `${c.id}: ${record.messages.length} messages handled, ${c.accepted} accepted`,
      );
      inQueue += c.accepted;
    }
    const report = JSON.parse(server.output().split("\n").find((l) => l.startsWith("report "))!.slice(7));
    console.log(
      `shutdown on ${runtime}: ${settled.length + streaming.length} sessions, ${inQueue} messages accepted before ` +
        `the shutdown all handled; shutdown() took ${report.shutdownMs} ms, the process exited ${exitMs} ms after ` +
        `the request`,
    );
  } finally {
    if (!exited) await server.kill();
  }
});

test(`shutdown (${runtime}): a server with idle and half-open connections also exits by itself`, async () => {
  const server = await startChildServer();
  let exited = false;
  try {
    const idle = await connect(server.port, "idle");
    // An HTTP client that sent half a request head.
    const { SocketClient } = await import("./_helpers/socket_client.ts");
    const partial = await SocketClient.connect(server.port);
    partial.write("GET / HTTP/1.1\r\nHost: h\r\n");
    await get(server.port, "/stats");
    const code = await server.shutdown(4000);
    exited = code !== null;
    assert.equal(code, 0, `exit code (output:\n${server.output()})`);
    assert.equal(await idle.closeCode, 1001);
    await partial.until(() => partial.ended);
    partial.close();
  } finally {
    if (!exited) await server.kill();
  }
});
