/**
 * The engine room shared by the RAW and default sessions: one transport, one
 * frame reader, one frame writer, output batching and the connection's life.
 * Not exported from `mod.ts`; the sessions are its public faces.
 *
 * @module
 */
import { CloseCode, CloseReason } from "../close_reason.ts";
import { ErrorCode, sessionClosedError, WebSocketError } from "../errors.ts";
import { CloseFrame, type Frame, OP_CLOSE, payloadLength, PingFrame } from "../frame/frame.ts";
import { FrameReader } from "../frame/frame_reader.ts";
import { FrameWriter, headerLength } from "../frame/frame_writer.ts";
import { type IdleWatched, unwatchIdle, watchIdle } from "./idle_sweeper.ts";
import { type BatchOwner, OutputBatcher } from "./output_batcher.ts";
import { type Job, kJobEnd, kJobLeave } from "../job.ts";
import { DEFAULT_WRITE_HIGH_WATER_MARK, type Transport, type TransportSink } from "../transport.ts";

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
   * payload received so far (unmasked), in the pieces it arrived in. Lets a
   * session fail fast.
   */
  partial?(opcode: number, received: readonly Uint8Array[]): void;
  /** The input ended (`error` undefined on a clean end of stream). */
  inputEnded(error: unknown): void;
  /** A close frame is being sent (by `send`, `close` or `fail`). */
  closing(frame: CloseFrame): void;
  /**
   * A context signal aborted (server shutdown): start the close with 1001,
   * after what is still being encoded. Without it the connection closes at once.
   */
  goAway?(): void;
  /** The connection is finished: both directions are closed or it was dropped. */
  finished(): void;
  /** The queue for the peer fell below the high-water mark after a send had filled it. */
  drained?(): void;
}

/**
 * Reasons to stop reading from the peer, one bit each: the connection reads
 * while none is held. Every layer that needs the input to wait registers its
 * own reason, so no layer has to know the others' conditions to resume.
 */
export const Hold = {
  /** The application asked (`pause()` of the handler path's `ServerWebSocket`). */
  Application: 1,
  /** The reader of a session's queue (`for await` over a default or RAW session) is behind. */
  Reader: 2,
  /** An extension is decoding a message: later frames must not overtake it. */
  Decoding: 4,
  /** Pongs are queued above the high-water mark for a peer that pings faster than it reads. */
  Pongs: 8,
} as const;

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
   * Writes what the frames handled in a read sent at the end of that read,
   * synchronously, instead of at the end of the I/O event (the handler path,
   * whose handlers run inside the read).
   */
  flushAfterRead?: boolean;
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
  /**
   * Milliseconds without a byte from the peer after which the connection is
   * dropped (see `idle_sweeper.ts`); 0 (the default here) never drops it.
   */
  idleTimeout?: number;
  /**
   * Whether a quiet peer is pinged shortly before `idleTimeout` drops it,
   * once the session above takes pongs it did not ask for
   * (`takesPongs`). Default true.
   */
  pingWhenIdle?: boolean;
}

const RESOLVED: Promise<void> = Promise.resolve();
/** `Connection.sendNow`: nothing was sent (the connection is closing or closed, or its queue overflowed). */
export const SEND_DROPPED = 0;
/** `Connection.sendNow`: queued, but the queue is at or above the high-water mark; `drained` follows. */
export const SEND_BACKPRESSURE = -1;
// Shared while nobody waits; replaced by an array of the connection's own on the first wait.
const NO_WAITERS: never[] = [];
/** Default of {@linkcode ConnectionOptions.closeTimeout}. */
export const DEFAULT_CLOSE_TIMEOUT = 5000;
/** Default of {@linkcode ConnectionOptions.maxQueuedBytes}: 16 MiB. */
export const DEFAULT_MAX_QUEUED_BYTES: number = 16 * 1024 * 1024;

/** Connection states, in order. */
const OPEN = 0, OUTPUT_ENDED = 1, FINISHED = 2;

/**
 * One WebSocket connection over one transport. It is the transport's sink
 * itself (`data`, `end`, `drain`), and makes its callbacks, abort
 * controller and batch only when first needed, so that an idle connection
 * holds little.
 */
export class Connection implements TransportSink, BatchOwner, IdleWatched {
  readonly reader: FrameReader;
  readonly writer: FrameWriter;
  readonly #transport: Transport;
  #controller: AbortController | null = null;
  readonly #highWaterMark: number;
  readonly #closeTimeout: number;
  readonly #maxQueued: number;
  /** The client role leaves closing TCP to the server (RFC 6455 §7.1.1). */
  readonly #client: boolean;
  /** Where frames and events go; a session may take over from another before `start`. */
  handler: ConnectionHandler | null = null;

