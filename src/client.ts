/**
 * A WebSocket client for code that runs on Deno, Bun and Node alike:
 * `connect` picks the engine of the runtime it runs on (`Deno.connect`,
 * `Bun.connect`, or `node:net` / `node:tls`), loading it on the first call.
 * Each engine's own `connect` (`@hybi/websocket/deno`, `/bun`, `/node`) is
 * the same function without the choice. `WebSocket` (also exported as
 * `HybiWebSocket`) is the browser's `WebSocket` on this client, for code
 * written for browsers.
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
export type { Connect, ConnectOptions, HandlersConnectOptions, RawConnectOptions } from "./client/connect.ts";
export type { PerMessageDeflateOfferOptions } from "./extensions/permessage_deflate_client.ts";
export { DEFAULT_HANDSHAKE_TIMEOUT } from "./client/connect.ts";
export { connect } from "./client/runtime_connect.ts";
export { HybiWebSocket, HybiWebSocket as WebSocket, type WebSocketOptions } from "./client/web_socket.ts";
