/**
 * The runtime-independent part of a server: the connections and WebSocket
 * jobs it owns, and the graceful shutdown. An engine binds a listener,
 * calls `accept` with a {@linkcode SocketTransport} for every socket, and
 * returns this object as its `Server`.
 *
 * @module
 */
import { ClientSet } from "../clients.ts";
import { reportRequestError } from "../errors.ts";
import { Topics } from "../topics.ts";
import { type Job, kJobObserver, kJobs } from "../job.ts";
import { type ConnectionContext, HttpConnection } from "./http_connection.ts";
import { HttpError } from "./http_error.ts";
import { type ResolvedHttpOptions, resolveHttpOptions } from "./options.ts";
import type { NetAddr, ServeHandler, ServeOptions, Server, ShutdownOptions } from "./serve_types.ts";
import type { SocketTransport } from "./socket_transport.ts";

/** Default of {@linkcode ServeOptions.shutdownTimeout}. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;
/** Default of {@linkcode ServeOptions.hostname}. */
export const DEFAULT_HOSTNAME = "127.0.0.1";
/** Default of {@linkcode ServeOptions.port}. */
export const DEFAULT_PORT = 8000;
/** Milliseconds a socket may stay open after its WebSocket job ended, for the last bytes to leave. */
const LINGER_AFTER_JOB = 5000;

/** The listening socket, as the engine closes it. */
export interface Listener {
  /** Stops accepting connections; resolves once the listener is closed. */
  close(): Promise<void> | void;
  /** Drops sockets the engine holds that never reached `accept` (a TLS handshake in progress). */
  drop?(): void;
}

/** Checks the options every engine shares; returns the TLS pair, if any. */
export function tlsOptions(options: ServeOptions): { cert: string; key: string } | null {
  const { cert, key } = options;
  if (cert === undefined && key === undefined) return null;
  if (typeof cert !== "string" || typeof key !== "string") {
    throw new TypeError("TLS needs both cert and key, as PEM strings");
  }
  return { cert, key };
}

/** A server's connections, jobs and shutdown; the `Server` every engine returns. */
export class HttpServer implements Server {
  readonly #handler: ServeHandler;
  readonly #options: ServeOptions;
  readonly #http: ResolvedHttpOptions;
  readonly #scheme: string;
  readonly #engine = new AbortController();
  readonly #connections = new Set<HttpConnection>();
  // Connections over maxConnections, being answered 503: the others count against the limit.
  readonly #refused = new Set<HttpConnection>();
  readonly #onError: (error: unknown) => void;
  #listener: Listener | null = null;
  #addr: NetAddr | null = null;
  #authority = "";
  #shutdown: Promise<void> | null = null;
  #finished: Promise<void>;
  #resolveFinished!: () => void;
  #context: ConnectionContext | null = null;

  /**
   * @param options The options given to `serve`.
   * @param handler The request handler.
   */
  constructor(options: ServeOptions, handler: ServeHandler) {
    if (typeof handler !== "function") throw new TypeError("serve needs a handler function");
    this.#options = options;
    this.#handler = handler;
    this.#http = resolveHttpOptions(options);
    this.#scheme = tlsOptions(options) === null ? "http" : "https";
    this.#onError = options.onError ?? reportRequestError;
    this.#finished = new Promise((resolve) => this.#resolveFinished = resolve);
  }

  /** The resolved HTTP limits. */
  get httpOptions(): ResolvedHttpOptions {
    return this.#http;
  }

  /** The engine context's signal: aborts when the server shuts down. */
  get signal(): AbortSignal {
    return this.#engine.signal;
  }

