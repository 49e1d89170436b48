/**
 * The engine room shared by the RAW and default sessions: one transport, one
 * frame reader, one frame writer, output batching and the connection's life.
 * Not exported from `mod.ts`; the sessions are its public faces.
 *
 * @module
 */
import { CloseCode, CloseReason } from "../close_reason.ts";
import { ErrorCode, WebSocketError } from "../errors.ts";
import { CloseFrame, type Frame } from "../frame/frame.ts";
import { FrameReader } from "../frame/frame_reader.ts";
import { FrameWriter, headerLength } from "../frame/frame_writer.ts";
import { DEFAULT_WRITE_HIGH_WATER_MARK, type Transport } from "../transport.ts";

/** What a connection calls back into: the session on top of it. */
export interface ConnectionHandler {
  /** A frame arrived. May call `pause()`. */
  frame(frame: Frame): void;
  /**
   * The peer broke the protocol (or the handler threw a `WebSocketError`).
   * Reading has stopped; the handler must call `fail(error)`, at once or
   * once the application has seen what came before (the connection's close
   * timeout bounds the wait).
   */
  protocolError(error: WebSocketError): void;
  /**
   * Bytes of a frame that is not complete yet, at the end of a read: the
   * payload received so far (unmasked). Lets a session fail fast.
   */
  partial?(opcode: number, received: Uint8Array): void;
  /** The input ended (`error` undefined on a clean end of stream). */
  inputEnded(error: unknown): void;
  /** A close frame is being sent (by `send`, `close` or `fail`). */
  closing(frame: CloseFrame): void;
  /** The connection is finished: both directions are closed or it was dropped. */
  finished(): void;
}

/** Options of a {@linkcode Connection}. */
export interface ConnectionOptions {
  /** Largest frame payload accepted. */
  maxFrameSize?: number;
  /** `"server"` (the default) reads masked frames and writes unmasked ones. */
  role?: "server" | "client";
  /** RSV bits claimed by negotiated extensions. */
  allowedRsv?: number;
  /** Queued outgoing bytes above which `send` waits. */
  writeHighWaterMark?: number;
  /**
   * Queued outgoing bytes beyond which a `send` fails the connection with
   * 1008 and `ErrorCode.SendQueueFull` instead of queueing more; checked
   * only once the queue is above `writeHighWaterMark`. `Infinity` only waits.
   */
  maxQueuedBytes?: number;
  /**
   * Milliseconds to wait for the peer's close frame after ours, and for the
   * peer to close the transport after our side is done, before dropping it.
   */
  closeTimeout?: number;
}

const RESOLVED: Promise<void> = Promise.resolve();
const BATCH_INITIAL = 16 * 1024;
// Payloads this big are written as their own chunk rather than copied into the batch.
const DIRECT_WRITE_THRESHOLD = 16 * 1024;
/** Default of {@linkcode ConnectionOptions.closeTimeout}. */
export const DEFAULT_CLOSE_TIMEOUT = 5000;
/** Default of {@linkcode ConnectionOptions.maxQueuedBytes}: 16 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES: number = 16 * 1024 * 1024;

/** Connection states, in order. */
const OPEN = 0, OUTPUT_ENDED = 1, FINISHED = 2;

/** One WebSocket connection over one transport. */
export class Connection {
  readonly reader: FrameReader;
  readonly writer: FrameWriter;
  readonly #transport: Transport;
  readonly #controller = new AbortController();
  readonly #highWaterMark: number;
  readonly #closeTimeout: number;
  readonly #maxQueued: number;
  /** Where frames and events go; a session may take over from another before `start`. */
  handler: ConnectionHandler | null = null;

  #state = OPEN;
  #inputEnded = false;
  #paused = false;
  #dispatching = false;
  #discardInput = false;
  #closeSent = false;
  #closeReceived = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #drainWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Why sends fail once the connection failed on its own (a full send queue). */
  #failure: WebSocketError | null = null;

