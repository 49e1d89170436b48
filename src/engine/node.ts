/**
 * The Node engine: a standalone server on `node:net` / `node:tls`, and
 * `attach` / `handleUpgrade` for an existing `http.Server` (plain `http`,
 * Express, Fastify …) whose `'upgrade'` event hands over the socket.
 *
 * @example A WebSocket echo server
 * ```ts
 * import { Frame, WebSocketUpgrade } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/node";
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
import type { IncomingMessage, Server as NodeHttpServer } from "node:http";
import type { Server as NodeHttpsServer } from "node:https";
import * as net from "node:net";
import process from "node:process";
import type { Duplex } from "node:stream";
import * as tls from "node:tls";
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
import { ClientSet } from "../clients.ts";
import { HandshakeError } from "../errors.ts";
import { HTTP_DEFAULTS } from "../http/options.ts";
import { encodeHead, responseHead, switchingProtocolsHead } from "../http/response_head.ts";
import type { NetAddr, ServeHandler, ServeOptions, Server } from "../http/serve_types.ts";
import type { SocketTransport } from "../http/socket_transport.ts";
import {
  addressInUseError,
  DEFAULT_HOSTNAME,
  DEFAULT_PORT,
  HttpServer,
  requireReusePortPlatform,
  tlsOptions,
} from "../http/server.ts";
import { SocketTransportBase } from "../http/socket_transport_base.ts";
import { transportStreams } from "../http/transport_streams.ts";
import { UpgradedTransport } from "../http/upgraded_transport.ts";
import { Job } from "../job.ts";
import { WebSocketUpgrade } from "../upgrade.ts";

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

/** Where a socket's transport sits on the socket, so that its listeners can be shared functions. */
const TRANSPORT_OF = Symbol("hybi.nodeTransport");
type TransportedSocket = net.Socket & { [TRANSPORT_OF]: NodeSocketTransport };

// The socket listeners, one function each for all sockets (`this` is the socket).
function onSocketError(this: TransportedSocket, error: Error): void {
  this[TRANSPORT_OF].onError(error);
}
function onSocketClose(this: TransportedSocket): void {
  this[TRANSPORT_OF].onClose();
}
function onSocketData(this: TransportedSocket, chunk: Uint8Array): void {
  this[TRANSPORT_OF].onData(chunk);
}
function onSocketEnd(this: TransportedSocket): void {
  this[TRANSPORT_OF].onEnd();
}

/**
 * A socket transport over a Node socket (`net.Socket`, `tls.TLSSocket`, or
 * an upgraded `Duplex`): Node queues the writes (`writableLength`), and its
 * write callbacks give back the chunks and tell of progress.
 */
class NodeSocketTransport extends SocketTransportBase {
  readonly #socket: net.Socket;
  // Per write in order: its chunk and `done` (null when none was given); Node calls write callbacks in order.
  #written: (Uint8Array | ((chunk: Uint8Array) => void) | null)[] | null = null;
  #afterWriteCallback: (() => void) | null = null;

  constructor(socket: net.Socket, highWaterMark: number) {
    super(highWaterMark);
    this.#socket = socket;
    (socket as TransportedSocket)[TRANSPORT_OF] = this;
    socket.on("error", onSocketError);
    socket.on("close", onSocketClose);
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (!this.destroyed) this.#socket.resume();
  }

  protected startInput(): void {
    // Buffers, handed on as they are: the HTTP front and the frame reader give
    // the application plain Uint8Array views only.
    const socket = this.#socket;
    socket.on("data", onSocketData);
    socket.on("end", onSocketEnd);
    socket.resume();
  }

