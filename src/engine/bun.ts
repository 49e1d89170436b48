/**
 * The Bun engine: `Bun.listen` sockets into the shared HTTP/1.1 front, with
 * backpressure both ways (`pause`/`resume` while the consumer is behind;
 * short writes buffered until `drain`). It never uses `Bun.serve`'s
 * WebSocket.
 *
 * @example A WebSocket echo server (runs on Bun; type-checked by `npm run check`)
 * ```ts
 * import { Frame, WebSocketUpgrade } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/bun";
 *
 * const server = await serve({ port: 0 }, (request) =>
 *   new WebSocketUpgrade(request, null, async (session) => {
 *     for await (const frame of session.incoming) {
 *       if (frame instanceof Frame.Text || frame instanceof Frame.Binary) await session.send(frame);
 *     }
 *   }));
 * console.log(`listening on ${server.port}`);
 * await server.shutdown();
 * ```
 *
 * @module
 */
import process from "node:process";
import {
  type Connect,
  type ConnectOptions,
  connectWith,
  dialError,
  type DialFailure,
  type DialTarget,
} from "../client/connect.ts";
import { HybiWebSocket, kConnect } from "../client/web_socket.ts";
import type { DefaultWebSocketSession } from "../session/default_session.ts";
import type { SocketTransport } from "../http/socket_transport.ts";
import type { ServeHandler, ServeOptions, Server } from "../http/serve_types.ts";
import {
  addressInUseError,
  DEFAULT_HOSTNAME,
  DEFAULT_PORT,
  HttpServer,
  requireReusePortPlatform,
  tlsOptions,
} from "../http/server.ts";
import { SocketTransportBase } from "../http/socket_transport_base.ts";

export type {
  NetAddr,
  ServeHandler,
  ServeHandlerInfo,
  ServeOptions,
  Server,
  ShutdownOptions,
} from "../http/serve_types.ts";
export type { HttpOptions } from "../http/options.ts";
export type { Connect, ConnectOptions, HandlersConnectOptions, RawConnectOptions } from "../client/connect.ts";
export type { WebSocketOptions } from "../client/web_socket.ts";
export type { PerMessageDeflateOfferOptions } from "../extensions/permessage_deflate_client.ts";

// The part of Bun's socket API this engine uses (Bun's own types are not a dependency).

/** A socket accepted by `Bun.listen`. */
interface BunSocket {
  /** The per-socket value; here, the socket's transport. */
  data: BunSocketTransport | undefined;
  /** Writes what the kernel takes now; returns the byte count (-1 when closed). */
  write(data: Uint8Array): number;
  /** Sends FIN; the socket can still receive. */
  shutdown(): void;
  /** Closes gracefully. */
  end(): void;
  /** Closes now. */
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): boolean;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

interface BunSocketHandler {
  open(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
}

interface BunListenOptions {
  hostname: string;
  port: number;
  allowHalfOpen: boolean;
  /** Sets `SO_REUSEPORT` (Linux). */
  reusePort?: boolean;
  tls?: { cert: string; key: string };
  socket: BunSocketHandler;
}

interface BunListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

/** The handlers of a socket made by `Bun.connect`. */
interface BunClientSocketHandler extends Omit<BunSocketHandler, "error"> {
  error(socket: BunSocket, error: Error): void;
  /** The connection failed (the promise of `Bun.connect` rejects too). */
  connectError(socket: BunSocket, error: Error): void;
  /** The TLS handshake finished: `success`, or the reason the certificate was refused. */
  handshake(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
}

interface BunConnectOptions {
  hostname: string;
  port: number;
  allowHalfOpen: boolean;
  tls?: { serverName: string; ca?: string[]; rejectUnauthorized: boolean };
  socket: BunClientSocketHandler;
}

interface BunApi {
  listen(options: BunListenOptions): BunListener;
  connect(options: BunConnectOptions): Promise<BunSocket>;
}

/** A socket transport over a Bun socket: `write` takes what the kernel takes now; the rest waits for `drain`. */
class BunSocketTransport extends SocketTransportBase {
  readonly #socket: BunSocket;
  #queue: Uint8Array[] = [];
  #queued = 0;

