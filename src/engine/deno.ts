/**
 * The Deno engine: `Deno.listen` (or `Deno.listenTls`) and `conn.read` /
 * `conn.write` into the shared HTTP/1.1 front. It never uses `Deno.serve`
 * or `Deno.upgradeWebSocket`.
 *
 * @example A WebSocket echo server
 * ```ts
 * import { Frame, WebSocketUpgrade } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/deno";
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
import { type Connect, type ConnectOptions, connectWith, dialError, type DialTarget } from "../client/connect.ts";
import { HybiWebSocket, kConnect } from "../client/web_socket.ts";
import type { DefaultWebSocketSession } from "../session/default_session.ts";
import type { SocketTransport } from "../http/socket_transport.ts";
import type { NetAddr, ServeHandler, ServeOptions, Server } from "../http/serve_types.ts";
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

/**
 * Read buffer sizes: an idle connection holds the smallest while its read
 * is pending; a busy one grows up to the largest.
 */
const READ_MIN = 1024, READ_MAX = 64 * 1024;
/** Reads into a buffer this small are handed on as views, not copies (a kept view holds at most this much). */
const SMALL_READ_BUFFER = 4096;
/** Queued small writes are joined up to this size into one `conn.write`. */
const COALESCE_LIMIT = 64 * 1024;

/**
 * Buffers for joined writes, shared by all connections: `conn.write` is done
 * with its buffer once it resolves, so each goes back here for the next join.
 */
const joinBuffers: Uint8Array[] = [];
const JOIN_BUFFERS_KEPT = 16;

function giveBackJoined(joined: Uint8Array): void {
  if (joinBuffers.length < JOIN_BUFFERS_KEPT) joinBuffers.push(new Uint8Array(joined.buffer, 0, COALESCE_LIMIT));
}

/** A socket transport over a `Deno.Conn`: an async read loop into one buffer, and a write loop joining small chunks. */
class DenoConnTransport extends SocketTransportBase {
  readonly #conn: Deno.Conn;
  #readBuffer: Uint8Array | null = null;
  #readOffset = 0;
  #readSize = READ_MIN;
  #paused = false;
  #reading = false;
  #queue: Uint8Array[] = [];
  // `done` of each queued chunk (null when none was given), parallel to #queue.
  #queueDone: (((chunk: Uint8Array) => void) | null)[] = [];
  #queued = 0;
  #writing = false;
  #writingDone: ((chunk: Uint8Array) => void) | null = null;

  constructor(conn: Deno.Conn, highWaterMark: number) {
    super(highWaterMark);
    this.#conn = conn;
  }

  get bufferedAmount(): number {
    return this.#queued;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#reading && this.started) void this.#readLoop();
  }

