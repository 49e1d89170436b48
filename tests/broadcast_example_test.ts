/**
 * `examples/broadcast.ts` (what `npm run broadcast:<runtime>` starts) on the
 * runtime running the test: it prints `listening on <port>`, sends what any
 * connection sends to every open connection (the sender included), compresses
 * for a client that offers it, and stops cleanly on SIGTERM.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { Buffer } from "node:buffer";
import { runtimeCommand } from "./_helpers/echo_server.ts";
import { runtime } from "./_helpers/engine.ts";
import { until, within } from "./_helpers/wait.ts";
import { WebSocketClient, type WsClient } from "./_helpers/ws_client.ts";

test("examples/broadcast.ts: every message to every connection, the sender included; SIGTERM stops it", async () => {
  const file = fileURLToPath(new URL("../examples/broadcast.ts", import.meta.url));
  const [command, ...args] = runtimeCommand(file);
  const child = spawn(command, [...args, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
  let stdout = "";
  child.stdout!.on("data", (chunk: Uint8Array) => stdout += new TextDecoder().decode(chunk));
  child.stderr!.on("data", () => {});
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    await until(() => /^listening on \d+\n/.test(stdout), { timeout: 20_000, message: "listening on <port>" });
    const port = Number(stdout.slice("listening on ".length).trim());
    const clients: { ws: WsClient; got: string[] }[] = [];
    for (const perMessageDeflate of [false, true, false]) {
      const ws = new WebSocketClient(`ws://127.0.0.1:${port}/any/path`, undefined, { perMessageDeflate });
      const client = { ws, got: [] as string[] };
      ws.on("message", (data: Buffer) => client.got.push(data.toString("utf8")));
      await new Promise<void>((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      clients.push(client);
    }
    // A connection counts once it has subscribed: wait until a message reaches all three.
    await until(() => {
      clients[0].ws.send("ping");
      return clients.every((c) => c.got.includes("ping"));
    }, { message: "a first broadcast to reach every connection" });
    for (const c of clients) c.got.length = 0;
    for (let i = 0; i < 20; i++) clients[i % 3].ws.send(`m${i}`);
    await until(() => clients.every((c) => c.got.filter((m) => m.startsWith("m")).length === 20), {
      message: "20 messages on every connection",
    });
    const expected = Array.from({ length: 20 }, (_, i) => `m${i}`).sort();
    for (const c of clients) assert.deepEqual(c.got.filter((m) => m.startsWith("m")).sort(), expected);
    child.kill("SIGTERM");
    const code = await within(exited, { timeout: 10_000, message: "the process to exit" });
    // Deno's node:child_process reports a child that exits 0 after SIGTERM as killed (code null): there the
    // check is that it exits at all (examples/echo.ts's test checks the code through Deno's own API).
    if (runtime === "deno") assert.ok(code === 0 || code === null, `exit code ${code}`);
    else assert.equal(code, 0);
    for (const c of clients) c.ws.terminate();
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});
