import { CloseCode, CloseReason, isValidCloseCode } from "../close_reason.ts";
import { ErrorCode, WebSocketError } from "../errors.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import {
  BinaryFrame,
  CloseFrame,
  type Frame,
  payloadLength,
  payloadParts,
  payloadSource,
  payloadStart,
  PingFrame,
  PongFrame,
  TextFrame,
} from "../frame/frame.ts";
import { Utf8Validator } from "../utf8.ts";
import type { Connection, ConnectionHandler } from "./connection.ts";
import { IncomingQueue, type QueueOwner } from "./incoming_queue.ts";
import { failWhenSeen, type RawWebSocketSession, takeOver } from "./raw_session.ts";
import type { WebSocketSession } from "./session.ts";

/** Options of a {@linkcode DefaultWebSocketSession}, as Ktor's `WebSockets` plugin. */
export interface DefaultSessionOptions {
  /** Milliseconds between pings the server sends; `null` (the default, as in Ktor) sends none. */
  pingInterval?: number | null;
  /**
   * Milliseconds to wait, after a ping, for a pong or any other frame before
   * closing with 1011; only used with `pingInterval`. Default 15000, as Ktor.
   */
  timeout?: number;
  /** Largest reassembled message, in bytes; a longer one closes with 1009. Default 64 MiB. */
  maxMessageSize?: number;
}

/** Default of {@linkcode DefaultSessionOptions.maxMessageSize}: 64 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE: number = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT = 15_000;
/** Queued incoming bytes above which the session stops reading from the peer. */
const INCOMING_HIGH_WATER_MARK = 1024 * 1024;
const MESSAGE_INITIAL_CAPACITY = 4096;
const EMPTY = new Uint8Array(0);
const decoder = new TextDecoder();
const RESOLVED: Promise<void> = Promise.resolve();
const wholeMessageUtf8 = new Utf8Validator();
const messageSize = (f: Frame): number => payloadLength(f) + 64;

/** The RSV bits of a frame as they sit in its first header byte. */
function rsvBits(frame: Frame): number {
  return (frame.rsv1 ? 0x40 : 0) | (frame.rsv2 ? 0x20 : 0) | (frame.rsv3 ? 0x10 : 0);
}

function protocolError(code: ErrorCode, message: string): WebSocketError {
  return new WebSocketError(code, CloseCode.ProtocolError, message);
}

/** Checks the bytes of `parts` (one payload in pieces) from byte `from` of the whole on. */
function pushParts(utf8: Utf8Validator, parts: readonly Uint8Array[], from: number): boolean {
  let offset = 0;
  for (const part of parts) {
    const end = offset + part.length;
    if (end > from && !utf8.push(part, from > offset ? from - offset : 0)) return false;
    offset = end;
  }
  return true;
}

function invalidUtf8(what: string): WebSocketError {
  return new WebSocketError(ErrorCode.InvalidUtf8, CloseCode.NotConsistent, `${what} is not valid UTF-8`);
}

// Set by DefaultWebSocketSession's static block, which alone sees its private members.
let events: {
  frame(session: DefaultWebSocketSession, frame: Frame): void;
  protocolError(session: DefaultWebSocketSession, error: WebSocketError): void;
  partial(session: DefaultWebSocketSession, opcode: number, received: readonly Uint8Array[]): void;
  inputEnded(session: DefaultWebSocketSession, error: unknown): void;
  closing(session: DefaultWebSocketSession, frame: CloseFrame): void;
  finished(session: DefaultWebSocketSession): void;
  queueFull(session: DefaultWebSocketSession): void;
  queueRoom(session: DefaultWebSocketSession): void;
};

/**
 * The session nearly every application uses, as Ktor's
 * `DefaultWebSocketSession`, built on a RAW session: it answers pings,
 * reassembles fragmented messages, validates UTF-8 as bytes arrive (failing
 * fast with 1007), enforces `maxMessageSize` (1009), runs the close
 * handshake, optionally pings on an interval, and reports how the
 * connection ended in `closeReason`.
 *
 * `incoming` yields whole messages, as `Frame.Text` or `Frame.Binary` with
 * `fin` set; control frames are handled inside.
 *
 * @example An echo server handler
 * ```ts
 * import { runDefaultSession, type RawWebSocketSession } from "@hybi/websocket";
 * const handler = (raw: RawWebSocketSession) =>
 *   runDefaultSession(raw, async (session) => {
 *     for await (const message of session.messages()) {
 *       if (typeof message === "string") await session.sendText(message);
 *       else await session.sendBinary(message);
 *     }
 *     console.log("closed:", await session.closeReason);
 *   });
 * console.log(typeof handler); // function
 * ```
 */