  #state = OPEN;
  #inputEnded = false;
  // The read gate: a bit per reason to stop reading (see `Hold`).
  #holds = 0;
  // A send left the queue at or above the high-water mark; `drained` is owed.
  #congested = false;
  #dispatching = false;
  #discardInput = false;
  #closeSent = false;
  #closeReceived = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #drainWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = NO_WAITERS;
  /** Why sends fail once the connection failed on its own (a full send queue). */
  #failure: WebSocketError | null = null;
  readonly #idleTimeout: number;
  readonly #pingWhenIdle: boolean;
  #droppedIdle = false;
  /** Idle sweeps since a byte last arrived (see `idle_sweeper.ts`); every read zeroes it. */
  idleTicks = 0;
  /**
   * Set by a session that takes pongs it did not ask for (the message core
   * answers and swallows them; a RAW session would hand them to the
   * application): only then may the idle sweep ping the peer.
   */
  takesPongs = false;

  /** Frames on their way out: batched, flushed per read or I/O event. */
  readonly #output: OutputBatcher;

  // Made when first asked for: an idle connection holds no promise.
  #finished: Promise<void> | null = null;
  #resolveFinished: (() => void) | null = null;
  /** The job ended when this connection finishes (set by the upgrade). */
  job: Job | null = null;
  // Context signals whose abort closes this connection (see `closeOnAbort`):
  // one held as it is (the engine's), an array only for several.
  #abortSignals: AbortSignal | AbortSignal[] | null = null;

  constructor(transport: Transport, options: ConnectionOptions = {}) {
    const role = options.role ?? "server";
    this.#transport = transport;
    this.#client = role === "client";
    this.reader = new FrameReader({ maxFrameSize: options.maxFrameSize, role, allowedRsv: options.allowedRsv });
    this.writer = new FrameWriter({ masking: role === "client" });
    this.#highWaterMark = options.writeHighWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK;
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.#maxQueued = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#idleTimeout = options.idleTimeout ?? 0;
    this.#pingWhenIdle = options.pingWhenIdle ?? true;
    this.#output = new OutputBatcher(transport, this.writer, this, options.flushAfterRead ?? false);
  }

