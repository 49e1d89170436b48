/**
 * The message core: every protocol rule above single frames lives here, once,
 * for all three ways in (the handler object, the `for await` default
 * session, and through them the browser-style facades). It takes the
 * connection's frames and hands whole messages to its listener
 * synchronously, answers pings, runs the close handshake with the close code
 * rules, decodes and encodes through negotiated extensions (in order), and
 * pings on an interval.
 *
 * The listener is the session object the application holds: it implements
 * the symbol-keyed methods below itself, so a message goes from the
 * connection to the core to the session by plain method calls, with no
 * closure per connection.
 *
 * Not exported from `mod.ts`.
 *
 * @module
 */
import { CloseCode, CloseReason, isValidCloseCode } from "../close_reason.ts";
import { connectionLostError, ErrorCode, protocolError, WebSocketError } from "../errors.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import { PerMessageDeflateExtension } from "../extensions/permessage_deflate.ts";
import {
  BinaryFrame,
  CloseFrame,
  type Frame,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  payloadLength,
  PongFrame,
  TextFrame,
} from "../frame/frame.ts";
import { headerLength } from "../frame/frame_writer.ts";
import type { PublishedMessage } from "../topics.ts";
import { Utf8Validator } from "../utf8.ts";
import { type Connection, type ConnectionHandler, Hold, SEND_BACKPRESSURE, SEND_DROPPED } from "./connection.ts";
import { DEFAULT_PING_TIMEOUT, Heartbeat } from "./heartbeat.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, invalidUtf8, MessageAssembler } from "./message_assembler.ts";

/** A whole message arrived (`Frame.Text` or `Frame.Binary`). The listener may throw a `WebSocketError`. */
export const kMessage: unique symbol = Symbol("hybi.message");
/** A ping arrived (its pong is already queued). */
export const kPing: unique symbol = Symbol("hybi.ping");
/** A pong arrived. */
export const kPong: unique symbol = Symbol("hybi.pong");
/**
 * The peer's close frame arrived, with its reason (1005 when it had no
 * code). The listener calls `core.answerClose()` once the application has
 * seen the messages that came before it (at once when it saw them already).
 */
export const kPeerClose: unique symbol = Symbol("hybi.peerClose");
/** We are sending a close frame (ours, or the answer to the peer's): `reason` is how the connection ends. */
export const kClosing: unique symbol = Symbol("hybi.closing");
/**
 * The peer broke the protocol. Reading has stopped; the listener calls
 * `core.fail(error)` once the application has seen what came before (the
 * close timeout bounds the wait), at once when it saw it already.
 */
export const kProtocolError: unique symbol = Symbol("hybi.protocolError");
/** The input ended: `error` is set when the transport failed rather than ended cleanly. */
export const kInputEnded: unique symbol = Symbol("hybi.inputEnded");
/** The connection is finished; `reason` as in `closeReason`. */
export const kFinished: unique symbol = Symbol("hybi.finished");
/** A peer that was behind caught up: sends that returned `SEND_BACKPRESSURE` are written. */
export const kDrained: unique symbol = Symbol("hybi.drained");
/** A published message was dropped for this slow subscriber (`publishOverflow: "drop"`); `count` so far. */
export const kPublishDropped: unique symbol = Symbol("hybi.publishDropped");

/** What the core calls: the session object the application holds. */
export interface MessageListener {
  /** See {@linkcode kMessage}. */
  [kMessage](message: Frame): void;
  /** See {@linkcode kPing}. */
  [kPing](data: Uint8Array): void;
  /** See {@linkcode kPong}. */
  [kPong](data: Uint8Array): void;
  /** See {@linkcode kPeerClose}. */
  [kPeerClose](reason: CloseReason): void;
  /** See {@linkcode kClosing}. */
  [kClosing](reason: CloseReason): void;
  /** See {@linkcode kProtocolError}. */
  [kProtocolError](error: WebSocketError): void;
  /** See {@linkcode kInputEnded}. */
  [kInputEnded](error: WebSocketError | undefined): void;
  /** See {@linkcode kFinished}. */
  [kFinished](reason: CloseReason | null): void;
  /** See {@linkcode kDrained}. */
  [kDrained](): void;
  /** See {@linkcode kPublishDropped}. */
  [kPublishDropped](count: number): void;
}

