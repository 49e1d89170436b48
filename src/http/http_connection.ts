/**
 * One HTTP/1.1 connection, runtime-independent: reads request heads from a
 * {@linkcode SocketTransport}, calls the handler, has the responses written
 * in order (keep-alive, pipelining), and hands the socket over to a
 * WebSocket session when the handler returns a `WebSocketUpgrade`. A
 * request's body is a {@linkcode RequestBody}; a response is written by a
 * {@linkcode ResponseWriter}.
 *
 * One request: `READ_HEAD` until its head is parsed, `READ_BODY` while its
 * body arrives, `BUSY` until its response is written, then `READ_HEAD`
 * again, or `CLOSING` (our output ended, waiting for the peer's), or
 * `UPGRADED`; `CLOSED` once the socket is gone.
 *
 * @module
 */
import type { ClientSet } from "../clients.ts";
import type { Topics } from "../topics.ts";
import { HandshakeError } from "../errors.ts";
import type { Job } from "../job.ts";
import { WebSocketUpgrade } from "../upgrade.ts";
import { type RequestHead, RequestHeadParser } from "./head_parser.ts";
import { HttpError } from "./http_error.ts";
import type { ResolvedHttpOptions } from "./options.ts";
import { type BodyFlow, RequestBody } from "./request_body.ts";
import { interpretHead, type RequestFraming } from "./request_framing.ts";
import { encodeHead, errorResponse, switchingProtocolsHead } from "./response_head.ts";
import { CONNECTION_GONE, type ResponseOwner, ResponseWriter } from "./response_writer.ts";
import type { ServeHandler, ServeHandlerInfo } from "./serve_types.ts";
import type { SocketTransport } from "./socket_transport.ts";
import type { TransportSink } from "../transport.ts";
import { transportStreams } from "./transport_streams.ts";
import { UpgradedTransport } from "./upgraded_transport.ts";

/** What a connection needs from the server it belongs to (one object shared by its connections). */
export interface ConnectionContext {
  /** The application's handler: called once per request. */
  readonly handler: ServeHandler;
  /** The server's limits and timeouts. */
  readonly options: ResolvedHttpOptions;
  /** `"http"` or `"https"`: the scheme of request URLs. */
  readonly scheme: string;
  /** The authority of request URLs when an HTTP/1.0 request has no `Host`. */
  readonly defaultAuthority: string;
  /** The engine context's signal passed to `upgrade()`; aborts on shutdown. */
  readonly engineSignal: AbortSignal;
  /** The server's topics, passed to `upgrade()`. */
  readonly topics: Topics;
  /** The server's open WebSocket connections, passed to `upgrade()`. */
  readonly clients: ClientSet;
  /** The application's `onError` (unset when it gave none), passed to `upgrade()` for the session handlers' errors. */
  readonly sessionOnError: ((error: unknown) => void) | undefined;
  /** Reports handler and internal failures. */
  onError(error: unknown): void;
  /** A WebSocket session started on `connection`. */
  onJob(job: Job, connection: HttpConnection): void;
  /** `connection`'s WebSocket session is over. */
  onJobEnded(job: Job, connection: HttpConnection): void;
  /** `connection`'s socket is closed. */
  onClosed(connection: HttpConnection): void;
}

// Connection states.
const READ_HEAD = 0, // waiting for (the rest of) a request head
  READ_BODY = 1, // a request body is arriving (the response may be done already)
  BUSY = 2, // the request is read; its response is being produced
  CLOSING = 3, // our output is ended; waiting for the peer to close
  UPGRADED = 4, // the socket belongs to a WebSocket session
  CLOSED = 5;

// Why the socket is not being read (bits of #paused); it is read while none is set.
const HOLDING = 1, // input ahead of the response in progress reached maxHeadBytes: it waits for its turn
  BODY_FULL = 2; // the request body's queue is full: the handler reads slower than the client sends

