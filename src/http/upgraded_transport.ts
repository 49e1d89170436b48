/**
 * The transport a WebSocket session runs on after the HTTP front wrote
 * `101 Switching Protocols`: the socket's own transport, with the bytes that
 * arrived after the request head delivered first. The socket's transport
 * was started by the HTTP front (a transport starts once), so the front
 * forwards the socket's events here.
 *
 * @module
 */
import type { Transport, TransportSink } from "../transport.ts";

/** A fresh transport over an already started socket transport. */
export class UpgradedTransport implements Transport {
  readonly #socket: Transport;
  #pending: Uint8Array | null;
  #sink: TransportSink | null = null;
  #paused = false;
  #inputEnded = false;
  #inputError: unknown = undefined;
  #destroyed = false;

  /**
   * @param socket The socket's transport, already started.
   * @param pending Bytes read after the request head, or `null`.
   */
  constructor(socket: Transport, pending: Uint8Array | null) {
    this.#socket = socket;
    this.#pending = pending !== null && pending.length > 0 ? pending : null;
    // `defer` is optional: without the socket's, this transport has none either.
    if (socket.defer === undefined) (this as { defer?: unknown }).defer = undefined;
  }

  // Methods, not bound copies of the socket's: an idle connection holds no closure for them.

  /** The socket transport's `cork`, when it has one. */
  cork(): void {
    this.#socket.cork?.();
  }

  /** The socket transport's `uncork`, when it has one. */
  uncork(): void {
    this.#socket.uncork?.();
  }

  /** The socket transport's `defer` (absent when it has none). */
  defer(task: () => void): void {
    this.#socket.defer!(task);
  }

  /** Where the HTTP front forwards the socket's events once it handed the socket over. */
  get socketSink(): TransportSink {
    return this.#socketSink ??= new SocketEvents(this);
  }
  #socketSink: TransportSink | null = null;

  /** A socket event forwarded by the HTTP front (through `socketSink`). */
  onSocketData(chunk: Uint8Array): void {
    this.#onData(chunk);
  }

  /** A socket event forwarded by the HTTP front (through `socketSink`). */
  onSocketEnd(error: unknown): void {
    this.#onEnd(error);
  }

  /** A socket event forwarded by the HTTP front (through `socketSink`). */
  onSocketDrain(): void {
    if (!this.#destroyed) this.#sink?.drain();
  }

  #onData(chunk: Uint8Array): void {
    if (this.#destroyed) return;
    if (this.#sink !== null) {
      this.#sink.data(chunk);
      return;
    }
    this.#pending = this.#pending === null ? chunk : concat(this.#pending, chunk);
    // Nobody reads yet: don't let the socket run ahead.
    this.#socket.pause();
  }

  #onEnd(error: unknown): void {
    if (this.#destroyed || this.#inputEnded) return;
    this.#inputEnded = true;
    this.#inputError = error;
    if (this.#sink !== null && this.#pending === null) this.#sink.end(error);
  }

  start(sink: TransportSink): void {
    if (this.#sink !== null) throw new Error("a transport starts once");
    this.#sink = sink;
    const pending = this.#pending;
    if (pending !== null) {
      this.#pending = null;
      sink.data(pending);
      if (this.#destroyed) return;
    }
    if (this.#inputEnded) {
      sink.end(this.#inputError);
      return;
    }
    // From now on the socket's events need nothing from this layer.
    if (this.#socket.redirect !== undefined && !this.#destroyed) this.#socket.redirect(sink);
    if (!this.#paused) this.#socket.resume();
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#socket.resume();
  }

  write(chunk: Uint8Array, done?: (chunk: Uint8Array) => void): boolean {
    return this.#socket.write(chunk, done);
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  flushed(): Promise<void> {
    return this.#socket.flushed();
  }

  end(): void {
    this.#socket.end();
  }

  destroy(reason?: unknown): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#socket.destroy(reason);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** The socket's events, forwarded to an {@linkcode UpgradedTransport}: one object, no closures. */
class SocketEvents implements TransportSink {
  readonly #transport: UpgradedTransport;

  constructor(transport: UpgradedTransport) {
    this.#transport = transport;
  }

  data(chunk: Uint8Array): void {
    this.#transport.onSocketData(chunk);
  }

  end(error: unknown): void {
    this.#transport.onSocketEnd(error);
  }

  drain(): void {
    this.#transport.onSocketDrain();
  }
}
