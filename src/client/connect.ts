/**
 * The client's connect, shared by the engines: options, the opening
 * handshake over a dialed socket (timeout, abort, redirects), and the
 * session on the same protocol core as the server's, in the client role
 * (masked frames out, masked frames in refused with 1002, the server closes
 * TCP first). Only the dial is the engine's.
 *
 * @module
 */
import { CloseCode } from "../close_reason.ts";
import { ClientHandshakeError, ErrorCode, WebSocketError } from "../errors.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import {
  type DeflateOffer,
  deflateOffer,
  type PerMessageDeflateOfferOptions,
} from "../extensions/permessage_deflate_client.ts";
import type { SocketTransport } from "../http/socket_transport.ts";
import { UpgradedTransport } from "../http/upgraded_transport.ts";
import { DefaultWebSocketSession } from "../session/default_session.ts";
import type { MessageOptions } from "../session/message_core.ts";
import { createRawSession, type RawWebSocketSession } from "../session/raw_session.ts";
import type { ServerWebSocket, WebSocketHandlers } from "../session/server_web_socket.ts";
import { openConnection, startHandlers } from "../session/start_session.ts";
import { processTopics } from "../topics.ts";
import type { TransportSink } from "../transport.ts";
import { checkRequestOptions, openingRequest, type OpeningRequestInit, withoutCredentials } from "./opening_request.ts";
import { type Agreement, checkResponse, type ClientOffer } from "./response_check.ts";
import { type ResponseHead, ResponseHeadParser, ResponseParseError } from "./response_parser.ts";
import { parseWebSocketUrl, type WebSocketTarget } from "./url.ts";

/** Default of {@linkcode ConnectOptions.handshakeTimeout}: 10 s. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** Options of `connect`: the handshake, TLS, limits, and which session to run. */
export interface ConnectOptions extends MessageOptions {
  /** Subprotocols to offer, in order of preference. Default none. */
  protocols?: string | readonly string[];
  /**
   * Extra request headers (cookies, authorization …). Those the handshake
   * owns (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`) throw a
   * `TypeError`.
   */
  headers?: HeadersInit;
  /** The `Origin` header to send. Default none. */
  origin?: string;
  /**
   * permessage-deflate: `true` or options to offer it (the default), `false`
   * not to.
   */
  extensions?: boolean | PerMessageDeflateOfferOptions;
  /** CA certificates (PEM) to trust for `wss:` instead of the system's. */
  caCerts?: readonly string[];
  /** The TLS server name (SNI and certificate check). Default the URL's host name. */
  serverName?: string;
  /**
   * Aborts the connect while it is in progress (the promise rejects with
   * the signal's reason and nothing is left open), and closes the session
   * with 1001 Going Away once it is open.
   */
  signal?: AbortSignal;
  /** Milliseconds for the dial and the opening handshake together. Default 10 000. */
  handshakeTimeout?: number;
  /**
   * How many redirects (3xx with a `Location`) to follow. Default 0: a 3xx
   * fails with `WS_ERR_HANDSHAKE_STATUS`. A redirect from `wss:` to `ws:`
   * is never followed. Past a redirect to another origin (scheme, host or
   * port), `Authorization`, `Proxy-Authorization` and `Cookie` from
   * `headers` are no longer sent.
   */
  redirects?: number;
  /** Largest incoming frame payload, in bytes; a longer frame closes with 1009. Default 64 MiB. */
  maxFrameSize?: number;
  /** Queued outgoing bytes above which `send` waits for the server. Default 1 MiB. */
  writeHighWaterMark?: number;
  /** Queued outgoing bytes beyond which a send fails the connection with 1008. Default 16 MiB. */
  maxQueuedBytes?: number;
  /** Milliseconds to wait for the server's close frame, and then for it to close TCP. Default 5000. */
  closeTimeout?: number;
  /** Handler errors on the handler path go here when there is no `error` handler. Default `console.error`. */
  onError?: (error: unknown) => void;
  /** Run a RAW session instead (see {@linkcode RawConnectOptions}). */
  raw?: false;
  /** Run the handler path instead (see {@linkcode HandlersConnectOptions}). */
  handlers?: undefined;
}

/** Options of a `connect` that resolves to a {@linkcode RawWebSocketSession}. */
export interface RawConnectOptions extends Omit<ConnectOptions, "raw"> {
  /** Frames as they arrive: no automatic pong, no reassembly, no close handshake of its own. */
  raw: true;
}

