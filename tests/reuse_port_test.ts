/**
 * `serve({ reusePort: true })` (Linux's `SO_REUSEPORT`) on the engine of the
 * runtime running the test: two servers share one port and both get
 * connections; without `reusePort` the second fails with a clear error; and
 * `examples/cluster.ts` runs two workers on one port and stops them on SIGTERM.
 *
 * `deno test -A` runs without `--unstable-net`, which `reusePort` needs on
 * Deno: there `serve` must refuse it (naming the flag) rather than let Deno
 * end the process, and the sharing is checked through the cluster example,
 * whose workers run with the flag.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { router, type ServeHandler, webSocket } from "../mod.ts";
import type { Server } from "../src/http/serve_types.ts";
import { runtimeCommand } from "./_helpers/echo_server.ts";
import { engineServe, runtime } from "./_helpers/engine.ts";
import { SocketClient } from "./_helpers/socket_client.ts";
import { RedisServer, redisSkip } from "./_helpers/redis_server.ts";
import { makeCertificates } from "./_helpers/tls.ts";
import { until, within } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

const linux = process.platform === "linux";
/** Deno honours `reusePort` only with `--unstable-net` (which also brings `Deno.listenDatagram`). */
const reusePortHere = linux &&
  (runtime !== "deno" ||
    typeof (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno?.listenDatagram === "function");

/** Opens a WebSocket and waits for one echo; the client stays open. */
async function echoOnce(port: number, text: string): Promise<WsClient> {
  const ws = new WebSocketClient(`ws://127.0.0.1:${port}/`);
  await new Promise<void>((resolve, reject) => {
    ws.once("error", reject);
    ws.once("open", () => {
      ws.once("message", (data) => data.toString() === text ? resolve() : reject(new Error(`echo ${data}`)));
      ws.send(text);
    });
  });
  return ws;
}

/** An echo on `/` that counts the connections it opened. */
function countingEcho(counter: { opened: number }): ServeHandler {
  return router([
    webSocket("/", {
      open() {
        counter.opened++;
      },
      message(ws, data) {
        ws.send(data);
      },
    }),
  ]);
}

test("reusePort: two servers on one port both accept connections; a third without it is refused", {
  skip: reusePortHere ? false : "reusePort is not available here (Deno without --unstable-net, or not Linux)",
}, async () => {
  const serve = await engineServe();
  const a = { opened: 0 };
  const b = { opened: 0 };
  const servers: Server[] = [];
  const clients: WsClient[] = [];
  try {
    servers.push(await serve({ port: 0, reusePort: true }, countingEcho(a)));
    const port = servers[0].port;
    servers.push(await serve({ port, reusePort: true }, countingEcho(b)));
    assert.equal(servers[1].port, port);
    // The kernel spreads connections by a hash of their addresses: 40 leave both servers
    // some but for a chance of 2^-39; go on (up to 200) rather than fail on that chance.
    await until(async () => {
      clients.push(await echoOnce(port, `hello ${clients.length}`));
      return clients.length >= 40 && a.opened > 0 && b.opened > 0;
    }, {
      timeout: 30_000,
      interval: 0,
      message: () => `connections on both servers (first ${a.opened}, second ${b.opened})`,
    });
    assert.equal(a.opened + b.opened, clients.length);
    // Joining the group needs reusePort on every server: one without it is refused.
    await assert.rejects(serve({ port }, () => new Response("no")), (error: Error & { code?: string }) => {
      assert.equal(error.code, "EADDRINUSE");
      assert.match(error.message, new RegExp(`:${port}: the address is in use`));
      assert.match(error.message, /reusePort: true/);
      return true;
    });
  } finally {
    for (const ws of clients) ws.terminate();
    await Promise.all(servers.map((s) => s.shutdown({ timeout: 2000 })));
  }
  for (const s of servers) await within(s.finished, { message: "the server to finish" });
});

test("reusePort with TLS: two servers on one port both answer", {
  skip: reusePortHere ? false : "reusePort is not available here (Deno without --unstable-net, or not Linux)",
}, async () => {
  const serve = await engineServe();
  const certs = await makeCertificates();
  const servers: Server[] = [];
  try {
    const tlsOptions = { cert: certs.cert, key: certs.key, reusePort: true, onError: () => {} };
    servers.push(await serve({ port: 0, ...tlsOptions }, () => new Response("first")));
    const port = servers[0].port;
    servers.push(await serve({ port, ...tlsOptions }, () => new Response("second")));
    const answers = new Set<string>();
    let asked = 0;
    await until(async () => {
      const client = await SocketClient.connect(port, { tls: { ca: certs.ca, servername: "localhost" } });
      client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      await client.until(() => client.ended);
      client.close();
      answers.add(client.text().slice(client.text().indexOf("\r\n\r\n") + 4));
      return ++asked >= 20 && answers.size === 2;
    }, { timeout: 30_000, interval: 0, message: () => `both servers to answer (${[...answers]})` });
    assert.deepEqual([...answers].sort(), ["first", "second"]);
  } finally {
    await Promise.all(servers.map((s) => s.shutdown({ timeout: 2000 })));
    await certs.remove();
  }
});

test("without reusePort a second server on the same port fails with a clear error", async () => {
  const serve = await engineServe();
  const first = await serve({ port: 0 }, () => new Response("first"));
  try {
    const port = first.port;
    await assert.rejects(serve({ port }, () => new Response("second")), (error: Error & { code?: string }) => {
      assert.equal(error.code, "EADDRINUSE");
      assert.match(error.message, new RegExp(`^cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`));
      assert.match(error.message, /pass reusePort: true to each/);
      assert.ok(error.cause instanceof Error, "the runtime's own error is the cause");
      return true;
    });
    if (reusePortHere) {
      // reusePort on the second alone does not help: the first did not allow sharing.
      await assert.rejects(serve({ port, reusePort: true }, () => new Response("second")), /the address is in use/);
    }
    // The first server is unharmed.
    const client = await SocketClient.connect(port);
    client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await client.until(() => client.ended && client.text().endsWith("first"));
    client.close();
  } finally {
    await first.shutdown({ timeout: 2000 });
  }
});

test("Deno without --unstable-net: reusePort is refused at serve, naming the flag", {
  skip: runtime === "deno" && !reusePortHere && linux ? false : "Deno without --unstable-net only",
}, async () => {
  const serve = await engineServe();
  await assert.rejects(serve({ port: 0, reusePort: true }, () => new Response("x")), /--unstable-net/);
});

test("examples/cluster.ts: two workers on one port share the connections; SIGTERM stops them all", {
  skip: linux ? false : "reusePort is Linux only",
}, async () => {
  const file = fileURLToPath(new URL("../examples/cluster.ts", import.meta.url));
  const [command, ...args] = runtimeCommand(file);
  const child = spawn(command, [...args, "--port", "0", "--workers", "2"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: process.env,
  });
  let output = "";
  child.stdout!.on("data", (chunk: Uint8Array) => output += new TextDecoder().decode(chunk));
  child.stderr!.on("data", (chunk: Uint8Array) => output += new TextDecoder().decode(chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const pids = new Set<number>();
  try {
    await until(() => /listening on \d+\n/.test(output), { timeout: 30_000, message: () => `listening:\n${output}` });
    const port = Number(/listening on (\d+)\n/.exec(output)![1]);
    const ws = await echoOnce(port, "through the cluster");
    ws.terminate();
    // Each connection asks which worker took it; with 2 workers 40 connections reach both.
    let asked = 0;
    await until(async () => {
      const client = await SocketClient.connect(port);
      client.write("GET /worker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      await client.until(() => client.ended);
      client.close();
      const match = /worker \d pid (\d+)/.exec(client.text());
      assert.ok(match !== null, client.text());
      pids.add(Number(match[1]));
      return ++asked >= 40 && pids.size === 2;
    }, { timeout: 30_000, interval: 0, message: () => `both workers to answer (${pids.size} did)` });
    child.kill("SIGTERM");
    const code = await within(exited, { timeout: 15_000, message: "the cluster to exit" });
    // Deno's node:child_process reports a child that exits 0 after SIGTERM as killed (code null).
    if (runtime === "deno") assert.ok(code === 0 || code === null, `exit code ${code}\n${output}`);
    else assert.equal(code, 0, output);
    for (const pid of pids) {
      assert.throws(() => process.kill(pid, 0), "the worker has exited");
    }
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone, as it should be.
      }
    }
  }
});

test("examples/cluster.ts --app broadcast: two workers share a topic through a real redis-server", {
  skip: !linux ? "reusePort is Linux only" : redisSkip,
}, async () => {
  const redis = await RedisServer.start();
  const file = fileURLToPath(new URL("../examples/cluster.ts", import.meta.url));
  const [command, ...args] = runtimeCommand(file);
  const child = spawn(command, [...args, "--port", "0", "--workers", "2", "--app", "broadcast"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, REDIS_URL: redis.url },
  });
  let output = "";
  child.stdout!.on("data", (chunk: Uint8Array) => output += new TextDecoder().decode(chunk));
  child.stderr!.on("data", (chunk: Uint8Array) => output += new TextDecoder().decode(chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const clients: WsClient[] = [];
  try {
    await until(() => /listening on \d+\n/.test(output), { timeout: 30_000, message: () => `listening:\n${output}` });
    const port = Number(/listening on (\d+)\n/.exec(output)![1]);
    // 16 connections land on both workers but with a chance of 2^-15 (the kernel hashes each one to a worker);
    // every one must get what any of them sends, so a message has to cross from one worker to the other.
    const received: string[][] = [];
    for (let i = 0; i < 16; i++) {
      const ws = new WebSocketClient(`ws://127.0.0.1:${port}/`);
      const inbox: string[] = [];
      ws.on("message", (data) => inbox.push(data.toString()));
      await new Promise<void>((resolve, reject) => {
        ws.once("error", reject);
        ws.once("open", () => resolve());
      });
      clients.push(ws);
      received.push(inbox);
    }
    // Each worker subscribes to Redis once its first connection joins; wait until one publish reaches everyone.
    let probe = 0;
    await until(() => {
      clients[0].send(`probe ${++probe}`);
      return received.every((inbox) => inbox.some((m) => m.startsWith("probe")));
    }, { timeout: 20_000, interval: 100, message: "a publish to reach every connection" });
    clients[3].send("from 3");
    clients[12].send("from 12");
    await until(() => received.every((inbox) => inbox.includes("from 3") && inbox.includes("from 12")), {
      timeout: 20_000,
      message: () => `every connection to get both (${received.map((r) => r.length).join(",")})`,
    });
  } finally {
    for (const ws of clients) ws.terminate();
    if (child.exitCode === null) child.kill("SIGTERM");
    const code = await within(exited, { timeout: 15_000, message: "the cluster to exit" }).catch(() => {
      child.kill("SIGKILL");
      return exited;
    });
    await redis.dispose();
    if (runtime !== "deno") assert.equal(code, 0, output);
  }
});
