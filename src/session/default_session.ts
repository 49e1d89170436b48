import { CloseCode, CloseReason } from "../close_reason.ts";
import { isSubscribed, leaveAll, subscribe, subscriptionsOf, unsubscribe } from "./subscriptions.ts";
import { decodeMessage, jsonConverter, type WebSocketConverter } from "../converter.ts";
import { ErrorCode, sessionClosedError, WebSocketError } from "../errors.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import { BinaryFrame, type Frame, OP_TEXT, payloadLength, PingFrame, TextFrame } from "../frame/frame.ts";
import type { Topics } from "../topics.ts";
import { kJobClient } from "../job.ts";
import { Hold } from "./connection.ts";
import { DEFAULT_PING_TIMEOUT } from "./heartbeat.ts";
import { IncomingQueue, kQueueAbandoned, kQueueFull, kQueueRoom } from "./incoming_queue.ts";
import {
  kClosing,
  kDrained,
  kFinished,
  kInputEnded,
  kMessage,
  kPeerClose,
  kPing,
  kPong,
  kProtocolError,
  kPublishDropped,
  MessageCore,
  type MessageOptions,
} from "./message_core.ts";
import { failWhenSeen, type RawWebSocketSession, takeOver } from "./raw_session.ts";
import type { WebSocketSession } from "./session.ts";

export { DEFAULT_MAX_MESSAGE_SIZE } from "./message_assembler.ts";

/**
 * Options of a {@linkcode DefaultWebSocketSession}, as Ktor's `WebSockets`
 * plugin. Those left unset are the upgrade's (a route's options reach its
 * sessions that way).
 */
export interface DefaultSessionOptions extends MessageOptions {
  /**
   * Turns values into messages and back for `sendSerialized`,
   * `deserialized()` and `receiveDeserialized()`. Default `jsonConverter`.
   */
  converter?: WebSocketConverter;
}

/**
 * Unread incoming bytes (messages, plus 64 bytes each) at which the session
 * stops reading from the peer while a `for await` loop reads it, and fails
 * the connection with 1008 while none does.
 */
const INCOMING_HIGH_WATER_MARK = 1024 * 1024;
const decoder = new TextDecoder();
const messageSize = (f: Frame): number => payloadLength(f) + 64;
const encoder = new TextEncoder();

/** `options` over `inherited`: a setting left `undefined` in `options` is inherited. */
function withInherited(options: DefaultSessionOptions, inherited: DefaultSessionOptions): DefaultSessionOptions {
  const merged: Record<string, unknown> = { ...inherited };
  for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  return merged as DefaultSessionOptions;
}

