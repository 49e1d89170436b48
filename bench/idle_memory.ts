/**
 * What an idle WebSocket connection costs the server, and what it is made
 * of: opens N connections that send the opening handshake and then nothing,
 * and prints the server's memory growth per connection after a full GC
 * (RSS, JS heap, external / ArrayBuffer memory) and, with `--snapshot`, the
 * heap objects each connection adds, by kind and constructor or function
 * name (from two heap snapshots, before and after); `--retainers "object Foo"`
 * (kinds and names as those rows show them, comma-separated) also counts
 * what holds those objects, by the holder's kind, name and edge; `--where`
 * names anonymous closures by script id, line and column.
 *
 * The server runs in this process, on whichever runtime runs this file,
 * with the same handler as `examples/echo.ts` (the handler path, or the
 * default session with `--api session`; echo, permessage-deflate offered); the clients run in a child Node process
 * (raw sockets, the handshake only), so their memory is not counted.
 *
 *     node --expose-gc bench/idle_memory.ts [--conns 2000] [--snapshot] [--server hybi|ws|bare] [--api handlers|session]
 *     deno run -A --v8-flags=--expose-gc bench/idle_memory.ts [...]
 *     bun bench/idle_memory.ts [...]
 *
 * `--server ws` (Node) runs the `ws` package's server for comparison, as the
 * load benchmark's peer does. `--server bare` measures the runtime's own floor instead: a plain TCP
 * server that accepts and reads into nothing (Node `net` with a `data`
 * listener, `Deno.listen` with a pending `read` into a 1 KiB buffer per
 * connection, `Bun.listen` with a `data` handler), answering the handshake
 * with nothing. `--read-size N` sets that bare Deno read buffer.
 *
 * Heap snapshots of many connections take seconds and memory: 2,000
 * connections are enough to see per-connection objects clearly. RSS per
 * connection here is close to, not the same as, the load benchmark's idle
 * figure (that one has no forced GC and 10,000 connections).
 *
 * @module
 */
import { spawn } from "node:child_process";
import process from "node:process";
import v8 from "node:v8";
import { fileURLToPath } from "node:url";
import {
  PerMessageDeflate,
  runDefaultSession,
  type ServeHandler,
  type WebSocketHandlers,
  WebSocketUpgrade,
} from "../mod.ts";
import type { DefaultWebSocketSession } from "../mod.ts";
import { runtime, serveOnThisRuntime } from "../examples/runtime.ts";

function option(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}
const flag = (name: string): boolean => process.argv.slice(2).includes(`--${name}`);

// ---- the client: a child Node process holding N raw sockets ----

const CLIENT_SOURCE = `
const net = require("node:net");
const [port, count, wait101] = process.argv.slice(1).map(Number);
const request = "GET / HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n";
const sockets = [];
let open = 0, started = 0, failed = 0;
function one() {
  started++;
  const s = net.connect(port, "127.0.0.1");
  sockets.push(s);
  let seen = "";
  const done = () => { if (++open === count) process.stdout.write("open\\n"); else if (started < count) one(); };
  s.on("error", () => { failed++; });
  s.on("connect", () => { s.write(request); if (!wait101) done(); });
  if (wait101) s.on("data", (d) => {
    if (seen === null) return;
    seen += d.toString("latin1");
    if (seen.includes("\\r\\n\\r\\n")) {
      if (!seen.startsWith("HTTP/1.1 101")) { console.error("no 101: " + seen.slice(0, 80)); process.exit(1); }
      seen = null; done();
    }
  });
}
for (let i = 0; i < Math.min(count, 200); i++) one();
process.stdin.on("data", () => {});
process.stdin.on("end", () => process.exit(0));
`;

function startClients(port: number, count: number, wait101: boolean): Promise<{ stop(): void }> {
  const node = fileURLToPath(new URL("../node_modules/.bin/node", import.meta.url));
  const child = spawn(node, ["-e", CLIENT_SOURCE, String(port), String(count), wait101 ? "1" : "0"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.on("exit", (code) => reject(new Error(`the client exited (${code})`)));
    child.stdout!.on("data", (d: Uint8Array) => {
      if (new TextDecoder().decode(d).includes("open")) resolve({ stop: () => child.stdin!.end() });
    });
  });
}

// ---- the servers ----

async function echo(session: DefaultWebSocketSession): Promise<void> {
  for await (const message of session.incoming) await session.send(message);
}
const deflate = new PerMessageDeflate({ compressIfBiggerThan: 0 });
// `--api handlers` (the default, as examples/echo.ts) or `--api session` (the for-await default session).
const echoHandlers: WebSocketHandlers = {
  message(ws, data) {
    ws.send(data);
  },
};
const handler: ServeHandler = (request) =>
  option("api", "handlers") === "session"
    ? new WebSocketUpgrade(request, null, (raw) => runDefaultSession(raw, echo), { extensions: [deflate] })
    : new WebSocketUpgrade(request, null, echoHandlers, { extensions: [deflate] });

