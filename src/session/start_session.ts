/**
 * What both ends do to run a session on an upgraded transport: the server's
 * `WebSocketUpgrade.upgrade` and the client's `connect` build the
 * `Connection` here (extensions disposed when it finishes) and start the
 * handler path here. What differs stays with them: the server's job, its
 * open clients, `idleTimeout` and the RAW handler's run; the client's
 * default session.
 *
 * @module
 */
import type { WebSocketExtension } from "../extensions/extension.ts";
import type { Transport } from "../transport.ts";
import { Connection, type ConnectionOptions } from "./connection.ts";
import { MessageCore, type MessageOptions } from "./message_core.ts";
import { kStart, ServerWebSocket, type ServerWebSocketInit } from "./server_web_socket.ts";

/**
 * A connection over `transport`, not started; the negotiated extensions
 * (which hold compression state) are disposed when it finishes.
 *
 * @param transport The upgraded transport.
 * @param options The connection's role, limits and agreed RSV bits.
 * @param extensions The negotiated extensions.
 * @returns The connection.
 */
export function openConnection(
  transport: Transport,
  options: ConnectionOptions,
  extensions: readonly WebSocketExtension[],
): Connection {
  const connection = new Connection(transport, options);
  if (extensions.length > 0) connection.finished.then(() => extensions.forEach((e) => e.dispose()));
  return connection;
}

/**
 * Starts the handler path on `connection`: a `ServerWebSocket` whose
 * `MessageCore` is the connection's handler (no promise per message), then
 * `listed` (where the caller makes it known and hooks its signals, before
 * anything can happen to it), then the `open` handler, then reading.
 *
 * @param connection A connection from {@linkcode openConnection} with `flushAfterRead`.
 * @param extensions The negotiated extensions.
 * @param init The `ServerWebSocket`'s handlers, data and settings.
 * @param options The message settings.
 * @param listed Called with the `ServerWebSocket` before `open` runs.
 * @returns The `ServerWebSocket`, open.
 */
export function startHandlers<T>(
  connection: Connection,
  extensions: readonly WebSocketExtension[],
  init: ServerWebSocketInit<T>,
  options: MessageOptions,
  listed: (ws: ServerWebSocket<T>) => void,
): ServerWebSocket<T> {
  const ws = new ServerWebSocket<T>(init);
  const core = new MessageCore(connection, extensions, ws, options);
  listed(ws);
  ws[kStart](core);
  connection.start();
  return ws;
}