/** Options of a `connect` on the handler path, which resolves to the {@linkcode ServerWebSocket} (open). */
export interface HandlersConnectOptions<T = undefined> extends Omit<ConnectOptions, "handlers"> {
  /** The handlers, as on the server; `open` is called once the connection is upgraded. */
  handlers: WebSocketHandlers<T>;
  /** The connection's `data`. */
  data?: T;
}

/**
 * `connect` as each engine exports it: one function, three sessions.
 *
 * @example The default session
 * ```ts ignore
 * const session = await connect("ws://127.0.0.1:8080/echo");
 * await session.sendText("hello");
 * for await (const message of session.messages()) console.log(message);
 * ```
 */
export interface Connect {
  /** The handler path: resolves to the open connection after `open` was called. */
  <T = undefined>(url: string | URL, options: HandlersConnectOptions<T>): Promise<ServerWebSocket<T>>;
  /** A RAW session: frames as they arrive. */
  (url: string | URL, options: RawConnectOptions): Promise<RawWebSocketSession>;
  /** The default session: whole messages with `for await`, automatic pongs, the close handshake. */
  (url: string | URL, options?: ConnectOptions): Promise<DefaultWebSocketSession>;
}

/** Where to dial, and how. */
export interface DialTarget {
  /** Host name, IPv4 literal, or IPv6 literal without brackets. */
  readonly hostname: string;
  /** The port. */
  readonly port: number;
  /** TLS settings for `wss:`, or `null` for plain TCP. */
  readonly tls: DialTls | null;
  /** Queued outgoing bytes at or above which the socket's `write` returns false. */
  readonly writeHighWaterMark: number;
  /**
   * Aborted by a timeout or the application: the dial must then reject with
   * the signal's reason and leave no socket behind.
   */
  readonly signal: AbortSignal;
}

/** TLS settings of a dial. */
export interface DialTls {
  /** The server name to send (SNI) and check the certificate against. */
  readonly serverName: string;
  /** CA certificates (PEM) to trust instead of the system's, or `null`. */
  readonly caCerts: readonly string[] | null;
}

/**
 * An engine's dial: a connected (and, for TLS, handshaken) socket's
 * transport, not started. Failures reject with a `WebSocketError` whose code
 * is `WS_ERR_CONNECT_DNS`, `_REFUSED`, `_TLS` or `_FAILED`.
 */
export type Dialer = (target: DialTarget) => Promise<SocketTransport>;

type AnyConnectOptions = ConnectOptions | RawConnectOptions | HandlersConnectOptions<unknown>;
type AnySession = DefaultWebSocketSession | RawWebSocketSession | ServerWebSocket<unknown>;

/**
 * Connects with an engine's dial. The engines export this, bound to their
 * dial, as `connect`.
 *
 * @param dial The engine's dial.
 * @param url The `ws:` or `wss:` URL.
 * @param options The connect options.
 * @returns The session, once the handshake succeeded.
 */
export async function connectWith(
  dial: Dialer,
  url: string | URL,
  options: AnyConnectOptions = {},
): Promise<AnySession> {
  const protocols = typeof options.protocols === "string" ? [options.protocols] : options.protocols ?? [];
  const headers = checkRequestOptions(protocols, options.headers, options.origin);
  if (options.origin !== undefined) new Headers({ origin: options.origin }); // throws on an invalid value
  const ext = options.extensions ?? true;
  const deflate = ext === false ? null : deflateOffer(ext === true ? {} : ext);
  let init: OpeningRequestInit = {
    protocols,
    extensions: deflate === null ? null : deflate.header,
    origin: options.origin ?? null,
    headers,
  };
  const maxRedirects = options.redirects ?? 0;
  let target = parseWebSocketUrl(url);
  const origin = target.url.origin;
  const userSignal = options.signal;
  userSignal?.throwIfAborted();

  // One signal for the whole handshake: the timeout's or the application's.
  const controller = new AbortController();
  const timeout = options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
  const timer = setTimeout(() =>
    controller.abort(
      new ClientHandshakeError(
        ErrorCode.HandshakeTimeout,
        `the opening handshake with ${target.url.host} did not finish within ${timeout} ms`,
        0,
        new Headers(),
      ),
    ), timeout);
  const onAbort = () => controller.abort(userSignal!.reason);
  userSignal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (let redirects = 0;; redirects++) {
      const result = await handshake(dial, target, init, protocols, deflate, options, controller.signal);
      if (result instanceof Opened) return startSession(result, options);
      target = redirectTarget(target, result, redirects, maxRedirects);
      // Credentials go only to the origin they were given for.
      if (target.url.origin !== origin) init = withoutCredentials(init);
    }
  } finally {
    clearTimeout(timer);
    userSignal?.removeEventListener("abort", onAbort);
  }
}

