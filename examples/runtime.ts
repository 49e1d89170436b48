/**
 * For the examples, which run unchanged on Deno, Bun and Node: `serve` of
 * the engine that matches the runtime running them, imported on demand
 * (each engine uses APIs only its runtime has).
 *
 * @module
 */
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
