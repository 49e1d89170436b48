/**
 * The byte transport a WebSocket connection runs over. The public contract
 * is a `ReadableStream`/`WritableStream` pair; internally a connection is
 * driven by callbacks so that every frame a chunk holds is parsed in one
 * synchronous pass. {@linkcode StreamTransport} adapts the stream pair; an
 * engine may attach a faster transport to the streams it hands out.
 *
 * @module
 */

/** A network address. */
export interface NetAddr {
  /** The IP address (or host name). */
  hostname: string;
  /** The port. */
  port: number;
  /** Always `"tcp"`. */
  transport: "tcp";
}

/** What a transport calls back into. */
export interface TransportSink {
  /** Bytes arrived. The sink may call `pause()` from here. */
  data(chunk: Uint8Array): void;
  /** The input ended: `error` is undefined on a clean end of stream. */
  end(error: unknown): void;
  /** The write queue fell below the high-water mark after a `write` returned false. */
  drain(): void;
}

/** A duplex byte connection with backpressure both ways. */
export interface Transport {
  /** Starts delivering input to `sink`. Called once. */
  start(sink: TransportSink): void;
  /** Stops reading until `resume()`; a chunk already read may still arrive. */
  pause(): void;
  /** Reads again after `pause()`. */
  resume(): void;
  /**
   * Queues bytes for the peer; the transport owns `chunk` afterwards.
   * Returns false when the queue is at or above its high-water mark: the
   * caller should wait for `drain`.
   *
   * `done`, when given, is called (at most once, with `chunk`) when the
   * transport no longer needs the bytes: they were handed to the operating
   * system or copied. The caller may then reuse the memory. A transport may
   * also never call it; the caller then never reuses the memory.
   */
  write(chunk: Uint8Array, done?: (chunk: Uint8Array) => void): boolean;
  /** Bytes queued and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** Resolves once every byte written so far has left the queue. */
  flushed(): Promise<void>;
  /** Sends what is queued, then closes the output (a FIN); input goes on. */
  end(): void;
  /** Drops the connection now, both ways; no further callbacks. */
  destroy(reason?: unknown): void;
  /**
   * Optional: runs `task` once the work the current I/O event started is
   * over, promise reactions included, before the next event is handled.
   * A connection gathers the frames sent in that time into one write; a
   * transport without this hook gets a microtask-based estimate instead.
   */
  defer?(task: () => void): void;
  /**
   * Optional: sends further events to `sink` instead of the sink given to
   * `start`, so that a layer that only forwarded them (the HTTP front after
   * an upgrade) steps out of the way.
   */
  redirect?(sink: TransportSink): void;
  /** Optional: holds the writes that follow until `uncork`, to send them in one system call. */
  cork?(): void;
  /** Optional: sends the writes held since `cork`. */
  uncork?(): void;
}

/** Property under which an engine attaches a native transport to its streams. */
export const TRANSPORT: unique symbol = Symbol("hybi.transport");

/**
 * `chunk` as a plain `Uint8Array` over the same memory: engines hand on the
 * runtime's own subclass (Node's and Bun's `Buffer`, whose `slice` does not
 * copy), which must not reach the application.
 */
export function plainView(chunk: Uint8Array): Uint8Array {
  return chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Default high-water mark of queued outgoing bytes: 1 MiB. */
export const DEFAULT_WRITE_HIGH_WATER_MARK: number = 1024 * 1024;

/**
 * A {@linkcode Transport} over a web byte-stream pair: one `read()` per
 * chunk, one `write()` per batch of frames.
 */
export class StreamTransport implements Transport {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #sink: TransportSink | null = null;
  #highWaterMark: number;
  #paused = false;
  #reading = false;
  #inputDone = false;
  #outputDone = false;
  #destroyed = false;
  #buffered = 0;
  #needDrain = false;
  #lastWrite: Promise<void> = Promise.resolve();

  /**

   * Takes the reader and the writer of a stream pair (locking both).

   *
   * @param input Bytes from the peer.
   * @param output Bytes to the peer.
   * @param highWaterMark Queued bytes above which `write` returns false.
   */
  constructor(
    input: ReadableStream<Uint8Array>,
    output: WritableStream<Uint8Array>,
    highWaterMark: number = DEFAULT_WRITE_HIGH_WATER_MARK,
  ) {
    this.#reader = input.getReader();
    this.#writer = output.getWriter();
    this.#highWaterMark = highWaterMark;
    // A failed close or abort must not surface as an unhandled rejection.
    this.#writer.closed.catch(() => {});
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  start(sink: TransportSink): void {
    this.#sink = sink;
    this.#pump();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (!this.#reading) this.#pump();
  }

  async #pump(): Promise<void> {
    this.#reading = true;
    try {
      while (!this.#paused && !this.#inputDone) {
        const { value, done } = await this.#reader.read();
        if (this.#destroyed) return;
        if (done) {
          this.#inputDone = true;
          this.#sink!.end(undefined);
          return;
        }
        if (value.byteLength > 0) this.#sink!.data(toBytes(value));
      }
    } catch (error) {
      if (this.#destroyed || this.#inputDone) return;
      this.#inputDone = true;
      this.#sink!.end(error);
    } finally {
      this.#reading = false;
    }
  }

  write(chunk: Uint8Array): boolean {
    if (this.#outputDone) return false;
    const n = chunk.byteLength;
    this.#buffered += n;
    const written = this.#writer.write(chunk).then(
      () => {
        this.#buffered -= n;
        if (this.#needDrain && this.#buffered < this.#highWaterMark && !this.#destroyed) {
          this.#needDrain = false;
          this.#sink!.drain();
        }
      },
      (error) => this.#outputFailed(error),
    );
    this.#lastWrite = written;
    if (this.#buffered >= this.#highWaterMark) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  flushed(): Promise<void> {
    return this.#lastWrite;
  }

  end(): void {
    if (this.#outputDone) return;
    this.#outputDone = true;
    this.#writer.close().catch(() => {});
  }

  destroy(reason?: unknown): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (!this.#outputDone) {
      this.#outputDone = true;
      this.#writer.abort(reason).catch(() => {});
    }
    if (!this.#inputDone) {
      this.#inputDone = true;
      this.#reader.cancel(reason).catch(() => {});
    }
  }

  #outputFailed(error: unknown): void {
    if (this.#destroyed || this.#inputDone) return;
    // The peer cannot receive any more: treat it as the end of the connection.
    this.#inputDone = true;
    this.#reader.cancel(error).catch(() => {});
    this.#sink!.end(error);
  }
}

function toBytes(value: Uint8Array | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}
