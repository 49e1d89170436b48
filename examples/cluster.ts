/**
 * Every core: one process per core, all listening on one port with
 * `reusePort` (Linux's `SO_REUSEPORT`), the kernel spreading new connections
 * across them. Each process is a WebSocket echo on `/` on the handler path;
 * `GET /worker` tells which process answered. It prints one line,
 * `listening on <port>`, once every worker listens, and on SIGINT or SIGTERM
 * stops every worker (each shuts down gracefully) before it exits.
 *
 *     deno run -A examples/cluster.ts --port 9003 [--workers N]
 *     bun examples/cluster.ts --port 9003 [--workers N]
 *     node examples/cluster.ts --port 9003 [--workers N]
 *
 * `--app broadcast` runs the broadcast testee instead of the echo (every
 * message to every connection of every worker, through the topic `all`, as
 * `examples/broadcast.ts`); with more than one worker the workers share the
 * topic through Redis, so `REDIS_URL` (`redis://127.0.0.1:6379`) must be set
 * (each worker connects its own Redis backplane).
 *
 * `--workers` defaults to `os.availableParallelism()`. `--port 0` picks a
 * free port: the first worker binds it, the others join it. `--hostname`
 * defaults to 127.0.0.1. On Deno the workers run with `--unstable-net`, which
 * `reusePort` needs there. Linux only.
 *
 * Each worker is this file run with `--worker <index>`; it exits when the
 * primary goes away (its stdin closes), so a killed primary leaves none behind.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { route, router, webSocket, type WebSocketHandlers, WebSocketUpgrade } from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { option, portOption, runtime, serveOnThisRuntime } from "./runtime.ts";

const port = portOption("9003");
const hostname = option("hostname", "127.0.0.1");
const workerIndex = option("worker", "");
const app = option("app", "echo");
if (app !== "echo" && app !== "broadcast") {
  console.error(`--app must be echo or broadcast, not ${app}`);
  process.exit(2);
}
const redisUrl = process.env.REDIS_URL || undefined;

if (workerIndex !== "") await worker(Number(workerIndex));
else await primary();

/** One worker: the echo on `/`, with `reusePort`; it says `listening on <port>` on stdout. */
async function worker(index: number): Promise<void> {
  let server: Server | null = null;
  const echo = webSocket("/", {
    message(ws, data) {
      ws.send(data);
    },
  });
  // The broadcast testee's contract: any path; each connection joins `all`, and what it sends goes to all of them.
  const broadcast: WebSocketHandlers = {
    open(ws) {
      ws.subscribe("all");
    },
    message(_ws, data) {
      server!.publish("all", data);
    },
  };
  const workerRoute = route("/worker", () => new Response(`worker ${index} pid ${process.pid}\n`));
  const handler = app === "echo"
    ? router([echo, workerRoute])
    : router([workerRoute], (request) => new WebSocketUpgrade(request, null, broadcast));
  server = await serveOnThisRuntime({ port, hostname, reusePort: true }, handler);
  const detach = redisUrl !== undefined && app === "broadcast" ? await connectBackplane(server, redisUrl) : null;
  console.log(`listening on ${server.port}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.shutdown({ timeout: 5000 });
    await detach?.();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // The primary holds the other end of stdin: when it ends, the primary is gone.
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}

/** Shares the worker's topics with the other workers through Redis; returns what detaches it. */
async function connectBackplane(server: Server, url: string): Promise<() => Promise<void>> {
  // Imported on demand: the echo and a lone broadcast worker need no Redis client.
  const { createClient } = await import("redis");
  const { createRedisBackplane } = await import("../src/redis.ts");
  const publisher = createClient({ url });
  const subscriber = publisher.duplicate();
  const backplane = await createRedisBackplane(server.topics, { publisher, subscriber });
  return async () => {
    await backplane.close();
    await Promise.allSettled([publisher.quit(), subscriber.quit()]);
  };
}

/** The command that runs this file as a worker on the current runtime. */
function workerCommand(index: number, workerPort: number): string[] {
  const file = fileURLToPath(import.meta.url);
  const args = [file, "--worker", String(index), "--port", String(workerPort), "--hostname", hostname, "--app", app];
  return runtime === "deno" ? [process.execPath, "run", "-A", "--unstable-net", ...args] : [process.execPath, ...args];
}

interface Worker {
  child: ChildProcess;
  /** Resolves with the bound port once the worker listens; rejects if it exits first. */
  listening: Promise<number>;
  exited: Promise<void>;
}

function startWorker(index: number, workerPort: number): Worker {
  const [command, ...args] = workerCommand(index, workerPort);
  // stdin: a pipe the worker watches; stdout: read for `listening on`; stderr: the worker's own.
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const listening = new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk);
      const match = /listening on (\d+)\n/.exec(out);
      if (match !== null) resolve(Number(match[1]));
    });
    exited.then(() => reject(new Error(`worker ${index} exited before listening`)));
  });
  listening.catch(() => {}); // handled where awaited
  return { child, listening, exited };
}

async function primary(): Promise<void> {
  const count = Number(option("workers", String(os.availableParallelism())));
  if (!Number.isInteger(count) || count < 1) {
    console.error(`--workers must be a positive integer, not ${option("workers", "")}`);
    process.exit(2);
  }
  if (app === "broadcast" && count > 1 && redisUrl === undefined) {
    console.error(
      "--app broadcast with more than one worker needs REDIS_URL: the workers share the topic through Redis",
    );
    process.exit(2);
  }
  const workers: Worker[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
    // Each worker shuts down within 5 s; one that does not is killed.
    const timer = setTimeout(() => {
      for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    }, 7000);
    await Promise.all(workers.map((w) => w.exited));
    clearTimeout(timer);
    process.exit(code);
  };
  process.on("SIGINT", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  try {
    // The first worker binds the port (a free one for --port 0); the others join it.
    workers.push(startWorker(0, port));
    const bound = await workers[0].listening;
    for (let i = 1; i < count; i++) workers.push(startWorker(i, bound));
    await Promise.all(workers.map((w) => w.listening));
    console.log(`listening on ${bound}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await stop(1);
    return;
  }
  // A worker that dies on its own takes the cluster down: say so and stop the rest.
  for (const [i, w] of workers.entries()) {
    w.exited.then(() => {
      if (stopping) return;
      console.error(`worker ${i} exited (${w.child.exitCode ?? w.child.signalCode}); stopping`);
      void stop(1);
    });
  }
}