  protected startInput(): void {
    void this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    this.#reading = true;
    try {
      while (!this.#paused && this.inputOpen) {
        // Reads fill one buffer from front to back: what a large read got is
        // handed on as a view and the next read goes into the space after it,
        // so a fresh (zero-filled) buffer is made per READ_MAX bytes, not per read.
        let buffer = this.#readBuffer;
        let offset = this.#readOffset;
        if (buffer === null || buffer.length - offset < this.#readSize / 4) {
          buffer = new Uint8Array(this.#readSize);
          offset = 0;
          this.#readBuffer = buffer;
          this.#readOffset = 0;
        }
        const space = buffer.length - offset;
        const n = await this.#conn.read(offset === 0 ? buffer : buffer.subarray(offset));
        if (this.destroyed) return;
        if (n === null) {
          this.onEnd(undefined);
          return;
        }
        // The reader keeps (and unmasks in place) what it gets. A small read
        // from a large buffer is copied out, so a message the application
        // keeps does not hold the whole buffer, and the space serves the next
        // read; from a small buffer (quiet traffic) it is a view too.
        let chunk: Uint8Array;
        if (n < space / 4 && buffer.length > SMALL_READ_BUFFER) chunk = buffer.slice(offset, offset + n);
        else {
          chunk = buffer.subarray(offset, offset + n);
          this.#readOffset = offset + n;
        }
        if (n === space) this.#readSize = Math.min(READ_MAX, this.#readSize * 2);
        else if (n < space / 8) this.#readSize = Math.max(READ_MIN, this.#readSize / 2);
        this.onData(chunk);
      }
    } catch (error) {
      this.onEnd(error);
    } finally {
      this.#reading = false;
    }
  }

  protected send(chunk: Uint8Array, done: ((chunk: Uint8Array) => void) | undefined): boolean {
    this.#queue.push(chunk);
    this.#queueDone.push(done ?? null);
    this.#queued += chunk.length;
    if (!this.#writing) void this.#writeLoop();
    return true;
  }

  /**
   * The next buffer to write: the first queued chunk (its `done` then goes
   * to `#writingDone`), or several small ones joined (their `done` called
   * at once, as they are copied).
   */
  #take(): Uint8Array {
    const queue = this.#queue;
    const dones = this.#queueDone;
    const first = queue[0];
    let count = 0, size = 0;
    if (queue.length > 1 && first.length < COALESCE_LIMIT) {
      while (count < queue.length && size + queue[count].length <= COALESCE_LIMIT) size += queue[count++].length;
    }
    if (count <= 1) {
      queue.shift();
      this.#writingDone = dones.shift()!;
      return first;
    }
    // A pooled buffer: a fresh one would be zero-filled only to be overwritten.
    const joined = (joinBuffers.pop() ?? new Uint8Array(COALESCE_LIMIT)).subarray(0, size);
    let offset = 0;
    for (let i = 0; i < count; i++) {
      joined.set(queue[i], offset);
      offset += queue[i].length;
      dones[i]?.(queue[i]);
    }
    queue.splice(0, count);
    dones.splice(0, count);
    this.#writingDone = giveBackJoined;
    return joined;
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#take();
        // `conn.write` may write less than it was given.
        const done = this.#writingDone;
        let offset = 0;
        while (offset < chunk.length) {
          offset += await this.#conn.write(offset === 0 ? chunk : chunk.subarray(offset));
          if (this.destroyed) return;
        }
        done?.(chunk);
        this.#queued -= chunk.length;
        this.progressed();
      }
    } catch (error) {
      // The peer cannot receive: the connection is over.
      this.onEnd(error);
      this.destroy();
    } finally {
      this.#writing = false;
    }
  }

  protected async shutdownOutput(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch {
      // The peer is gone already; closing cleans up.
    }
  }

  protected closeWhenDone(): void {
    this.destroy();
  }

  protected closeSocket(): boolean {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    return true;
  }

  protected override dropQueue(): void {
    this.#queue = [];
    this.#queueDone = [];
    this.#queued = 0;
  }

  /** A tick queued from a promise reaction runs once the microtask queue is empty. */
  defer(task: () => void): void {
    process.nextTick(task);
  }
}

function netAddr(addr: Deno.Addr): NetAddr {
  if (addr.transport === "tcp") return { hostname: addr.hostname, port: addr.port, transport: "tcp" };
  return { hostname: "", port: 0, transport: "tcp" };
}

/**
 * Serves HTTP/1.1 and WebSocket on `Deno.listen` (`Deno.listenTls` when
 * `cert` and `key` are given). Requests go to `handler`; a returned
 * `WebSocketUpgrade` switches the connection to WebSocket.
 *
 * @param options Where to listen, TLS, limits and hooks.
 * @param handler Answers each request.
 * @returns The listening server.
 *
 * @example
 * ```ts
 * import { serve } from "@hybi/websocket/deno";
 * const server = await serve({ port: 0 }, () => new Response("hello"));
 * console.log(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()); // hello
 * await server.shutdown();
 * ```
 */
export function serve(options: ServeOptions, handler: ServeHandler): Promise<Server> {
  // A failure to bind (or a bad option) rejects, as with the Node engine.
  return new Promise((resolve) => resolve(listen(options, handler)));
}

/**
 * Throws unless `reusePort` can be honoured here: Linux (Deno ignores the
 * option elsewhere), and `--unstable-net` (without it, Deno ends the process
 * at `Deno.listen`; the flag also brings `Deno.listenDatagram`, which tells).
 */
function checkReusePort(): void {
  requireReusePortPlatform(Deno.build.os);
  if (typeof (Deno as unknown as { listenDatagram?: unknown }).listenDatagram !== "function") {
    throw new Error(
      'reusePort on Deno needs the --unstable-net flag (deno run --unstable-net …, or "unstable": ["net"] in deno.json)',
    );
  }
}

