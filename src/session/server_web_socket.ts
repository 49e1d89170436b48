/**
 * The handler path: an application gives an object of handlers (`open`,
 * `message`, `drain`, `close`, `ping`, `pong`, `error`), as `Bun.serve`'s
 * `websocket` and uWebSockets.js's `WebSocketBehavior` take, and each
 * connection is one {@linkcode ServerWebSocket}. Messages reach `message`
 * synchronously from the read that completed them; what handlers send in
 * that read goes out in one write at its end. No promise is made per
 * message, and an idle connection holds none.
 *
 * @module
 */
import { isSubscribed, leaveAll, subscribe, subscriptionsOf, unsubscribe } from "./subscriptions.ts";
import { CloseCode, CloseReason, isValidCloseCode } from "../close_reason.ts";
import { decodeMessage, jsonConverter, type WebSocketConverter } from "../converter.ts";
import { ErrorCode, reportHandlerError, WebSocketError } from "../errors.ts";
import type { Topics } from "../topics.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import {
  type Frame,
  OP_BINARY,
  OP_TEXT,
  payloadLength,
  payloadSource,
  payloadStart,
  PingFrame,
  PongFrame,
} from "../frame/frame.ts";
import { decodeUtf8 } from "../utf8.ts";
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
  type MessageCore,
} from "./message_core.ts";

/**
 * The handlers of a WebSocket route or upgrade on the handler path. Each is
 * optional and called with the connection's {@linkcode ServerWebSocket}. A
 * handler that throws (or returns a promise that rejects) closes its
 * connection with 1011 and the error goes to `error` (or, without one, to
 * the upgrade's `onError`); the server goes on.
 *
 * @example An echo
 * ```ts
 * import type { WebSocketHandlers } from "@hybi/websocket";
 * const echo: WebSocketHandlers = {
 *   message(ws, data) {
 *     ws.send(data);
 *   },
 * };
 * console.log(typeof echo.message); // function
 * ```
 */
export interface WebSocketHandlers<T = undefined> {
  /** The connection is open: called before its first message. */
  open?(ws: ServerWebSocket<T>): void | Promise<void>;
  /**
   * A whole message: a `string` for text (valid UTF-8, checked), a
   * `Uint8Array` for binary. Called synchronously from the read that
   * completed it; `data` stays valid after the call returns.
   */
  message?(ws: ServerWebSocket<T>, data: string | Uint8Array): void | Promise<void>;
  /**
   * A whole message decoded by the route's `converter` (JSON by default),
   * after `message` when both are given. A message that does not decode
   * closes the connection with 1007 (`WS_ERR_UNDECODABLE_MESSAGE`), one of a
   * type the converter does not take (binary, for JSON) with 1003
   * (`WS_ERR_UNACCEPTABLE_MESSAGE_TYPE`); the error goes to `error`, and
   * this handler is not called.
   *
   * @example JSON in, JSON out
   * ```ts
   * import type { WebSocketHandlers } from "@hybi/websocket";
   * const rpc: WebSocketHandlers = {
   *   deserialized(ws, value) {
   *     const { id } = value as { id: number };
   *     ws.sendSerialized({ id, ok: true });
   *   },
   * };
   * console.log(typeof rpc.deserialized); // function
   * ```
   */
  deserialized?(ws: ServerWebSocket<T>, value: unknown): void | Promise<void>;
  /** A peer that was behind caught up: sends that returned `-1` are written, and sending is cheap again. */
  drain?(ws: ServerWebSocket<T>): void;
  /**
   * The connection is closed: `code` and `reason` from the close frame that
   * ended it (the peer's when it closed first, ours otherwise; 1005 for a
   * close frame without a code; 1006 when the transport dropped without one,
   * with the reason "idle timeout" when `idleTimeout` dropped it).
   */
  close?(ws: ServerWebSocket<T>, code: number, reason: string): void;
  /** A ping arrived; its pong is already on its way. */
  ping?(ws: ServerWebSocket<T>, data: Uint8Array): void;
  /** A pong arrived. */
  pong?(ws: ServerWebSocket<T>, data: Uint8Array): void;
  /**
   * A handler threw (the connection is closing with 1011), or the peer
   * broke the protocol (a `WebSocketError`; the connection is closing with
   * its `closeCode`).
   */
  error?(ws: ServerWebSocket<T>, error: unknown): void;
}