  protected send(chunk: Uint8Array, done: ((chunk: Uint8Array) => void) | undefined): boolean {
    (this.#written ??= []).push(done === undefined ? null : chunk, done ?? null);
    // A bound method, not an arrow function: no context made on every call of `send`.
    this.#socket.write(chunk, this.#afterWriteCallback ??= this.#afterWrite.bind(this));
    return true;
  }

  #afterWrite(): void {
    const written = this.#written!;
    if (written.length > 0) {
      const chunk = written.shift() as Uint8Array | null;
      const done = written.shift() as ((chunk: Uint8Array) => void) | null;
      if (done !== null) done(chunk!);
    }
    this.progressed();
  }

  protected shutdownOutput(): void {
    this.#socket.end();
  }

  // Node closes the socket itself once both sides ended, and then says so ('close').
  protected closeWhenDone(): void {}

  protected closeSocket(): boolean {
    this.#socket.destroy();
    return false; // 'close' follows
  }

  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  /** A tick queued from a promise reaction runs once the microtask queue is empty. */
  defer(task: () => void): void {
    process.nextTick(task);
  }
}

/**
 * Throws unless `reusePort` can be honoured here: Linux, and a Node that
 * knows the option (22.12 or later, or 23.1 or later; older ones ignore it).
 */
function checkReusePort(): void {
  requireReusePortPlatform(process.platform);
  // Deno and Bun run this engine with their own node:net, which knows the option.
  if ("Deno" in globalThis || "Bun" in globalThis) return;
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 12) || (major === 23 && minor < 1)) {
    throw new Error(`reusePort needs Node 22.12 or later (or 23.1 or later); this is Node ${process.versions.node}`);
  }
}

function remoteAddrOf(socket: net.Socket): NetAddr {
  return { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0, transport: "tcp" };
}

/**
 * Serves HTTP/1.1 and WebSocket on a `node:net` server (`node:tls` when
 * `cert` and `key` are given). Requests go to `handler`; a returned
 * `WebSocketUpgrade` switches the connection to WebSocket.
 *
 * @param options Where to listen, TLS, limits and hooks.
 * @param handler Answers each request.
 * @returns The listening server.
 *
 * @example
 * ```ts
 * import { serve } from "@hybi/websocket/node";
 * const server = await serve({ port: 0 }, () => new Response("hello"));
 * console.log(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()); // hello
 * await server.shutdown();
 * ```
 */
export async function serve(options: ServeOptions, handler: ServeHandler): Promise<Server> {
  const reusePort = options.reusePort === true;
  if (reusePort) checkReusePort();
  const server = new HttpServer(options, handler);
  const pair = tlsOptions(options);
  const highWaterMark = server.httpOptions.writeHighWaterMark;
  const onSocket = (socket: net.Socket) => {
    socket.setNoDelay(true);
    server.accept(new NodeSocketTransport(socket, highWaterMark), remoteAddrOf(socket));
  };
  const listener: net.Server = pair === null
    ? net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, onSocket)
    : tls.createServer({
      cert: pair.cert,
      key: pair.key,
      allowHalfOpen: true,
      // A client that stalls (or half-closes) in the handshake gets no longer than one for a request head.
      handshakeTimeout: server.httpOptions.headTimeout,
    }, onSocket);
  // Every TCP socket, so that shutdown can drop those still in a TLS handshake.
  const sockets = new Set<net.Socket>();
  // One close listener for all sockets (`this` is the socket), not a closure each.
  function forget(this: net.Socket): void {
    sockets.delete(this);
  }
  listener.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", forget);
  });
  // A failed TLS handshake concerns that client only. With a listener here Node
  // leaves the socket open, so it is dropped here (else shutdown would wait for it).
  listener.on("tlsClientError", (_error: Error, socket: tls.TLSSocket) => socket.destroy());
  const port = options.port ?? DEFAULT_PORT;
  const host = options.hostname ?? DEFAULT_HOSTNAME;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: unknown) =>
      reject(
        (error as { code?: unknown } | null)?.code === "EADDRINUSE"
          ? addressInUseError(error, host, port, reusePort)
          : error,
      );
    listener.once("error", onError);
    // `reusePort` only when asked for: a Node that does not know the option is never handed it.
    listener.listen(reusePort ? { port, host, reusePort } : { port, host }, () => {
      listener.off("error", onError);
      resolve();
    });
  });
  // Only once listening: a failure to listen rejects `serve` and is not reported as well.
  listener.on("error", (error) => {
    // After listening, a failure to accept one connection (EMFILE …) must not stop the others.
    if (!server.signal.aborted) server.report(error);
  });
  const address = listener.address() as net.AddressInfo;
  server.listening({ hostname: address.address, port: address.port, transport: "tcp" }, {
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
    drop: () => {
      for (const socket of sockets) socket.destroy();
    },
  });
  return server;
}