/** The next target of a redirect, or the error that refuses it. */
function redirectTarget(
  from: WebSocketTarget,
  response: ResponseHead,
  followed: number,
  max: number,
): WebSocketTarget {
  const fail = (code: ErrorCode, message: string) =>
    new ClientHandshakeError(code, message, response.status, response.headers);
  if (max === 0) {
    throw fail(ErrorCode.HandshakeStatus, `the server answered ${response.status} (a redirect; redirects is 0)`);
  }
  if (followed >= max) throw fail(ErrorCode.HandshakeRedirect, `more than ${max} redirects`);
  const location = response.headers.get("location")!;
  let next: WebSocketTarget;
  try {
    next = parseWebSocketUrl(location, from.url);
  } catch (error) {
    throw new ClientHandshakeError(
      ErrorCode.HandshakeRedirect,
      `the redirect's Location is not a WebSocket URL: ${location}`,
      response.status,
      response.headers,
      { cause: error },
    );
  }
  if (from.secure && !next.secure) {
    throw fail(ErrorCode.HandshakeRedirect, `refusing a redirect from wss: to ${location}`);
  }
  return next;
}

/** A handshake that succeeded: the transport for the session and what was agreed. */
class Opened {
  readonly transport: UpgradedTransport;
  readonly agreement: Agreement;
  readonly target: WebSocketTarget;

  constructor(transport: UpgradedTransport, agreement: Agreement, target: WebSocketTarget) {
    this.transport = transport;
    this.agreement = agreement;
    this.target = target;
  }
}

/**
 * Dials, sends the request, reads the response head. Resolves with the
 * opened transport, or with a 3xx head to follow; rejects with a
 * `WebSocketError` (the socket then closed).
 */
async function handshake(
  dial: Dialer,
  target: WebSocketTarget,
  init: OpeningRequestInit,
  protocols: readonly string[],
  deflate: DeflateOffer | null,
  options: AnyConnectOptions,
  signal: AbortSignal,
): Promise<Opened | ResponseHead> {
  const socket = await dial({
    hostname: target.hostname,
    port: target.port,
    tls: target.secure ? { serverName: options.serverName ?? target.hostname, caCerts: options.caCerts ?? null } : null,
    writeHighWaterMark: options.writeHighWaterMark ?? 1024 * 1024,
    signal,
  });
  const request = openingRequest(target, init);
  const offer: ClientOffer = { key: request.key, protocols, deflate };
  return new Promise((resolve, reject) => {
    const sink = new HandshakeSink(socket, target, offer, resolve, reject, signal);
    if (signal.aborted) {
      sink.abort();
      return;
    }
    socket.start(sink);
    socket.write(request.bytes);
  });
}

/** Handshake states. */
const READING = 0, SETTLED = 1, FORWARDING = 2;

/**
 * The socket's sink until the response head is read: parses it, then
 * forwards the socket's events to the session's transport (the bytes after
 * the head go there first).
 */
class HandshakeSink implements TransportSink {
  readonly #socket: SocketTransport;
  readonly #target: WebSocketTarget;
  readonly #offer: ClientOffer;
  readonly #resolve: (result: Opened | ResponseHead) => void;
  readonly #reject: (error: unknown) => void;
  readonly #signal: AbortSignal;
  readonly #parser = new ResponseHeadParser();
  #state = READING;
  #forward: TransportSink | null = null;

  constructor(
    socket: SocketTransport,
    target: WebSocketTarget,
    offer: ClientOffer,
    resolve: (result: Opened | ResponseHead) => void,
    reject: (error: unknown) => void,
    signal: AbortSignal,
  ) {
    this.#socket = socket;
    this.#target = target;
    this.#offer = offer;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#signal = signal;
    signal.addEventListener("abort", this, { once: true });
  }

  /** The handshake's signal aborted (a timeout, or the application). */
  handleEvent(): void {
    this.abort();
  }