/** Methods the Fetch standard forbids in a `Request`. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

function textResponse(status: number, message: string, close: boolean): Response {
  const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
  if (close) headers.connection = "close";
  return new Response(message + "\n", { status, headers });
}

function ignore(): void {}

function isAbsoluteHttp(target: string): boolean {
  const lower = target.slice(0, 8).toLowerCase();
  return lower.startsWith("http://") || lower === "https://";
}

/**
 * One HTTP/1.1 connection. It is its socket's {@linkcode TransportSink},
 * the {@linkcode BodyFlow} of its request bodies and the
 * {@linkcode ResponseOwner} of its responses: direct calls, so that a
 * connection holds no closure for any of them.
 */
export class HttpConnection implements TransportSink, BodyFlow, ResponseOwner {
  readonly #transport: SocketTransport;
  readonly #ctx: ConnectionContext;
  // Both dropped once the socket is upgraded: no request follows.
  #info: ServeHandlerInfo | null;
  #parser: RequestHeadParser | null;
  #state = READ_HEAD;
  #pending: Uint8Array | null = null;
  #inputEnded = false;
  #inputError: unknown = undefined;
  #paused = 0;
  #inputBroken = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #idle = false;
  #keepAlive = true;
  #shuttingDown = false;
  #responseDone = false;
  // The request body still arriving; null between requests and once it is read or failed.
  #body: RequestBody | null = null;
  #bodyError: HttpError | null = null;
  #requestAbort: AbortController | null = null;
  // The response being written; null while the handler runs and between requests.
  #writer: ResponseWriter | null = null;
  #upgraded: UpgradedTransport | null = null;

  /** A connection on an accepted socket; it reads nothing until `start()`. */
  constructor(transport: SocketTransport, ctx: ConnectionContext, info: ServeHandlerInfo) {
    this.#transport = transport;
    this.#ctx = ctx;
    this.#info = info;
    this.#parser = new RequestHeadParser(ctx.options);
    transport.closeListener = this;
  }

  /** From the session's job: it ended. */
  jobEnded(job: Job): void {
    this.#ctx.onJobEnded(job, this);
  }

  /** From the socket transport: the socket is closed. */
  socketClosed(): void {
    this.#onClosed();
  }

  /** Resolves once the socket is closed. */
  get closed(): Promise<void> {
    return this.#transport.closed;
  }

  /** Whether the socket now belongs to a WebSocket session. */
  get upgraded(): boolean {
    return this.#state === UPGRADED;
  }

