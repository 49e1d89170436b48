/**
 * One side of the client echo benchmark (issue 13), run under node, deno or
 * bun; `bench/client_load.ts` (`npm run bench:client`) drives it.
 *
 * `--serve`: the server, hybi's handler path echoing every message as it came
 * (`WebSocketUpgrade` with `{ message(ws, data) { ws.send(data) } }`) and no
 * extension, so no client can get compression; prints `listening on <port>`.
 *
 *     node bench/client_echo.ts --serve --port 0
 *
 * `--client NAME`: one client run against `--port`: `--conns` connections
 * (default 1), each keeping `--window` binary messages of `--size` bytes in
 * flight (default 64 × 32 B: an answer sends the next message), `--warmup`
 * seconds (1) not counted, then round trips counted over `--seconds` (4).
 * Prints one JSON line: msgs/s and the client process's CPU time per round
 * trip (user + system, `process.cpuUsage`: steadier than msgs/s on a busy
 * machine). Clients:
 *
 * - `hybi`: `connect` on the handler path (`handlers.message` answers with
 *   `ws.send`, synchronous)
 * - `hybi-session`: `connect`'s default session (`for await` over
 *   `messages()`, `await sendBinary`)
 * - `ws`: the `ws` package's client (Node only; `perMessageDeflate: false`;
 *   bufferutil when installed)
 * - `web`: the runtime's global `WebSocket` (Deno's and Bun's own; undici's on
 *   Node)
 *
 *     deno run -A bench/client_echo.ts --client hybi --port 9001 --conns 100 --window 1
 *
 * Every echo's length is checked; a client that sees a wrong one, a
 * negotiated extension, or a connection closing before the end exits 1.
 *
 * @module
 */
import process from "node:process";
import { type ServeHandler, WebSocketUpgrade } from "../mod.ts";
import { option, portOption, runtime, serveOnThisRuntime, stopOnSignals } from "../examples/runtime.ts";

/** The clients this script runs (see the module doc). */
const CLIENTS = ["hybi", "hybi-session", "ws", "web"] as const;
/** One of {@linkcode CLIENTS}. */
export type ClientName = typeof CLIENTS[number];

/** What a client run prints, as one JSON line. */
export interface ClientResult {
  client: ClientName;
  runtime: string;
  conns: number;
  window: number;
  size: number;
  seconds: number;
  /** Round trips completed in the counted seconds. */
  msgs: number;
  msgsPerS: number;
  /** Client CPU (user + system) per round trip, µs. */
  cpuUsPerMsg: number;
  /** Wrong echoes, early closes: a run with any is not a result. */
  errors: number;
  /** What the client library is (version, bufferutil). */
  detail: string;
}

/** A connection as the measuring loop sees it: it closes when the run is over. */
interface Open {
  close(): void;
}

let received = 0;
let errors = 0;
let stopping = false;

function fail(message: string): void {
  errors++;
  if (errors <= 3) console.error(`client_echo: ${message}`);
}

function closedEarly(): void {
  if (!stopping) fail("a connection closed before the end of the run");
}

/** Opens one connection with `client`, starts its window, and returns it. */
async function open(client: ClientName, url: string, payload: Uint8Array, window: number): Promise<Open> {
  const size = payload.length;
  switch (client) {
    case "hybi": {
      const { connect } = await import("../src/client.ts");
      const ws = await connect(url, {
        extensions: false,
        handlers: {
          message(ws, data) {
            if (typeof data === "string" || data.length !== size) fail("wrong echo");
            received++;
            ws.send(payload);
          },
          close: closedEarly,
        },
      });
      if (ws.extensions.length > 0) fail("an extension was negotiated");
      for (let i = 0; i < window; i++) ws.send(payload);
      return { close: () => ws.close() };
    }
    case "hybi-session": {
      const { connect } = await import("../src/client.ts");
      const session = await connect(url, { extensions: false });
      for (let i = 0; i < window; i++) await session.sendBinary(payload);
      (async () => {
        for await (const message of session.messages()) {
          if (typeof message === "string" || message.length !== size) fail("wrong echo");
          received++;
          await session.sendBinary(payload);
        }
        closedEarly();
      })().catch((error) => {
        if (!stopping) fail(`session: ${error}`);
      });
      return { close: () => void session.close().catch(() => {}) };
    }
    case "ws": {
      if (runtime !== "node") throw new Error("the ws client runs on Node only");
      const { WebSocketClient } = await import("../tests/_helpers/ws_client.ts");
      const ws = new WebSocketClient(url, [], { perMessageDeflate: false });
      await new Promise<void>((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      if (ws.extensions !== "") fail("an extension was negotiated");
      ws.on("message", (data) => {
        if (data.length !== size) fail("wrong echo");
        received++;
        ws.send(payload);
      });
      ws.once("close", closedEarly);
      for (let i = 0; i < window; i++) ws.send(payload);
      return { close: () => ws.close() };
    }
    case "web": {
      const ws = new WebSocket(url);
      ws.binaryType = "arraybuffer";
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
      });
      if (ws.extensions !== "") fail(`an extension was negotiated: ${ws.extensions}`);
      ws.onmessage = (event) => {
        if (!(event.data instanceof ArrayBuffer) || event.data.byteLength !== size) fail("wrong echo");
        received++;
        ws.send(payload);
      };
      ws.onclose = closedEarly;
      for (let i = 0; i < window; i++) ws.send(payload);
      return { close: () => ws.close() };
    }
  }
}

