/**
 * hybi: a WebSocket (RFC 6455, permessage-deflate RFC 7692) server library
 * for Deno, Bun and Node. Three ways to run a connection share one protocol
 * core, which answers pings, reassembles fragments, checks UTF-8 as it
 * arrives, enforces the limits and runs the close handshake:
 *
 * - handlers, the fast path: `webSocket(path, { open, message, drain,
 *   close, ping, pong, error })`, as `Bun.serve`'s `websocket`. `message`
 *   runs synchronously inside the read that completed the message, and
 *   `ServerWebSocket.send` returns at once: the bytes queued, `-1` when the
 *   peer is behind (`drain` follows), `0` when nothing was sent;
 * - the default session: `webSocket(path, protocol, async (session) => …)`,
 *   Ktor's `DefaultWebSocketSession`, read with `for await`;
 * - the RAW session: `webSocketRaw(path, protocol, handler)`, frames as they
 *   arrive.
 *
 * The shape is Ktor's `WebSocketUpgrade`: a handler answers the opening
 * handshake with a `WebSocketUpgrade`; the engine writes `101 Switching
 * Protocols` and calls `upgrade(input, output, engineContext, userContext)`,
 * which runs the session over the connection's byte streams and returns a
 * `Job`.
 *
 * This module is the runtime-independent core (web standards only). The
 * engines, with `serve`, live in `@hybi/websocket/deno`, `/bun` and `/node`.
 * The repository's `docs/architecture.md` follows a message through the
 * layers.
 *
 * @example An echo on the handler path, served by the Deno engine
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/deno";
 *
 * const server = await serve(
 *   { port: 0 },
 *   router([
 *     webSocket("/echo", {
 *       message(ws, data) {
 *         ws.send(data);
 *       },
 *     }),
 *   ]),
 * );
 * const client = new WebSocket(`ws://127.0.0.1:${server.port}/echo`);
 * client.onopen = () => client.send("hello");
 * const echoed = await new Promise((resolve) => client.onmessage = (event) => resolve(event.data));
 * console.log(echoed); // hello
 * client.close();
 * await server.shutdown();
 * ```
 *
 * @example A RAW echo session over a pair of byte streams
 * ```ts
 * import { WebSocketUpgrade } from "@hybi/websocket";
 *
 * const request = new Request("http://localhost/", {
 *   headers: {
 *     upgrade: "websocket",
 *     connection: "Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "sec-websocket-version": "13",
 *   },
 * });
 * const upgrade = new WebSocketUpgrade(request, null, async (session) => {
 *   for await (const frame of session.incoming) await session.send(frame);
 * });
 * console.log(upgrade.status, upgrade.headers.get("sec-websocket-accept"));
 *
 * // An engine would now write the 101 head and hand over the socket's streams:
 * const fromClient = new ReadableStream<Uint8Array>({
 *   start(c) {
 *     // A masked text frame "Hi", then the end of the input.
 *     c.enqueue(new Uint8Array([0x81, 0x82, 1, 2, 3, 4, 0x48 ^ 1, 0x69 ^ 2]));
 *     c.close();
 *   },
 * });
 * const toClient: Uint8Array[] = [];
 * const job = upgrade.upgrade(fromClient, new WritableStream({ write: (b) => void toClient.push(b) }));
 * await job;
 * console.log(toClient[0]); // Uint8Array(4) [ 129, 2, 72, 105 ]
 * ```
 *
 * @module
 */
export { ClientSet, type ConnectedClient } from "./src/clients.ts";
export { CloseCode, CloseReason, isValidCloseCode } from "./src/close_reason.ts";
export { ClientHandshakeError, ErrorCode, HandshakeError, WebSocketError } from "./src/errors.ts";
export { jsonConverter, type WebSocketConverter } from "./src/converter.ts";
export type { WebSocketExtension } from "./src/extensions/extension.ts";
export {
  BinaryFrame,
  CloseFrame,
  ContinuationFrame,
  Frame,
  PingFrame,
  PongFrame,
  TextFrame,
} from "./src/frame/frame.ts";
export { FrameType } from "./src/frame/frame_type.ts";
export { DEFAULT_MAX_FRAME_SIZE, FrameReader, type FrameReaderOptions } from "./src/frame/frame_reader.ts";
export { FrameWriter, type FrameWriterOptions } from "./src/frame/frame_writer.ts";
export { applyMask } from "./src/frame/mask.ts";
export { computeAccept, type HandshakeOffer, validateHandshake, WEBSOCKET_GUID } from "./src/handshake.ts";
export type { NetAddr, ServeHandler, ServeHandlerInfo } from "./src/http/serve_types.ts";
export { Job, type JobTarget } from "./src/job.ts";
export {
  type DefaultRouteHandler,
  type DefaultWebSocketRouteOptions,
  type FallbackHandler,
  type RawRouteHandler,
  type Route,
  route,
  type RouteContext,
  type RouteHandler,
  router,
  type RouteVerifier,
  webSocket,
  type WebSocketHandlersRouteOptions,
  webSocketRaw,
  type WebSocketRouteContext,
  type WebSocketRouteOptions,
} from "./src/routing.ts";
export { RawWebSocketSession } from "./src/session/raw_session.ts";
export { ServerWebSocket, type WebSocketHandlers } from "./src/session/server_web_socket.ts";
export { type Backplane, PublishedMessage, Topics, type TopicSubscriber } from "./src/topics.ts";
export type { MessageOptions } from "./src/session/message_core.ts";
export type { WebSocketSession } from "./src/session/session.ts";
export { sha1 } from "./src/sha1.ts";
export { isValidUtf8, Utf8Validator } from "./src/utf8.ts";
export {
  type ProtocolChooser,
  type RawSessionHandler,
  type SessionHandler,
  type UpgradeContext,
  type UpgradeVerifier,
  type WebSocketAcceptOptions,
  WebSocketUpgrade,
  type WebSocketUpgradeOptions,
} from "./src/upgrade.ts";
export { originAllowed, type OriginPolicy } from "./src/origin.ts";
export {
  DEFAULT_MAX_MESSAGE_SIZE,
  type DefaultSessionOptions,
  DefaultWebSocketSession,
  runDefaultSession,
} from "./src/session/default_session.ts";
export { WebSocketCloseEvent, type WebSocketCloseEventInit } from "./src/facade/close_event.ts";
export { SessionWebSocket, type WebSocketData, type WebSocketEventHandler } from "./src/facade/session_web_socket.ts";
export {
  SessionWebSocketStream,
  type WebSocketCloseInfo,
  type WebSocketStreamConnection,
} from "./src/facade/session_web_socket_stream.ts";
export {
  upgradeWebSocket,
  type UpgradeWebSocketOptions,
  upgradeWebSocketStream,
} from "./src/facade/upgrade_web_socket.ts";
export type { WebSocketExtensionFactory } from "./src/extensions/extension.ts";
export {
  type ExtensionElement,
  type ExtensionParam,
  formatExtension,
  type ParsedExtensions,
  parseExtensions,
} from "./src/extensions/extension_header.ts";
export { type NegotiatedExtensions, negotiateExtensions } from "./src/extensions/negotiation.ts";
export {
  type DeflateAgreement,
  type DeflateParameters,
  PerMessageDeflate,
  PerMessageDeflateExtension,
  type PerMessageDeflateOptions,
} from "./src/extensions/permessage_deflate.ts";
