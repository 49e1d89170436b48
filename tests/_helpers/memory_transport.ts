/**
 * An in-memory socket: a socket transport built as the engines build theirs
 * (on `SocketTransportBase`, with memory in place of system calls), with a
 * test's client on the other end. The HTTP front and sessions run on it
 * through the same code as over a socket: `Connection` batches what a
 * session sends and flushes it from `defer` (`process.nextTick`, as the
 * engines do), hands the batches over with a `done` callback and reuses
 * them once called, corks header and payload of a large frame, and sees
 * `bufferedAmount`, `drain`, `flushed()`, the FIN after the queue and the
 * close once both sides ended. `streams()` hands out the stream pair an
 * engine gives `upgrade()`, with this transport attached under `TRANSPORT`.
 *
 * Two ways to be the client:
 * - `autoRead` (the default, for the HTTP front): the client takes every
 *   write as it comes (`text()`, `bytes()`, `until()`), and hangs up once it
 *   sees the server's FIN (unless `holdOpen`).
 * - `autoRead: false` (for sessions, see `pipe()` in client.ts): what the
 *   server writes waits in the transport, counted in `bufferedAmount`,
 *   until the client `read()`s it, as bytes wait in a socket for a peer that
 *   does not read; the client ends its side itself (`endInput()`).
 */
import process from "node:process";
import { setImmediate } from "node:timers";
import { SocketTransportBase } from "../../src/http/socket_transport_base.ts";
import { type TransportStreams, transportStreams } from "../../src/http/transport_streams.ts";
import { DEFAULT_WRITE_HIGH_WATER_MARK } from "../../src/transport.ts";
import { concatBytes } from "./bytes.ts";
import { until } from "./wait.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Options of a {@linkcode MemoryTransport}. */
export interface MemoryTransportOptions {
  /** Queued outgoing bytes at or above which `write` returns false. Default 1 MiB, as the engines. */
  highWaterMark?: number;
  /** Whether the client takes every write at once (see the module). Default true. */
  autoRead?: boolean;
}

/** What the server wrote in one write, or in the writes of one cork, with the callbacks owed for it. */
interface Segment {
  chunks: Uint8Array[];
  dones: (((chunk: Uint8Array) => void) | undefined)[];
  length: number;
}

/** What the client sent and the server has not read yet (it paused, or has not started): bytes, or its end (null). */
interface Incoming {
  what: Uint8Array | null;
  delivered: () => void;
}

export class MemoryTransport extends SocketTransportBase {
  /** Everything the client has received, one entry per write (per cork) of the server. */
  readonly written: Uint8Array[] = [];
  /** Whether the server paused reading. */
  paused = false;
  /** The server's FIN reached the client: it ended its output, and everything written before has left. */
  outputEnded = false;
  /** The client's end of input reached the server. */
  inputEnded = false;
  /** The server dropped the connection (`destroy()`). */
  reset = false;
  /** When true, an `autoRead` client does not hang up after the server's FIN. */
  holdOpen = false;
  /** Chunks handed back to the server through `write`'s `done` (it may reuse their memory). */
  handedBack = 0;
  readonly #autoRead: boolean;
  #clientEnded = false;
  // Output the client has not read.
  readonly #queue: Segment[] = [];
  #buffered = 0;
  #corks = 0;
  #corked: Segment | null = null;
  // Input the server has not read (it paused, or has not started).
  readonly #incoming: Incoming[] = [];
  #delivering = false;
  #readers: (() => void)[] = [];

  constructor(options: MemoryTransportOptions = {}) {
    super(options.highWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK);
    this.#autoRead = options.autoRead ?? true;
  }

  /** The stream pair an engine hands `upgrade()`: both carry this transport under `TRANSPORT`. */
  streams(): TransportStreams {
    return transportStreams(this);
  }

  /** The socket is closed: ended both ways, or dropped. */
  override get destroyed(): boolean {
    return super.destroyed;
  }

  // ---- the socket, as an engine's: what SocketTransportBase asks of it ----

  get bufferedAmount(): number {
    return this.#buffered;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (this.destroyed) return;
    this.paused = false;
    // As from a socket: what waited arrives in an event of its own, not inside this call.
    this.#scheduleDelivery();
  }

  protected startInput(): void {
    this.#scheduleDelivery();
  }

  protected send(chunk: Uint8Array, done: ((chunk: Uint8Array) => void) | undefined): boolean {
    const segment = this.#corked ?? { chunks: [], dones: [], length: 0 };
    segment.chunks.push(chunk);
    segment.dones.push(done);
    segment.length += chunk.length;
    this.#buffered += chunk.length;
    if (this.#corked === null) {
      this.#queue.push(segment);
      this.#sent();
    }
    return true;
  }

  protected shutdownOutput(): void {
    this.outputEnded = true;
    this.#wakeReaders();
    if (this.#autoRead && !this.holdOpen) {
      // A well-behaved client hangs up once it sees the server's FIN, in an event of its own.
      setImmediate(() => {
        if (!this.destroyed) void this.endInput();
      });
    }
  }

  protected closeWhenDone(): void {
    // As Node's socket: closed by the system once both sides ended, then said so.
    setImmediate(() => this.onClose());
  }

  protected closeSocket(): boolean {
    this.reset = true;
    this.#incoming.splice(0).forEach((waiting) => waiting.delivered());
    this.#wakeReaders();
    return true;
  }

  protected override dropQueue(): void {
    this.#queue.length = 0;
    this.#buffered = 0;
    this.#corked = null;
    this.#wakeReaders();
  }