/** The client library as the report names it. */
async function detail(client: ClientName): Promise<string> {
  if (client === "ws") {
    const { createRequire } = await import("node:module");
    const require = createRequire(import.meta.url);
    const version = (require("ws/package.json") as { version: string }).version;
    let bufferutil = "without bufferutil";
    try {
      require.resolve("bufferutil");
      if (process.env.WS_NO_BUFFER_UTIL === undefined) bufferutil = "with bufferutil";
    } catch {
      // not installed: ws masks in JavaScript
    }
    return `ws ${version} ${bufferutil}`;
  }
  if (client === "web") return `${runtime}'s global WebSocket`;
  return client === "hybi" ? "hybi connect, handler path" : "hybi connect, default session";
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function numberOption(name: string, fallback: number): number {
  const value = Number(option(name, String(fallback)));
  if (!Number.isFinite(value) || value < 0) {
    console.error(`--${name} must be a number, not ${option(name, "")}`);
    process.exit(2);
  }
  return value;
}

async function runClient(client: ClientName): Promise<void> {
  const port = portOption("9001");
  const conns = numberOption("conns", 1);
  const window = numberOption("window", 64);
  const size = numberOption("size", 32);
  const warmup = numberOption("warmup", 1);
  const seconds = numberOption("seconds", 4);
  const url = `ws://127.0.0.1:${port}/`;
  // Seeded bytes, the same for every client; never changed, so every send may share them.
  const payload = new Uint8Array(size);
  for (let i = 0, x = 0x2545f491; i < size; i++) {
    x ^= x << 13, x ^= x >>> 17, x ^= x << 5;
    payload[i] = x & 0xff;
  }
  const open_: Open[] = [];
  for (let i = 0; i < conns; i++) open_.push(await open(client, url, payload, window));
  await sleep(warmup * 1000);
  const cpu0 = process.cpuUsage();
  const r0 = received;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const r1 = received;
  const t1 = performance.now();
  const cpu1 = process.cpuUsage(cpu0);
  stopping = true;
  const msgs = r1 - r0;
  const elapsed = (t1 - t0) / 1000;
  const result: ClientResult = {
    client,
    runtime,
    conns,
    window,
    size,
    seconds: Math.round(elapsed * 1000) / 1000,
    msgs,
    msgsPerS: Math.round(msgs / elapsed),
    cpuUsPerMsg: msgs === 0 ? 0 : Math.round((cpu1.user + cpu1.system) / msgs * 100) / 100,
    errors,
    detail: await detail(client),
  };
  console.log(JSON.stringify(result));
  for (const c of open_) c.close();
  // The close handshakes are not measured: give them a moment, then go.
  await sleep(200);
  process.exit(errors > 0 || msgs === 0 ? 1 : 0);
}

async function runServer(): Promise<void> {
  const handler: ServeHandler = (request) => {
    if (request.headers.get("upgrade") === null) return new Response("client echo benchmark server\n", { status: 426 });
    return new WebSocketUpgrade(request, null, {
      message(ws, data) {
        ws.send(data);
      },
    });
  };
  const server = await serveOnThisRuntime({ port: portOption("0"), hostname: "127.0.0.1" }, handler);
  console.log(`listening on ${server.port}`);
  stopOnSignals(server);
}

if (process.argv.includes("--serve")) {
  await runServer();
} else {
  const client = option("client", "hybi");
  if (!(CLIENTS as readonly string[]).includes(client)) {
    console.error(`--client must be one of ${CLIENTS.join(", ")}, not ${client}`);
    process.exit(2);
  }
  await runClient(client as ClientName);
}
