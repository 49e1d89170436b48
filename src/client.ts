/**
 * A WebSocket client for code that runs on Deno, Bun and Node alike:
 * `connect` picks the engine of the runtime it runs on (`Deno.connect`,
 * `Bun.connect`, or `node:net` / `node:tls`), loading it on the first call.
 * Each engine's own `connect` (`@hybi/websocket/deno`, `/bun`, `/node`) is
 * the same function without the choice.
 *
 * @example
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * import { connect } from "@hybi/websocket/client";
 * import { serve } from "@hybi/websocket/deno";
 *
 * const server = await serve({ port: 0 }, router([webSocket("/echo", { message: (ws, data) => void ws.send(data) })]));
 * const session = await connect(`ws://127.0.0.1:${server.port}/echo`, { protocols: [] });
 * await session.sendText("hello");
 * for await (const message of session.messages()) {
 *   console.log(message); // hello
 *   break;
 * }
 * await session.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */
import type { Connect, ConnectOptions, RawConnectOptions } from "./client/connect.ts";

export type { Connect, ConnectOptions, HandlersConnectOptions, RawConnectOptions } from "./client/connect.ts";
export type { PerMessageDeflateOfferOptions } from "./extensions/permessage_deflate_client.ts";
export { DEFAULT_HANDSHAKE_TIMEOUT } from "./client/connect.ts";

let engine: Promise<Connect> | null = null;

/** The `connect` of the runtime's engine, imported once. */
function engineConnect(): Promise<Connect> {
  if (engine !== null) return engine;
  const global = globalThis as { Deno?: unknown; Bun?: unknown };
  engine = global.Deno !== undefined
    ? import("./engine/deno.ts").then((m) => m.connect)
    : global.Bun !== undefined
    ? import("./engine/bun.ts").then((m) => m.connect)
    : import("./engine/node.ts").then((m) => m.connect);
  return engine;
}

/**
 * Connects to a WebSocket server with the engine of the runtime this runs
 * on, and runs the opening handshake. Resolves to the default session
 * (`for await`, automatic pongs, the close handshake); with `raw: true` to a
 * `RawWebSocketSession`; with `handlers` to the handler path's
 * `ServerWebSocket`. Rejects with a `WebSocketError` whose code says what
 * failed (`WS_ERR_CONNECT_*`, `WS_ERR_HANDSHAKE_*`), or with the `signal`'s
 * reason.
 *
 * @example A RAW session
 * ```ts
 * import { connect } from "@hybi/websocket/client";
 * const raw = await connect("wss://example.com/socket", { raw: true, protocols: ["v1"] });
 * for await (const frame of raw) console.log(frame.frameType);
 * ```
 */
export const connect: Connect =
  ((url: string | URL, options?: ConnectOptions | RawConnectOptions) =>
    engineConnect().then((c) => (c as (u: string | URL, o?: unknown) => Promise<unknown>)(url, options))) as Connect;
