/**
 * What the engines' socket transports share: the sink (and `redirect`), one
 * `start`, the state of both directions and the rules between them, the
 * high-water mark with its `drain`, `flushed()`, `closed` and the socket's
 * events. An engine subclasses {@linkcode SocketTransportBase} with its
 * system calls only: how to read, how to write (and what a short write
 * means), how to shut the write side, how to close. No runtime API here.
 *
 * The rules, in one place:
 * - input ends once (end of stream, a read error, or the socket closing
 *   under it), and the sink hears of it once;
 * - `end()` shuts the write side once the bytes queued before it are out;
 * - input ended and write side shut: the socket is closed (gracefully);
 * - `destroy()` closes it now; after that no sink callback comes;
 * - `write` returns false at or above the high-water mark, and the sink's
 *   `drain` comes once the queue is below it again, or empty (a session
 *   may wait with a lower mark than the socket's).
 *
 * @module
 */
import type { TransportSink } from "../transport.ts";
import { type SocketCloseListener, SocketSignals } from "./socket_signals.ts";
import type { SocketTransport } from "./socket_transport.ts";

// The state bits (one small integer per socket rather than a field each: an idle connection is counted in bytes).
/** No more input: the sink was told `end`. */
const INPUT_ENDED = 1;
/** `end()` was called: no more writes. */
const OUTPUT_ENDED = 2;
/** The write side was shut (FIN asked for). */
const WRITE_SHUT = 4;
/** Closed both ways, by `destroy()` or by the system; no more callbacks. */
const DESTROYED = 8;
/** A `write` returned false: the sink wants `drain`. */
const NEED_DRAIN = 16;

/**
 * A {@linkcode SocketTransport} without its system calls. The engine
 * implements the abstract members, tells the base what the socket did
 * (`onData`, `onEnd`, `onError`, `onClose`) and that queued bytes left
 * (`progressed`), and leaves every decision above to it.
 */
export abstract class SocketTransportBase implements SocketTransport {
  #sink: TransportSink | null = null;
  readonly #highWaterMark: number;
  #state = 0;
  /** The socket's last error, given to the sink if the socket then closes with input open. */
  #error: unknown = undefined;
  readonly #signals = new SocketSignals();

  /** @param highWaterMark Queued bytes at or above which `write` returns false. */
  constructor(highWaterMark: number) {
    this.#highWaterMark = highWaterMark;
  }

  // ---- what the engine provides ----

  /** Bytes queued and not yet handed to the operating system. */
  abstract get bufferedAmount(): number;
  /** Stops reading until `resume()`. */
  abstract pause(): void;
  /** Reads again after `pause()`. */
  abstract resume(): void;
  /** Starts reading (once, from `start`); input goes to `onData` and `onEnd`. */
  protected abstract startInput(): void;
  /**
   * Writes or queues a chunk (not empty), counted in `bufferedAmount` until
   * it is out; calls `progressed()` as queued bytes leave. `done` as in
   * `Transport.write`. Returns false when the socket refused it
   * (closed); the base then returns false from `write`.
   */
  protected abstract send(chunk: Uint8Array, done: ((chunk: Uint8Array) => void) | undefined): boolean;
  /**
   * Shuts the write side (FIN); called once, with nothing queued. When it
   * returns a promise (which must not reject), the socket is closed only
   * once that settles.
   */
  protected abstract shutdownOutput(): void | Promise<void>;
  /** Closes the socket gracefully: input ended and the write side is shut. */
  protected abstract closeWhenDone(): void;
  /**
   * Closes the socket now, both ways. Returns true when it is closed on
   * return; false when the engine calls `onClose()` once the system says so.
   */
  protected abstract closeSocket(): boolean;
  /** Lets go of what is queued: the socket is closed. */
  protected dropQueue(): void {}

  // ---- what the engine may ask ----

  /** Whether `start` was called. */
  protected get started(): boolean {
    return this.#sink !== null;
  }