  abort(): void {
    if (this.#state !== READING) return;
    this.#fail(this.#signal.reason);
  }

  data(chunk: Uint8Array): void {
    if (this.#state === FORWARDING) {
      this.#forward!.data(chunk);
      return;
    }
    if (this.#state !== READING) return;
    let rest: Uint8Array | null;
    try {
      rest = this.#parser.push(chunk);
    } catch (error) {
      if (!(error instanceof ResponseParseError)) throw error;
      this.#fail(
        new ClientHandshakeError(ErrorCode.HandshakeResponse, `malformed response: ${error.message}`, 0, new Headers()),
      );
      return;
    }
    if (rest !== null) this.#answered(this.#parser.head!, rest);
  }

  end(error: unknown): void {
    if (this.#state === FORWARDING) {
      this.#forward!.end(error);
      return;
    }
    if (this.#state !== READING) return;
    this.#fail(
      new ClientHandshakeError(
        ErrorCode.HandshakeResponse,
        "the server closed the connection before the end of its response head",
        0,
        new Headers(),
        { cause: error },
      ),
    );
  }

  drain(): void {
    if (this.#state === FORWARDING) this.#forward!.drain();
  }

  #answered(head: ResponseHead, rest: Uint8Array): void {
    const status = head.status;
    if (status !== 101) {
      if (status >= 300 && status < 400 && head.headers.has("location")) {
        // A redirect: the caller's policy follows it or words the error.
        this.#settle();
        this.#socket.destroy();
        this.#resolve(head);
        return;
      }
      this.#fail(
        new ClientHandshakeError(
          ErrorCode.HandshakeStatus,
          `the server answered ${status}${head.reason === "" ? "" : " " + head.reason}, not 101 Switching Protocols`,
          status,
          head.headers,
        ),
      );
      return;
    }
    let agreement: Agreement;
    try {
      agreement = checkResponse(head, this.#offer);
    } catch (error) {
      this.#fail(error);
      return;
    }
    // What came after the head is the server's first frames: kept for the session.
    const upgraded = new UpgradedTransport(this.#socket, rest.length > 0 ? rest.slice() : null);
    this.#settle();
    this.#forward = upgraded.socketSink;
    this.#state = FORWARDING;
    this.#resolve(new Opened(upgraded, agreement, this.#target));
  }

  #settle(): void {
    this.#state = SETTLED;
    this.#signal.removeEventListener("abort", this);
  }

  #fail(error: unknown): void {
    this.#settle();
    this.#socket.destroy();
    this.#reject(error);
  }
}

/** Builds the session the options ask for on the opened connection and starts reading. */
function startSession(opened: Opened, options: AnyConnectOptions): AnySession {
  const { transport, agreement } = opened;
  // The handler path's options, or null for a RAW or default session.
  const onHandlers = "handlers" in options && options.handlers !== undefined ? options : null;
  const extensions: readonly WebSocketExtension[] = agreement.extensions;
  const connection = openConnection(transport, {
    role: "client",
    maxFrameSize: options.maxFrameSize,
    writeHighWaterMark: options.writeHighWaterMark,
    maxQueuedBytes: options.maxQueuedBytes,
    closeTimeout: options.closeTimeout,
    allowedRsv: agreement.rsv,
    flushAfterRead: onHandlers !== null,
  }, extensions);
  const signal = options.signal;

  if (onHandlers !== null) {
    return startHandlers(
      connection,
      extensions,
      {
        handlers: onHandlers.handlers,
        data: onHandlers.data,
        protocol: agreement.protocol,
        remoteAddress: opened.target.hostname,
        onError: options.onError,
        topics: processTopics,
      },
      options,
      () => {
        if (signal !== undefined) connection.closeOnAbort(signal);
      },
    );
  }
  const raw = createRawSession(connection, agreement.protocol, extensions, undefined, processTopics);
  const session = options.raw === true ? raw : new DefaultWebSocketSession(raw, options);
  if (signal !== undefined) connection.closeOnAbort(signal);
  connection.start();
  return session;
}

/** The phase of a dial that failed, as the engines tell it. */
export type DialFailure = "dns" | "refused" | "tls" | "other";

const FAILURE_CODES: Record<DialFailure, ErrorCode> = {
  dns: ErrorCode.ConnectDns,
  refused: ErrorCode.ConnectRefused,
  tls: ErrorCode.ConnectTls,
  other: ErrorCode.ConnectFailed,
};

const FAILURE_TEXT: Record<DialFailure, string> = {
  dns: "could not resolve",
  refused: "connection refused by",
  tls: "TLS handshake failed with",
  other: "could not connect to",
};

/**
 * The error a dial rejects with: its code by the failure's kind, the
 * runtime's error as the cause.
 *
 * @param kind What failed.
 * @param target Where the dial went.
 * @param cause The runtime's error.
 */
export function dialError(kind: DialFailure, target: DialTarget, cause: unknown): WebSocketError {
  const where = target.hostname.includes(":")
    ? `[${target.hostname}]:${target.port}`
    : `${target.hostname}:${target.port}`;
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new WebSocketError(
    FAILURE_CODES[kind],
    CloseCode.ClosedAbnormally,
    `${FAILURE_TEXT[kind]} ${where}${detail}`,
    {
      cause,
    },
  );
}