/** Starts a {@linkcode ServerWebSocket} on its core (for `WebSocketUpgrade`). */
export const kStart: unique symbol = Symbol("hybi.start");

const encoder = new TextEncoder();

/**
 * Options a {@linkcode ServerWebSocket} is built with.
 *
 * @internal
 */
export interface ServerWebSocketInit<T> {
  handlers: WebSocketHandlers<T>;
  data: T;
  protocol: string | null;
  remoteAddress: string;
  onError: ((error: unknown) => void) | undefined;
  converter?: WebSocketConverter;
  topics: Topics;
}

/**
 * One connection on the handler path, in the manner of Bun's
 * `ServerWebSocket`: sends return at once with what happened, `data` holds
 * what the upgrade attached, and reading can be paused.
 *
 * @example Rooms of one, with per-connection data from `verify`
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * const handle = router([
 *   webSocket<{ user: string }>("/chat", {
 *     open(ws) {
 *       ws.sendText(`hello ${ws.data.user}`);
 *     },
 *     message(ws, data) {
 *       if (ws.send(data) === -1) ws.pause(); // the peer is behind: stop reading it until `drain`
 *     },
 *     drain(ws) {
 *       ws.resume();
 *     },
 *   }, {
 *     verify: (request) => {
 *       const user = new URL(request.url).searchParams.get("user");
 *       return user === null ? new Response("who?", { status: 401 }) : { user };
 *     },
 *   }),
 * ]);
 * console.log(typeof handle); // function
 * ```
 */
export class ServerWebSocket<T = undefined> {
  /** `readyState` while open. */
  static readonly OPEN: 1 = 1;
  /** `readyState` once a close frame went either way. */
  static readonly CLOSING: 2 = 2;
  /** `readyState` once the connection is finished. */
  static readonly CLOSED: 3 = 3;

  /** What the upgrade attached to this connection (`verify`'s result, or the upgrade's `data`). */
  data: T;
  /** The peer's IP address, or `""` when the engine does not know it. */
  readonly remoteAddress: string;
  /** The negotiated subprotocol, or `null`. */
  readonly protocol: string | null;
  #core!: MessageCore;
  readonly #handlers: WebSocketHandlers<T>;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #converter: WebSocketConverter;
  #finished = false;
  readonly #topics: Topics;
  // An overflow was reported to `error` and no drain came since (`publishOverflow: "drop"`).
  #overflowReported = false;
  // The text message being handled, as given to `message` and as it came (see `[kMessage]`).
  #receivedText: string | null = null;
  #received: Frame | null = null;

  /**
   * Built by `WebSocketUpgrade.upgrade` for handler objects, then started on its core.
   *
   * @internal
   */
  constructor(init: ServerWebSocketInit<T>) {
    this.#handlers = init.handlers;
    this.data = init.data;
    this.protocol = init.protocol;
    this.remoteAddress = init.remoteAddress;
    this.#onError = init.onError;
    this.#converter = init.converter ?? jsonConverter;
    this.#topics = init.topics;
  }

  /** The negotiated extensions (permessage-deflate, when agreed). */
  get extensions(): readonly WebSocketExtension[] {
    return this.#core.extensions;
  }