/**
 * The session nearly every application uses that reads with `for await`, as
 * Ktor's `DefaultWebSocketSession`, built on a RAW session and the message
 * core shared with the handler path: it answers pings, reassembles
 * fragmented messages, validates UTF-8 as bytes arrive (failing fast with
 * 1007), enforces `maxMessageSize` (1009), runs the close handshake,
 * optionally pings on an interval, and reports how the connection ended in
 * `closeReason`.
 *
 * `incoming` yields whole messages, as `Frame.Text` or `Frame.Binary` with
 * `fin` set; control frames are handled inside.
 *
 * Messages nobody has read wait in a queue. While a `for await` loop (or a
 * reader of `incoming`) reads, a queue of 1 MiB stops reading from the peer
 * until the loop catches up (TCP backpressure). While nobody reads (a
 * handler that only pushes, or one that left its loop), the peer's pings and
 * close are still seen: the connection keeps reading, and once 1 MiB of
 * messages is unread it fails with 1008 and `ErrorCode.UnreadMessages`
 * rather than hold more or drop what it accepted.
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
export class DefaultWebSocketSession<T = unknown> implements WebSocketSession {
  readonly #raw: RawWebSocketSession;
  readonly #topics: Topics;
  readonly #core: MessageCore;
  readonly #queue: IncomingQueue<Frame>;
  readonly #pingInterval: number | null;
  readonly #timeout: number;
  readonly #converter: WebSocketConverter;
  #outgoing: WritableStream<Frame> | null = null;
  // The promise is made when first asked for (most handlers never ask).
  #closeReason: Promise<CloseReason | null> | null = null;
  #peerCloseReason: CloseReason | null = null;
  #resolveCloseReason: ((reason: CloseReason | null) => void) | null = null;
  /** What the upgrade attached to this connection (`verify`'s result): the authenticated user, for example. */
  readonly data: T;
  /**
   * Called with each ping's payload as it arrives (its pong is already on
   * its way), as `ws`'s `'ping'` event; `null` (the default) ignores pings.
   * Runs inside the read, before the messages after it reach the loop.
   *
   * @example Count the client's keep-alive pings
   * ```ts
   * import type { DefaultWebSocketSession } from "@hybi/websocket";
   * function countPings(session: DefaultWebSocketSession): () => number {
   *   let pings = 0;
   *   session.onPing = () => void pings++;
   *   return () => pings;
   * }
   * console.log(typeof countPings); // function
   * ```
   */
  onPing: ((data: Uint8Array) => void) | null = null;
  /**
   * Called with each pong's payload as it arrives (the answer to `ping()`,
   * to the heartbeat's or idle timeout's pings, or an unsolicited one), as
   * `ws`'s `'pong'` event; `null` (the default) ignores pongs.
   */
  onPong: ((data: Uint8Array) => void) | null = null;

  /**
   * Takes over a RAW session's connection. Build it before the handler's
   * first `await` so no frame reaches the RAW session first (frames that did
   * are replayed here).
   *
   * @param raw The RAW session to run on; its own `incoming` ends.
   * @param options Ping, timeout and message-size settings.
   */
  constructor(raw: RawWebSocketSession, options: DefaultSessionOptions = {}) {
    const taken = takeOver(raw);
    const { connection, unread, topics } = taken;
    options = withInherited(options, taken.options);
    // The server's open clients list this session in place of the RAW one.
    if (connection.job !== null) connection.job[kJobClient] = this;
    this.#topics = topics;
    this.#raw = raw;
    this.data = raw.data as T;
    this.#converter = options.converter ?? jsonConverter;
    this.#pingInterval = options.pingInterval ?? null;
    this.#timeout = options.timeout ?? DEFAULT_PING_TIMEOUT;
    this.#queue = new IncomingQueue<Frame>(INCOMING_HIGH_WATER_MARK, messageSize, this);
    this.#core = new MessageCore(connection, raw.extensions, this, options);
    this.#core.replay(unread);
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
      // The core settles the reason; this is only its promise.
      const core = this.#core;
      this.#closeReason = core.closeReasonSettled
        ? Promise.resolve(core.closeReason)
        : new Promise((resolve) => this.#resolveCloseReason = resolve);
    }
    return this.#closeReason;
  }

  /**
   * The peer's close frame (code 1005 when it had none), once it came;
   * `null` before, or when none came. Unlike `closeReason` it is never
   * ours: the browser's `CloseEvent` reports this one.
   */
  get peerCloseReason(): CloseReason | null {
    return this.#peerCloseReason;
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
    return this.#core.maxMessageSize;
  }

  /** Largest incoming frame payload accepted. */
  get maxFrameSize(): number {
    return this.#core.connection.reader.maxFrameSize;
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
    return this.#core.connection.writer.masking;
  }

  /** Aborted when the connection is finished. */
  get signal(): AbortSignal {
    return this.#core.connection.signal;
  }

  /** Bytes queued for the peer and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.#core.connection.bufferedAmount;
  }

  /**
   * Queues a frame; see {@linkcode WebSocketSession.send}. A close frame
   * starts the close handshake, as `close` does.
   *
   * @param frame The frame; its data must not change until the promise settles.
   */
  send(frame: Frame): Promise<void> {
    return this.#core.send(frame);
  }

  /**
   * Sends a text message.
   *
   * @param text The message.
   */
  sendText(text: string): Promise<void> {
    return this.#core.send(new TextFrame(text));
  }

  /**
   * Sends a binary message.
   *
   * @param data The message; it must not change until the promise settles.
   */
  sendBinary(data: Uint8Array | ArrayBuffer): Promise<void> {
    return this.#core.send(new BinaryFrame(data instanceof Uint8Array ? data : new Uint8Array(data)));
  }

  /**
   * Sends a ping; its pong comes to `onPong`. Resolves once queued (as
   * `send`).
   *
   * @param data The payload, at most 125 bytes (a string as UTF-8); default none.
   * @throws {RangeError} For a longer payload.
   *
   * @example Measure a round trip
   * ```ts
   * import type { DefaultWebSocketSession } from "@hybi/websocket";
   * async function roundTrip(session: DefaultWebSocketSession): Promise<number> {
   *   const sent = Date.now();
   *   const answered = new Promise<void>((resolve) => session.onPong = () => resolve());
   *   await session.ping("rtt");
   *   await answered;
   *   return Date.now() - sent;
   * }
   * console.log(typeof roundTrip); // function
   * ```
   */
  ping(data: string | Uint8Array = EMPTY): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (bytes.length > 125) throw new RangeError("a ping carries at most 125 bytes");
    return this.#core.send(new PingFrame(bytes));
  }

  /**
   * Sends `value` encoded by the session's converter (JSON by default, as
   * text), as Ktor's `sendSerialized`; resolves as `send`.
   *
   * @param value What to send.
   * @throws What the converter's `encode` throws (JSON: a `TypeError` for
   *   `undefined`, functions, `BigInt`s and cycles).
   *
   * @example
   * ```ts
   * import type { DefaultWebSocketSession } from "@hybi/websocket";
   * async function greet(session: DefaultWebSocketSession): Promise<void> {
   *   await session.sendSerialized({ type: "hello", at: Date.now() });
   * }
   * console.log(typeof greet); // function
   * ```
   */
  sendSerialized(value: unknown): Promise<void> {
    const data = this.#converter.encode(value);
    return typeof data === "string" ? this.sendText(data) : this.sendBinary(data);
  }

  /**
   * The incoming messages decoded by the session's converter (JSON by
   * default), as Ktor's `receiveDeserialized` in a loop. A message that
   * does not decode closes the connection with 1007
   * (`WS_ERR_UNDECODABLE_MESSAGE`), one of a type the converter does not
   * take (binary, for JSON) with 1003 (`WS_ERR_UNACCEPTABLE_MESSAGE_TYPE`),
   * and the loop throws that `WebSocketError`.
   *
   * @example A JSON command loop
   * ```ts
   * import type { DefaultWebSocketSession } from "@hybi/websocket";
   * async function commands(session: DefaultWebSocketSession): Promise<void> {
   *   for await (const command of session.deserialized()) {
   *     const { op } = command as { op?: string };
   *     await session.sendSerialized({ ok: op === "ping" });
   *   }
   * }
   * console.log(typeof commands); // function
   * ```
   */
  async *deserialized(): AsyncGenerator<unknown, void, undefined> {
    for await (const frame of this) yield this.#decode(frame);
  }

  /**
   * The next incoming message decoded by the session's converter, as Ktor's
   * `receiveDeserialized`; fails as `deserialized()`, and rejects with
   * `WS_ERR_SESSION_CLOSED` when the session ends first. Between two calls
   * nobody reads: prefer `deserialized()` for a stream of messages.
   *
   * @example
   * ```ts
   * import type { DefaultWebSocketSession } from "@hybi/websocket";
   * async function login(session: DefaultWebSocketSession): Promise<string> {
   *   const { user } = await session.receiveDeserialized() as { user: string };
   *   return user;
   * }
   * console.log(typeof login); // function
   * ```
   */
  async receiveDeserialized(): Promise<unknown> {
    const messages = this.#queue.iterate();
    try {
      const next = await messages.next();
      if (next.done) throw sessionClosedError("the session ended before a message arrived");
      return this.#decode(next.value);
    } finally {
      await messages.return!();
    }
  }

  #decode(message: Frame): unknown {
    try {
      return decodeMessage(this.#converter, message);
    } catch (error) {
      this.#core.fail(error as WebSocketError);
      throw error;
    }
  }

  /** Resolves when every frame sent so far is written to the transport. */
  flush(): Promise<void> {
    return this.#core.connection.flush();
  }

  /**
   * Starts the close handshake (unless one is under way) and resolves once
   * the connection is finished: the peer answered and the transport closed,
   * or `closeTimeout` passed. Data messages arriving meanwhile are dropped.
   *
   * @param reason The code and message to send; default 1000 Normal.
   */
  close(reason: CloseReason = new CloseReason(CloseCode.Normal, "")): Promise<void> {
    this.#core.close(reason);
    return this.#core.connection.finished;
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.#core.connection.destroy();
  }

  /**
   * Subscribes this session to `topic`: it receives what is published there
   * (by another connection's `publish`, or the server's), until
   * `unsubscribe` or its end. Published messages are sent by the session
   * like its own, never waiting for this peer.
   *
   * @param topic The topic's name.
   */
  subscribe(topic: string): void {
    if (!this.#core.connection.writable) return;
    subscribe(this.#topics, this.#core, topic);
  }

  /**
   * Ends this session's subscription to `topic`.
   *
   * @param topic The topic's name.
   */
  unsubscribe(topic: string): void {
    unsubscribe(this.#topics, this.#core, topic);
  }

  /**
   * Whether this session is subscribed to `topic`.
   *
   * @param topic The topic's name.
   */
  isSubscribed(topic: string): boolean {
    return isSubscribed(this.#core, topic);
  }

  /** The topics this session is subscribed to. */
  get subscriptions(): string[] {
    return subscriptionsOf(this.#core);
  }

  /**
   * Sends a message to every subscriber of `topic` but this session, framed
   * once for all of them: text for a `string`, binary otherwise. Returns at
   * once: a slow subscriber is never waited for.
   *
   * @param topic The topic's name.
   * @param data The message; bytes must not change until written.
   * @returns How many subscribers it was queued for.
   */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer | ArrayBufferView): number {
    return this.#topics.publish(topic, data, this.#core);
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
      yield frame.opcode === OP_TEXT ? decoder.decode(frame.data) : frame.data;
    }
  }

  // ---- from the message core ----

  /** A whole message: queued for the reader. */
  [kMessage](message: Frame): void {
    this.#queue.push(message);
  }

  /** A ping (the core answered it): to `onPing`. */
  [kPing](data: Uint8Array): void {
    this.onPing?.(data);
  }

  /** A pong: to `onPong`. */
  [kPong](data: Uint8Array): void {
    this.onPong?.(data);
  }

  /**
   * The peer closed: its close is answered once the reader has seen what
   * came before, or after the close timeout; at once while no loop reads
   * (nobody would answer those messages: a handler that only pushes, or
   * one that left its loop, does not hold the peer's close).
   */
  [kPeerClose](reason: CloseReason): void {
    this.#peerCloseReason = reason;
    this.#settleCloseReason();
    const core = this.#core;
    if (!this.#queue.reading) {
      this.#queue.end();
      core.answerClose();
      return;
    }
    const connection = core.connection;
    let done = false;
    const answer = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      core.answerClose();
    };
    const timer = setTimeout(answer, connection.closeTimeout);
    void connection.finished.then(() => clearTimeout(timer));
    this.#queue.finish(undefined, answer);
  }

  /** A close frame is going out. */
  [kClosing](_reason: CloseReason): void {
    this.#settleCloseReason();
  }

  /** The peer broke the protocol: the reader sees the messages before it, then the error. */
  [kProtocolError](error: WebSocketError): void {
    failWhenSeen(this.#core.connection, this.#queue, error);
  }

  /** The input ended. */
  [kInputEnded](error: WebSocketError | undefined): void {
    this.#queue.end(error);
  }

  /** The connection is finished. */
  [kFinished](_reason: CloseReason | null): void {
    this.#settleCloseReason();
    // A closed connection leaves all its topics.
    leaveAll(this.#topics, this.#core);
    this.#queue.end();
  }

  /** Sends waiting for the peer are woken by the connection itself. */
  [kDrained](): void {}

  /** Topics are on the handler path. */
  [kPublishDropped](_count: number): void {}

  // ---- from the incoming queue ----

  /** The unread queue is full: hold reading while someone reads, fail with 1008 while nobody does. */
  [kQueueFull](): void {
    if (this.#queue.reading) {
      this.#core.connection.hold(Hold.Reader);
      return;
    }
    this[kQueueAbandoned]();
  }

  /** The reader caught up. */
  [kQueueRoom](): void {
    this.#core.connection.release(Hold.Reader);
  }

  /** Nobody reads a full queue. */
  [kQueueAbandoned](): void {
    const core = this.#core;
    core.connection.release(Hold.Reader);
    if (core.closeSent || !core.connection.writable) return;
    const error = new WebSocketError(
      ErrorCode.UnreadMessages,
      CloseCode.ViolatedPolicy,
      `more than ${INCOMING_HIGH_WATER_MARK} bytes of messages arrived that nobody reads`,
    );
    this.#queue.end(error);
    core.fail(error);
  }

  /** The core has settled how the connection ends (it does before telling this session): resolve the promise. */
  #settleCloseReason(): void {
    this.#resolveCloseReason?.(this.#core.closeReason);
    this.#resolveCloseReason = null;
  }
}

const EMPTY = new Uint8Array(0);

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
export function runDefaultSession<T = unknown>(
  raw: RawWebSocketSession,
  handler: (session: DefaultWebSocketSession<T>) => Promise<void> | void,
  options: DefaultSessionOptions = {},
): Promise<void> {
  // Promise reactions, not an async function: a suspended async function
  // keeps its frame (a generator and its registers) for the whole session.
  let session: DefaultWebSocketSession<T> | undefined;
  let handled: Promise<void>;
  try {
    session = new DefaultWebSocketSession<T>(raw, options);
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
