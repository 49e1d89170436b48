import { CloseCode } from "../close_reason.ts";
import type { CloseReason } from "../close_reason.ts";
import { ErrorCode, WebSocketError } from "../errors.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import { CloseFrame, type Frame, payloadLength } from "../frame/frame.ts";
import type { Connection, ConnectionHandler } from "./connection.ts";
import { IncomingQueue } from "./incoming_queue.ts";
import type { WebSocketSession } from "./session.ts";

/** Queued incoming bytes above which a RAW session stops reading from the peer. */
const INCOMING_HIGH_WATER_MARK = 1024 * 1024;
// A frame's cost in the queue: its payload plus a rough object overhead, so
// that a flood of empty frames also fills the queue.
const frameSize = (f: Frame): number => payloadLength(f) + 64;

/** Connections behind sessions, for the layers above (not exported from `mod.ts`). */
export const connectionOf: WeakMap<WebSocketSession, Connection> = new WeakMap();
let queueOf: (session: RawWebSocketSession) => IncomingQueue<Frame> | null;
let markTakenOver: (session: RawWebSocketSession) => void;
let rawQueue: (session: RawWebSocketSession) => IncomingQueue<Frame>;

/**
 * Hands a RAW session's connection to a session built on top of it (the
 * default session): returns the connection and the frames the RAW session
 * received but nobody read, and ends the RAW session's `incoming`.
 */
export function takeOver(session: RawWebSocketSession): { connection: Connection; unread: Frame[] } {
  const connection = connectionOf.get(session)!;
  const queue = queueOf(session);
  const unread: Frame[] = [];
  if (queue !== null) {
    while (queue.length > 0) unread.push(queue.shift()!);
    queue.end();
  }
  markTakenOver(session);
  return { connection, unread };
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

let create: (
  connection: Connection,
  protocol: string | null,
  extensions: readonly WebSocketExtension[],
) => RawWebSocketSession;

/**
 * Builds a RAW session on a connection that is not started yet (for
 * `WebSocketUpgrade`; not exported from `mod.ts`).
 */
export function createRawSession(
  connection: Connection,
  protocol: string | null,
  extensions: readonly WebSocketExtension[],
): RawWebSocketSession {
  return create(connection, protocol, extensions);
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
  readonly #connection: Connection;
  // Made on the first frame or the first look at `incoming`: a session the
  // default session takes over at once never needs it.
  #queue: IncomingQueue<Frame> | null = null;
  #takenOver = false;
  #outgoing: WritableStream<Frame> | null = null;

  /** The negotiated subprotocol, or `null`. */
  readonly protocol: string | null;
  /** The negotiated extensions. */
  readonly extensions: readonly WebSocketExtension[];

  static {
    create = (connection, protocol, extensions) => new RawWebSocketSession(connection, protocol, extensions);
    queueOf = (session) => session.#queue;
    markTakenOver = (session) => session.#takenOver = true;
    rawQueue = (session) => session.#ensureQueue();
  }

  private constructor(connection: Connection, protocol: string | null, extensions: readonly WebSocketExtension[]) {
    this.#connection = connection;
    this.protocol = protocol;
    this.extensions = extensions;
    connectionOf.set(this, connection);
    connection.handler = new RawSessionEvents(this, connection);
  }

  #ensureQueue(): IncomingQueue<Frame> {
    if (this.#queue === null) {
      this.#queue = new IncomingQueue<Frame>(INCOMING_HIGH_WATER_MARK, frameSize, this.#connection);
      // Taken over by a session built on top: this one's `incoming` has ended.
      if (this.#takenOver) this.#queue.end();
    }
    return this.#queue;
  }

  /**
   * The frames of `incoming`, read without a stream:
   * `for await (const frame of session)` (one reader at a time).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    return this.#ensureQueue().iterate();
  }

  /** Frames from the peer, in order; iterate with `for await`. */
  get incoming(): ReadableStream<Frame> {
    return this.#ensureQueue().stream();
  }

  /** Frames to the peer: writing is `send`, closing ends our side of the connection. */
  get outgoing(): WritableStream<Frame> {
    if (this.#outgoing !== null) return this.#outgoing;
    const connection = this.#connection;
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
    return this.#connection.writer.masking;
  }

  /** Largest incoming frame payload accepted. */
  get maxFrameSize(): number {
    return this.#connection.reader.maxFrameSize;
  }

  /** Aborted when the session ends. */
  get signal(): AbortSignal {
    return this.#connection.signal;
  }

  /** Bytes queued for the peer and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.#connection.bufferedAmount;
  }

  /**
   * Queues a frame for the peer; see {@linkcode WebSocketSession.send}.
   *
   * @param frame The frame; its data must not change until the promise settles.
   */
  send(frame: Frame): Promise<void> {
    return this.#connection.send(frame);
  }

  /** Resolves when every frame sent so far is written to the transport. */
  flush(): Promise<void> {
    return this.#connection.flush();
  }

  /**
   * Sends a close frame (unless one was sent) and flushes. A RAW session does
   * not wait for the peer's answer: read it from `incoming`.
   *
   * @param reason The code and message to send; none sends an empty close frame.
   */
  async close(reason?: CloseReason): Promise<void> {
    if (this.#connection.writable) await this.#connection.send(new CloseFrame(reason));
    await this.#connection.flush();
  }

  /** Drops the connection at once. */
  terminate(): void {
    this.#connection.destroy();
  }
}

/** A RAW session's connection events: one object, no closures. */
class RawSessionEvents implements ConnectionHandler {
  readonly #session: RawWebSocketSession;
  readonly #connection: Connection;

  constructor(session: RawWebSocketSession, connection: Connection) {
    this.#session = session;
    this.#connection = connection;
  }

  frame(frame: Frame): void {
    rawQueue(this.#session).push(frame);
  }

  protocolError(error: WebSocketError): void {
    failWhenSeen(this.#connection, rawQueue(this.#session), error);
  }

  inputEnded(error: unknown): void {
    rawQueue(this.#session).end(
      error === undefined
        ? undefined
        : new WebSocketError(ErrorCode.ConnectionLost, CloseCode.ClosedAbnormally, "the connection failed", {
          cause: error,
        }),
    );
  }

  closing(): void {}

  finished(): void {
    rawQueue(this.#session).end();
  }
}