  #batch = new Uint8Array(BATCH_INITIAL);
  #batchLength = 0;
  #flushScheduled = false;
  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.#flushBatch();
  };

  #finished: Promise<void>;
  #resolveFinished!: () => void;

  constructor(transport: Transport, options: ConnectionOptions = {}) {
    const role = options.role ?? "server";
    this.#transport = transport;
    this.reader = new FrameReader({ maxFrameSize: options.maxFrameSize, role, allowedRsv: options.allowedRsv });
    this.writer = new FrameWriter({ masking: role === "client" });
    this.#highWaterMark = options.writeHighWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK;
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#maxQueued = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#finished = new Promise((resolve) => this.#resolveFinished = resolve);
  }

  /** Aborted once the connection is finished. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Resolves once the connection is finished. */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Whether frames may still be sent. */
  get writable(): boolean {
    return this.#state === OPEN && !this.#closeSent;
  }

  /** Milliseconds the connection waits for the peer during the close. */
  get closeTimeout(): number {
    return this.#closeTimeout;
  }

  /** Whether a close frame has been sent. */
  get closeSent(): boolean {
    return this.#closeSent;
  }

  /** Whether the peer's close frame has arrived. */
  get closeReceived(): boolean {
    return this.#closeReceived;
  }

  /** Whether the input has ended. */
  get inputEnded(): boolean {
    return this.#inputEnded;
  }

  /** Bytes queued for the peer, in the batch and in the transport. */
  get bufferedAmount(): number {
    return this.#batchLength + this.#transport.bufferedAmount;
  }

  /** Starts reading; frames go to `handler`. */
  start(): void {
    this.#transport.start({
      data: (chunk) => this.#onData(chunk),
      end: (error) => this.#onInputEnd(error),
      drain: () => this.#onDrain(),
    });
  }

  /** Stops delivering frames until `resume()`. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.#transport.pause();
  }

  /** Delivers frames again, starting with those already read. */
  resume(): void {
    if (!this.#paused || this.#state === FINISHED) return;
    this.#paused = false;
    if (!this.#dispatching) this.#dispatch();
    if (!this.#paused) this.#transport.resume();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#discardInput || this.#state === FINISHED) return;
    this.reader.push(chunk);
    if (!this.#paused && !this.#dispatching) this.#dispatch();
  }

  #dispatch(): void {
    this.#dispatching = true;
    try {
      while (!this.#paused && !this.#discardInput) {
        const frame = this.reader.read();
        if (frame === null) {
          const partial = this.handler!.partial;
          if (partial !== undefined && this.reader.pendingOpcode >= 0) {
            partial.call(this.handler, this.reader.pendingOpcode, this.reader.pendingPayload);
          }
          break;
        }
        if (frame.opcode === 0x8) {
          // Nothing may follow a close frame (RFC 6455 §5.5.1).
          this.#closeReceived = true;
          this.#discardInput = true;
          this.handler!.frame(frame);
          if (this.#closeSent) this.endOutput();
          break;
        }
        this.handler!.frame(frame);
      }
    } catch (thrown) {
      // The session above may throw a WebSocketError to fail the connection.
      const error = thrown instanceof WebSocketError
        ? thrown
        : new WebSocketError(ErrorCode.InternalError, CloseCode.InternalError, "internal error", { cause: thrown });
      this.#discardInput = true;
      this.handler!.protocolError(error);
    } finally {
      this.#dispatching = false;
    }
  }

  #onInputEnd(error: unknown): void {
    if (this.#inputEnded) return;
    this.#inputEnded = true;
    if (this.#state === FINISHED) return;
    this.handler!.inputEnded(error);
    if (error !== undefined) {
      this.destroy(error);
      return;
    }
    if (this.#state === OPEN) this.endOutput();
    this.#finishIfDone();
  }

  /**
   * Queues a frame; all frames queued in one turn go out in one write.
   *
   * @returns Resolves when the bytes are in the transport's queue below its
   *   high-water mark; rejects when the connection can no longer send.
   */
  send(frame: Frame): Promise<void> {
    if (this.#state !== OPEN || this.#closeSent) return rejected(this.#failure ?? closedError());
    if (frame.opcode === 0x8) this.handler!.closing(frame as CloseFrame);
    this.#enqueue(frame);
    if (frame.opcode === 0x8) {
      this.#closeSent = true;
      if (this.#closeReceived) {
        this.endOutput();
        return RESOLVED;
      }
      // Our close opens the handshake: the peer has closeTimeout to answer.
      this.#startTimer();
    }
    if (this.bufferedAmount < this.#highWaterMark) return RESOLVED;
    // The peer reads slower than the application sends without waiting: bound the memory.
    if (this.bufferedAmount - frame.data.length > this.#maxQueued) return this.failQueueFull();
    const waiting = new Promise<void>((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
    waiting.catch(() => {});
    return waiting;
  }

  #enqueue(frame: Frame): void {
    const data = frame.data;
    const length = data.length;
    const writer = this.writer;
    if (!writer.masking && length >= DIRECT_WRITE_THRESHOLD) {
      this.#reserve(headerLength(length, false));
      this.#batchLength = writer.encodeHeader(frame, length, this.#batch, this.#batchLength);
      this.#flushBatch();
      this.#transport.write(data);
      return;
    }
    this.#reserve(headerLength(length, writer.masking) + length);
    this.#batchLength = writer.encodeInto(frame, this.#batch, this.#batchLength);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  #reserve(bytes: number): void {
    const need = this.#batchLength + bytes;
    if (need <= this.#batch.length) return;
    const grown = new Uint8Array(Math.max(need, this.#batch.length * 2));
    grown.set(this.#batch.subarray(0, this.#batchLength));
    this.#batch = grown;
  }

  #flushBatch(): void {
    const n = this.#batchLength;
    if (n === 0 || this.#state === FINISHED) return;
    this.#batchLength = 0;
    this.#transport.write(this.#batch.slice(0, n));
    // A batch grown for one large message should not stay that large.
    if (this.#batch.length > 4 * BATCH_INITIAL) this.#batch = new Uint8Array(BATCH_INITIAL);
  }

  /** Queued bytes beyond which sending fails the connection with 1008. */
  get maxQueuedBytes(): number {
    return this.#maxQueued;
  }

  /** Fails the connection because the peer does not read what is queued for it (1008, `SendQueueFull`). */
  failQueueFull(): Promise<void> {
    if (this.#failure !== null || !this.writable) return rejected(this.#failure ?? closedError());
    const error = new WebSocketError(
      ErrorCode.SendQueueFull,
      CloseCode.ViolatedPolicy,
      `more than ${this.#maxQueued} bytes queued for a peer that does not read them`,
    );
    this.#failure = error;
    this.fail(error);
    return rejected(error);
  }

  /** Whether the queue for the peer is at or above the high-water mark (a `send` now would wait). */
  get congested(): boolean {
    return this.bufferedAmount >= this.#highWaterMark;
  }

  #onDrain(): void {
    if (this.bufferedAmount >= this.#highWaterMark) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  /** Sends what is queued; resolves when the transport has taken all of it. */
  flush(): Promise<void> {
    this.#flushBatch();
    return this.#transport.flushed();
  }

  /**
   * Closes our direction: flushes, then ends the transport's output. The
   * connection finishes when the peer ends its side, or after the linger
   * timeout.
   */
  endOutput(): void {
    if (this.#state !== OPEN) return;
    this.#flushBatch();
    this.#state = OUTPUT_ENDED;
    this.#transport.end();
    this.#rejectWaiters();
    if (!this.#finishIfDone()) this.#startTimer();
  }

  /**
   * Starts the close handshake with `reason` unless a close frame was sent
   * already; the connection is dropped if the peer does not answer within
   * the close timeout.
   */
  close(reason: CloseReason): void {
    if (this.writable) void this.send(new CloseFrame(reason));
  }

  /** (Re)starts the timer that drops a connection whose peer stopped answering. */
  #startTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.destroy(), this.#closeTimeout);
  }

  /**
   * Fails the connection (RFC 6455 §7.1.7): sends a close frame with the
   * error's code unless one was sent already, stops reading frames, and ends
   * the output.
   */
  fail(error: WebSocketError): void {
    this.discardInput();
    if (this.#state !== OPEN) return;
    if (!this.#closeSent) {
      this.#closeSent = true;
      const frame = new CloseFrame(new CloseReason(error.closeCode, truncateUtf8(error.message, 123)));
      this.handler!.closing(frame);
      this.#enqueue(frame);
    }
    // Failing does not wait for the peer's close frame (RFC 6455 §7.1.7).
    this.endOutput();
  }

  /**
   * Stops delivering frames for good but keeps reading, so the peer's last
   * bytes are consumed and the transport closes without a reset.
   */
  discardInput(): void {
    this.#discardInput = true;
    if (this.#paused) {
      this.#paused = false;
      this.#transport.resume();
    }
  }

  /** Drops the transport at once. */
  destroy(reason?: unknown): void {
    if (this.#state === FINISHED) return;
    this.#transport.destroy(reason);
    this.#finish();
  }

  #finishIfDone(): boolean {
    if (this.#state === OUTPUT_ENDED && this.#inputEnded) {
      this.#finish();
      return true;
    }
    return false;
  }

  #finish(): void {
    if (this.#state === FINISHED) return;
    this.#state = FINISHED;
    this.#batchLength = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#rejectWaiters();
    this.#controller.abort(
      new WebSocketError(ErrorCode.SessionClosed, CloseCode.ClosedAbnormally, "the connection is finished"),
    );
    this.handler?.finished();
    this.#resolveFinished();
  }

  #rejectWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    const error = this.#failure ?? closedError();
    for (const w of waiters) w.reject(error);
  }
}

function closedError(): WebSocketError {
  return new WebSocketError(ErrorCode.SessionClosed, CloseCode.ClosedAbnormally, "the WebSocket session is closed");
}

/** A rejected promise already marked handled, so fire-and-forget callers don't crash the process. */
function rejected(error: unknown): Promise<never> {
  const p = Promise.reject(error);
  p.catch(() => {});
  return p;
}

const utf8 = new TextEncoder();

/** `text` cut to at most `max` UTF-8 bytes, on a character boundary. */
export function truncateUtf8(text: string, max: number): string {
  if (text.length * 3 <= max) return text;
  const bytes = utf8.encode(text);
  if (bytes.length <= max) return text;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end));
}