/** Options of the message core, as Ktor's `WebSockets` plugin. */
export interface MessageOptions {
  /** Milliseconds between pings the server sends; `null` (the default, as in Ktor) sends none. */
  pingInterval?: number | null;
  /**
   * Milliseconds to wait, after a ping, for a pong or any other frame before
   * closing with 1011; only used with `pingInterval`. Default 15000, as Ktor.
   */
  timeout?: number;
  /** Largest reassembled (and inflated) message, in bytes; a longer one closes with 1009. Default 64 MiB. */
  maxMessageSize?: number;
  /**
   * What a subscriber gets when a topic's message finds more than
   * `maxQueuedBytes` already queued for it (a peer that does not keep up):
   * `"close"` (the default, as uWebSockets' `closeOnBackpressureLimit`)
   * fails it with 1008 and `WS_ERR_SEND_QUEUE_FULL`; `"drop"` skips the
   * message for it, counts it, and tells the application (the handler
   * path's `error` handler, once per overflow). The other subscribers get
   * every message, in order, either way.
   */
  publishOverflow?: "close" | "drop";
}

const RESOLVED: Promise<void> = Promise.resolve();
const decoder = new TextDecoder();
const closeReasonUtf8 = new Utf8Validator();

/** The RSV bits of a frame as they sit in its first header byte. */
function rsvBits(frame: Frame): number {
  return (frame.rsv1 ? 0x40 : 0) | (frame.rsv2 ? 0x20 : 0) | (frame.rsv3 ? 0x10 : 0);
}

function asWebSocketError(error: unknown, what: string): WebSocketError {
  return error instanceof WebSocketError
    ? error
    : new WebSocketError(ErrorCode.InternalError, CloseCode.InternalError, what, { cause: error });
}

/**
 * One connection's message-level protocol: the connection's handler, the
 * listener's source of messages.
 */
export class MessageCore implements ConnectionHandler {
  /** The frame-level connection below. */
  readonly connection: Connection;
  /** The negotiated extensions. */
  readonly extensions: readonly WebSocketExtension[];
  /** permessage-deflate when it is the only extension: published messages may then skip the per-connection encode. */
  readonly #deflate: PerMessageDeflateExtension | null;
  readonly #listener: MessageListener;
  readonly #assembler: MessageAssembler;
  readonly #heartbeat: Heartbeat | null;

  // The extension decoding the message being received, and whether a decode
  // is in flight (reading is held meanwhile, so nothing overtakes it).
  #messageExtension: WebSocketExtension | null = null;
  #decoding = false;
  // Frames that arrived before this core took over (from a RAW session), handled first.
  #backlog: Frame[] | null = null;
  #onDecoded: ((chunk: Uint8Array) => void) | null = null;
  // Outgoing data frames being encoded, their bytes (they count toward
  // maxQueuedBytes), and the last of them, which a close waits for.
  #encoding = 0;
  #encodingBytes = 0;
  #lastEncoded: Promise<void> = RESOLVED;
  // A send returned SEND_BACKPRESSURE: the listener is owed a `kDrained`.
  #owesDrain = false;
  readonly #dropOnOverflow: boolean;
  /** Published messages dropped for this connection (`publishOverflow: "drop"`). */
  droppedPublished = 0;
  /** The topics this connection is subscribed to (see `subscriptions.ts`): none, one, or several. */
  topicNames: string | Set<string> | null = null;

  #closing = false;
  #closeCode = 0;
  #closeReason: CloseReason | null = null;
  #closeReasonSettled = false;

  /**
   * @param connection The connection; its handler becomes this core.
   * @param extensions The negotiated extensions.
   * @param listener The session object.
   * @param options Ping, timeout and message-size settings.
   */
  constructor(
    connection: Connection,
    extensions: readonly WebSocketExtension[],
    listener: MessageListener,
    options: MessageOptions = {},
  ) {
    this.connection = connection;
    this.extensions = extensions;
    const only = extensions.length === 1 ? extensions[0] : null;
    this.#deflate = only instanceof PerMessageDeflateExtension ? only : null;
    this.#listener = listener;
    this.#assembler = new MessageAssembler(options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE);
    this.#dropOnOverflow = options.publishOverflow === "drop";
    const interval = options.pingInterval ?? null;
    this.#heartbeat = interval !== null && interval > 0
      ? new Heartbeat(connection, interval, options.timeout ?? DEFAULT_PING_TIMEOUT)
      : null;
    connection.handler = this;
    // Pongs are answered here and never reach the application as data: the idle sweep may ping.
    connection.takesPongs = true;
  }