  /** Starts reading requests. */
  start(): void {
    this.#transport.start(this);
    if (this.#state === READ_HEAD) this.#armTimer(false);
  }

  /**
   * Starts a graceful close: an idle connection closes now; a request in
   * progress gets its response with `Connection: close`. A WebSocket
   * session is closed by the engine context's signal instead.
   */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#keepAlive = false;
    if (this.#state === READ_HEAD) this.#close();
  }

  /** Answers `error`'s status before reading any request, and closes (a connection over the limit). */
  refuse(error: HttpError): void {
    if (this.#state === READ_HEAD) this.#refuse(error);
  }

  /** Drops the socket now. */
  destroy(reason?: unknown): void {
    if (this.#state === CLOSED) return;
    this.#transport.destroy(reason);
    this.#onClosed();
  }

  /** From the request body: its queue is full. */
  pauseBody(): void {
    this.#pause(BODY_FULL);
  }

  /** From the request body: it no longer holds the socket back. */
  resumeBody(): void {
    this.#resume(BODY_FULL);
  }

  /** For the response writer: whether the connection stays open after the response. */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /** From the response writer: the response ends the connection. */
  endAfterResponse(): void {
    this.#keepAlive = false;
  }

  // ---- input ----

  /** From the socket transport: bytes arrived. */
  data(chunk: Uint8Array): void {
    switch (this.#state) {
      case READ_HEAD:
        this.#readHead(chunk, 0);
        return;
      case READ_BODY:
        this.#readBody(chunk, 0);
        return;
      case BUSY:
        this.#hold(chunk);
        return;
      case UPGRADED:
        this.#upgraded!.socketSink.data(chunk);
        return;
    }
  }

  /** From the socket transport: the input ended (`error` is undefined on a clean end). */
  end(error: unknown): void {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    this.#inputError = error;
    switch (this.#state) {
      case UPGRADED:
        this.#upgraded!.socketSink.end(error);
        return;
      case CLOSING:
      case CLOSED:
        return;
    }
    if (error !== undefined) {
      // The peer reset the connection: nobody is left to answer.
      this.destroy(error);
      return;
    }
    if (this.#state === READ_HEAD) {
      this.#close();
    } else if (this.#state === READ_BODY) {
      this.#failBody(new HttpError(400, "the request body ended early"));
      if (this.#responseDone) this.#close();
    }
    // BUSY: the response is still written; pipelined requests held are served before closing.
  }

  /** From the socket transport: its write queue drained. */
  drain(): void {
    if (this.#state === UPGRADED) {
      this.#upgraded!.socketSink.drain();
      return;
    }
    this.#writer?.drained();
  }

  /** Keeps input that arrived ahead of the current response. */
  #hold(chunk: Uint8Array): void {
    if (this.#inputBroken || chunk.length === 0) return;
    const pending = this.#pending;
    if (pending === null) this.#pending = chunk;
    else {
      const joined = new Uint8Array(pending.length + chunk.length);
      joined.set(pending);
      joined.set(chunk, pending.length);
      this.#pending = joined;
    }
    if (this.#pending!.length >= this.#ctx.options.maxHeadBytes) this.#pause(HOLDING);
  }

  #readHead(chunk: Uint8Array, offset: number): void {
    const parser = this.#parser!;
    if (this.#idle && offset < chunk.length) {
      // The next request started: it has the head timeout from now.
      this.#armTimer(false);
    }
    let end: number;
    try {
      end = parser.push(chunk, offset);
    } catch (error) {
      this.#refuse(error);
      return;
    }
    if (!parser.done) return;
    this.#clearTimer();
    this.#beginRequest(parser.head, chunk, end);
  }

  #beginRequest(head: RequestHead, chunk: Uint8Array, end: number): void {
    const ctx = this.#ctx;
    let framing: RequestFraming;
    let url: string;
    try {
      framing = interpretHead(head);
      if (framing.contentLength > ctx.options.maxBodySize) throw new HttpError(413, "the request body is too large");
      const target = head.target;
      if (target.charCodeAt(0) === 0x2f) url = ctx.scheme + "://" + (framing.host ?? ctx.defaultAuthority) + target;
      else if (isAbsoluteHttp(target)) url = target;
      else throw new HttpError(400, "the request target must be a path or an absolute http(s) URL");
    } catch (error) {
      this.#refuse(error);
      return;
    }
    this.#keepAlive = framing.keepAlive && !this.#shuttingDown;
    this.#responseDone = false;
    const hasBody = framing.chunked || framing.contentLength > 0;
    const method = head.method;
    if (FORBIDDEN_METHODS.has(method.toUpperCase())) {
      // A web `Request` cannot carry these (Fetch standard); CONNECT would also need a tunnel.
      this.#refuse(new HttpError(501, `this server does not support the method ${method}`));
      return;
    }
    const bodyAllowed = method !== "GET" && method !== "HEAD";
    let body: ReadableStream<Uint8Array> | null = null;
    if (hasBody) {
      // A body on a GET or HEAD is read and dropped: a web `Request` cannot carry it.
      this.#body = new RequestBody(framing.chunked ? -1 : framing.contentLength, ctx.options.maxBodySize, this);
      if (bodyAllowed) body = this.#body.stream();
    }
    const abort = new AbortController();
    let request: Request;
    try {
      const init: RequestInit & { duplex: "half" } = {
        method,
        headers: head.headers,
        body,
        duplex: "half",
        signal: abort.signal,
      };
      request = new Request(url, init);
    } catch {
      this.#refuse(new HttpError(400, "malformed request"));
      return;
    }
    this.#requestAbort = abort;
    if (framing.expectContinue && hasBody) this.#transport.write(encodeHead("HTTP/1.1 100 Continue\r\n\r\n"));
    if (hasBody) {
      this.#state = READ_BODY;
      this.#readBody(chunk, end);
    } else {
      this.#state = BUSY;
      this.#hold(chunk.subarray(end));
    }
    void this.#dispatch(request, head, hasBody);
  }

  #readBody(chunk: Uint8Array, offset: number): void {
    const body = this.#body!;
    let end: number;
    try {
      end = body.read(chunk, offset);
    } catch (error) {
      this.#failBody(error as HttpError); // RequestBody.read throws HttpErrors only
      if (this.#responseDone) this.#close();
      return;
    }
    if (!body.done) return;
    this.#body = null;
    const rest = chunk.subarray(end);
    if (this.#responseDone) {
      this.#pending = rest.length > 0 ? rest : null;
      this.#nextRequest();
    } else {
      this.#state = BUSY;
      this.#hold(rest);
    }
  }

  /** The request body cannot be read to its end: the connection cannot carry another request. */
  #failBody(error: HttpError): void {
    this.#bodyError = error;
    this.#inputBroken = true;
    this.#keepAlive = false;
    this.#body!.fail(error);
    this.#body = null;
    this.#pending = null;
    if (this.#state === READ_BODY) this.#state = BUSY;
    this.#resumeReading();
  }

  #pause(reason: number): void {
    if ((this.#paused & reason) !== 0) return;
    this.#paused |= reason;
    this.#transport.pause();
  }

  #resume(reason: number): void {
    if ((this.#paused & reason) === 0) return;
    this.#paused &= ~reason;
    this.#resumeReading();
  }

  #resumeReading(): void {
    if (this.#paused === 0) this.#transport.resume();
  }

  // ---- handling and responding ----

  async #dispatch(request: Request, head: RequestHead, hasBody: boolean): Promise<void> {
    const ctx = this.#ctx;
    let result: unknown;
    try {
      result = await ctx.handler(request, this.#info!);
    } catch (error) {
      result = this.#errorResponse(error);
    }
    if (this.#state === CLOSED) {
      if (result instanceof Response) result.body?.cancel().catch(ignore);
      return;
    }
    if (result instanceof WebSocketUpgrade) {
      // RFC 6455 §4.1: the opening handshake is an HTTP/1.1 request; `validateHandshake` cannot see the version.
      if (head.minorVersion !== 1) result = textResponse(400, "a WebSocket handshake needs HTTP/1.1", true);
      else if (hasBody) result = textResponse(400, "a WebSocket handshake must not have a body", true);
      else {
        this.#upgrade(result);
        return;
      }
    } else if (!(result instanceof Response)) {
      this.#report(new TypeError("the handler returned neither a Response nor a WebSocketUpgrade"));
      result = textResponse(500, "internal server error", false);
    }
    const writer = new ResponseWriter(this.#transport, this);
    this.#writer = writer;
    try {
      await writer.write(result as Response, head);
    } catch (error) {
      this.#writer = null;
      // The peer went away or the body failed after the head was sent: the framing is lost.
      if (this.#state !== CLOSED) {
        if (error !== CONNECTION_GONE) this.#report(error);
        this.destroy(error);
      }
      return;
    }
    this.#writer = null;
    this.#requestAbort = null;
    this.#responseDone = true;
    if (this.#state === CLOSED || this.#state === CLOSING) return;
    if (!this.#keepAlive || this.#inputBroken) {
      this.#close();
      return;
    }
    if (this.#state === READ_BODY) {
      // The handler did not read the whole body: read and drop the rest, then go on.
      this.#body!.detach();
      return;
    }
    this.#nextRequest();
  }

  #errorResponse(error: unknown): Response {
    if (error instanceof HandshakeError) return error.response();
    const bodyError = this.#bodyError ?? (error instanceof HttpError ? error : null);
    if (bodyError !== null) return textResponse(bodyError.status, bodyError.message, true);
    this.#report(error);
    return textResponse(500, "internal server error", false);
  }

  #report(error: unknown): void {
    try {
      this.#ctx.onError(error);
    } catch {
      // A failing reporter must not take the server down.
    }
  }

  #nextRequest(): void {
    this.#state = READ_HEAD;
    this.#parser!.reset();
    this.#bodyError = null;
    const pending = this.#pending;
    this.#pending = null;
    this.#resume(HOLDING);
    if (pending !== null) {
      this.#armTimer(false);
      this.#readHead(pending, 0);
      // A partial head with no more input to come can never complete.
      if (this.#state === READ_HEAD && this.#inputEnded) this.#close();
    } else if (this.#inputEnded || this.#shuttingDown) {
      this.#close();
    } else {
      this.#armTimer(true);
    }
  }

  #upgrade(upgrade: WebSocketUpgrade): void {
    this.#clearTimer();
    this.#requestAbort = null;
    let head: Uint8Array;
    try {
      head = encodeHead(switchingProtocolsHead(upgrade.headers));
    } catch (error) {
      this.#report(error);
      this.#transport.write(errorResponse(500, "internal server error"));
      this.#close();
      return;
    }
    this.#transport.write(head);
    // No request follows on this socket: an idle WebSocket keeps no parser.
    this.#parser = null;
    const remoteAddr = this.#info?.remoteAddr;
    this.#info = null;
    const upgraded = new UpgradedTransport(this.#transport, this.#pending);
    this.#pending = null;
    this.#upgraded = upgraded;
    this.#state = UPGRADED;
    // The session resumes reading once it starts.
    this.#paused &= ~HOLDING;
    if (this.#inputEnded) upgraded.socketSink.end(this.#inputError);
    const { input, output } = transportStreams(upgraded);
    let job: Job;
    try {
      job = upgrade.upgrade(
        input,
        output,
        {
          signal: this.#ctx.engineSignal,
          remoteAddr,
          topics: this.#ctx.topics,
          clients: this.#ctx.clients,
          onError: this.#ctx.sessionOnError,
        },
        {},
      );
    } catch (error) {
      this.#report(error);
      this.destroy(error);
      return;
    }
    this.#ctx.onJob(job, this);
  }

  // ---- closing and timers ----

  /** Refuses the request with an error status and closes after it. */
  #refuse(error: unknown): void {
    // Parsing throws only HttpErrors: anything else is a bug, reported rather than passed off as the client's.
    if (!(error instanceof HttpError)) this.#report(error);
    const status = error instanceof HttpError ? error.status : 500;
    const message = error instanceof HttpError ? error.message : "internal server error";
    this.#clearTimer();
    this.#transport.write(errorResponse(status, message));
    this.#inputBroken = true;
    this.#close();
  }

  /** Ends our output; the socket closes when the peer ends its side, or after the idle timeout. */
  #close(): void {
    if (this.#state === CLOSING || this.#state === CLOSED || this.#state === UPGRADED) return;
    this.#state = CLOSING;
    this.#pending = null;
    this.#failRequest();
    this.#transport.end();
    // Keep reading (and dropping) so the peer sees our FIN, not a reset.
    this.#paused = 0;
    this.#transport.resume();
    this.#clearTimer();
    this.#timer = setTimeout(HttpConnection.#closeTimeout, this.#ctx.options.idleTimeout, this);
  }

  #onClosed(): void {
    if (this.#state === CLOSED) return;
    const wasUpgraded = this.#state === UPGRADED;
    this.#state = CLOSED;
    this.#ctx.onClosed(this);
    this.#clearTimer();
    this.#pending = null;
    if (!wasUpgraded) this.#failRequest();
    this.#writer?.closed();
  }

  /** The request in progress will get no answer: tell the handler. */
  #failRequest(): void {
    const body = this.#body;
    this.#body = null;
    body?.fail(new HttpError(400, "the connection closed"));
    const abort = this.#requestAbort;
    this.#requestAbort = null;
    abort?.abort(new DOMException("the client closed the connection", "AbortError"));
  }

  #armTimer(idle: boolean): void {
    this.#clearTimer();
    this.#idle = idle;
    const options = this.#ctx.options;
    this.#timer = setTimeout(HttpConnection.#readTimeout, idle ? options.idleTimeout : options.headTimeout, this);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#idle = false;
  }

  // Timer callbacks shared by every connection, which is passed as the timer's argument: no closure per timer.

  /** The head timeout, or the idle timeout between requests. */
  static #readTimeout(connection: HttpConnection): void {
    connection.#onTimeout();
  }

  /** The peer did not close its side after ours. */
  static #closeTimeout(connection: HttpConnection): void {
    connection.destroy();
  }

  #onTimeout(): void {
    this.#timer = undefined;
    if (this.#state !== READ_HEAD) return;
    if (this.#parser!.started) this.#refuse(new HttpError(408, "the request head took too long"));
    else this.#close();
  }
}