  /** 1 (open), 2 (closing: a close frame went either way) or 3 (closed), as the browser's `WebSocket`. */
  get readyState(): 1 | 2 | 3 {
    if (this.#finished) return 3;
    const connection = this.#core.connection;
    return connection.closeSent || connection.closeReceived ? 2 : 1;
  }

  /** Bytes queued for the peer and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.#core.connection.bufferedAmount;
  }

  /** Whether reading is paused by `pause()`. */
  get isPaused(): boolean {
    return this.#paused;
  }
  #paused = false;

  /** Aborted once the connection is finished. */
  get signal(): AbortSignal {
    return this.#core.connection.signal;
  }

  /**
   * Sends a message: text for a `string`, binary otherwise.
   *
   * @param data The message. Bytes must not change until they are written
   *   (copy them first if you reuse the buffer).
   * @returns The bytes queued (> 0); `-1` when queued but the peer is behind
   *   (above the write high-water mark; `drain` follows); `0` when nothing
   *   was sent because the connection is closing or closed, or because more
   *   than `maxQueuedBytes` was already queued (the connection then fails
   *   with 1008).
   */
  send(data: string | Uint8Array | ArrayBuffer | ArrayBufferView): number {
    if (typeof data !== "string") return this.#core.sendMessage(OP_BINARY, bytesOf(data));
    if (data === this.#receivedText) return this.#core.sendNow(this.#received!);
    return this.#core.sendMessage(OP_TEXT, encoder.encode(data));
  }

  /**
   * Sends a text message; see {@linkcode ServerWebSocket.send} for the result.
   *
   * @param text The message.
   */
  sendText(text: string): number {
    if (text === this.#receivedText) return this.#core.sendNow(this.#received!);
    return this.#core.sendMessage(OP_TEXT, encoder.encode(text));
  }

  /**
   * Sends a binary message; see {@linkcode ServerWebSocket.send} for the result.
   *
   * @param data The message; it must not change until it is written.
   */
  sendBinary(data: Uint8Array | ArrayBuffer | ArrayBufferView): number {
    return this.#core.sendMessage(OP_BINARY, bytesOf(data));
  }

  /**
   * Sends `value` encoded by the route's `converter` (JSON by default, as
   * text), as Ktor's `sendSerialized`; returns as {@linkcode ServerWebSocket.send}.
   *
   * @param value What to send.
   * @throws What the converter's `encode` throws (JSON: a `TypeError` for
   *   `undefined`, functions, `BigInt`s and cycles).
   *
   * @example
   * ```ts
   * import type { WebSocketHandlers } from "@hybi/websocket";
   * const hello: WebSocketHandlers = {
   *   open(ws) {
   *     ws.sendSerialized({ type: "hello", protocol: ws.protocol });
   *   },
   * };
   * console.log(typeof hello.open); // function
   * ```
   */
  sendSerialized(value: unknown): number {
    const data = this.#converter.encode(value);
    return typeof data === "string" ? this.sendText(data) : this.sendBinary(data);
  }

  /**
   * Sends a ping (at most 125 bytes of payload).
   *
   * @param data The payload; default none.
   * @returns As {@linkcode ServerWebSocket.send}.
   */
  ping(data: string | Uint8Array = EMPTY): number {
    return this.#core.sendNow(new PingFrame(controlPayload(data)));
  }

  /**
   * Sends an unsolicited pong (a heartbeat the peer need not answer).
   *
   * @param data The payload; default none.
   * @returns As {@linkcode ServerWebSocket.send}.
   */
  pong(data: string | Uint8Array = EMPTY): number {
    return this.#core.sendNow(new PongFrame(controlPayload(data)));
  }

  /**
   * Subscribes this connection to `topic`: it receives what is published
   * there (by `publish` of another connection, or the server's), until
   * `unsubscribe` or its end.
   *
   * @param topic The topic's name.
   */
  subscribe(topic: string): void {
    if (this.#finished) return;
    subscribe(this.#topics, this.#core, topic);
  }

  /**
   * Ends this connection's subscription to `topic`.
   *
   * @param topic The topic's name.
   */
  unsubscribe(topic: string): void {
    unsubscribe(this.#topics, this.#core, topic);
  }

  /**
   * Whether this connection is subscribed to `topic`.
   *
   * @param topic The topic's name.
   */
  isSubscribed(topic: string): boolean {
    return isSubscribed(this.#core, topic);
  }

  /** The topics this connection is subscribed to. */
  get subscriptions(): string[] {
    return subscriptionsOf(this.#core);
  }

  /**
   * Sends a message to every subscriber of `topic` but this connection (as
   * Bun's `ws.publish`), framed once for all of them; text for a `string`,
   * binary otherwise. It never waits for a slow subscriber (see the
   * `publishOverflow` option).
   *
   * @param topic The topic's name.
   * @param data The message; bytes must not change until written.
   * @returns How many subscribers it was queued for.
   */
  publish(topic: string, data: string | Uint8Array | ArrayBuffer | ArrayBufferView): number {
    return this.#topics.publish(topic, data, this.#core);
  }

  /** Published messages dropped for this connection because it was too far behind (`publishOverflow: "drop"`). */
  get droppedMessages(): number {
    return this.#core.droppedPublished;
  }

  /**
   * Starts the close handshake: messages sent before go first, then a close
   * frame; the connection closes when the peer answers, or after the close
   * timeout. Messages arriving meanwhile are dropped.
   *
   * @param code The close code: 1000 (the default) or any code a close frame may carry (not 1005, 1006, 1015).
   * @param reason Why, at most 123 bytes of UTF-8.
   * @throws {RangeError} For a code a close frame may not carry, or a longer reason.
   */
  close(code: number = CloseCode.Normal, reason: string = ""): void {
    if (!isValidCloseCode(code)) throw new RangeError(`close code ${code} may not be sent`);
    if (reason.length > 41 && encoder.encode(reason).length > 123) {
      throw new RangeError("a close reason has at most 123 bytes of UTF-8");
    }
    this.#core.close(new CloseReason(code, reason));
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.#core.connection.destroy();
  }

  /**
   * Stops reading from the peer: no `message` until `resume()`, and the
   * peer is held back by TCP flow control. Pings and the peer's close wait
   * too (a close from our side resumes reading).
   */
  pause(): void {
    this.#paused = true;
    this.#core.connection.pause();
  }

  /** Reads again after `pause()`, starting with messages already received. */
  resume(): void {
    this.#paused = false;
    this.#core.connection.resume();
  }

  // ---- from the message core ----

  /** @internal */
  [kMessage](message: Frame): void {
    const handler = this.#handlers.message;
    if (handler === undefined) {
      if (this.#handlers.deserialized !== undefined) this.#deliverDecoded(message);
      return;
    }
    let data: string | Uint8Array;
    if (message.opcode === OP_TEXT) {
      const start = payloadStart(message);
      data = decodeUtf8(payloadSource(message), start, start + payloadLength(message));
      // A relay sends the text it was given (an echo, a chat): `send` then
      // takes the bytes it came in instead of encoding the string again.
      this.#receivedText = data;
      this.#received = message;
    } else {
      data = message.data;
    }
    try {
      const result = handler.call(this.#handlers, this, data);
      if (result !== undefined) this.#watch(result);
    } catch (error) {
      this.#handlerFailed(error);
    }
    this.#receivedText = null;
    this.#received = null;
    if (this.#handlers.deserialized !== undefined) this.#deliverDecoded(message);
  }

  /** A message to the `deserialized` handler, or, when it does not decode, the connection fails (1003, 1007). */
  #deliverDecoded(message: Frame): void {
    const core = this.#core;
    if (!core.connection.writable) return;
    let value: unknown;
    try {
      value = decodeMessage(this.#converter, message);
    } catch (error) {
      // The peer's doing, as a protocol error: to `error`, never to `onError`.
      this[kProtocolError](error as WebSocketError);
      return;
    }
    try {
      const result = this.#handlers.deserialized!.call(this.#handlers, this, value);
      if (result !== undefined) this.#watch(result);
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  /** @internal */
  [kPing](data: Uint8Array): void {
    const handler = this.#handlers.ping;
    if (handler === undefined) return;
    try {
      handler.call(this.#handlers, this, data);
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  /** @internal */
  [kPong](data: Uint8Array): void {
    const handler = this.#handlers.pong;
    if (handler === undefined) return;
    try {
      handler.call(this.#handlers, this, data);
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  /**
   * Every message before the close was handled synchronously: answer now.
   *
   * @internal
   */
  [kPeerClose](_reason: CloseReason): void {
    this.#core.answerClose();
  }

  /** @internal */
  [kClosing](_reason: CloseReason): void {
    this.#paused = false;
  }

  /**
   * The peer broke the protocol: fail at once (everything before it was handled).
   *
   * @internal
   */
  [kProtocolError](error: WebSocketError): void {
    const handler = this.#handlers.error;
    if (handler !== undefined) this.#report(handler, error);
    this.#core.fail(error);
  }

  /** @internal */
  [kInputEnded](_error: WebSocketError | undefined): void {}

  /** @internal */
  [kFinished](reason: CloseReason | null): void {
    this.#finished = true;
    // A closed connection leaves all its topics.
    leaveAll(this.#topics, this.#core);
    const handler = this.#handlers.close;
    if (handler === undefined) return;
    try {
      handler.call(
        this.#handlers,
        this,
        reason === null ? CloseCode.ClosedAbnormally : reason.code,
        // A drop has no reason on the wire; the idle timeout's says why, as uWebSockets'.
        reason === null ? (this.#core.connection.droppedIdle ? "idle timeout" : "") : reason.message,
      );
    } catch (error) {
      this.#reportError(error);
    }
  }

  /**
   * A topic's message was dropped for this connection: told to `error` once per overflow.
   *
   * @internal
   */
  [kPublishDropped](count: number): void {
    if (this.#overflowReported) return;
    this.#overflowReported = true;
    const handler = this.#handlers.error;
    if (handler === undefined) return;
    this.#report(
      handler,
      new WebSocketError(
        ErrorCode.SendQueueFull,
        CloseCode.ViolatedPolicy,
        `published messages dropped for a subscriber that does not keep up (${count} so far)`,
      ),
    );
  }

  /** @internal */
  [kDrained](): void {
    this.#overflowReported = false;
    const handler = this.#handlers.drain;
    if (handler === undefined) return;
    try {
      handler.call(this.#handlers, this);
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  /**
   * Sets the core this object listens to (the core needs the object first)
   * and runs the `open` handler; called by the upgrade before the first
   * byte is read.
   * @internal
   */
  [kStart](core: MessageCore): void {
    this.#core = core;
    const handler = this.#handlers.open;
    if (handler === undefined) return;
    try {
      const result = handler.call(this.#handlers, this);
      if (result !== undefined) this.#watch(result);
    } catch (error) {
      this.#handlerFailed(error);
    }
  }

  #watch(result: void | Promise<void>): void {
    if (typeof (result as Promise<void>).then === "function") {
      (result as Promise<void>).then(undefined, (error) => this.#handlerFailed(error));
    }
  }

  /** A handler failed: report it and close with 1011. */
  #handlerFailed(error: unknown): void {
    this.#reportError(error);
    if (this.#core.connection.writable) this.#core.close(new CloseReason(CloseCode.InternalError, "internal error"));
  }

  #reportError(error: unknown): void {
    const handler = this.#handlers.error;
    if (handler !== undefined && this.#report(handler, error)) return;
    try {
      (this.#onError ?? reportHandlerError)(error);
    } catch {
      // A failing reporter must not take the engine down.
    }
  }

  /** Calls the `error` handler; false when it threw (the caller reports both). */
  #report(handler: (ws: ServerWebSocket<T>, error: unknown) => void, error: unknown): boolean {
    try {
      handler.call(this.#handlers, this, error);
      return true;
    } catch (thrown) {
      try {
        (this.#onError ?? reportHandlerError)(thrown);
      } catch {
        // As above.
      }
      return false;
    }
  }
}

const EMPTY = new Uint8Array(0);

function bytesOf(data: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function controlPayload(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (bytes.length > 125) throw new RangeError("a control frame carries at most 125 bytes");
  return bytes;
}