/** Options of {@linkcode handleUpgrade} and {@linkcode attach}. */
export interface UpgradeHandlingOptions {
  /** The engine context's signal passed to `upgrade()`: aborting it closes the sessions with 1001. */
  signal?: AbortSignal;
  /**
   * Receives handler failures answered with 500, and errors thrown by
   * WebSocket handlers whose route or upgrade sets no `onError` of its own.
   * Default `console.error`.
   */
  onError?: (error: unknown) => void;
  /**
   * The set of open connections the session joins while it is open
   * (`attach` passes its own, see {@linkcode Attachment.clients}). Default none.
   */
  clients?: ClientSet;
  /** Queued outgoing bytes per socket above which writes wait for the peer. Default 1 MiB. */
  writeHighWaterMark?: number;
}

function requestOf(req: IncomingMessage, secure: boolean): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const host = req.headers.host ?? "localhost";
  return new Request(`${secure ? "https" : "http"}://${host}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers,
  });
}

/**
 * Handles one `'upgrade'` event of a Node `http.Server` (or `https.Server`):
 * builds a web `Request`, calls `handler`, and either writes `101` and runs
 * the WebSocket session on the socket, or writes the returned `Response`
 * and closes the socket.
 *
 * @param req The request of the `'upgrade'` event.
 * @param socket The socket of the `'upgrade'` event.
 * @param head The bytes that followed the request head (they belong to the WebSocket).
 * @param handler Answers the request.
 * @param options The engine signal and hooks.
 * @returns A job covering the whole connection: it ends when the session
 *   ends, or once a plain answer is written; cancelling it drops the socket.
 *
 * @example
 * ```ts
 * import http from "node:http";
 * import { WebSocketUpgrade } from "@hybi/websocket";
 * import { handleUpgrade } from "@hybi/websocket/node";
 * const server = http.createServer((_req, res) => res.end("hello"));
 * server.on("upgrade", (req, socket, head) =>
 *   handleUpgrade(req, socket, head, (request) =>
 *     new WebSocketUpgrade(request, null, async (session) => {
 *       for await (const frame of session.incoming) await session.send(frame);
 *     })));
 * server.listen(0, () => server.close());
 * ```
 */
export function handleUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Uint8Array,
  handler: ServeHandler,
  options: UpgradeHandlingOptions = {},
): Job {
  const netSocket = socket as net.Socket;
  const secure = (netSocket as tls.TLSSocket).encrypted === true;
  const transport = new NodeSocketTransport(netSocket, options.writeHighWaterMark ?? HTTP_DEFAULTS.writeHighWaterMark);
  // Read from now on, so that frames sent right after the head are kept for the session.
  const upgraded = new UpgradedTransport(transport, head.length > 0 ? head.slice() : null);
  transport.start(upgraded.socketSink);
  netSocket.setNoDelay?.(true);
  let session: Job | null = null;
  const run = async (): Promise<void> => {
    const result = await answer(req, netSocket, secure, handler, options.onError ?? console.error);
    if (result instanceof WebSocketUpgrade && req.httpVersion === "1.1") {
      transport.write(encodeHead(switchingProtocolsHead(result.headers)));
      const { input, output } = transportStreams(upgraded);
      session = result.upgrade(input, output, {
        signal: options.signal,
        remoteAddr: remoteAddrOf(netSocket),
        clients: options.clients,
        onError: options.onError,
      }, {});
      await session.join();
      return;
    }
    const response = result instanceof Response
      ? result
      : new Response("a WebSocket handshake needs HTTP/1.1\n", { status: 400 });
    // A plain answer on a socket that asked to upgrade: small by nature, so buffered.
    const body = new Uint8Array(await response.arrayBuffer());
    const headText = responseHead(response.status, response.statusText, response.headers, {
      contentLength: body.length,
      chunked: false,
      close: true,
      keepAlive: false,
    });
    transport.write(encodeHead(headText, [body], body.length));
    transport.end();
  };
  const finished = run().catch((error) => {
    transport.destroy();
    reportSafely(options.onError ?? console.error, error);
  });
  return new Job(finished, (reason) => {
    if (session !== null) session.cancel(reason);
    else transport.destroy();
  });
}

function reportSafely(onError: (error: unknown) => void, error: unknown): void {
  try {
    onError(error);
  } catch {
    // A failing reporter must not take the server down.
  }
}

/** The handler's answer; a thrown HandshakeError becomes its response, any other error a 500. */
async function answer(
  req: IncomingMessage,
  socket: net.Socket,
  secure: boolean,
  handler: ServeHandler,
  onError: (error: unknown) => void,
): Promise<Response | WebSocketUpgrade> {
  try {
    return await handler(requestOf(req, secure), { remoteAddr: remoteAddrOf(socket) });
  } catch (error) {
    if (error instanceof HandshakeError) return error.response();
    reportSafely(onError, error);
    return new Response("internal server error\n", { status: 500 });
  }
}

/** What {@linkcode attach} returns: its open connections, and a way to stop handling upgrades and close them. */
export interface Attachment {
  /**
   * The open WebSocket connections this attachment runs, as `ws`'s
   * `clients` (see `Server.clients`): a live, read-only iterable.
   */
  readonly clients: ClientSet;
  /** How many WebSocket connections are open: `clients.size`. */
  readonly clientCount: number;
  /** Stops listening to the server's `'upgrade'` event. */
  detach(): void;
  /**
   * Detaches, closes every session with 1001 Going Away, waits for their
   * close handshakes up to `timeout` milliseconds (default 10 000), then
   * drops what is left. The `http.Server` itself is not closed.
   */
  shutdown(options?: { timeout?: number }): Promise<void>;
}

/**
 * Serves WebSocket upgrades of an existing Node `http.Server` or
 * `https.Server` (plain `http`, Express, Fastify …) with `handler`; the
 * server's other requests are untouched.
 *
 * @param server The Node HTTP server.
 * @param handler Answers each upgrade request.
 * @param options Hooks and limits.
 * @returns A handle to detach and to shut the sessions down.
 *
 * @example
 * ```ts
 * import http from "node:http";
 * import { WebSocketUpgrade } from "@hybi/websocket";
 * import { attach } from "@hybi/websocket/node";
 * const server = http.createServer((_req, res) => res.end("hello")).listen(0, "127.0.0.1");
 * const ws = attach(server, (request) =>
 *   new WebSocketUpgrade(request, null, async (session) => {
 *     for await (const frame of session.incoming) await session.send(frame);
 *   }));
 * // later:
 * await ws.shutdown();
 * server.close();
 * ```
 */
export function attach(
  server: NodeHttpServer | NodeHttpsServer,
  handler: ServeHandler,
  options: Omit<UpgradeHandlingOptions, "signal" | "clients"> = {},
): Attachment {
  const controller = new AbortController();
  const jobs = new Set<Job>();
  const clients = new ClientSet();
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Uint8Array) => {
    if (controller.signal.aborted) {
      socket.destroy();
      return;
    }
    const job = handleUpgrade(req, socket, head, handler, { ...options, signal: controller.signal, clients });
    jobs.add(job);
    job.then(() => jobs.delete(job));
  };
  server.on("upgrade", onUpgrade);
  const detach = () => void server.off("upgrade", onUpgrade);
  return {
    clients,
    get clientCount() {
      return clients.size;
    },
    detach,
    async shutdown(shutdownOptions = {}) {
      detach();
      controller.abort(new DOMException("the server is shutting down", "AbortError"));
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...jobs].map((j) => j.join())),
        new Promise<void>((resolve) => timer = setTimeout(resolve, shutdownOptions.timeout ?? 10_000)),
      ]);
      clearTimeout(timer);
      for (const job of jobs) job.cancel(new DOMException("the server shut down", "AbortError"));
      await Promise.all([...jobs].map((j) => j.join()));
    },
  };
}

/** Node's error codes of a name that does not resolve. */
const DNS_CODES: ReadonlySet<string> = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL", "EAI_NODATA"]);

/** What failed, from Node's error and whether TCP had connected (then, on a TLS dial, it is TLS). */
function dialFailure(error: unknown, tcpConnected: boolean, secure: boolean): DialFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") {
    if (DNS_CODES.has(code)) return "dns";
    if (code === "ECONNREFUSED") return "refused";
  }
  return secure && tcpConnected ? "tls" : "other";
}

/** Whether `host` is an IP literal (a TLS server name may not be one, RFC 6066 §3). */
function isIpLiteral(host: string): boolean {
  return net.isIP(host) !== 0;
}

/** Dials with `node:net` (`node:tls` for `wss:`): the socket's transport once connected (and TLS-handshaken). */
function dial(target: DialTarget): Promise<SocketTransport> {
  return new Promise((resolve, reject) => {
    const signal = target.signal;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const secure = target.tls !== null;
    const socket: net.Socket = target.tls === null
      ? net.connect({ host: target.hostname, port: target.port, allowHalfOpen: true, noDelay: true })
      : tls.connect({
        host: target.hostname,
        port: target.port,
        // Passed on to the socket by tls.connect, though its types leave them out.
        ...{ allowHalfOpen: true, noDelay: true } as tls.ConnectionOptions,
        servername: isIpLiteral(target.tls.serverName) ? undefined : target.tls.serverName,
        ca: target.tls.caCerts === null ? undefined : [...target.tls.caCerts],
        ALPNProtocols: ["http/1.1"],
        // The certificate is checked against the server name asked for, not the host dialed.
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(target.tls!.serverName, cert),
      });
    let tcpConnected = false;
    const onTcpConnect = () => tcpConnected = true;
    const cleanup = () => {
      socket.off("connect", onTcpConnect);
      socket.off(secure ? "secureConnect" : "connect", onReady);
      socket.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    const onReady = () => {
      cleanup();
      socket.pause();
      resolve(new NodeSocketTransport(socket, target.writeHighWaterMark));
    };
    const onError = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(dialError(dialFailure(error, tcpConnected, secure), target, error));
    };
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(signal.reason);
    };
    if (secure) socket.once("connect", onTcpConnect);
    socket.once(secure ? "secureConnect" : "connect", onReady);
    socket.once("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Connects to a WebSocket server over `node:net` (`node:tls` for `wss:`)
 * and runs the opening handshake. Resolves to the default session
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
 * import { webSocket, router } from "@hybi/websocket";
 * import { connect, serve } from "@hybi/websocket/node";
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
 * import { WebSocket } from "@hybi/websocket/node";
 * const socket = new WebSocket("wss://example.com/chat", ["v1"], { headers: { cookie: "id=42" } });
 * socket.onmessage = (event) => console.log(event.data);
 * ```
 */
class NodeWebSocket extends HybiWebSocket {
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
export { NodeWebSocket as WebSocket };