interface Listening {
  port: number;
  /** How many connections the server has accepted. */
  accepted(): number;
}

async function hybiServer(): Promise<Listening> {
  const server = await serveOnThisRuntime({ port: 0, hostname: "127.0.0.1", maxConnections: Infinity }, handler);
  return { port: server.port, accepted: () => server.clientCount };
}

interface DenoLike {
  listen(o: { hostname: string; port: number }): {
    addr: { port: number };
    accept(): Promise<{ read(b: Uint8Array): Promise<number | null> }>;
  };
}
interface BunLike {
  listen(o: unknown): { port: number };
}

async function bareServer(): Promise<Listening> {
  let accepted = 0;
  if (runtime === "deno") {
    const deno = (globalThis as unknown as { Deno: DenoLike }).Deno;
    const listener = deno.listen({ hostname: "127.0.0.1", port: 0 });
    const readSize = Number(option("read-size", "1024"));
    void (async () => {
      for (;;) {
        const conn = await listener.accept();
        accepted++;
        void (async () => {
          const buffer = new Uint8Array(readSize);
          while (await conn.read(buffer) !== null);
        })();
      }
    })();
    return { port: listener.addr.port, accepted: () => accepted };
  }
  if (runtime === "bun") {
    const bun = (globalThis as unknown as { Bun: BunLike }).Bun;
    const listener = bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { open: () => void accepted++, data: () => {} },
    });
    return { port: listener.port, accepted: () => accepted };
  }
  const net = await import("node:net");
  const server = net.createServer((socket) => {
    accepted++;
    socket.on("data", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as { port: number }).port, accepted: () => accepted };
}

/** The `ws` package's server (Node only), as the load benchmark's `ws` peer runs it. */
async function wsServer(): Promise<Listening> {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const { WebSocketServer } = require("ws");
  let accepted = 0;
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false, clientTracking: false });
  wss.on(
    "connection",
    (ws: { on(e: string, f: (...a: unknown[]) => void): void; send(d: unknown, o: unknown): void }) => {
      accepted++;
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on("error", () => {});
    },
  );
  await new Promise<void>((resolve) => wss.on("listening", resolve));
  return { port: wss.address().port, accepted: () => accepted };
}

// ---- measuring ----

async function collect(): Promise<void> {
  const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;
  for (let i = 0; i < 3; i++) {
    if (bun !== undefined) bun.gc(true);
    else {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) throw new Error("run with --expose-gc (node) or --v8-flags=--expose-gc (deno)");
      gc();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Usage {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** V8's heap spaces: committed ("physical") bytes by space. */
  spaces: Map<string, number>;
}

function usage(): Usage {
  const m = process.memoryUsage();
  const spaces = new Map<string, number>();
  try {
    for (const s of v8.getHeapSpaceStatistics()) spaces.set(s.space_name, s.physical_space_size);
  } catch {
    // Not every runtime has them (Bun).
  }
  return {
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    spaces,
  };
}

/** Heap objects by "kind name": count and self size. */
type Census = Map<string, { count: number; size: number }>;

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
  /** (node index, script id, line, column) per closure, where the runtime gives them. */
  locations?: number[];
  /** Filled here: "line:column" of closures by node index. */
  where?: Map<number, string>;
}

async function takeSnapshot(): Promise<Snapshot> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const piece of v8.getHeapSnapshot()) text += decoder.decode(piece as Uint8Array, { stream: true });
  const snapshot = JSON.parse(text) as Snapshot;
  snapshot.where = new Map();
  const locations = snapshot.locations ?? [];
  // Closures without a name are told apart by where they are defined (script id:line:column, 0-based).
  for (let i = 0; i + 3 < locations.length; i += 4) {
    snapshot.where.set(locations[i], `@${locations[i + 1]}:${locations[i + 2] + 1}:${locations[i + 3] + 1}`);
  }
  return snapshot;
}

function nodeKey(snapshot: Snapshot, i: number): string {
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const type = meta.node_types[0][snapshot.nodes[i + fields.indexOf("type")]];
  let name = snapshot.strings[snapshot.nodes[i + fields.indexOf("name")]];
  // Strings and numbers by their kind only; the rest by constructor or function name.
  if (type === "string" || type === "concatenated string" || type === "sliced string" || type === "number") {
    name = "";
  } else if (name.length > 60) name = name.slice(0, 60) + "…";
  if (type === "closure" && name === "" && flag("where")) name = snapshot.where?.get(i) ?? "";
  return `${type} ${name}`;
}

function censusOf(snapshot: Snapshot): Census {
  const fields = snapshot.snapshot.meta.node_fields;
  const width = fields.length;
  const sizeAt = fields.indexOf("self_size");
  const nodes = snapshot.nodes;
  const out: Census = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const key = nodeKey(snapshot, i);
    const entry = out.get(key);
    if (entry === undefined) out.set(key, { count: 1, size: nodes[i + sizeAt] });
    else {
      entry.count++;
      entry.size += nodes[i + sizeAt];
    }
  }
  return out;
}

