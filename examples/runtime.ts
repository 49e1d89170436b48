/**
 * For the examples, which run unchanged on Deno, Bun and Node: `serve` of
 * the engine that matches the runtime running them, imported on demand
 * (each engine uses APIs only its runtime has).
 *
 * @module
 */
import process from "node:process";
import type { ServeHandler, ServeOptions, Server } from "../src/http/serve_types.ts";

/** The runtime running this code. */
export const runtime: "deno" | "bun" | "node" = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

/** Serves with the engine of the current runtime. */
export async function serveOnThisRuntime(options: ServeOptions, handler: ServeHandler): Promise<Server> {
  switch (runtime) {
    case "deno":
      return await (await import("../src/engine/deno.ts")).serve(options, handler);
    case "bun":
      return await (await import("../src/engine/bun.ts")).serve(options, handler);
    case "node":
      return await (await import("../src/engine/node.ts")).serve(options, handler);
  }
}

/** The value of the command-line option `--name value` (or `--name=value`), or `fallback`. */
export function option(name: string, fallback: string): string {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
    if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
  }
  return fallback;
}

/** `--port`, checked: exits with 2 and a message when it is not a port number. */
export function portOption(fallback: string): number {
  const port = Number(option("port", fallback));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, not ${option("port", "")}`);
    process.exit(2);
  }
  return port;
}

/** Shuts `server` down gracefully on SIGINT or SIGTERM and exits 0; a second signal exits at once. */
export function stopOnSignals(server: Server): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(130); // a second signal: stop now
    stopping = true;
    await server.shutdown({ timeout: 5000 });
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