function listen(options: ServeOptions, handler: ServeHandler): Server {
  const reusePort = options.reusePort === true;
  if (reusePort) checkReusePort();
  const server = new HttpServer(options, handler);
  const pair = tlsOptions(options);
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const port = options.port ?? DEFAULT_PORT;
  // `reusePort` only when asked for: Deno ends the process at an unstable option without its flag.
  const shared = reusePort ? { reusePort } : {};
  let listener: Deno.Listener;
  try {
    listener = pair === null
      ? Deno.listen({ hostname, port, transport: "tcp", ...shared })
      : Deno.listenTls({ hostname, port, cert: pair.cert, key: pair.key, ...shared });
  } catch (error) {
    throw error instanceof Deno.errors.AddrInUse
      ? addressInUseError(error, hostname, port, reusePort, Deno.errors.AddrInUse)
      : error;
  }
  const highWaterMark = server.httpOptions.writeHighWaterMark;
  let stopped = false;
  server.listening(netAddr(listener.addr), {
    close() {
      stopped = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
    },
  });
  void (async () => {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopped || error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) return;
        // Out of file descriptors and the like: report, wait a little, go on accepting.
        server.report(error);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (pair === null) (conn as Deno.TcpConn).setNoDelay(true);
      server.accept(new DenoConnTransport(conn, highWaterMark), netAddr(conn.remoteAddr));
    }
  })();
  return server;
}

/** Whether a `Deno.connect` error says the name did not resolve (Deno reports it as a plain error). */
function isDnsFailure(error: unknown): boolean {
  if (error instanceof Deno.errors.NotFound) return true;
  const message = error instanceof Error ? error.message : "";
  return message.includes("failed to lookup address") || message.includes("Name or service not known") ||
    message.includes("nodename nor servname");
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/**
 * Dials with `Deno.connect`, then `Deno.startTls` for `wss:` (so the server
 * name may differ from the host dialed) and its handshake: the socket's
 * transport once connected. Deno's dial takes no signal: an abort rejects at
 * once, and a connection that arrives afterwards is closed.
 */
function dial(target: DialTarget): Promise<SocketTransport> {
  const signal = target.signal;
  const opening = (async () => {
    let tcp: Deno.TcpConn;
    try {
      tcp = await Deno.connect({ hostname: target.hostname, port: target.port, transport: "tcp" });
    } catch (error) {
      throw dialError(
        error instanceof Deno.errors.ConnectionRefused ? "refused" : isDnsFailure(error) ? "dns" : "other",
        target,
        error,
      );
    }
    tcp.setNoDelay(true);
    if (target.tls === null) return tcp as Deno.Conn;
    let conn: Deno.TlsConn;
    try {
      conn = await Deno.startTls(tcp, {
        hostname: target.tls.serverName,
        caCerts: target.tls.caCerts === null ? undefined : [...target.tls.caCerts],
        alpnProtocols: ["http/1.1"],
      });
    } catch (error) {
      closeQuietly(tcp);
      throw dialError("tls", target, error);
    }
    try {
      await conn.handshake();
    } catch (error) {
      closeQuietly(conn);
      throw dialError("tls", target, error);
    }
    return conn as Deno.Conn;
  })();
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      opening.then(closeQuietly, () => {});
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      opening.then(closeQuietly, () => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    opening.then(
      (conn) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) closeQuietly(conn);
        else resolve(new DenoConnTransport(conn, target.writeHighWaterMark));
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Connects to a WebSocket server over `Deno.connect` (`Deno.startTls` for
 * `wss:`) and runs the opening handshake. Resolves to the default session
 * (`for await`, automatic pongs, the close handshake); with `raw: true` to a
 * `RawWebSocketSession`; with `handlers` to the handler path's
 * `ServerWebSocket`, the same object a server's handlers get. Rejects with a
 * `WebSocketError` whose code says what failed: `WS_ERR_CONNECT_DNS`,
 * `WS_ERR_CONNECT_REFUSED`, `WS_ERR_CONNECT_TLS`, `WS_ERR_HANDSHAKE_*` (a
 * `ClientHandshakeError` with the status and headers), or with the
 * `signal`'s reason.
 *
 * @example Talking to an echo server
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * import { connect, serve } from "@hybi/websocket/deno";
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
 * import { WebSocket } from "@hybi/websocket/deno";
 * const socket = new WebSocket("wss://example.com/chat", ["v1"], { headers: { cookie: "id=42" } });
 * socket.onmessage = (event) => console.log(event.data);
 * ```
 */
class DenoWebSocket extends HybiWebSocket {
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
export { DenoWebSocket as WebSocket };
