/**
 * The set of a server's open WebSocket connections (`server.clients`), as
 * `ws`'s `WebSocketServer.clients`.
 *
 * @module
 */
import { type Job, kJobClient, kJobClients, kJobs, kJoin, kLeave } from "./job.ts";
import type { DefaultWebSocketSession } from "./session/default_session.ts";
import type { RawWebSocketSession } from "./session/raw_session.ts";
import type { ServerWebSocket } from "./session/server_web_socket.ts";

/**
 * One open WebSocket connection, as its route's handler got it: a
 * `ServerWebSocket` on the handler path, a `DefaultWebSocketSession` for a
 * session function (`webSocket(path, protocol, handler)`, or any RAW
 * handler that built one), a `RawWebSocketSession` otherwise. Tell them
 * apart with `instanceof`.
 */
export type ConnectedClient = ServerWebSocket<unknown> | DefaultWebSocketSession<unknown> | RawWebSocketSession;

/**
 * The open WebSocket connections of a server (`server.clients`) or of an
 * attachment (`attach(...).clients`): a read-only, live iterable. A
 * connection joins it once upgraded, before its handler's `open` (or its
 * session function) runs, and leaves it when the connection is finished
 * (close handshake done, or the transport dropped), before its `close`
 * handler runs. Iterating while connections come and go is safe: one that
 * leaves before the iteration reaches it is skipped.
 *
 * The set holds each session's `Job` (which the server keeps for its
 * shutdown anyway) and the job holds the client: tracking costs one set
 * entry per connection, added and removed in O(1).
 *
 * @example Broadcast to every open connection, whatever its route ran
 * ```ts
 * import { DefaultWebSocketSession, router, ServerWebSocket, webSocket } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/node";
 *
 * const server = await serve({ port: 0 }, router([webSocket("/ws", { message() {} })]));
 * function broadcast(text: string): void {
 *   for (const client of server.clients) {
 *     if (client instanceof ServerWebSocket) client.sendText(text);
 *     else if (client instanceof DefaultWebSocketSession) void client.sendText(text).catch(() => {});
 *   }
 * }
 * broadcast("hello");
 * console.log(server.clientCount, server.clients.size); // 0 0
 * await server.shutdown();
 * ```
 */
export class ClientSet implements Iterable<ConnectedClient> {
  readonly #jobs: Set<Job> = new Set();

  /** How many connections are open. */
  get size(): number {
    return this.#jobs.size;
  }

  /** The open connections, in the order they opened. */
  *[Symbol.iterator](): IterableIterator<ConnectedClient> {
    for (const job of this.#jobs) {
      const client = job[kJobClient];
      if (client !== null) yield client;
    }
  }

  /**
   * Adds a session's job (done by `WebSocketUpgrade.upgrade`).
   *
   * @internal
   */
  [kJoin](job: Job): void {
    if (!job.isActive) return;
    this.#jobs.add(job);
    job[kJobClients] = this;
  }

  /**
   * Removes a session's job (done by the job as its connection finishes).
   *
   * @internal
   */
  [kLeave](job: Job): void {
    this.#jobs.delete(job);
  }

  /**
   * The sessions' jobs, for the server's shutdown.
   *
   * @internal
   */
  [kJobs](): IterableIterator<Job> {
    return this.#jobs.values();
  }
}