export class DefaultWebSocketSession implements WebSocketSession {
  static {
    events = {
      frame: (s, frame) => s.#onFrame(frame),
      protocolError: (s, error) => {
        s.#resetMessage();
        failWhenSeen(s.#connection, s.#queue, error);
      },
      partial: (s, opcode, received) => s.#onPartial(opcode, received),
      inputEnded: (s, error) =>
        s.#queue.end(
          error === undefined
            ? undefined
            : new WebSocketError(ErrorCode.ConnectionLost, CloseCode.ClosedAbnormally, "the connection failed", {
              cause: error,
            }),
        ),
      closing: (s, frame) => s.#onClosing(frame),
      finished: (s) => s.#onFinished(),
      queueFull: (s) => {
        s.#queueFull = true;
        s.#connection.pause();
      },
      queueRoom: (s) => {
        s.#queueFull = false;
        if (!s.#decoding && !s.#pongWaiting) s.#connection.resume();
      },
    };
  }

  readonly #raw: RawWebSocketSession;
  readonly #connection: Connection;
  readonly #queue: IncomingQueue<Frame>;
  readonly #maxMessageSize: number;
  readonly #pingInterval: number | null;
  readonly #timeout: number;
  #outgoing: WritableStream<Frame> | null = null;

  // The fragmented message being reassembled (opcode 0 when none).
  #messageOpcode = 0;
  #message: Uint8Array = EMPTY;
  #messageLength = 0;
  // Made for the first text message split across frames (whole ones are checked with a shared validator).
  #utf8Validator: Utf8Validator | null = null;
  // Bytes of the frame still arriving that were already validated.
  #partialValidated = 0;

  // Extensions (permessage-deflate): the one decoding the message being
  // received, whether a decode is in flight (reading is paused meanwhile, so
  // nothing overtakes it), and frames replayed from the RAW session that wait
  // for it.
  readonly #extensions: readonly WebSocketExtension[];
  #messageExtension: WebSocketExtension | null = null;
  #decoding = false;
  #queueFull = false;
  #pongWaiting = false;
  #backlog: Frame[] = [];
  #onDecoded: ((chunk: Uint8Array) => void) | null = null;
  // Outgoing data frames being encoded, and the last of them, which a close waits for.
  #encoding = 0;
  // Bytes handed to the extensions and not yet queued: they count toward maxQueuedBytes.
  #encodingBytes = 0;
  #lastEncoded: Promise<void> = RESOLVED;

  #closing = false;
  // The promise is made when first asked for (most handlers never ask).
  #closeReason: Promise<CloseReason | null> | null = null;
  #resolveCloseReason: ((reason: CloseReason | null) => void) | null = null;
  #closeReasonSettled = false;
  #closeReasonValue: CloseReason | null = null;

  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #timeoutTimer: ReturnType<typeof setTimeout> | undefined;
  #sawFrame = false;
  #pingCount = 0;

  /**
   * Takes over a RAW session's connection. Build it before the handler's
   * first `await` so no frame reaches the RAW session first (frames that did
   * are replayed here).
   *
   * @param raw The RAW session to run on; its own `incoming` ends.
   * @param options Ping, timeout and message-size settings.
   */
  constructor(raw: RawWebSocketSession, options: DefaultSessionOptions = {}) {
    const { connection, unread } = takeOver(raw);
    this.#raw = raw;
    this.#connection = connection;
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#pingInterval = options.pingInterval ?? null;
    this.#timeout = options.timeout ?? DEFAULT_TIMEOUT;
    this.#extensions = raw.extensions;
    const events = new DefaultSessionEvents(this);
    this.#queue = new IncomingQueue<Frame>(INCOMING_HIGH_WATER_MARK, messageSize, events);
    connection.handler = events;
    this.#backlog = unread;
    this.#replay();
    if (this.#pingInterval !== null && this.#pingInterval > 0) {
      this.#pingTimer = setInterval(() => this.#ping(), this.#pingInterval);
    }
  }

  /**
   * Whole messages from the peer, as `Frame.Text` / `Frame.Binary`, without
   * a stream: `for await (const message of session)`. The same messages as
   * `incoming` (one reader at a time), for less memory per connection.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    return this.#queue.iterate();
  }

  /** Whole messages from the peer, as `Frame.Text` / `Frame.Binary`. */
  get incoming(): ReadableStream<Frame> {
    return this.#queue.stream();
  }

  /** Frames to the peer; writing is `send`, closing runs the close handshake. */
  get outgoing(): WritableStream<Frame> {
    if (this.#outgoing === null) {
      this.#outgoing = new WritableStream<Frame>({
        write: (frame) => this.send(frame),
        close: () => this.close(),
        abort: () => this.terminate(),
      });
    }
    return this.#outgoing;
  }

  /**
   * How the connection ended, resolved once: the peer's reason when it
   * closed first (code 1005 when its close frame had no code), ours when we
   * did (including protocol errors and timeouts), or `null` when the
   * transport dropped without a close frame.
   */
  get closeReason(): Promise<CloseReason | null> {
    if (this.#closeReason === null) {
      this.#closeReason = this.#closeReasonSettled
        ? Promise.resolve(this.#closeReasonValue)
        : new Promise((resolve) => this.#resolveCloseReason = resolve);
    }
    return this.#closeReason;
  }

  /** Milliseconds between server pings, or `null`. */
  get pingInterval(): number | null {
    return this.#pingInterval;
  }

  /** Milliseconds a ping may go unanswered. */
  get timeout(): number {
    return this.#timeout;
  }

  /** Largest reassembled message accepted. */
  get maxMessageSize(): number {
    return this.#maxMessageSize;
  }

  /** Largest incoming frame payload accepted. */
  get maxFrameSize(): number {
    return this.#connection.reader.maxFrameSize;
  }

  /** The negotiated subprotocol, or `null`. */
  get protocol(): string | null {
    return this.#raw.protocol;
  }

  /** The negotiated extensions. */
  get extensions(): readonly WebSocketExtension[] {
    return this.#raw.extensions;
  }

  /** Whether outgoing frames are masked: false on a server. */
  get masking(): boolean {
    return this.#connection.writer.masking;
  }

  /** Aborted when the connection is finished. */
  get signal(): AbortSignal {
    return this.#connection.signal;
  }

  /** Bytes queued for the peer and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.#connection.bufferedAmount;
  }

  /**
   * Queues a frame; see {@linkcode WebSocketSession.send}. A close frame
   * starts the close handshake, as `close` does.
   *
   * @param frame The frame; its data must not change until the promise settles.
   */
  send(frame: Frame): Promise<void> {
    if (this.#extensions.length === 0) return this.#connection.send(frame);
    if (frame.opcode < 0x8) return this.#encodeAndSend(frame);
    // A close goes after the messages sent before it; other control frames may overtake them.
    if (frame.opcode === 0x8 && this.#encoding > 0) return this.#lastEncoded.then(() => this.#connection.send(frame));
    return this.#connection.send(frame);
  }

  /**
   * Passes a data frame through the extensions, in negotiation order, then
   * queues it. The extensions settle in call order, so frames go out in the
   * order they were sent.
   */
  #encodeAndSend(frame: Frame): Promise<void> {
    const connection = this.#connection;
    const size = frame.data.length;
    // Messages waiting for the compressor are memory too: an application
    // that sends without awaiting must not queue them without bound.
    if (this.#encodingBytes > 0 && this.#encodingBytes + connection.bufferedAmount > connection.maxQueuedBytes) {
      return connection.failQueueFull();
    }
    const extensions = this.#extensions;
    let encoded = extensions[0].encodeFrame(frame);
    for (let i = 1; i < extensions.length; i++) {
      const next = extensions[i];
      encoded = encoded.then((f) => next.encodeFrame(f));
    }
    this.#encoding++;
    this.#encodingBytes += size;
    const sent = encoded.then(
      (f) => {
        this.#encodingBytes -= size;
        return this.#connection.send(f);
      },
      (error) => {
        if (this.#connection.writable) {
          const failure = error instanceof WebSocketError
            ? error
            : new WebSocketError(ErrorCode.InternalError, CloseCode.InternalError, "an extension failed to encode", {
              cause: error,
            });
          this.#queue.end(failure);
          this.#connection.fail(failure);
        }
        this.#encodingBytes -= size;
        throw error;
      },
    );
    const done = (): void => {
      this.#encoding--;
    };
    this.#lastEncoded = sent.then(done, done);
    return sent;
  }

  /**
   * Sends a text message.
   *
   * @param text The message.
   */
  sendText(text: string): Promise<void> {
    return this.send(new TextFrame(text));
  }

  /**
   * Sends a binary message.
   *
   * @param data The message; it must not change until the promise settles.
   */
  sendBinary(data: Uint8Array | ArrayBuffer): Promise<void> {
    return this.send(new BinaryFrame(data instanceof Uint8Array ? data : new Uint8Array(data)));
  }

  /** Resolves when every frame sent so far is written to the transport. */
  flush(): Promise<void> {
    return this.#connection.flush();
  }

  /**
   * Starts the close handshake (unless one is under way) and resolves once
   * the connection is finished: the peer answered and the transport closed,
   * or `closeTimeout` passed. Data messages arriving meanwhile are dropped.
   *
   * @param reason The code and message to send; default 1000 Normal.
   */
  async close(reason: CloseReason = new CloseReason(CloseCode.Normal, "")): Promise<void> {
    // Messages sent before the close are encoded and queued first.
    if (this.#encoding > 0) await this.#lastEncoded;
    this.#connection.close(reason);
    await this.#connection.finished;
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.#connection.destroy();
  }

  /**
   * The incoming messages as strings (text) and `Uint8Array`s (binary).
   *
   * @example
   * ```ts
   * import type { DefaultWebSocketSession } from "@hybi/websocket";
   * async function log(session: DefaultWebSocketSession): Promise<void> {
   *   for await (const m of session.messages()) console.log(typeof m === "string" ? m : `${m.length} bytes`);
   * }
   * console.log(typeof log); // function
   * ```
   */
  async *messages(): AsyncGenerator<string | Uint8Array, void, undefined> {
    for await (const frame of this) {
      yield frame.opcode === 0x1 ? decoder.decode(frame.data) : frame.data;
    }
  }

  #onFrame(frame: Frame): void {
    this.#sawFrame = true;
    const validated = this.#partialValidated;
    this.#partialValidated = 0;
    // RSV bits the reader let through belong to a negotiated extension, and
    // mark whole messages: only a message's first frame may carry them.
    const rsv = rsvBits(frame);
    switch (frame.opcode) {
      case 0x1:
      case 0x2:
        if (this.#messageOpcode !== 0) {
          throw protocolError(ErrorCode.ExpectedContinuation, "a new message started inside a fragmented one");
        }
        if (rsv !== 0) return this.#startDecoding(frame, rsv);
        if (frame.fin) return this.#onWholeMessage(frame, validated);
        this.#messageOpcode = frame.opcode;
        if (validated === 0) this.#utf8.reset();
        return this.#appendFrame(frame, false, validated);
      case 0x0:
        if (rsv !== 0) throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits set on a continuation frame");
        if (this.#messageOpcode === 0) {
          throw protocolError(ErrorCode.UnexpectedContinuation, "a continuation frame with no message to continue");
        }
        if (this.#messageExtension !== null) return this.#decode(frame);
        return this.#appendFrame(frame, frame.fin, validated);
    }
    if (rsv !== 0) throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits set on a control frame");
    switch (frame.opcode) {
      case 0x8:
        return this.#onCloseFrame(frame as CloseFrame);
      case 0x9:
        if (this.#connection.writable) {
          const sent = this.#connection.send(new PongFrame(frame.data));
          // Every ping gets its pong, but a peer that pings faster than it reads
          // the pongs is read no faster than it reads: memory stays bounded.
          if (this.#connection.congested) this.#waitForPong(sent);
        }
        return;
    }
    // Pongs need nothing beyond marking the peer alive.
  }

  /**
   * Checks the part of a frame received so far, so that a message that can
   * no longer be valid fails now, not when the frame completes.
   */
  #onPartial(opcode: number, received: readonly Uint8Array[]): void {
    // An extension's frames carry encoded bytes: they are checked once decoded.
    if (this.#messageExtension !== null || this.#connection.reader.pendingRsv !== 0) return;
    if (opcode === 0x0) {
      if (this.#messageOpcode === 0) {
        throw protocolError(ErrorCode.UnexpectedContinuation, "a continuation frame with no message to continue");
      }
      if (this.#messageOpcode !== 0x1) return;
    } else if (opcode === 0x1 || opcode === 0x2) {
      if (this.#messageOpcode !== 0) {
        throw protocolError(ErrorCode.ExpectedContinuation, "a new message started inside a fragmented one");
      }
      if (opcode === 0x2) return;
      if (this.#partialValidated === 0) this.#utf8.reset();
    } else {
      return;
    }
    let length = 0;
    for (const part of received) length += part.length;
    if (this.#messageLength + length > this.#maxMessageSize) throw this.#tooBig(this.#messageLength + length);
    if (!pushParts(this.#utf8, received, this.#partialValidated)) throw invalidUtf8("a text message");
    this.#partialValidated = length;
  }

  /** `#append` of a frame's payload, piece by piece when it arrived in pieces. */
  #appendFrame(frame: Frame, fin: boolean, validated: number): void {
    const parts = payloadParts(frame);
    if (parts === null) return this.#append(frame.data, fin, validated);
    let offset = 0;
    const last = parts.length - 1;
    for (let i = 0; i <= last; i++) {
      const part = parts[i];
      // Bytes of this piece already checked as the frame arrived.
      const checked = Math.max(0, Math.min(part.length, validated - offset));
      offset += part.length;
      this.#append(part, fin && i === last, checked);
    }
  }

  /** The session's validator, for text split across frames. */
  get #utf8(): Utf8Validator {
    return this.#utf8Validator ??= new Utf8Validator();
  }

  #onWholeMessage(frame: Frame, validated: number): void {
    const length = payloadLength(frame);
    if (length > this.#maxMessageSize) throw this.#tooBig(length);
    if (frame.opcode === 0x1) {
      // A message in one frame is checked in one go: the shared validator keeps no state between calls.
      const utf8 = validated === 0 ? wholeMessageUtf8 : this.#utf8;
      if (validated === 0) utf8.reset();
      const parts = payloadParts(frame);
      const start = payloadStart(frame);
      const valid = parts !== null
        ? pushParts(utf8, parts, validated)
        : utf8.push(payloadSource(frame), start + validated, start + length);
      if (!valid || !utf8.complete) throw invalidUtf8("a text message");
    }
    this.#deliver(frame);
  }

  #append(data: Uint8Array, fin: boolean, validated: number): void {
    const length = this.#messageLength + data.length;
    if (length > this.#maxMessageSize) throw this.#tooBig(length);
    if (this.#messageOpcode === 0x1) {
      if (!this.#utf8.push(data, validated)) throw invalidUtf8("a text message");
      if (fin && !this.#utf8.complete) throw invalidUtf8("a text message");
    }
    if (data.length > 0) {
      if (length > this.#message.length) {
        let capacity = Math.max(this.#message.length * 2, MESSAGE_INITIAL_CAPACITY, length);
        if (capacity > this.#maxMessageSize) capacity = this.#maxMessageSize;
        const grown = new Uint8Array(capacity);
        grown.set(this.#message.subarray(0, this.#messageLength));
        this.#message = grown;
      }
      this.#message.set(data, this.#messageLength);
      this.#messageLength = length;
    }
    if (!fin) return;
    const payload = this.#message.subarray(0, length);
    const opcode = this.#messageOpcode;
    this.#resetMessage();
    this.#deliver(opcode === 0x1 ? new TextFrame(payload) : new BinaryFrame(payload));
  }

  #resetMessage(): void {
    this.#messageOpcode = 0;
    this.#message = EMPTY;
    this.#messageLength = 0;
    this.#messageExtension = null;
  }

  #startDecoding(frame: Frame, rsv: number): void {
    let extension: WebSocketExtension | null = null;
    for (const e of this.#extensions) {
      if ((e.rsv & rsv) === 0) continue;
      if (extension !== null || (rsv & ~e.rsv) !== 0) {
        throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits of several extensions on one message");
      }
      extension = e;
    }
    if (extension === null) throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits no extension claimed");
    this.#messageOpcode = frame.opcode;
    this.#messageExtension = extension;
    this.#utf8.reset();
    this.#decode(frame);
  }

  /**
   * Hands a frame of an extension-encoded message to its extension. Reading
   * pauses until the decoded bytes are in, so later frames (a close
   * included) cannot overtake the message; the decoded chunks go through
   * `#append`, which validates UTF-8 and the size as they arrive.
   */
  #decode(frame: Frame): void {
    const fin = frame.fin;
    if (this.#closing) {
      // After our close frame, data is only drained: no need to decode it.
      if (fin) this.#resetMessage();
      return;
    }
    this.#decoding = true;
    this.#connection.pause();
    const onDecoded = this.#onDecoded ??= (chunk) => this.#append(chunk, false, 0);
    this.#messageExtension!.decodeFrame(frame.data, fin, this.#maxMessageSize, onDecoded).then(
      () => {
        this.#decoding = false;
        try {
          if (fin && this.#messageOpcode !== 0) this.#append(EMPTY, true, 0);
        } catch (error) {
          return this.#failDecoding(error);
        }
        this.#replay();
        if (!this.#decoding && !this.#queueFull && !this.#pongWaiting) this.#connection.resume();
      },
      (error) => {
        this.#decoding = false;
        this.#failDecoding(error);
      },
    );
  }

  #failDecoding(error: unknown): void {
    // The connection ended while decoding: nothing left to report.
    if (!this.#connection.writable) return;
    const failure = error instanceof WebSocketError
      ? error
      : new WebSocketError(ErrorCode.InternalError, CloseCode.InternalError, "an extension failed to decode", {
        cause: error,
      });
    this.#fail(failure);
  }

  /** Stops reading and fails the connection once the application has seen what came before. */
  #fail(error: WebSocketError): void {
    this.#connection.discardInput();
    this.#resetMessage();
    failWhenSeen(this.#connection, this.#queue, error);
  }

  /** Handles frames replayed from the RAW session, stopping while one is decoded. */
  #replay(): void {
    const backlog = this.#backlog;
    try {
      while (backlog.length > 0 && !this.#decoding) this.#onFrame(backlog.shift()!);
    } catch (error) {
      if (!(error instanceof WebSocketError)) throw error;
      backlog.length = 0;
      this.#fail(error);
    }
  }

  #tooBig(length: number): WebSocketError {
    return new WebSocketError(
      ErrorCode.MessageTooBig,
      CloseCode.MessageTooBig,
      `message of ${length} bytes exceeds maxMessageSize ${this.#maxMessageSize}`,
    );
  }

  #deliver(message: Frame): void {
    // Once we have sent a close frame, data from the peer is only drained.
    if (!this.#closing) this.#queue.push(message);
  }

  #onCloseFrame(frame: CloseFrame): void {
    const d = frame.data;
    let reason: CloseReason;
    let reply: number;
    if (d.length === 0) {
      reason = new CloseReason(CloseCode.NoStatus, "");
      reply = CloseCode.Normal;
    } else {
      if (d.length === 1) throw protocolError(ErrorCode.InvalidClosePayload, "a close frame with a 1-byte payload");
      const code = (d[0] << 8) | d[1];
      if (!isValidCloseCode(code)) {
        throw protocolError(ErrorCode.InvalidCloseCode, `close code ${code} may not be sent`);
      }
      this.#utf8.reset();
      if (!this.#utf8.push(d, 2) || !this.#utf8.complete) throw invalidUtf8("the close reason");
      reason = new CloseReason(code, decoder.decode(d.subarray(2)));
      reply = code;
    }
    this.#settleCloseReason(reason);
    this.#resetMessage();
    // Echo the peer's code — after the application has answered the messages
    // that came before the close, or after the close timeout. The connection
    // closes the transport once both close frames are out.
    const connection = this.#connection;
    let done = false;
    const answer = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Through send: the answers being encoded go out before the close.
      if (connection.writable) void this.send(new CloseFrame(new CloseReason(reply, "")));
    };
    const timer = setTimeout(answer, connection.closeTimeout);
    void connection.finished.then(() => clearTimeout(timer));
    this.#queue.finish(undefined, answer);
  }

  #onClosing(frame: CloseFrame): void {
    this.#closing = true;
    this.#stopTimers();
    // When the peer closed first its reason is already settled; this is ours otherwise.
    this.#settleCloseReason(frame.readReason() ?? new CloseReason(CloseCode.NoStatus, ""));
    // Keep reading whatever the application does, so the peer's close frame
    // is seen (after the message being decoded, if any).
    this.#queueFull = false;
    this.#pongWaiting = false;
    if (!this.#decoding) this.#connection.resume();
  }

  /** Stops reading until the pong just queued is below the connection's high-water mark. */
  #waitForPong(sent: Promise<void>): void {
    this.#pongWaiting = true;
    this.#connection.pause();
    const resume = (): void => {
      if (!this.#pongWaiting) return;
      this.#pongWaiting = false;
      if (!this.#decoding && !this.#queueFull) this.#connection.resume();
    };
    sent.then(resume, resume);
  }

  #onFinished(): void {
    this.#stopTimers();
    this.#settleCloseReason(null);
    this.#queue.end();
  }

  #settleCloseReason(reason: CloseReason | null): void {
    if (this.#closeReasonSettled) return;
    this.#closeReasonSettled = true;
    this.#closeReasonValue = reason;
    this.#resolveCloseReason?.(reason);
    this.#resolveCloseReason = null;
  }

  #ping(): void {
    if (!this.#connection.writable) return;
    const n = ++this.#pingCount;
    const payload = new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    void this.#connection.send(new PingFrame(payload));
    if (this.#timeoutTimer === undefined) {
      this.#sawFrame = false;
      this.#timeoutTimer = setTimeout(() => {
        this.#timeoutTimer = undefined;
        if (!this.#sawFrame) this.#connection.close(new CloseReason(CloseCode.InternalError, "ping timeout"));
      }, this.#timeout);
    }
  }

  #stopTimers(): void {
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    if (this.#timeoutTimer !== undefined) clearTimeout(this.#timeoutTimer);
    this.#pingTimer = undefined;
    this.#timeoutTimer = undefined;
  }
}

/**
 * Runs `handler` on a default session built over `raw`, as Ktor's
 * `webSocket { }` does: when the handler returns, the session closes with
 * 1000; when it throws, with 1011, and the error is rethrown (so
 * `WebSocketUpgrade` reports it) once the close handshake is over.
 *
 * @param raw The RAW session `WebSocketUpgrade` hands its handler.
 * @param handler The application's session handler.
 * @param options Ping, timeout and message-size settings.
 * @returns Resolves when the connection is finished.
 *
 * @example
 * ```ts
 * import { runDefaultSession, WebSocketUpgrade } from "@hybi/websocket";
 * function answer(request: Request): WebSocketUpgrade {
 *   return new WebSocketUpgrade(request, null, (raw) =>
 *     runDefaultSession(raw, async (session) => {
 *       await session.sendText("hello");
 *     }));
 * }
 * console.log(typeof answer); // function
 * ```
 */
export function runDefaultSession(
  raw: RawWebSocketSession,
  handler: (session: DefaultWebSocketSession) => Promise<void> | void,
  options: DefaultSessionOptions = {},
): Promise<void> {
  // Promise reactions, not an async function: a suspended async function
  // keeps its frame (a generator and its registers) for the whole session.
  let session: DefaultWebSocketSession | undefined;
  let handled: Promise<void>;
  try {
    session = new DefaultWebSocketSession(raw, options);
    handled = Promise.resolve(handler(session));
  } catch (error) {
    handled = Promise.reject(error);
  }
  return handled.then(
    () => session!.close(),
    (error) => {
      // The session itself failed to build: nothing to close.
      if (session === undefined) throw error;
      return session.close(new CloseReason(CloseCode.InternalError, "internal error")).then(() => {
        throw error;
      });
    },
  );
}

/**
 * A default session's connection events and incoming-queue backpressure:
 * one object whose methods are shared, instead of a closure each per session.
 */
class DefaultSessionEvents implements ConnectionHandler, QueueOwner {
  readonly #session: DefaultWebSocketSession;

  constructor(session: DefaultWebSocketSession) {
    this.#session = session;
  }

  frame(frame: Frame): void {
    events.frame(this.#session, frame);
  }

  protocolError(error: WebSocketError): void {
    events.protocolError(this.#session, error);
  }

  partial(opcode: number, received: readonly Uint8Array[]): void {
    events.partial(this.#session, opcode, received);
  }

  inputEnded(error: unknown): void {
    events.inputEnded(this.#session, error);
  }

  closing(frame: CloseFrame): void {
    events.closing(this.#session, frame);
  }

  finished(): void {
    events.finished(this.#session);
  }

  pause(): void {
    events.queueFull(this.#session);
  }

  resume(): void {
    events.queueRoom(this.#session);
  }
}