  /** Largest message accepted. */
  get maxMessageSize(): number {
    return this.#assembler.maxMessageSize;
  }

  /** Whether the close reason is known (a close frame went either way, or the connection finished). */
  get closeReasonSettled(): boolean {
    return this.#closeReasonSettled;
  }

  /** How the connection ended, once settled; see `closeReasonSettled`. */
  get closeReason(): CloseReason | null {
    return this.#closeReason;
  }

  /** Whether a close frame was sent or is on its way (data from the peer is then only drained). */
  get closeSent(): boolean {
    return this.#closing;
  }

  // ---- from the connection ----

  /** A frame arrived. */
  frame(frame: Frame): void {
    this.#heartbeat?.alive();
    const opcode = frame.opcode;
    if (opcode < OP_CLOSE) {
      // RSV bits the reader let through belong to a negotiated extension and
      // mark whole messages: only a message's first frame may carry them.
      const rsv = rsvBits(frame);
      if (opcode === OP_CONTINUATION) {
        if (rsv !== 0) throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits set on a continuation frame");
        if (this.#messageExtension !== null) return this.#decode(frame);
      } else if (rsv !== 0) {
        return this.#startDecoding(frame, rsv);
      }
      const message = this.#assembler.frame(frame);
      // Once we have sent a close frame, data from the peer is only drained.
      if (message !== null && !this.#closing) this.#listener[kMessage](message);
      return;
    }
    if (rsvBits(frame) !== 0) throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits set on a control frame");
    if (opcode === OP_CLOSE) return this.#onCloseFrame(frame as CloseFrame);
    if (opcode === OP_PING) {
      const connection = this.connection;
      if (connection.writable && connection.sendNow(new PongFrame(frame.data)) === SEND_BACKPRESSURE) {
        // Every ping gets its pong, but a peer that pings faster than it reads
        // the pongs is read no faster than it reads: memory stays bounded.
        connection.hold(Hold.Pongs);
      }
      this.#listener[kPing](frame.data);
      return;
    }
    if (opcode === OP_PONG) this.#listener[kPong](frame.data);
  }

  /**
   * The part of a frame received so far, at the end of a read: a message
   * that can no longer be valid fails now, not when the frame completes.
   */
  partial(opcode: number, received: readonly Uint8Array[]): void {
    // An extension's frames carry encoded bytes: they are checked once decoded.
    if (this.#messageExtension !== null || this.connection.reader.pendingRsv !== 0) return;
    this.#assembler.partial(opcode, received);
  }

  /** The peer broke the protocol (or a listener threw a `WebSocketError`). */
  protocolError(error: WebSocketError): void {
    this.#resetMessage();
    this.#listener[kProtocolError](error);
  }

  /** The input ended. */
  inputEnded(error: unknown): void {
    this.#listener[kInputEnded](error === undefined ? undefined : connectionLostError(error));
  }

  /** A close frame is being sent. */
  closing(frame: CloseFrame): void {
    this.#closing = true;
    this.#heartbeat?.stop();
    // When the peer closed first its reason is already settled; this is ours otherwise.
    this.#settle(frame.readReason() ?? new CloseReason(CloseCode.NoStatus, ""));
    // Keep reading whatever the application does, so the peer's close frame
    // is seen (after the message being decoded, if any).
    this.connection.release(Hold.Application | Hold.Reader | Hold.Pongs);
    this.#listener[kClosing](this.#closeReason!);
  }

  /** The connection is finished. */
  finished(): void {
    this.#heartbeat?.stop();
    this.#settle(null);
    this.#listener[kFinished](this.#closeReason);
  }

  /** A context signal aborted: close with 1001 after the messages being encoded. */
  goAway(): void {
    this.close(new CloseReason(CloseCode.GoingAway, ""));
  }

  /** The queue for the peer went below the high-water mark. */
  drained(): void {
    this.connection.release(Hold.Pongs);
    this.#checkDrain();
  }

  // ---- for the session ----

  /**
   * Handles frames a RAW session received before this core took over.
   *
   * @param frames Frames in arrival order.
   */
  replay(frames: Frame[]): void {
    if (frames.length === 0) return;
    this.#backlog = frames;
    this.#replay();
  }

  /**
   * Queues a frame and returns at once; see `Connection.sendNow` for the
   * result. A data frame on a connection with extensions is encoded first
   * (in order); it then returns its payload length, or `SEND_BACKPRESSURE`
   * when what waits for encoding and for the peer is above the high-water
   * mark.
   *
   * @param frame The frame; its data must not change until it is written.
   */
  sendNow(frame: Frame): number {
    const connection = this.connection;
    let result: number;
    if (
      this.extensions.length === 0 || (frame.opcode >= OP_CLOSE && !(frame.opcode === OP_CLOSE && this.#encoding > 0))
    ) {
      result = connection.sendNow(frame);
    } else {
      if (!connection.writable) return SEND_DROPPED;
      const sent = this.send(frame);
      sent.catch(() => {});
      if (!connection.writable) return SEND_DROPPED;
      result = this.#encodingResult(payloadLength(frame));
    }
    if (result === SEND_BACKPRESSURE) this.#owesDrain = true;
    return result;
  }

  /**
   * Queues an unfragmented text or binary message from its bytes; returns
   * as {@linkcode MessageCore.sendNow}. Without extensions no `Frame` is made.
   *
   * @param opcode 1 (text) or 2 (binary).
   * @param data The payload; it must not change until written.
   */
  sendMessage(opcode: number, data: Uint8Array): number {
    if (this.extensions.length !== 0) {
      return this.sendNow(opcode === OP_TEXT ? new TextFrame(data) : new BinaryFrame(data));
    }
    const result = this.connection.sendMessage(opcode, data);
    if (result === SEND_BACKPRESSURE) this.#owesDrain = true;
    return result;
  }

  /**
   * A topic's message for this connection (see `Topics`): the frame built
   * once for every subscriber; with permessage-deflate and no context
   * takeover on our side, the frame compressed once for every subscriber
   * that shares it, in this connection's order; otherwise the message
   * encoded for this connection. Returns as {@linkcode MessageCore.sendNow}.
   *
   * @param frame The message framed once for every subscriber.
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message.
   * @param message The publish, for what sharing subscribers derive from it once.
   */
  deliverPublished(frame: Uint8Array, opcode: number, payload: Uint8Array, message: PublishedMessage): number {
    const connection = this.connection;
    // What waits for the compressor is queued for the peer too.
    if (
      this.#dropOnOverflow && connection.writable &&
      this.#encodingBytes + connection.bufferedAmount > connection.maxQueuedBytes
    ) {
      this.#listener[kPublishDropped](++this.droppedPublished);
      return SEND_DROPPED;
    }
    let result: number;
    const deflate = this.#deflate;
    if (this.extensions.length === 0) {
      result = connection.sendEncoded(frame);
    } else if (deflate === null) {
      return this.sendMessage(opcode, payload);
    } else {
      const compressed = deflate.compresses(payload.length);
      if (compressed && !deflate.sharesCompression) return this.sendMessage(opcode, payload);
      // The frame every subscriber alike gets: plain below the threshold, compressed once otherwise.
      const out = compressed ? deflate.sharedFrame(message) : frame;
      if (out instanceof Uint8Array && this.#encoding === 0) {
        // Ready, and nothing of this connection's is being encoded that it could overtake: now.
        result = connection.sendEncoded(out);
      } else {
        if (!connection.writable) return SEND_DROPPED;
        if (this.#encodingOverflows()) {
          void connection.failQueueFull();
          return SEND_DROPPED;
        }
        const length = payload.length;
        this.#afterEncoding(deflate.inOrder(out), length).catch(() => {});
        if (!connection.writable) return SEND_DROPPED;
        result = this.#encodingResult(length);
      }
    }
    if (result === SEND_BACKPRESSURE) this.#owesDrain = true;
    return result;
  }

  /**
   * Queues a frame; resolves once it is in the transport's queue below the
   * high-water mark (waits while the peer is behind); rejects once the
   * connection cannot send. A close frame goes after the messages sent
   * before it.
   *
   * @param frame The frame; its data must not change until the promise settles.
   */
  send(frame: Frame): Promise<void> {
    if (this.extensions.length === 0) return this.connection.send(frame);
    if (frame.opcode < OP_CLOSE) return this.#encodeAndSend(frame);
    // A close goes after the messages sent before it; other control frames may overtake them.
    if (frame.opcode === OP_CLOSE && this.#encoding > 0) {
      return this.#lastEncoded.then(() => this.connection.send(frame));
    }
    return this.connection.send(frame);
  }

  /**
   * Starts the close handshake with `reason` once the messages sent before
   * are encoded (unless a close frame was sent already).
   *
   * @param reason The code and message to send.
   */
  close(reason: CloseReason): void {
    if (this.#encoding > 0) {
      void this.#lastEncoded.then(() => this.connection.close(reason));
      return;
    }
    this.connection.close(reason);
  }

  /** Answers the peer's close frame with its code (see {@linkcode kPeerClose}). */
  answerClose(): void {
    const code = this.#closeCode;
    // Through send: the answers being encoded go out before the close.
    if (code !== 0 && this.connection.writable) {
      void this.send(new CloseFrame(new CloseReason(code, ""))).catch(() => {});
    }
    this.#closeCode = 0;
  }

  /**
   * Fails the connection with `error` (RFC 6455 §7.1.7): stops reading
   * frames and sends a close frame with its code.
   *
   * @param error The failure.
   */
  fail(error: WebSocketError): void {
    this.connection.discardInput();
    this.#resetMessage();
    this.connection.fail(error);
  }

  // ---- inside ----

  #checkDrain(): void {
    if (!this.#owesDrain) return;
    const connection = this.connection;
    if (this.#encodingBytes + connection.bufferedAmount >= connection.writeHighWaterMark) return;
    this.#owesDrain = false;
    if (connection.writable) this.#listener[kDrained]();
  }

  /**
   * Whether more than `maxQueuedBytes` waits for encoding and for the peer.
   * Messages waiting for the compressor are memory too: an application that
   * sends without awaiting (or a topic publishing to a slow subscriber) must
   * not queue them without bound.
   */
  #encodingOverflows(): boolean {
    const connection = this.connection;
    return this.#encodingBytes > 0 && this.#encodingBytes + connection.bufferedAmount > connection.maxQueuedBytes;
  }

  /**
   * What a send whose message of `length` bytes went to be encoded returns
   * (see `sendNow`): its size on the wire before compression (positive even
   * for an empty message), or `SEND_BACKPRESSURE` when what waits for
   * encoding and for the peer is at or above the high-water mark.
   */
  #encodingResult(length: number): number {
    const connection = this.connection;
    return this.#encodingBytes + connection.bufferedAmount >= connection.writeHighWaterMark
      ? SEND_BACKPRESSURE
      : headerLength(length, connection.writer.masking) + length;
  }

  /**
   * Passes a data frame through the extensions, in negotiation order, then
   * queues it. The extensions settle in call order, so frames go out in the
   * order they were sent.
   */
  #encodeAndSend(frame: Frame): Promise<void> {
    if (this.#encodingOverflows()) return this.connection.failQueueFull();
    const extensions = this.extensions;
    let encoded = extensions[0].encodeFrame(frame);
    for (let i = 1; i < extensions.length; i++) {
      const next = extensions[i];
      encoded = encoded.then((f) => next.encodeFrame(f));
    }
    return this.#afterEncoding(encoded, payloadLength(frame));
  }

  /**
   * Queues what an extension is encoding once it is ready: a `Frame`, or a
   * published message's finished frame bytes. Encodings settle in call
   * order, so frames go out in the order they were sent or published.
   *
   * @param encoded The encoding in flight.
   * @param size The message's length before encoding, counted as queued meanwhile.
   */
  #afterEncoding(encoded: Promise<Frame | Uint8Array>, size: number): Promise<void> {
    this.#encoding++;
    this.#encodingBytes += size;
    const sent = encoded.then(
      (f) => {
        this.#encodingBytes -= size;
        let queued = RESOLVED;
        // A published frame is queued without waiting: nobody awaits a publish.
        if (f instanceof Uint8Array) this.connection.sendEncoded(f);
        else queued = this.connection.send(f);
        this.#checkDrain();
        return queued;
      },
      (error) => {
        this.#encodingBytes -= size;
        if (this.connection.writable) this.fail(asWebSocketError(error, "an extension failed to encode"));
        throw error;
      },
    );
    const done = (): void => {
      this.#encoding--;
    };
    this.#lastEncoded = sent.then(done, done);
    return sent;
  }

  #resetMessage(): void {
    this.#assembler.reset();
    this.#messageExtension = null;
  }

  #startDecoding(frame: Frame, rsv: number): void {
    let extension: WebSocketExtension | null = null;
    for (const e of this.extensions) {
      if ((e.rsv & rsv) === 0) continue;
      if (extension !== null || (rsv & ~e.rsv) !== 0) {
        throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits of several extensions on one message");
      }
      extension = e;
    }
    if (extension === null) throw protocolError(ErrorCode.UnexpectedRsv, "RSV bits no extension claimed");
    this.#assembler.startDecoded(frame.opcode);
    this.#messageExtension = extension;
    this.#decode(frame);
  }

  /**
   * Hands a frame of an extension-encoded message to its extension. Reading
   * is held until the decoded bytes are in, so later frames (a close
   * included) cannot overtake the message; the decoded chunks go to the
   * assembler, which validates UTF-8 and the size as they arrive.
   */
  #decode(frame: Frame): void {
    const fin = frame.fin;
    if (this.#closing) {
      // After our close frame, data is only drained: no need to decode it.
      if (fin) this.#resetMessage();
      return;
    }
    this.#decoding = true;
    this.connection.hold(Hold.Decoding);
    const assembler = this.#assembler;
    const onDecoded = this.#onDecoded ??= (chunk) => assembler.append(chunk);
    this.#messageExtension!.decodeFrame(frame.data, fin, assembler.maxMessageSize, onDecoded).then(
      () => {
        this.#decoding = false;
        try {
          if (fin && assembler.opcode !== 0) {
            const message = assembler.end();
            this.#messageExtension = null;
            if (!this.#closing) this.#listener[kMessage](message);
          }
        } catch (error) {
          return this.#failDecoding(error);
        }
        this.#replay();
        if (!this.#decoding) this.connection.release(Hold.Decoding);
      },
      (error) => {
        this.#decoding = false;
        this.#failDecoding(error);
      },
    );
  }

  #failDecoding(error: unknown): void {
    // The connection ended while decoding: nothing left to report.
    if (!this.connection.writable) return;
    this.#resetMessage();
    this.#listener[kProtocolError](asWebSocketError(error, "an extension failed to decode"));
  }

  /** Handles frames replayed from a RAW session, stopping while one is decoded. */
  #replay(): void {
    const backlog = this.#backlog;
    if (backlog === null) return;
    try {
      while (backlog.length > 0 && !this.#decoding) this.frame(backlog.shift()!);
    } catch (error) {
      backlog.length = 0;
      this.connection.discardInput();
      this.protocolError(asWebSocketError(error, "internal error"));
    }
    if (backlog.length === 0) this.#backlog = null;
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
      closeReasonUtf8.reset();
      if (!closeReasonUtf8.push(d, 2) || !closeReasonUtf8.complete) throw invalidUtf8("the close reason");
      reason = new CloseReason(code, d.length === 2 ? "" : decoder.decode(d.subarray(2)));
      reply = code;
    }
    this.#settle(reason);
    this.#resetMessage();
    // Echo the peer's code once the listener says the application has
    // answered the messages that came before the close. The connection
    // closes the transport once both close frames are out.
    this.#closeCode = reply;
    this.#listener[kPeerClose](reason);
  }

  #settle(reason: CloseReason | null): void {
    if (this.#closeReasonSettled) return;
    this.#closeReasonSettled = true;
    this.#closeReason = reason;
  }
}