  /** Whether input may still come: not ended, not closed. */
  protected get inputOpen(): boolean {
    return (this.#state & (INPUT_ENDED | DESTROYED)) === 0;
  }

  /** Whether the socket is closed (no more callbacks). */
  protected get destroyed(): boolean {
    return (this.#state & DESTROYED) !== 0;
  }

  // ---- events from the socket ----

  /** Bytes arrived. */
  onData(chunk: Uint8Array): void {
    if ((this.#state & (INPUT_ENDED | DESTROYED)) === 0) this.#sink?.data(chunk);
  }

  /** The input ended: `error` undefined at the end of the stream, else the read's error. */
  onEnd(error?: unknown): void {
    const state = this.#state;
    if ((state & (INPUT_ENDED | DESTROYED)) !== 0) return;
    this.#state = state | INPUT_ENDED;
    this.#sink?.end(error);
    this.#closeIfDone();
  }

  /** The socket failed; its `onClose` follows. */
  onError(error: unknown): void {
    this.#error = error;
  }

  /** The socket is closed (by the system, or after `closeSocket()` returned false). */
  onClose(error?: unknown): void {
    const state = this.#state;
    if ((state & (INPUT_ENDED | DESTROYED)) === 0) {
      this.#state = state | INPUT_ENDED;
      this.#sink?.end(error ?? this.#error ?? new Error("the connection closed"));
    }
    this.#state |= DESTROYED;
    this.#closed();
  }

  /**
   * Queued bytes left (`bufferedAmount` is down): wakes `flushed()` waiters
   * on an empty queue, gives `drain`, and shuts the write side once `end()`
   * was called and nothing is left.
   */
  protected progressed(): void {
    const queued = this.bufferedAmount;
    if (queued === 0) this.#signals.wake();
    const state = this.#state;
    if ((state & DESTROYED) !== 0) return;
    // Also on an empty queue: a session may wait with a lower mark than ours.
    if (queued < this.#highWaterMark && ((state & NEED_DRAIN) !== 0 || queued === 0)) {
      this.#state = state & ~NEED_DRAIN;
      this.#sink?.drain();
    }
    if ((this.#state & (OUTPUT_ENDED | WRITE_SHUT | DESTROYED)) === OUTPUT_ENDED && this.bufferedAmount === 0) {
      this.#shutdown();
    }
  }

  // ---- the transport ----

  /** Resolves once the socket is closed (made when first asked for). */
  get closed(): Promise<void> {
    return this.#signals.closed;
  }

  /** Told, by a direct call, when the socket is closed. */
  get closeListener(): SocketCloseListener | null {
    return this.#signals.closeListener;
  }
  set closeListener(listener: SocketCloseListener | null) {
    this.#signals.closeListener = listener;
  }

  start(sink: TransportSink): void {
    if (this.#sink !== null) throw new Error("a transport starts once");
    this.#sink = sink;
    this.startInput();
  }

  redirect(sink: TransportSink): void {
    this.#sink = sink;
  }

  write(chunk: Uint8Array, done?: (chunk: Uint8Array) => void): boolean {
    if ((this.#state & (OUTPUT_ENDED | DESTROYED)) !== 0) return false;
    if (chunk.length > 0 && !this.send(chunk, done)) return false;
    if (this.bufferedAmount < this.#highWaterMark) return true;
    this.#state |= NEED_DRAIN;
    return false;
  }

  flushed(): Promise<void> {
    if ((this.#state & DESTROYED) !== 0 || this.bufferedAmount === 0) return Promise.resolve();
    return this.#signals.wait();
  }

  end(): void {
    const state = this.#state;
    if ((state & (OUTPUT_ENDED | DESTROYED)) !== 0) return;
    this.#state = state | OUTPUT_ENDED;
    if (this.bufferedAmount === 0) this.#shutdown();
  }

  destroy(_reason?: unknown): void {
    if ((this.#state & DESTROYED) !== 0) return;
    this.#state |= DESTROYED;
    if (this.closeSocket()) this.#closed();
  }

  #shutdown(): void {
    this.#state |= WRITE_SHUT;
    const shut = this.shutdownOutput();
    if (shut === undefined) this.#closeIfDone();
    else void shut.then(() => this.#closeIfDone());
  }

  #closeIfDone(): void {
    if ((this.#state & (INPUT_ENDED | WRITE_SHUT | DESTROYED)) === (INPUT_ENDED | WRITE_SHUT)) this.closeWhenDone();
  }

  #closed(): void {
    this.dropQueue();
    this.#signals.markClosed();
  }
}
