/**
 * The shape shared by the three engines' `serve`: options, handler, server.
 *
 * @module
 */
import type { ClientSet } from "../clients.ts";
import type { Topics } from "../topics.ts";
import type { WebSocketUpgrade } from "../upgrade.ts";
import type { HttpOptions } from "./options.ts";
import type { NetAddr } from "./socket_transport.ts";

export type { NetAddr };

/** What a handler learns about the connection a request came on. */
export interface ServeHandlerInfo {
  /** The client's address. */
  readonly remoteAddr: NetAddr;
}

/**
 * Answers a request: a `Response`, or a `WebSocketUpgrade` to switch the
 * connection to WebSocket. A thrown `HandshakeError` is answered with its
 * `response()`; any other error with 500 (the server stays up).
 */
export type ServeHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | WebSocketUpgrade | Promise<Response | WebSocketUpgrade>;

/** Options of `serve`: where to listen, TLS, HTTP limits and hooks. */
export interface ServeOptions extends HttpOptions {
  /** The port to listen on; 0 picks a free one (see `server.port`). Default 8000. */
  port?: number;
  /**
   * The address to listen on. Default `"127.0.0.1"` (this machine only);
   * pass `"0.0.0.0"` (or `"::"`) to accept connections from other machines.
   */
  hostname?: string;
  /**
   * Lets several servers listen on the same `hostname` and `port`, each in
   * its own process (or in the same one), with the kernel spreading new
   * connections across them: Linux's `SO_REUSEPORT`. This is how a server
   * uses every core: one process per core, all with `reusePort: true` on one
   * port (see `examples/cluster.ts`). Every server sharing the port must pass
   * it; a server without it gets an address-in-use error, as usual.
   *
   * Linux only: elsewhere `serve` throws rather than ignore it (other systems
   * either lack `SO_REUSEPORT` or do not spread connections with it). Deno
   * needs the `--unstable-net` flag for it (else `serve` throws, naming the
   * flag); Node needs 22.12 or later (or 23.1 or later). Default `false`.
   */
  reusePort?: boolean;
  /** PEM certificate chain; with `key`, the server speaks TLS (`https:`/`wss:`). */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** Aborting it shuts the server down (as `shutdown()`). */
  signal?: AbortSignal;
  /**
   * Milliseconds `shutdown()` waits for sessions to finish their close
   * handshakes and for in-flight responses before dropping what is left.
   * Default 10 000.
   */
  shutdownTimeout?: number;
  /**
   * Receives handler failures answered with 500, failures inside the
   * server, and errors thrown by WebSocket handlers (handlers, session
   * functions, RAW handlers) whose route or upgrade sets no `onError` of
   * its own. Default `console.error`.
   */
  onError?: (error: unknown) => void;
  /** Called once the server listens, with the bound address. Default: nothing. */
  onListen?: (addr: NetAddr) => void;
}

/** Options of `server.shutdown()`. */
export interface ShutdownOptions {
  /** Milliseconds to wait before dropping what is left; default the server's `shutdownTimeout`. */
  timeout?: number;
}

/** A listening server, as returned by each engine's `serve`. */
export interface Server extends AsyncDisposable {
  /** The bound address. */
  readonly addr: NetAddr;
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** Resolves once the server has shut down. */
  readonly finished: Promise<void>;
  /**
   * Shuts down gracefully: stops accepting connections, closes idle
   * keep-alive connections, lets in-flight responses finish (with
   * `Connection: close`), closes every WebSocket session with 1001 Going
   * Away and waits for the close handshakes, up to `timeout`; then drops
   * whatever is left. Calling it again returns the same promise.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /**
   * Sends a message to every WebSocket connection of this server subscribed
   * to `topic` (`ws.subscribe`), framed once for all of them: text for a
   * `string`, binary otherwise. Never waits for a slow subscriber.
   *
   * @param topic The topic's name.
   * @param data The message.
   * @returns How many subscribers it was queued for.
   */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer | ArrayBufferView): number;
  /**
   * How many WebSocket connections of this server are subscribed to `topic`.
   *
   * @param topic The topic's name.
   */
  subscriberCount(topic: string): number;
  /** The topics of this server's WebSocket connections (to attach a backplane such as Redis, see `@hybi/websocket/redis`). */
  readonly topics: Topics;
  /**
   * The open WebSocket connections, as `ws`'s `clients`: a live, read-only
   * iterable of what each route's handler got (`ServerWebSocket`,
   * `DefaultWebSocketSession` or `RawWebSocketSession`). A connection is in
   * it from before its `open` handler (or session function) runs until it
   * is finished, before its `close` handler runs.
   */
  readonly clients: ClientSet;
  /** How many WebSocket connections are open: `clients.size`. */
  readonly clientCount: number;
  /** Same as `shutdown()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}
