import {
  type DefaultSessionOptions,
  type DefaultWebSocketSession,
  runDefaultSession,
} from "../session/default_session.ts";
import { WebSocketUpgrade, type WebSocketUpgradeOptions } from "../upgrade.ts";
import { SessionWebSocket } from "./session_web_socket.ts";
import { SessionWebSocketStream } from "./session_web_socket_stream.ts";

/** Something that runs on the default session of an upgraded connection until it ends. */
interface SessionRunner {
  run(session: DefaultWebSocketSession, extensions: string): Promise<void>;
}

function upgradeFor(request: Request, options: UpgradeWebSocketOptions, runner: SessionRunner): WebSocketUpgrade {
  const response: WebSocketUpgrade = new WebSocketUpgrade(
    request,
    options.protocol ?? null,
    (raw) =>
      runDefaultSession(
        raw,
        (session) => runner.run(session, response.headers.get("sec-websocket-extensions") ?? ""),
        options,
      ),
    options,
  );
  return response;
}

/** Options of {@linkcode upgradeWebSocket} and {@linkcode upgradeWebSocketStream}. */
export interface UpgradeWebSocketOptions extends DefaultSessionOptions, WebSocketUpgradeOptions {
  /** The subprotocol to speak; it must be one the client offered. */
  protocol?: string | null;
}

/**
 * Answers an opening handshake with a browser-style {@linkcode SessionWebSocket},
 * in the shape of `Deno.upgradeWebSocket`: return `response` from the
 * handler and the engine performs the upgrade; `socket` opens then.
 *
 * @param request The opening handshake request.
 * @param options Subprotocol, session and upgrade options.
 * @returns The socket and the response to return.
 * @throws {HandshakeError} When the request is not a valid opening handshake.
 *
 * @example
 * ```ts
 * import { upgradeWebSocket } from "@hybi/websocket";
 * const handler = (request: Request) => {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   return response;
 * };
 * console.log(typeof handler); // function
 * ```
 */
export function upgradeWebSocket(
  request: Request,
  options: UpgradeWebSocketOptions = {},
): { socket: SessionWebSocket; response: WebSocketUpgrade } {
  const socket = new SessionWebSocket(request.url);
  const response = upgradeFor(request, options, socket);
  return { socket, response };
}

/**
 * Answers an opening handshake with a {@linkcode SessionWebSocketStream}
 * (the browser's `WebSocketStream` shape): streams of messages with
 * backpressure both ways.
 *
 * @param request The opening handshake request.
 * @param options Subprotocol, session and upgrade options.
 * @returns The stream and the response to return.
 * @throws {HandshakeError} When the request is not a valid opening handshake.
 *
 * @example
 * ```ts
 * import { upgradeWebSocketStream } from "@hybi/websocket";
 * const handler = (request: Request) => {
 *   const { stream, response } = upgradeWebSocketStream(request);
 *   void stream.opened.then(async ({ readable, writable }) => {
 *     const writer = writable.getWriter();
 *     for await (const message of readable) await writer.write(message);
 *   });
 *   return response;
 * };
 * console.log(typeof handler); // function
 * ```
 */
export function upgradeWebSocketStream(
  request: Request,
  options: UpgradeWebSocketOptions = {},
): { stream: SessionWebSocketStream; response: WebSocketUpgrade } {
  const stream = new SessionWebSocketStream(request.url);
  const response = upgradeFor(request, options, stream);
  return { stream, response };
}
