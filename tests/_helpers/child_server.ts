/**
 * Runs `resource_server.ts` in a child process on the current runtime, with
 * garbage collection exposed, and talks to its control endpoints over plain
 * sockets (`Connection: close`, so the client keeps no connection open).
 */
import { spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtime } from "./engine.ts";
import { SocketClient } from "./socket_client.ts";

export interface SendRecord {
  queued: number;
  done: boolean;
  error: string | null;
  errorCloseCode: number | null;
  closeCode: number | null;
  bufferedMax: number;
}

export interface Stats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Memory outside the JS heap that JS objects own (ArrayBuffers …). */
  external: number;
  /** CPU time the server process used so far. */
  cpuMs: number;
  connections: number;
  sessions: number;
  timers: number;
  abortListeners: number;
  /** Open file descriptors (the runtime's own included). */
  fds: number;
  /** Open TCP sockets: the listener, and connections (the stats request's own included). */
  tcpSockets: number;
  sends: SendRecord[];
}

export interface ChildServer {
  port: number;
  /** Everything the child printed. */
  output(): string;
  /** The child's stats (after a full GC when `gc`). Its own request counts as one connection. */
  stats(gc?: boolean): Promise<Stats>;
  /** Asks the server to shut down; resolves with its exit code, or `null` if it did not exit within `ms`. */
  shutdown(ms: number): Promise<number | null>;
  /** Kills the child if it still runs. */
  kill(): Promise<void>;
}

function command(file: string): string[] {
  switch (runtime) {
    case "deno":
      return [process.execPath, "run", "-A", "--v8-flags=--expose-gc", file];
    case "node":
      return [process.execPath, "--expose-gc", file];
    case "bun":
      return [process.execPath, file];
  }
}

/** GET `path` with `Connection: close`; the response body. */
export async function get(port: number, path: string): Promise<string> {
  const client = await SocketClient.connect(port);
  client.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await client.until(() => client.ended, 20_000);
  client.close();
  const text = new TextDecoder().decode(client.bytes());
  const status = Number(text.split(" ")[1]);
  if (status !== 200) throw new Error(`GET ${path}: ${text.slice(0, 200)}`);
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

export async function startChildServer(): Promise<ChildServer> {
  const file = fileURLToPath(new URL("./resource_server.ts", import.meta.url));
  const [cmd, ...args] = command(file);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let exitCode: number | null = null;
  const exited = new Promise<number>((resolve) =>
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal === null ? -1 : 128);
      resolve(exitCode);
    })
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${out}`)), 20_000);
    child.stdout!.on("data", (chunk: Uint8Array) => {
      out += new TextDecoder().decode(chunk);
      const i = out.indexOf("listening on ");
      if (i >= 0 && out.indexOf("\n", i) > 0) {
        clearTimeout(timer);
        resolve(Number(out.slice(i + 13, out.indexOf("\n", i)).trim()));
      }
    });
    child.stderr!.on("data", (c: Uint8Array) => out += new TextDecoder().decode(c));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${out}`));
    });
  });
  return {
    port,
    output: () => out,
    stats: async (gc = false) => JSON.parse(await get(port, gc ? "/stats?gc=1" : "/stats")) as Stats,
    shutdown: async (ms) => {
      await get(port, "/shutdown");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const code = await Promise.race([exited, new Promise<null>((r) => timer = setTimeout(() => r(null), ms))]);
      clearTimeout(timer);
      return code;
    },
    kill: async () => {
      if (exitCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}
