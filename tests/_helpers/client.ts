/**
 * A WebSocket client written for the tests: it masks as a client must and
 * parses with its own FrameReader in the client role, over an in-memory
 * byte-stream pair whose other end is what `upgrade()` gets.
 */
import { type Frame, FrameReader, FrameWriter } from "../../mod.ts";
import { concatBytes } from "./bytes.ts";

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

export class TestClient {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #frames = new FrameReader({ role: "client", maxFrameSize: Infinity });
  readonly #encoder = new FrameWriter({ masking: true });
  #ended = false;
  /** Everything the server wrote, in order. */
  readonly received: Uint8Array[] = [];

  constructor(writer: WritableStreamDefaultWriter<Uint8Array>, reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#writer = writer;
    this.#reader = reader;
  }

  /** Accepts RSV bits on the server's frames (for a negotiated extension such as permessage-deflate). */
  allowRsv(bits: number): void {
    this.#frames.allowedRsv = bits;
  }

  /** Sends raw bytes to the server. */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
  }

  /** Sends frames, masked, in one chunk. */
  async send(...frames: Frame[]): Promise<void> {
    await this.sendBytes(concatBytes(frames.map((f) => this.#encoder.encode(f))));
  }

  /** Ends the client's output (a TCP FIN). */
  async end(): Promise<void> {
    await this.#writer.close();
  }

  /** Aborts the client's output (a TCP reset, as far as the server can tell). */
  async abort(reason?: unknown): Promise<void> {
    await this.#writer.abort(reason);
  }

  /** The next frame from the server, or null once the server closed its output. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const frame = this.#frames.read();
      if (frame !== null) return frame;
      if (this.#ended) return null;
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#ended = true;
        continue;
      }
      this.received.push(value.slice());
      this.#frames.push(value);
    }
  }

  /** Waits until the server ends its output; returns the frames it sent before. */
  async rest(): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let f = await this.next(); f !== null; f = await this.next()) out.push(f);
    return out;
  }
}

export function pipe(): Pipe {
  const toServer = new TransformStream<Uint8Array, Uint8Array>();
  const toClient = new TransformStream<Uint8Array, Uint8Array>();
  return {
    input: toServer.readable,
    output: toClient.writable,
    client: new TestClient(toServer.writable.getWriter(), toClient.readable.getReader()),
  };
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
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