  get addr(): NetAddr {
    if (this.#addr === null) throw new Error("the server is not listening yet");
    return this.#addr;
  }

  get port(): number {
    return this.addr.port;
  }

  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Called by the engine once bound: reports the address and arms `options.signal`. */
  listening(addr: NetAddr, listener: Listener): void {
    this.#addr = addr;
    this.#listener = listener;
    this.#authority = addr.hostname.includes(":") ? `[${addr.hostname}]:${addr.port}` : `${addr.hostname}:${addr.port}`;
    const signal = this.#options.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        void this.shutdown();
        return;
      }
      const onAbort = () => void this.shutdown();
      signal.addEventListener("abort", onAbort, { once: true });
      this.#finished.then(() => signal.removeEventListener("abort", onAbort));
    }
    try {
      this.#options.onListen?.(addr);
    } catch (error) {
      this.#report(error);
    }
  }

  /** Serves HTTP on a newly accepted socket. */
  accept(transport: SocketTransport, remoteAddr: NetAddr): void {
    if (this.#shutdown !== null) {
      transport.destroy();
      return;
    }
    const served = this.#connections.size - this.#refused.size < this.#http.maxConnections;
    const connection = new HttpConnection(transport, this.#context ??= this.#makeContext(), { remoteAddr });
    this.#connections.add(connection);
    if (!served) this.#refused.add(connection);
    connection.start();
    if (!served) connection.refuse(new HttpError(503, "the server has too many connections; try again later"));
  }

  /** What every connection of this server shares (made once listening, when the authority is known). */
  #makeContext(): ConnectionContext {
    const connections = this.#connections;
    const refused = this.#refused;
    return {
      handler: this.#handler,
      options: this.#http,
      scheme: this.#scheme,
      defaultAuthority: this.#authority,
      engineSignal: this.#engine.signal,
      topics: this.topics,
      clients: this.clients,
      sessionOnError: this.#options.onError,
      onError: (error) => this.#report(error),
      onJob: (job, connection) => this.#track(job, connection),
      onJobEnded: (job, connection) => this.#untrack(job, connection),
      onClosed: (connection) => {
        connections.delete(connection);
        refused.delete(connection);
      },
    };
  }

  /** Open sockets, those being refused included (for tests and metrics). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The topics of this server's WebSocket connections (see `publish`). */
  readonly topics: Topics = new Topics();

  /**
   * Sends a message to every connection subscribed to `topic` on this
   * server, framed once for all of them.
   *
   * @param topic The topic's name.
   * @param data The message: text for a `string`, binary otherwise.
   * @returns How many subscribers it was queued for.
   */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer | ArrayBufferView): number {
    return this.topics.publish(topic, data);
  }

  /**
   * How many connections of this server are subscribed to `topic`.
   *
   * @param topic The topic's name.
   */
  subscriberCount(topic: string): number {
    return this.topics.subscriberCount(topic);
  }

  /** The open WebSocket connections of this server (see {@linkcode ClientSet}); `upgrade()` adds them. */
  readonly clients: ClientSet = new ClientSet();

  get clientCount(): number {
    return this.clients.size;
  }

  #track(job: Job, connection: HttpConnection): void {
    // A connection can be over before its job is tracked (the client's input ended before the upgrade).
    if (!job.isActive) return this.#untrack(job, connection);
    // The HTTP connection hears of the job's end by a direct call (no promise per session) and calls `#untrack`.
    job[kJobObserver] = connection;
  }

  #untrack(_job: Job, connection: HttpConnection): void {
    // The session is over; the socket closes once its last bytes are out and the peer hung up.
    const timer = setTimeout(() => connection.destroy(), LINGER_AFTER_JOB);
    connection.closed.then(() => clearTimeout(timer));
  }

  /** Reports a failure to `options.onError` (default `console.error`); never throws. */
  report(error: unknown): void {
    this.#report(error);
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // A failing reporter must not take the server down.
    }
  }

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (this.#shutdown !== null) return this.#shutdown;
    const timeout = options.timeout ?? this.#options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT;
    this.#shutdown = this.#shutdownNow(timeout);
    return this.#shutdown;
  }

  async #shutdownNow(timeout: number): Promise<void> {
    let listenerClosed: Promise<void> = Promise.resolve();
    try {
      listenerClosed = Promise.resolve(this.#listener?.close()).catch((error) => this.#report(error));
    } catch (error) {
      this.#report(error);
    }
    // Sessions close with 1001 Going Away (upgrade() listens to this signal).
    this.#engine.abort(new DOMException("the server is shutting down", "AbortError"));
    for (const connection of this.#connections) connection.shutdown();

    const everything = () =>
      Promise.all([
        ...[...this.#connections].map((c) => c.closed),
        ...[...this.clients[kJobs]()].map((j) => j.join()),
      ]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      everything(),
      new Promise<void>((resolve) => timer = setTimeout(resolve, timeout)),
    ]);
    clearTimeout(timer);
    for (const job of this.clients[kJobs]()) job.cancel(new DOMException("the server shut down", "AbortError"));
    for (const connection of this.#connections) connection.destroy();
    try {
      this.#listener?.drop?.();
    } catch (error) {
      this.#report(error);
    }
    await everything();
    await listenerClosed;
    this.#resolveFinished();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

/**
 * Throws unless `reusePort` can be honoured on `platform` (the engines pass
 * their runtime's name for the operating system): `SO_REUSEPORT` spreading
 * connections across servers is Linux only.
 *
 * @param platform The operating system, as the runtime names it.
 */
export function requireReusePortPlatform(platform: string): void {
  if (platform !== "linux") {
    throw new Error(`reusePort needs Linux (SO_REUSEPORT spreading connections across servers); this is ${platform}`);
  }
}

/**
 * A failure to bind because the address is taken, said plainly, with the
 * runtime's own error as its cause and `code` `"EADDRINUSE"`.
 *
 * @param cause The runtime's error.
 * @param hostname Where the server tried to listen.
 * @param port The port.
 * @param reusePort Whether this server asked to share the port.
 * @param ErrorType The class of the error made (the runtime's own, where it has one).
 */
export function addressInUseError(
  cause: unknown,
  hostname: string,
  port: number,
  reusePort: boolean,
  ErrorType: new (message: string, options?: ErrorOptions) => Error = Error,
): Error {
  const error = new ErrorType(
    `cannot listen on ${hostname}:${port}: the address is in use (EADDRINUSE)` +
      (reusePort
        ? "; a server that shares a port needs every server on it to pass reusePort: true"
        : "; to share a port between servers, pass reusePort: true to each (Linux)"),
    { cause },
  );
  (error as Error & { code: string }).code = "EADDRINUSE";
  return error;
}
