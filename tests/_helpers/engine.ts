/**
 * The engine of the runtime the tests run in, so that running the suite on
 * each runtime covers each engine.
 */
import type { ServeHandler, ServeOptions, Server } from "../../src/http/serve_types.ts";
import { Frame, type RawWebSocketSession, type Route, router } from "../../mod.ts";

export type Runtime = "deno" | "bun" | "node";

export const runtime: Runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";

export type Serve = (options: ServeOptions, handler: ServeHandler) => Promise<Server>;

/** `serve` of the current runtime's engine. */
export async function engineServe(): Promise<Serve> {
  switch (runtime) {
    case "deno":
      return (await import("../../src/engine/deno.ts")).serve;
    case "bun":
      return (await import("../../src/engine/bun.ts")).serve;
    case "node":
      return (await import("../../src/engine/node.ts")).serve;
  }
}

/**
 * Runs `body` with the port of a server of this runtime's engine on
 * 127.0.0.1 that routes `routes`, and shuts the server down after, whatever
 * happens.
 */
export async function withServer(routes: Route[], body: (port: number) => Promise<void>): Promise<void> {
  const serve = await engineServe();
  const server = await serve({ port: 0, hostname: "127.0.0.1" }, router(routes));
  try {
    await body(server.port);
  } finally {
    await server.shutdown({ timeout: 2000 });
  }
}

/** A correct echo on a RAW session: pongs pings, echoes data frames as they come, answers the close. */
export async function rawEcho(session: RawWebSocketSession): Promise<void> {
  for await (const frame of session.incoming) {
    if (frame instanceof Frame.Ping) await session.send(new Frame.Pong(frame.data));
    else if (frame instanceof Frame.Close) {
      await session.close(frame.readReason() ?? undefined);
      return;
    } else if (!(frame instanceof Frame.Pong)) await session.send(frame);
  }
}

// Some suites import `delay` from here; the one definition is in wait.ts.
export { delay } from "./wait.ts";

/** Resolves with the next `type` event of a web WebSocket (rejects on `error` when waiting for `open`). */
export function next<T extends Event>(ws: WebSocket, type: "open" | "message" | "close"): Promise<T> {
  return new Promise((resolve, reject) => {
    const onEvent = (e: Event) => {
      ws.removeEventListener(type, onEvent);
      ws.removeEventListener("error", onError);
      resolve(e as T);
    };
    const onError = (e: Event) => {
      if (type !== "open") return;
      ws.removeEventListener(type, onEvent);
      ws.removeEventListener("error", onError);
      reject(new Error(`WebSocket error: ${(e as ErrorEvent).message ?? e.type}`));
    };
    ws.addEventListener(type, onEvent);
    ws.addEventListener("error", onError);
  });
}
