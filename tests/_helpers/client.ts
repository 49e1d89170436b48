/**
 * A WebSocket client written for the tests: it masks as a client must and
 * parses with its own FrameReader in the client role, over an in-memory
 * connection whose other end is what `upgrade()` gets: a
 * {@linkcode MemoryTransport} attached to its streams, as an engine's
 * (`pipe()`), or plain web streams (`streamPipe()`).
 */
import { type Frame, FrameReader, FrameWriter } from "../../mod.ts";
import { concatBytes } from "./bytes.ts";
import { MemoryTransport } from "./memory_transport.ts";

export const UPGRADE_HEADERS: Record<string, string> = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

export function upgradeRequest(extra: Record<string, string> = {}, init: RequestInit = {}): Request {
  return new Request("http://localhost/", { ...init, headers: { ...UPGRADE_HEADERS, ...extra } });
}

/** The server's end of an in-memory connection plus a test client on the other end. */
export interface Pipe {
  /** What `upgrade()` reads. */
  input: ReadableStream<Uint8Array>;
  /** What `upgrade()` writes. */
  output: WritableStream<Uint8Array>;
  client: TestClient;
}

/** The client's end of a connection, as the test client uses it. */
export interface ClientEnd {
  /** Sends bytes; resolves once the server has taken them. */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the client's output (a TCP FIN). */
  close(): Promise<void>;
  /** Drops the client's side (a TCP reset, as far as the server can tell). */
  abort(reason?: unknown): Promise<void>;
  /** The next bytes from the server; null once it ended its output; rejects when it dropped the connection. */
  read(): Promise<Uint8Array | null>;
}

export class TestClient {
  readonly #end: ClientEnd;
  readonly #frames = new FrameReader({ role: "client", maxFrameSize: Infinity });
  readonly #encoder = new FrameWriter({ masking: true });
  #ended = false;
  /** Everything the server wrote, in order, as the client read it. */
  readonly received: Uint8Array[] = [];

  constructor(end: ClientEnd) {
    this.#end = end;
  }

  /** Accepts RSV bits on the server's frames (for a negotiated extension such as permessage-deflate). */
  allowRsv(bits: number): void {
    this.#frames.allowedRsv = bits;
  }

  /** Sends raw bytes to the server; resolves once the server has taken them. */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    await this.#end.write(bytes);
  }

  /** Sends frames, masked, in one chunk. */
  async send(...frames: Frame[]): Promise<void> {
    await this.sendBytes(concatBytes(frames.map((f) => this.#encoder.encode(f))));
  }

  /** Ends the client's output (a TCP FIN). */
  async end(): Promise<void> {
    await this.#end.close();
  }

  /** Aborts the client's output (a TCP reset, as far as the server can tell). */
  async abort(reason?: unknown): Promise<void> {
    await this.#end.abort(reason);
  }

  /** The next frame from the server, or null once the server closed its output. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const frame = this.#frames.read();
      if (frame !== null) return frame;
      if (this.#ended) return null;
      const bytes = await this.#end.read();
      if (bytes === null) {
        this.#ended = true;
        continue;
      }
      this.received.push(bytes);
      this.#frames.push(bytes);
    }
  }

  /** Waits until the server ends its output; returns the frames it sent before. */
  async rest(): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let f = await this.next(); f !== null; f = await this.next()) out.push(f);
    return out;
  }
}

/** A {@linkcode Pipe} over a memory transport, which the client reads and writes. */
export interface TransportPipe extends Pipe {
  /** The server's socket, as an engine's; `bufferedAmount` is what the client has not read yet. */
  transport: MemoryTransport;
}

/**
 * A connection as an engine makes it: the streams carry a
 * {@linkcode MemoryTransport} under `TRANSPORT`, so `upgrade()` runs the
 * session on the transport directly (deferred flushes, batches handed over
 * and reused, corked large frames), as over a socket. What the server
 * writes waits in the transport until the client reads it.
 *
 * @param options.highWaterMark The transport's high-water mark (the
 *   engine's `writeHighWaterMark`); default 1 MiB.
 */
export function pipe(options: { highWaterMark?: number } = {}): TransportPipe {
  const transport = new MemoryTransport({ autoRead: false, highWaterMark: options.highWaterMark });
  const { input, output } = transport.streams();
  const end: ClientEnd = {
    write: (bytes) => transport.push(bytes),
    close: () => transport.endInput(),
    abort: (reason) => Promise.resolve(transport.resetInput(reason)),
    read: () => transport.read(),
  };
  return { input, output, transport, client: new TestClient(end) };
}

/**
 * A connection over plain web streams (identity `TransformStream`s), as an
 * application that hands `upgrade()` streams of its own: no transport is
 * attached, so `upgrade()` falls back to `StreamTransport`.
 */
export function streamPipe(): Pipe {
  const toServer = new TransformStream<Uint8Array, Uint8Array>();
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  const writer = toServer.writable.getWriter();
  const reader = toClient.readable.getReader();
  const end: ClientEnd = {
    write: (bytes) => writer.write(bytes),
    close: () => writer.close(),
    abort: (reason) => writer.abort(reason),
    async read() {
      const { value, done } = await reader.read();
      // A copy: the server's transport may reuse what it wrote.
      return done ? null : value.slice();
    },
  };
  return { input: toServer.readable, output: toClient.writable, client: new TestClient(end) };
}

/** Bytes from hex such as "81 05 48 65". */
export function hex(s: string): Uint8Array {
  const clean = s.replaceAll(" ", "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** A deterministic pseudo-random generator (mulberry32) for reproducible tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