/** What holds the objects whose "kind name" is `key`: retainer kind, name and edge, counted over all of them. */
function printRetainers(snapshot: Snapshot, key: string): void {
  const meta = snapshot.snapshot.meta;
  const width = meta.node_fields.length, edgeWidth = meta.edge_fields.length;
  const edgeCountAt = meta.node_fields.indexOf("edge_count");
  const edgeTypeAt = meta.edge_fields.indexOf("type"), edgeNameAt = meta.edge_fields.indexOf("name_or_index");
  const toAt = meta.edge_fields.indexOf("to_node");
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges } = snapshot;
  const held = new Map<string, number>();
  let edge = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const count = nodes[i + edgeCountAt];
    for (let e = 0; e < count; e++, edge += edgeWidth) {
      const to = edges[edge + toAt];
      const type = edgeTypes[edges[edge + edgeTypeAt]];
      if (type === "weak" || nodeKey(snapshot, to) !== key) continue;
      const nameOrIndex = edges[edge + edgeNameAt];
      const edgeName = type === "element" || type === "hidden" ? `[${nameOrIndex}]` : snapshot.strings[nameOrIndex];
      const k = `${nodeKey(snapshot, i)} --${type}:${edgeName}-->`;
      held.set(k, (held.get(k) ?? 0) + 1);
    }
  }
  console.log(`retainers of "${key}":`);
  for (const [k, n] of [...held].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${String(n).padStart(7)}  ${k}`);
  }
}

function printCensusDiff(before: Census, after: Census, n: number): void {
  const rows: { key: string; count: number; size: number }[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, size: 0 };
    const count = (a.count - b.count) / n, size = (a.size - b.size) / n;
    if (count >= 0.5 || size >= 8) rows.push({ key, count, size });
  }
  rows.sort((x, y) => y.size - x.size);
  let total = 0;
  for (const r of rows) total += r.size;
  console.log(`heap objects per connection (snapshot diff), ${total.toFixed(0)} B in rows shown:`);
  console.log("  objects   bytes  kind name");
  for (const r of rows.slice(0, Number(option("rows", "40")))) {
    console.log(`  ${r.count.toFixed(2).padStart(7)} ${r.size.toFixed(0).padStart(7)}  ${r.key}`);
  }
}

const conns = Number(option("conns", "2000"));
const kind = option("server", "hybi");
const snapshot = flag("snapshot");
const server = kind === "bare" ? await bareServer() : kind === "ws" ? await wsServer() : await hybiServer();
// Warm up: a few connections so that lazily built code and caches are not counted.
const warm = await startClients(server.port, 20, kind !== "bare");
await new Promise((resolve) => setTimeout(resolve, 200));
await collect();
const before = usage();
const censusBefore = snapshot ? censusOf(await takeSnapshot()) : null;
if (snapshot) await collect();
const beforeSnapshotRss = usage().rss;
const clients = await startClients(server.port, conns, kind !== "bare");
while (server.accepted() < conns + 20) await new Promise((resolve) => setTimeout(resolve, 20));
await new Promise((resolve) => setTimeout(resolve, 300));
const ungathered = usage();
await collect();
const after = usage();
const kib = (bytes: number): string => (bytes / 1024 / conns).toFixed(2).padStart(6);
console.log(`${runtime} ${kind}: ${conns} idle connections, per connection (KiB)`);
console.log(
  `  before GC: rss ${kib(ungathered.rss - beforeSnapshotRss)}  heapTotal ${
    kib(ungathered.heapTotal - before.heapTotal)
  }  heapUsed ${kib(ungathered.heapUsed - before.heapUsed)}`,
);
console.log("  after GC:");
console.log(
  `  rss ${kib(after.rss - beforeSnapshotRss)}  heapTotal ${kib(after.heapTotal - before.heapTotal)}  heapUsed ${
    kib(after.heapUsed - before.heapUsed)
  }  external ${kib(after.external - before.external)}  arrayBuffers ${kib(after.arrayBuffers - before.arrayBuffers)}`,
);
const spaces = [...after.spaces].map(([name, size]) => `${name} ${kib(size - (before.spaces.get(name) ?? 0)).trim()}`);
if (spaces.length > 0) console.log(`  committed by heap space: ${spaces.join(", ")}`);
if (censusBefore !== null) {
  const last = await takeSnapshot();
  printCensusDiff(censusBefore, censusOf(last), conns);
  // --retainers "object Request" (a row's "kind name"), repeatable with commas
  for (const key of option("retainers", "").split(",").filter((k) => k !== "")) printRetainers(last, key);
}
clients.stop();
warm.stop();
process.exit(0);
