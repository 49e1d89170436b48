/**
 * A raw TCP (or TLS) client on `node:net` / `node:tls`, which Deno, Bun and
 * Node all provide: for bytes no well-behaved client would send.
 */
import { Buffer } from "node:buffer";
import * as net from "node:net";
import * as tls from "node:tls";
import { concatBytes } from "./bytes.ts";
import { until } from "./wait.ts";

export class SocketClient {
  readonly socket: net.Socket;
  readonly chunks: Uint8Array[] = [];
  received = 0;
  ended = false;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.chunks.push(chunk);
      this.received += chunk.length;
    });
    socket.on("error", () => {});
    socket.on("end", () => {
      this.ended = true;
    });
    this.closed = new Promise((resolve) =>
      socket.on("close", () => {
        this.ended = true;
        resolve();
      })
    );
  }

  static connect(port: number, options: { tls?: tls.ConnectionOptions } = {}): Promise<SocketClient> {
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({ host: "127.0.0.1", port, ...options.tls }, () => resolve(new SocketClient(socket)))
        : net.connect({ host: "127.0.0.1", port }, () => resolve(new SocketClient(socket)));
      socket.once("error", reject);
    });
  }

  write(data: string | Uint8Array): boolean {
    return this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  text(): string {
    return this.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString("latin1")).join("");
  }

  /** The last `n` bytes received, as a string (cheap on large transfers). */
  tail(n: number): string {
    let out = "";
    for (let i = this.chunks.length - 1; i >= 0 && out.length < n; i--) {
      const c = this.chunks[i];
      out = Buffer.from(c.buffer, c.byteOffset, c.byteLength).subarray(Math.max(0, c.length - n)).toString("latin1") +
        out;
    }
    return out.slice(-n);
  }

  bytes(): Uint8Array {
    return concatBytes(this.chunks);
  }

  /** Waits until `predicate()` holds, up to `ms`. */
  async until(predicate: () => boolean, ms = 5000): Promise<void> {
    await until(predicate, {
      timeout: ms,
      message: () => `the expected input; received: ${JSON.stringify(this.text().slice(0, 300))}`,
    });
  }

  /** The status code of the first response. */
  status(): number {
    return Number(this.text().split(" ")[1]);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The bytes of an opening handshake request. */
export function handshake(path = "/", extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
}
