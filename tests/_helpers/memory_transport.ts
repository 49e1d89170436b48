/**
 * An in-memory socket for testing the HTTP front without a network: the
 * test pushes bytes in and reads what the server wrote.
 */
import type { SocketTransport } from "../../src/http/socket_transport.ts";
import type { TransportSink } from "../../src/transport.ts";
import { concatBytes } from "./bytes.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

export class MemoryTransport implements SocketTransport {
  sink: TransportSink | null = null;
  readonly written: Uint8Array[] = [];
  paused = false;
  outputEnded = false;
  inputEnded = false;
  destroyed = false;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #waiters: (() => void)[] = [];

  constructor() {
    this.closed = new Promise((resolve) => this.#resolveClosed = resolve);
  }

  get bufferedAmount(): number {
    return 0;
  }

  start(sink: TransportSink): void {
    this.sink = sink;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  write(chunk: Uint8Array): boolean {
    if (this.outputEnded || this.destroyed) return false;
    this.written.push(chunk.slice());
    this.#wake();
    return true;
  }

  flushed(): Promise<void> {
    return Promise.resolve();
  }

  /** When true, the client does not hang up after the server's FIN. */
  holdOpen = false;

  end(): void {
    this.outputEnded = true;
    this.#wake();
    if (this.inputEnded) this.destroy();
    // A well-behaved client closes its side once it sees the server's FIN.
    else if (!this.holdOpen) setTimeout(() => this.inputEnded || this.destroyed || this.endInput(), 1);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.#wake();
    this.#resolveClosed();
  }

  // ---- the client's side ----

  send(data: string | Uint8Array): void {
    this.sink!.data(typeof data === "string" ? ascii(data) : data);
  }

  endInput(): void {
    this.inputEnded = true;
    this.sink!.end(undefined);
    if (this.outputEnded) this.destroy();
  }

  /** Everything written, as a string of byte values. */
  text(): string {
    return this.written.map((c) => String.fromCharCode(...c)).join("");
  }

  bytes(): Uint8Array {
    return concatBytes(this.written);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Waits until `predicate(text())` holds (or the output ends), up to `ms`. */
  async until(predicate: (text: string) => boolean, ms = 2000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = this.text();
      if (predicate(text)) return text;
      if (Date.now() > deadline) throw new Error(`timed out; written so far: ${JSON.stringify(text)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 20);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
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