  /** Aborted once the connection is finished. */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#state === FINISHED) this.#controller.abort(sessionClosedError("the connection is finished"));
    }
    return this.#controller.signal;
  }

  /** Resolves once the connection is finished (made when first asked for). */
  get finished(): Promise<void> {
    if (this.#finished === null) {
      this.#finished = this.#state === FINISHED ? RESOLVED : new Promise((resolve) => this.#resolveFinished = resolve);
    }
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
    return this.#output.length + this.#transport.bufferedAmount;
  }

  /** Starts reading; frames go to `handler`. */
  start(): void {
    if (this.#idleTimeout > 0 && this.#state !== FINISHED) watchIdle(this, this.#idleTimeout);
    this.#transport.start(this);
  }

  /** Whether the idle timeout dropped the connection (nothing arrived for `idleTimeout`). */
  get droppedIdle(): boolean {
    return this.#droppedIdle;
  }

  /** From the idle sweep: the peer has been quiet for most of `idleTimeout`; ask it for a pong. */
  pingIdle(): void {
    if (this.takesPongs && this.#pingWhenIdle) this.sendNow(new PingFrame());
  }

  /** From the idle sweep: nothing arrived for `idleTimeout`; drop the connection (1006, as uWebSockets). */
  dropIdle(): void {
    this.#droppedIdle = true;
    this.destroy();
  }

  /** From the transport: bytes arrived. */
  data(chunk: Uint8Array): void {
    this.#onData(chunk);
  }

  /** From the transport: the input ended (`error` undefined on a clean end of stream). */
  end(error: unknown): void {
    this.#onInputEnd(error);
  }

  /** From the transport: its queue went below the high-water mark. */
  drain(): void {
    this.#onDrain();
  }

  /** Stops delivering frames until `resume()` (the `Hold.Application` reason of the read gate). */
  pause(): void {
    this.hold(Hold.Application);
  }

  /** Delivers frames again, starting with those already read, unless another reason holds them. */
  resume(): void {
    this.release(Hold.Application);
  }

  /** Whether reading is stopped, for any reason. */
  get held(): boolean {
    return this.#holds !== 0;
  }

  /**
   * Stops reading for `reason` (a `Hold` bit) until it is released.
   *
   * @param reason One of `Hold`.
   */
  hold(reason: number): void {
    const before = this.#holds;
    this.#holds = before | reason;
    if (before === 0 && !this.#discardInput) this.#transport.pause();
  }

  /**
   * Releases `reason`; once no reason is held, frames already read are
   * delivered and reading goes on.
   *
   * @param reason One of `Hold`.
   */
  release(reason: number): void {
    if ((this.#holds & reason) === 0) return;
    this.#holds &= ~reason;
    if (this.#holds !== 0 || this.#state === FINISHED) return;
    if (!this.#dispatching) this.#dispatch();
    if (this.#holds === 0) this.#transport.resume();
  }

  #onData(chunk: Uint8Array): void {
    // The idle sweep's sign of life: one store per read, whatever the read holds.
    this.idleTicks = 0;
    if (this.#discardInput || this.#state === FINISHED) return;
    this.reader.push(chunk);
    if (this.#holds === 0 && !this.#dispatching) this.#dispatch();
  }

  #dispatch(): void {
    this.#dispatching = true;
    this.#output.readStarted();
    try {
      while (this.#holds === 0 && !this.#discardInput) {
        const frame = this.reader.read();
        if (frame === null) {
          const partial = this.handler!.partial;
          if (partial !== undefined && this.reader.pendingOpcode >= 0) {
            partial.call(this.handler, this.reader.pendingOpcode, this.reader.pendingParts);
          }
          break;
        }
        if (frame.opcode === OP_CLOSE) {
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
    // What the handlers sent in this read goes out in one write, now (on the handler path).
    this.#output.readEnded();
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
    // A client whose output is done was waiting for the server to close first: now it closes too.
    else if (this.#client && this.#state === OUTPUT_ENDED) this.#transport.end();
    this.#finishIfDone();
  }

  /**
   * Queues a frame; all frames queued in one turn go out in one write.
   *
   * @returns Resolves when the bytes are in the transport's queue below its
   *   high-water mark; rejects when the connection can no longer send.
   */
  send(frame: Frame): Promise<void> {
    const sent = this.sendNow(frame);
    if (sent > 0) return RESOLVED;
    if (sent === SEND_DROPPED) return rejected(this.#failure ?? sessionClosedError());
    if (this.#drainWaiters === NO_WAITERS) this.#drainWaiters = [];
    const waiting = new Promise<void>((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
    waiting.catch(() => {});
    return waiting;
  }

  /**
   * Queues a frame without a promise: the handler path's send.
   *
   * @returns The frame's size on the wire (header and payload, so always
   *   positive) when queued below the high-water mark,
   *   `SEND_BACKPRESSURE` (-1) when queued at or above it (`drained` follows
   *   once the peer caught up), `SEND_DROPPED` (0) when nothing was sent:
   *   the connection is closing, or more than `maxQueuedBytes` was queued
   *   already, which fails the connection with 1008.
   */
  sendNow(frame: Frame): number {
    if (this.#state !== OPEN || this.#closeSent) return SEND_DROPPED;
    const opcode = frame.opcode;
    if (opcode === OP_CLOSE) this.handler!.closing(frame as CloseFrame);
    const length = payloadLength(frame);
    const size = headerLength(length, this.writer.masking) + length;
    this.#enqueue(frame);
    if (opcode === OP_CLOSE) {
      this.#closeSent = true;
      if (this.#closeReceived) {
        this.endOutput();
        return size;
      }
      // Our close opens the handshake: the peer has closeTimeout to answer.
      this.#startTimer();
    }
    return this.#queuedResult(length, size);
  }

  #enqueue(frame: Frame): void {
    this.#output.frame(frame);
  }

  /**
   * Queues an unfragmented data message from its bytes, with no `Frame`;
   * returns as {@linkcode Connection.sendNow}.
   *
   * @param opcode 1 (text) or 2 (binary).
   * @param data The payload; it must not change until written.
   */
  sendMessage(opcode: number, data: Uint8Array): number {
    if (this.#state !== OPEN || this.#closeSent) return SEND_DROPPED;
    const length = data.length;
    this.#output.message(opcode, data);
    return this.#queuedResult(length, headerLength(length, this.writer.masking) + length);
  }

  /**
   * Queues a frame already encoded (a published message); returns as
   * {@linkcode Connection.sendNow}.
   *
   * @param frame Header and payload, unmasked; never changed afterwards.
   */
  sendEncoded(frame: Uint8Array): number {
    if (this.#state !== OPEN || this.#closeSent) return SEND_DROPPED;
    this.#output.encoded(frame);
    return this.#queuedResult(frame.length, frame.length);
  }

  /** What a send that just queued `size` bytes (`length` of payload) returns; see `sendNow`. */
  #queuedResult(length: number, size: number): number {
    const buffered = this.bufferedAmount;
    if (buffered < this.#highWaterMark) return size;
    // The peer reads slower than the application sends without waiting: bound the memory.
    if (buffered - length > this.#maxQueued) {
      void this.failQueueFull();
      return SEND_DROPPED;
    }
    this.#congested = true;
    return SEND_BACKPRESSURE;
  }

  /** From the batcher: a batch went to the transport; senders waiting for room may go on. */
  batchFlushed(): void {
    if (this.#drainWaiters.length > 0) this.#onDrain();
  }

  /** Queued outgoing bytes at or above which the peer is behind (`send` waits, `sendNow` returns -1). */
  get writeHighWaterMark(): number {
    return this.#highWaterMark;
  }

  /** Queued bytes beyond which sending fails the connection with 1008. */
  get maxQueuedBytes(): number {
    return this.#maxQueued;
  }

  /** Fails the connection because the peer does not read what is queued for it (1008, `SendQueueFull`). */
  failQueueFull(): Promise<void> {
    if (this.#failure !== null || !this.writable) return rejected(this.#failure ?? sessionClosedError());
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
    if (this.#congested) {
      this.#congested = false;
      if (this.#state === OPEN) this.handler?.drained?.();
    }
    if (this.#drainWaiters.length === 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = NO_WAITERS;
    for (const w of waiters) w.resolve();
  }

  /** Sends what is queued; resolves when the transport has taken all of it. */
  flush(): Promise<void> {
    this.#output.flush();
    return this.#transport.flushed();
  }

  /**
   * Closes our direction: flushes, then ends the transport's output. The
   * connection finishes when the peer ends its side, or after the linger
   * timeout. In the client role the transport's output is ended only once
   * the server has closed its side (RFC 6455 §7.1.1: the server closes the
   * TCP connection first, so the TIME_WAIT state is its own); the timeout
   * drops a server that never does.
   */
  endOutput(): void {
    if (this.#state !== OPEN) return;
    this.#output.flush();
    this.#state = OUTPUT_ENDED;
    if (!this.#client || this.#inputEnded) this.#transport.end();
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

  /**
   * Closes with 1001 Going Away when `signal` aborts (at once when it has),
   * then gives the peer the close timeout to answer.
   */
  closeOnAbort(signal: AbortSignal): void {
    if (signal.aborted) {
      this.goAway();
      return;
    }
    if (this.#state === FINISHED) return;
    let connections = closingOnAbort.get(signal);
    if (connections === undefined) {
      connections = new Set();
      closingOnAbort.set(signal, connections);
      signal.addEventListener("abort", onContextAbort, { once: true });
    }
    connections.add(this);
    const held = this.#abortSignals;
    if (held === null) this.#abortSignals = signal;
    else if (Array.isArray(held)) held.push(signal);
    else this.#abortSignals = [held, signal];
  }

  /** Starts the close handshake with 1001 Going Away (through the handler, which may first finish what it encodes). */
  goAway(): void {
    const handler = this.handler;
    if (handler?.goAway !== undefined) handler.goAway();
    else this.close(new CloseReason(CloseCode.GoingAway, ""));
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
    if (this.#discardInput) return;
    this.#discardInput = true;
    if (this.#holds !== 0) {
      this.#holds = 0;
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
    if (this.#idleTimeout > 0) unwatchIdle(this, this.#idleTimeout);
    this.#output.close();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#rejectWaiters();
    this.#controller?.abort(sessionClosedError("the connection is finished"));
    const signals = this.#abortSignals;
    if (signals !== null) {
      this.#abortSignals = null;
      if (Array.isArray(signals)) { for (const s of signals) stopClosingOnAbort(s, this); }
      else stopClosingOnAbort(signals, this);
    }
    // Out of the server's open clients before the handler hears of the end (as `ws`'s `clients`).
    this.job?.[kJobLeave]();
    this.handler?.finished();
    this.#resolveFinished?.();
    this.#resolveFinished = null;
    this.job?.[kJobEnd]();
  }

  #rejectWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = NO_WAITERS;
    const error = this.#failure ?? sessionClosedError();
    for (const w of waiters) w.reject(error);
  }
}

/**
 * The connections each context signal closes when it aborts: one `abort`
 * listener per signal, not one per connection (an `EventTarget` scans its
 * listeners on every add and remove, so 10,000 connections on one server's
 * signal would cost quadratic time to open and to close).
 */
const closingOnAbort: WeakMap<AbortSignal, Set<Connection>> = new WeakMap();

/** The signal's listener goes with its last connection, so a long-lived signal keeps none. */
function stopClosingOnAbort(signal: AbortSignal, connection: Connection): void {
  const connections = closingOnAbort.get(signal);
  if (connections === undefined || !connections.delete(connection) || connections.size > 0) return;
  closingOnAbort.delete(signal);
  signal.removeEventListener("abort", onContextAbort);
}

function onContextAbort(this: AbortSignal): void {
  const connections = closingOnAbort.get(this);
  if (connections === undefined) return;
  closingOnAbort.delete(this);
  for (const connection of connections) connection.goAway();
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