  constructor(socket: BunSocket, highWaterMark: number) {
    super(highWaterMark);
    this.#socket = socket;
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  pause(): void {
    if (!this.destroyed) this.#socket.pause();
  }

  resume(): void {
    if (!this.destroyed) this.#socket.resume();
  }

  // Input comes from Bun's `data` handler from the start (a Buffer, handed on as it
  // is: the HTTP front and the frame reader give the application plain Uint8Array
  // views only, and reading `buffer` here costs more than the rest of a small
  // message's handling).
  protected startInput(): void {}

  /** Bun's `drain`: the kernel takes more. */
  onDrain(): void {
    if (this.destroyed) return;
    const queue = this.#queue;
    while (queue.length > 0) {
      const chunk = queue[0];
      const n = this.#socket.write(chunk);
      if (n < 0) return; // closed; onClose follows
      this.#queued -= n;
      if (n < chunk.length) {
        queue[0] = chunk.subarray(n);
        break;
      }
      queue.shift();
    }
    this.progressed();
  }

  protected send(chunk: Uint8Array, done: ((chunk: Uint8Array) => void) | undefined): boolean {
    const given = chunk;
    if (this.#queue.length === 0) {
      // Bun writes what the kernel takes now and says how much.
      const n = this.#socket.write(chunk);
      if (n < 0) return false;
      if (n === chunk.length) {
        // Nothing was queued before or after: no `drain` to give (the connection wakes its own waiters).
        done?.(given);
        return true;
      }
      chunk = chunk.subarray(n);
    }
    // What waits for `drain` is kept as a copy when the caller wants its buffer back.
    if (done !== undefined) {
      chunk = chunk.slice();
      done(given);
    }
    this.#queue.push(chunk);
    this.#queued += chunk.length;
    return true;
  }

  protected shutdownOutput(): void {
    this.#socket.shutdown();
  }

  protected closeWhenDone(): void {
    this.#socket.end();
  }

  protected closeSocket(): boolean {
    this.#socket.terminate();
    return true;
  }

  protected override dropQueue(): void {
    this.#queue = [];
    this.#queued = 0;
  }
}

function bunApi(): BunApi {
  const bun = (globalThis as { Bun?: BunApi }).Bun;
  if (bun === undefined) throw new Error("@hybi/websocket/bun needs the Bun runtime");
  return bun;
}

/**
 * Serves HTTP/1.1 and WebSocket on `Bun.listen` sockets (TLS when `cert`
 * and `key` are given). Requests go to `handler`; a returned
 * `WebSocketUpgrade` switches the connection to WebSocket.
 *
 * @param options Where to listen, TLS, limits and hooks.
 * @param handler Answers each request.
 * @returns The listening server.
 *
 * @example Runs on Bun; type-checked by `npm run check`
 * ```ts
 * import { serve } from "@hybi/websocket/bun";
 * const server = await serve({ port: 0 }, () => new Response("hello"));
 * console.log(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()); // hello
 * await server.shutdown();
 * ```
 */
export function serve(options: ServeOptions, handler: ServeHandler): Promise<Server> {
  // A failure to bind (or a bad option) rejects, as with the Node engine.
  return new Promise((resolve) => resolve(listen(options, handler)));
}

function listen(options: ServeOptions, handler: ServeHandler): Server {
  const reusePort = options.reusePort === true;
  if (reusePort) requireReusePortPlatform(process.platform);
  const server = new HttpServer(options, handler);
  const pair = tlsOptions(options);
  const highWaterMark = server.httpOptions.writeHighWaterMark;
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const port = options.port ?? DEFAULT_PORT;
  const bind = (listenOptions: BunListenOptions): BunListener => {
    try {
      return bunApi().listen(listenOptions);
    } catch (error) {
      throw (error as { code?: unknown } | null)?.code === "EADDRINUSE"
        ? addressInUseError(error, hostname, port, reusePort)
        : error;
    }
  };
  const listener: BunListener = bind({
    hostname,
    port,
    allowHalfOpen: true,
    ...(reusePort ? { reusePort } : {}),
    ...(pair === null ? {} : { tls: { cert: pair.cert, key: pair.key } }),
    socket: {
      open(socket) {
        socket.setNoDelay(true);
        const transport = new BunSocketTransport(socket, highWaterMark);
        socket.data = transport;
        server.accept(transport, { hostname: socket.remoteAddress, port: socket.remotePort, transport: "tcp" });
      },
      data: (socket, data) => socket.data?.onData(data),
      drain: (socket) => socket.data?.onDrain(),
      end: (socket) => socket.data?.onEnd(),
      close: (socket, error) => socket.data?.onClose(error),
      error: (socket, error) => socket.data?.onError(error),
    },
  });
  server.listening({ hostname: listener.hostname, port: listener.port, transport: "tcp" }, {
    close: () => listener.stop(false),
  });
  return server;
}

/**
 * Dials with `Bun.connect` (`tls` for `wss:`): the socket's transport once
 * connected and, for TLS, once Bun's `handshake` reports success (Bun opens
 * the socket before the TLS handshake). Bun's dial takes no signal: an
 * abort rejects at once and terminates the socket if one arrives.
 */
function dial(target: DialTarget): Promise<SocketTransport> {
  const signal = target.signal;
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let settled = false;
    let socket: BunSocket | null = null;
    const settle = () => {
      settled = true;
      signal.removeEventListener("abort", onAbort);
    };
    const fail = (kind: DialFailure, error: unknown) => {
      if (settled) return;
      settle();
      socket?.terminate();
      reject(dialError(kind, target, error));
    };
    const ready = (s: BunSocket) => {
      if (settled) return;
      settle();
      s.setNoDelay(true);
      const transport = new BunSocketTransport(s, target.writeHighWaterMark);
      s.data = transport;
      resolve(transport);
    };
    const onAbort = () => {
      if (settled) return;
      settle();
      socket?.terminate();
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const secure = target.tls !== null;
    bunApi().connect({
      hostname: target.hostname,
      port: target.port,
      allowHalfOpen: true,
      ...(target.tls === null ? {} : {
        tls: {
          serverName: target.tls.serverName,
          ...(target.tls.caCerts === null ? {} : { ca: [...target.tls.caCerts] }),
          rejectUnauthorized: true,
        },
      }),
      socket: {
        open(s) {
          socket = s;
          if (settled) s.terminate();
          else if (!secure) ready(s);
        },
        handshake(s, success, authorizationError) {
          if (success && authorizationError === null) ready(s);
          else fail("tls", authorizationError ?? new Error("the TLS handshake failed"));
        },
        data: (s, data) => s.data?.onData(data),
        drain: (s) => s.data?.onDrain(),
        end: (s) => s.data?.onEnd(),
        close(s, error) {
          if (s.data !== undefined) s.data.onClose(error);
          else fail(secure ? "tls" : "other", error ?? new Error("the connection closed during the dial"));
        },
        error: (s, error) => s.data?.onError(error),
        connectError: () => {},
      },
    }).catch((error: unknown) => {
      const code = (error as { code?: unknown } | null)?.code;
      fail(code === "ECONNREFUSED" ? "refused" : code === "ENOTFOUND" || code === "EAI_AGAIN" ? "dns" : "other", error);
    });
  });
}

/**
 * Connects to a WebSocket server over `Bun.connect` (with `tls` for
 * `wss:`) and runs the opening handshake. Resolves to the default session
 * (`for await`, automatic pongs, the close handshake); with `raw: true` to a
 * `RawWebSocketSession`; with `handlers` to the handler path's
 * `ServerWebSocket`, the same object a server's handlers get. Rejects with a
 * `WebSocketError` whose code says what failed: `WS_ERR_CONNECT_DNS`,
 * `WS_ERR_CONNECT_REFUSED`, `WS_ERR_CONNECT_TLS`, `WS_ERR_HANDSHAKE_*` (a
 * `ClientHandshakeError` with the status and headers), or with the
 * `signal`'s reason.
 *
 * @example Talking to an echo server (runs on Bun; type-checked by `npm run check`)
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * import { connect, serve } from "@hybi/websocket/bun";
 *
 * const server = await serve({ port: 0 }, router([webSocket("/echo", { message: (ws, data) => void ws.send(data) })]));
 * const session = await connect(`ws://127.0.0.1:${server.port}/echo`);
 * await session.sendText("hello");
 * for await (const message of session.messages()) {
 *   console.log(message); // hello
 *   break;
 * }
 * await session.close();
 * await server.shutdown();
 * ```
 */
export const connect: Connect =
  ((url: string | URL, options?: Parameters<typeof connectWith>[2]) => connectWith(dial, url, options)) as Connect;

/**
 * The browser's `WebSocket` on this engine's {@linkcode connect}
 * (`@hybi/websocket/client`'s `WebSocket` without the runtime's choice):
 * `new WebSocket(url, protocols?, options?)`, events, `send`, `close`.
 *
 * @example
 * ```ts
 * import { WebSocket } from "@hybi/websocket/bun";
 * const socket = new WebSocket("wss://example.com/chat", ["v1"], { headers: { cookie: "id=42" } });
 * socket.onmessage = (event) => console.log(event.data);
 * ```
 */
class BunWebSocket extends HybiWebSocket {
  /**
   * Connects with this engine.
   *
   * @param url The normalized URL.
   * @param options The connect options.
   * @returns The default session, once the handshake succeeded.
   */
  override [kConnect](url: string, options: ConnectOptions): Promise<DefaultWebSocketSession> {
    return connect(url, options);
  }
}
export { BunWebSocket as WebSocket };
