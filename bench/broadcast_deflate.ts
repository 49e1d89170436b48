/**
 * Issue 12: what permessage-deflate costs a broadcast. One process: a server
 * (this runtime's engine) whose every connection subscribes to one topic,
 * and `--conns` raw TCP clients (default 1,000) that offer
 * `--offer` (default `permessage-deflate; server_no_context_takeover`) and
 * only count the frames they get (no inflating, so the clients cost little).
 * `server.publish` sends `--messages` (default 200) messages of ~1 KiB of
 * compressible JSON, `--burst` per event-loop turn (default 4); the time is
 * until every client has every message. Prints publishes/s, deliveries/s,
 * CPU ms per publish (the whole process: zlib's threads included) and how
 * much went on the wire.
 *
 *     node bench/broadcast_deflate.ts
 *     deno run -A bench/broadcast_deflate.ts
 *     bun bench/broadcast_deflate.ts
 *     node bench/broadcast_deflate.ts --offer permessage-deflate      # context takeover: per connection
 *
 * Before/after: run the same file in a copy of an older commit (see bench/NOTES.md, issue 12).
 *
 * @module
 */
import process from "node:process";
import { connect, type Socket } from "node:net";
import { PerMessageDeflate, type WebSocketHandlers, WebSocketUpgrade } from "../mod.ts";
import { option, runtime, serveOnThisRuntime } from "../examples/runtime.ts";

const conns = Number(option("conns", "1000"));
const messages = Number(option("messages", "200"));
const burst = Number(option("burst", "4"));
const offer = option("offer", "permessage-deflate; server_no_context_takeover");

const handlers: WebSocketHandlers = {
  open(ws) {
    ws.subscribe("all");
  },
};
const deflate = new PerMessageDeflate();
const server = await serveOnThisRuntime(
  { port: 0, hostname: "127.0.0.1" },
  (request) => new WebSocketUpgrade(request, null, handlers, { extensions: [deflate] }),
);

/** A client that counts whole frames (and the bytes after the handshake) without decoding them. */
class Counter {
  frames = 0;
  bytes = 0;
  compressed = 0;
  #head = true;
  #pending = new Uint8Array(0);
  readonly socket: Socket;
  readonly opened: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: "127.0.0.1", port });
    let opened!: () => void;
    this.opened = new Promise((resolve) => opened = resolve);
    this.socket.on("connect", () => {
      this.socket.write(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
          (offer === "" ? "" : `Sec-WebSocket-Extensions: ${offer}\r\n`) + "\r\n",
      );
    });
    this.socket.on("data", (chunk: Uint8Array) => {
      let data = chunk;
      if (this.#head) {
        const text = new TextDecoder().decode(chunk);
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) throw new Error("the handshake response came in pieces; not handled here");
        if (!text.startsWith("HTTP/1.1 101")) throw new Error(text.slice(0, end));
        this.#head = false;
        opened();
        data = chunk.subarray(end + 4);
      }
      this.#count(data);
    });
  }

  #count(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let q = chunk;
    if (this.#pending.length > 0) {
      q = new Uint8Array(this.#pending.length + chunk.length);
      q.set(this.#pending);
      q.set(chunk, this.#pending.length);
    }
    let at = 0;
    for (;;) {
      if (q.length - at < 2) break;
      const b1 = q[at + 1] & 0x7f;
      let header = 2, length = b1;
      if (b1 === 126) {
        if (q.length - at < 4) break;
        header = 4;
        length = (q[at + 2] << 8) | q[at + 3];
      } else if (b1 === 127) {
        if (q.length - at < 10) break;
        header = 10;
        length = (q[at + 6] << 24 >>> 0) + (q[at + 7] << 16) + (q[at + 8] << 8) + q[at + 9];
      }
      if (q.length - at < header + length) break;
      if ((q[at] & 0x40) !== 0) this.compressed++;
      this.frames++;
      at += header + length;
    }
    this.#pending = q.slice(at);
  }
}

function json(i: number): string {
  const items = Array.from({ length: 24 }, (_, k) => ({ id: i * 100 + k, user: `user${(i + k) % 7}`, text: "hello" }));
  return JSON.stringify({ seq: i, items });
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

const clients: Counter[] = [];
for (let i = 0; i < conns; i += 100) {
  const batch = Array.from({ length: Math.min(100, conns - i) }, () => new Counter(server.port));
  await Promise.all(batch.map((c) => c.opened));
  clients.push(...batch);
}
await until(() => server.subscriberCount("all") === conns);

const payloads = Array.from({ length: messages }, (_, i) => json(i));
async function run(count: number): Promise<void> {
  const base = clients.map((c) => c.frames);
  for (let i = 0; i < count; i += burst) {
    for (let k = i; k < Math.min(count, i + burst); k++) server.publish("all", payloads[k % payloads.length]);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await until(() => clients.every((c, j) => c.frames - base[j] >= count));
}

await run(Math.min(20, messages)); // warm-up
const bytesBefore = clients.reduce((n, c) => n + c.bytes, 0);
const cpuBefore = process.cpuUsage();
const start = performance.now();
await run(messages);
const ms = performance.now() - start;
const cpu = process.cpuUsage(cpuBefore);
const bytes = clients.reduce((n, c) => n + c.bytes, 0) - bytesBefore;
const compressed = clients.every((c) => c.compressed > 0);
console.log(
  `${runtime} ${conns} conns, offer "${offer}", ${messages} × ${payloads[0].length} B (compressed: ${compressed}): ` +
    `${(messages / ms * 1000).toFixed(0)} publishes/s, ${(messages * conns / ms * 1000).toFixed(0)} deliveries/s, ` +
    `CPU ${((cpu.user + cpu.system) / 1000 / messages).toFixed(2)} ms/publish, ` +
    `${(bytes / messages / conns).toFixed(0)} B on the wire per delivery`,
);
for (const c of clients) c.socket.destroy();
await server.shutdown();
process.exit(0);
