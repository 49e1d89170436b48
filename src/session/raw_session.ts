import type { Topics } from "../topics.ts";
import type { CloseReason } from "../close_reason.ts";
import { connectionLostError, type WebSocketError } from "../errors.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import { CloseFrame, type Frame, payloadLength } from "../frame/frame.ts";
import { type Connection, type ConnectionHandler, Hold } from "./connection.ts";
import { IncomingQueue, kQueueAbandoned, kQueueFull, kQueueRoom, type QueueOwner } from "./incoming_queue.ts";
import type { MessageOptions } from "./message_core.ts";
import type { WebSocketSession } from "./session.ts";

/** Queued incoming bytes above which a RAW session stops reading from the peer. */
const INCOMING_HIGH_WATER_MARK = 1024 * 1024;
// A frame's cost in the queue: its payload plus a rough object overhead, so
// that a flood of empty frames also fills the queue.
const frameSize = (f: Frame): number => payloadLength(f) + 64;

/** Where a RAW session keeps its frame queue and connection (off its public API). */
export const kFrames: unique symbol = Symbol("hybi.rawFrames");

/** What a session built on a RAW session takes from it (see {@linkcode takeOver}). */
export interface TakenOver {
  /** The connection. */
  connection: Connection;
  /** Frames the RAW session received and nobody read. */
  unread: Frame[];
  /** The server's topics. */
  topics: Topics;
  /** The upgrade's options: the message settings a session built on top inherits. */
  options: MessageOptions;
}

/**
 * Hands a RAW session's connection to a session built on top of it (the
 * default session): returns the connection and the frames the RAW session
 * received but nobody read, and ends the RAW session's `incoming`.
 */
export function takeOver(session: RawWebSocketSession): TakenOver {
  const frames = session[kFrames];
  const queue = frames.queueIfMade;
  const unread: Frame[] = [];
  if (queue !== null) {
    while (queue.length > 0) unread.push(queue.shift()!);
    queue.end();
  }
  frames.takenOver = true;
  return { connection: frames.connection, unread, topics: frames.topics, options: frames.options };
}

/**
 * Fails the connection once the application has read the frames that came
 * before the error (so an echo of them still goes out first), or after the
 * close timeout when it does not read.
 */
export function failWhenSeen<T>(connection: Connection, queue: IncomingQueue<T>, error: WebSocketError): void {
  let done = false;
  const fail = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    connection.fail(error);
  };
  const timer = setTimeout(fail, connection.closeTimeout);
  void connection.finished.then(() => clearTimeout(timer));
  queue.finish(error, fail);
}

/**
 * Builds a RAW session on a connection that is not started yet (for
 * `WebSocketUpgrade`; not exported from `mod.ts`).
 */
export function createRawSession(
  connection: Connection,
  protocol: string | null,
  extensions: readonly WebSocketExtension[],
  data: unknown,
  topics: Topics,
  options: MessageOptions = {},
): RawWebSocketSession {
  return new RawWebSocketSession(new RawFrames(connection, topics, options), protocol, extensions, data);
}

/**
 * A RAW session's side of the connection: the connection's handler, which
 * queues frames as they come, and the owner of that queue, which holds
 * reading while the queue's reader is behind. The queue is made on the
 * first frame or the first look at `incoming`: a session the default
 * session takes over at once never needs it.
 */
class RawFrames implements ConnectionHandler, QueueOwner {
  readonly connection: Connection;
  /** The topics a session built on top can subscribe to (the server's). */
  readonly topics: Topics;
  /** The upgrade's options (shared by all its connections), for a session built on top. */
  readonly options: MessageOptions;
  #queue: IncomingQueue<Frame> | null = null;
  /** Set once a session built on top took the connection: `incoming` has ended. */
  takenOver = false;

  constructor(connection: Connection, topics: Topics, options: MessageOptions) {
    this.connection = connection;
    this.topics = topics;
    this.options = options;
    connection.handler = this;
  }

  get queueIfMade(): IncomingQueue<Frame> | null {
    return this.#queue;
  }

  get queue(): IncomingQueue<Frame> {
    if (this.#queue === null) {
      this.#queue = new IncomingQueue<Frame>(INCOMING_HIGH_WATER_MARK, frameSize, this);
      if (this.takenOver) this.#queue.end();
    }
    return this.#queue;
  }

  frame(frame: Frame): void {
    this.queue.push(frame);
  }

  protocolError(error: WebSocketError): void {
    failWhenSeen(this.connection, this.queue, error);
  }