  /** Holds the writes that follow, to be sent (and read by the client) as one. */
  cork(): void {
    if (this.#corks++ === 0) this.#corked = { chunks: [], dones: [], length: 0 };
  }

  uncork(): void {
    if (this.#corks === 0 || --this.#corks > 0) return;
    const segment = this.#corked;
    this.#corked = null;
    if (segment === null || segment.length === 0 || this.destroyed) return;
    this.#queue.push(segment);
    this.#sent();
  }

  /** As the engines: a tick queued from a promise reaction runs once the microtask queue is empty. */
  defer(task: () => void): void {
    process.nextTick(task);
  }

  // ---- the client's side ----

  /**
   * The client sends bytes: handed to the server now unless it paused
   * reading, else once it resumes. Resolves once the server has them;
   * rejects when the connection is closed (a test that does not wait for it
   * may ignore that).
   */
  push(data: string | Uint8Array): Promise<void> {
    return this.#toServer(typeof data === "string" ? ascii(data) : data);
  }

  /** The client ends its output (a FIN), after what it sent; resolves once the server has been told. */
  endInput(): Promise<void> {
    if (this.#clientEnded) return Promise.resolve();
    this.#clientEnded = true;
    return this.#toServer(null);
  }

  /** The client drops the connection (a TCP reset): the server's input ends with `error`, now. */
  resetInput(error: unknown = new Error("the connection was reset by the client")): void {
    if (this.destroyed) return;
    this.#clientEnded = true;
    this.#incoming.splice(0).forEach((waiting) => waiting.delivered());
    this.inputEnded = true;
    this.onClose(error);
  }

  /**
   * The next piece of what the server wrote (one write, or the writes of one
   * cork), copied; null once the server's FIN came after all of it. Rejects
   * when the connection was dropped. Only without `autoRead`.
   */
  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#queue.length > 0) return this.#take();
      if (this.outputEnded) return null;
      if (this.destroyed) {
        throw new Error(`the connection was ${this.reset ? "dropped by the server" : "closed"}`);
      }
      await new Promise<void>((resolve) => this.#readers.push(resolve));
    }
  }

  /** Everything received, as a string of byte values. */
  text(): string {
    return this.written.map((c) => String.fromCharCode(...c)).join("");
  }

  bytes(): Uint8Array {
    return concatBytes(this.written);
  }

  /** Waits until `predicate(text())` holds, up to `ms`; returns the text. */
  async until(predicate: (text: string) => boolean, ms = 2000): Promise<string> {
    const { text } = await until(() => {
      const text = this.text();
      // An object, so that an empty text that satisfies the predicate ends the wait too.
      return predicate(text) ? { text } : null;
    }, { timeout: ms, message: () => `the expected output; received so far: ${JSON.stringify(this.text())}` });
    return text;
  }

  // ---- internals ----

  /** A write (or a cork) went out: an `autoRead` client takes it at once, else a waiting `read()`. */
  #sent(): void {
    if (this.#autoRead) this.#take();
    else this.#wakeReaders();
  }

  /** The client reads the first segment: copies it; then the server may reuse the memory. */
  #take(): Uint8Array {
    const { chunks, dones, length } = this.#queue.shift()!;
    const copy = concatBytes(chunks);
    this.written.push(copy);
    this.#buffered -= length;
    // As a socket's write callbacks: after the write returned, in order.
    process.nextTick(() => {
      if (this.destroyed) return;
      for (let i = 0; i < chunks.length; i++) {
        const done = dones[i];
        if (done === undefined) continue;
        this.handedBack++;
        done(chunks[i]);
      }
      this.progressed();
    });
    return copy;
  }

  #toServer(what: Incoming["what"]): Promise<void> {
    if (this.destroyed) {
      const closed = Promise.reject(new Error("the connection is closed"));
      closed.catch(() => {});
      return closed;
    }
    let delivered!: () => void;
    const promise = new Promise<void>((resolve) => delivered = resolve);
    this.#incoming.push({ what, delivered });
    if (this.#incoming.length === 1) this.#deliver();
    return promise;
  }

  #scheduleDelivery(): void {
    if (this.#incoming.length > 0) setImmediate(() => this.#deliver());
  }

  /** Hands the server what the client sent, while it reads. */
  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      while (this.started && !this.paused && !this.destroyed && this.#incoming.length > 0) {
        const { what, delivered } = this.#incoming.shift()!;
        if (what === null) {
          this.inputEnded = true;
          this.onEnd();
        } else this.onData(what);
        delivered();
      }
    } finally {
      this.#delivering = false;
    }
  }

  #wakeReaders(): void {
    const readers = this.#readers;
    this.#readers = [];
    for (const r of readers) r();
  }
}

/** Splits a byte string of HTTP responses into status line, headers (lowercase) and body, by their framing. */
export function parseResponses(text: string): { status: number; headers: Map<string, string>; body: string }[] {
  const out = [];
  let i = 0;
  while (i < text.length) {
    const headEnd = text.indexOf("\r\n\r\n", i);
    if (headEnd < 0) throw new Error(`incomplete head: ${JSON.stringify(text.slice(i))}`);
    const lines = text.slice(i, headEnd).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    i = headEnd + 4;
    let body = "";
    if (headers.has("content-length")) {
      const n = Number(headers.get("content-length"));
      body = text.slice(i, i + n);
      i += n;
    } else if (headers.get("transfer-encoding") === "chunked") {
      for (;;) {
        const lineEnd = text.indexOf("\r\n", i);
        const size = parseInt(text.slice(i, lineEnd), 16);
        i = lineEnd + 2;
        if (size === 0) {
          i += 2;
          break;
        }
        body += text.slice(i, i + size);
        i += size + 2;
      }
    } else if (status !== 101 && status !== 204 && status !== 304) {
      body = text.slice(i);
      i = text.length;
    }
    out.push({ status, headers, body });
    if (status === 101) break;
  }
  return out;
}