  inputEnded(error: unknown): void {
    this.queue.end(error === undefined ? undefined : connectionLostError(error));
  }

  closing(): void {}

  finished(): void {
    this.queue.end();
  }

  [kQueueFull](): void {
    this.connection.hold(Hold.Reader);
  }

  [kQueueRoom](): void {
    this.connection.release(Hold.Reader);
  }

  /** A RAW session's frames are the application's to read: its input stays held. */
  [kQueueAbandoned](): void {}
}

/**
 * A RAW WebSocket session, as Ktor's `RawWebSocket`: frames exactly as they
 * arrive, with no automatic pong, no reassembly of fragments and no close
 * handshake of its own. Protocol violations the frame reader detects still
 * fail the connection with the right close code; `incoming` then ends with
 * that `WebSocketError` after the frames received before it.
 *
 * Sessions are made by `WebSocketUpgrade.upgrade`, not by applications.
 *
 * @example A RAW echo handler
 * ```ts
 * import { Frame, type RawWebSocketSession } from "@hybi/websocket";
 * async function echo(session: RawWebSocketSession): Promise<void> {
 *   for await (const frame of session.incoming) {
 *     if (frame instanceof Frame.Ping) await session.send(new Frame.Pong(frame.data));
 *     else if (frame instanceof Frame.Close) return void await session.send(frame);
 *     else await session.send(frame);
 *   }
 * }
 * console.log(typeof echo); // function
 * ```
 */
export class RawWebSocketSession implements WebSocketSession {
  /**
   * The connection and its frame queue.
   *
   * @internal
   */
  readonly [kFrames]: RawFrames;
  #outgoing: WritableStream<Frame> | null = null;

  /** The negotiated subprotocol, or `null`. */
  readonly protocol: string | null;
  /** The negotiated extensions. */
  readonly extensions: readonly WebSocketExtension[];
  /** What the upgrade attached to this connection (`verify`'s result), or `undefined`. */
  readonly data: unknown;

  /**
   * Built by `WebSocketUpgrade.upgrade`.
   *
   * @internal
   */
  constructor(frames: RawFrames, protocol: string | null, extensions: readonly WebSocketExtension[], data: unknown) {
    this[kFrames] = frames;
    this.protocol = protocol;
    this.extensions = extensions;
    this.data = data;
  }

  /**
   * The frames of `incoming`, read without a stream:
   * `for await (const frame of session)` (one reader at a time).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    return this[kFrames].queue.iterate();
  }

  /** Frames from the peer, in order; iterate with `for await`. */
  get incoming(): ReadableStream<Frame> {
    return this[kFrames].queue.stream();
  }

  /** Frames to the peer: writing is `send`, closing ends our side of the connection. */
  get outgoing(): WritableStream<Frame> {
    if (this.#outgoing !== null) return this.#outgoing;
    const connection = this[kFrames].connection;
    this.#outgoing = new WritableStream<Frame>({
      write: (frame) => connection.send(frame),
      close: async () => {
        await connection.flush();
        connection.endOutput();
      },
      abort: (reason) => connection.destroy(reason),
    });
    return this.#outgoing;
  }

  /** Whether outgoing frames are masked: false, a server never masks. */
  get masking(): boolean {
    return this[kFrames].connection.writer.masking;
  }

  /** Largest incoming frame payload accepted. */
  get maxFrameSize(): number {
    return this[kFrames].connection.reader.maxFrameSize;
  }

  /** Aborted when the session ends. */
  get signal(): AbortSignal {
    return this[kFrames].connection.signal;
  }

  /** Bytes queued for the peer and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this[kFrames].connection.bufferedAmount;
  }

  /**
   * Queues a frame for the peer; see {@linkcode WebSocketSession.send}.
   *
   * @param frame The frame; its data must not change until the promise settles.
   */
  send(frame: Frame): Promise<void> {
    return this[kFrames].connection.send(frame);
  }

  /** Resolves when every frame sent so far is written to the transport. */
  flush(): Promise<void> {
    return this[kFrames].connection.flush();
  }

  /**
   * Sends a close frame (unless one was sent) and flushes. A RAW session does
   * not wait for the peer's answer: read it from `incoming`.
   *
   * @param reason The code and message to send; none sends an empty close frame.
   */
  async close(reason?: CloseReason): Promise<void> {
    if (this[kFrames].connection.writable) await this[kFrames].connection.send(new CloseFrame(reason));
    await this[kFrames].connection.flush();
  }

  /** Drops the connection at once. */
  terminate(): void {
    this[kFrames].connection.destroy();
  }
}
