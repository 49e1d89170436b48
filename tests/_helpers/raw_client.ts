/**
 * A raw-socket WebSocket client for the conformance suite. Its framing code
 * is its own, written byte by byte from RFC 6455 §5.2 and independent of
 * `src/frame/`, so a bug in hybi's codec cannot cancel out against itself.
 * It masks as a client must and can deliver bytes chopped and slowly.
 */
import { connect, type Socket } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { ClientDeflate, parseDeflateAnswer } from "./raw_deflate.ts";
import { concatBytes } from "./bytes.ts";
import { delay } from "./wait.ts";

export interface WireFrame {
  fin: boolean;
  rsv: number; // 0..7, RSV1 = 4
  opcode: number;
  payload: Uint8Array;
}

export interface SendOptions {
  /** Deliver the bytes in writes of this size. */
  chop?: number;
  /** Milliseconds between chopped writes. */
  delay?: number;
}

/** Encodes a client frame: masked, any opcode and RSV bits, optional bogus length for hostile cases. */
export function encodeClientFrame(
  f: { fin?: boolean; rsv?: number; opcode: number; payload?: Uint8Array | string },
): Uint8Array {
  const payload = typeof f.payload === "string"
    ? new TextEncoder().encode(f.payload)
    : (f.payload ?? new Uint8Array(0));
  const n = payload.length;
  const ext = n < 126 ? 0 : n < 65536 ? 2 : 8;
  const out = new Uint8Array(2 + ext + 4 + n);
  out[0] = ((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out[2] = n >> 8;
    out[3] = n & 255;
  } else {
    out[1] = 0x80 | 127;
    let v = n;
    for (let i = 9; i >= 2; i--) {
      out[i] = v % 256;
      v = Math.floor(v / 256);
    }
  }
  const key = randomBytes(4);
  const at = 2 + ext;
  out.set(key, at);
  for (let i = 0; i < n; i++) out[at + 4 + i] = payload[i] ^ key[i % 4];
  return out;
}

/** Received bytes as a list of chunks, so large messages are not re-copied on every read. */
class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0; // offset into chunks[0]
  length = 0;
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.length += chunk.length;
  }
  byte(i: number): number {
    let at = this.#head + i;
    for (const c of this.#chunks) {
      if (at < c.length) return c[at];
      at -= c.length;
    }
    throw new RangeError("past the end");
  }
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const c = this.#chunks[0];
      const k = Math.min(n - o, c.length - this.#head);
      out.set(c.subarray(this.#head, this.#head + k), o);
      o += k;
      this.#head += k;
      if (this.#head === c.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.length -= n;
    return out;
  }
}

/** A message as received: data (fragments joined, decompressed when RSV1 was set) or a control frame. */
export interface ReceivedMessage {
  opcode: number;
  /** The first frame's RSV bits (RSV1 = 4). */
  rsv: number;
  /** Decompressed when the message was compressed. */
  payload: Uint8Array;
  /** How many frames it came in. */
  frames: number;
  /** Compressed bytes on the wire, when it was compressed. */
  wireLength: number;
}

export class RawClient {
  readonly socket: Socket;
  /** The response's headers (names in lower case). */
  readonly headers: Map<string, string>;
  /** permessage-deflate as negotiated, when `open` offered it and the server agreed. */
  readonly deflate: ClientDeflate | null;
  #buffer = new ByteQueue();
  #ended = false;
  #waiter: (() => void) | null = null;
  #error: Error | null = null;

  private constructor(socket: Socket, rest: Uint8Array, headers: Map<string, string>, deflate: ClientDeflate | null) {
    this.socket = socket;
    this.headers = headers;
    this.deflate = deflate;
    this.#buffer.push(rest);
    socket.on("data", (chunk: Uint8Array) => {
      this.#buffer.push(chunk);
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (e) => {
      this.#error = e;
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  /**
   * Opens a TCP connection and performs the opening handshake; checks 101
   * and Sec-WebSocket-Accept. With `deflate`, offers it as the
   * `Sec-WebSocket-Extensions` value and, when the server agrees, sets up
   * `deflate` from its answer (an answer a client may not accept throws).
   */
  static async open(
    port: number,
    options: { path?: string; headers?: Record<string, string>; deflate?: string } = {},
  ): Promise<RawClient> {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const key = randomBytes(16).toString("base64");
    const lines = [
      `GET ${options.path ?? "/"} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
      ...(options.deflate === undefined ? [] : [`Sec-WebSocket-Extensions: ${options.deflate}`]),
    ];
    socket.write(lines.join("\r\n") + "\r\n\r\n");
    let head = new Uint8Array(0);
    const { status, headers, rest } = await new Promise<
      { status: number; headers: Map<string, string>; rest: Uint8Array }
    >(
      (resolve, reject) => {
        const onData = (chunk: Uint8Array) => {
          const joined = new Uint8Array(head.length + chunk.length);
          joined.set(head);
          joined.set(chunk, head.length);
          head = joined;
          const end = indexOfCrlfCrlf(head);
          if (end < 0) return;
          socket.off("data", onData);
          socket.pause();
          const text = new TextDecoder().decode(head.subarray(0, end));
          const [statusLine, ...headerLines] = text.split("\r\n");
          const h = new Map<string, string>();
          for (const line of headerLines) {
            const i = line.indexOf(":");
            h.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
          }
          resolve({ status: Number(statusLine.split(" ")[1]), headers: h, rest: head.slice(end + 4) });
        };
        socket.on("data", onData);
        socket.once("error", reject);
        socket.once("end", () => reject(new Error("connection closed during the handshake")));
      },
    );
    if (status !== 101) throw new Error(`handshake answered ${status}`);
    const expected = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
    if (headers.get("sec-websocket-accept") !== expected) throw new Error("bad Sec-WebSocket-Accept");
    const answer = headers.get("sec-websocket-extensions") ?? null;
    if (answer !== null && options.deflate === undefined) throw new Error(`extensions answered unasked: ${answer}`);
    const agreement = parseDeflateAnswer(answer);
    const client = new RawClient(socket, rest, headers, agreement === null ? null : new ClientDeflate(agreement));
    socket.resume();
    return client;
  }

  /** Writes bytes, optionally chopped into small writes with pauses. */
  async write(bytes: Uint8Array, options: SendOptions = {}): Promise<void> {
    const chop = options.chop ?? bytes.length;
    for (let i = 0; i < bytes.length; i += chop) {
      // The server may fail the connection while we are still writing.
      if (this.#ended || this.socket.destroyed || this.socket.writableEnded) return;
      const part = bytes.subarray(i, i + chop);
      const flushed = this.socket.write(part);
      if (!flushed) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.socket.off("drain", done);
            this.socket.off("close", done);
            resolve();
          };
          this.socket.once("drain", done);
          this.socket.once("close", done);
        });
      }
      if (options.delay) await delay(options.delay); // a client slow on purpose: the case asks for it
    }
  }

  /** Sends frames (concatenated in one write unless chopped). */
  async send(frames: Parameters<typeof encodeClientFrame>[0][], options: SendOptions = {}): Promise<void> {
    await this.write(concatBytes(frames.map(encodeClientFrame)), options);
  }

  /** The next frame from the server, or null once it closed the connection. Rejects after `timeout` ms. */
  async next(timeout = 10_000): Promise<WireFrame | null> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const f = this.#parse();
      if (f !== undefined) return f;
      if (this.#ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("timed out waiting for a frame");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** A server frame, strictly: unmasked, parsed without any help from src/. undefined when incomplete. */
  #parse(): WireFrame | undefined {
    const q = this.#buffer;
    if (q.length < 2) return undefined;
    const b0 = q.byte(0), b1 = q.byte(1);
    if (b1 & 0x80) throw new Error("the server sent a masked frame");
    let n = b1 & 0x7f;
    let at = 2;
    if (n === 126) {
      if (q.length < 4) return undefined;
      n = (q.byte(2) << 8) | q.byte(3);
      at = 4;
    } else if (n === 127) {
      if (q.length < 10) return undefined;
      n = 0;
      for (let i = 2; i < 10; i++) n = n * 256 + q.byte(i);
      at = 10;
    }
    if (q.length < at + n) return undefined;
    q.take(at);
    return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, payload: q.take(n) };
  }

  /** Whether the server has ended the connection. */
  get ended(): boolean {
    return this.#ended;
  }

  get error(): Error | null {
    return this.#error;
  }

  close(): void {
    this.deflate?.close();
    this.socket.destroy();
  }

  /**
   * Sends a text or binary message: compressed (RSV1 on its first frame
   * only) when deflate was negotiated and `compress` is not false, in
   * `fragments` frames, with a ping after the first fragment when `ping`.
   */
  async sendMessage(
    opcode: number,
    payload: Uint8Array,
    options: SendOptions & { compress?: boolean; fragments?: number; ping?: Uint8Array } = {},
  ): Promise<void> {
    const compress = this.deflate !== null && options.compress !== false;
    const data = compress ? await this.deflate!.compress(payload) : payload;
    const count = Math.max(1, Math.min(options.fragments ?? 1, data.length));
    const size = Math.ceil(data.length / count);
    const frames: Parameters<typeof encodeClientFrame>[0][] = [];
    for (let i = 0; i < count; i++) {
      frames.push({
        opcode: i === 0 ? opcode : 0,
        fin: i === count - 1,
        rsv: i === 0 && compress ? 4 : 0,
        payload: data.subarray(i * size, (i + 1) * size),
      });
      if (i === 0 && options.ping !== undefined) frames.push({ opcode: 9, payload: options.ping });
    }
    await this.send(frames, options);
  }

  /**
   * The next message or control frame from the server, with its fragments
   * joined and decompressed as negotiated. Checks RSV bits strictly: RSV1
   * only on the first frame of a data message and only with deflate
   * negotiated; RSV2/RSV3 never. null once the server closed the connection.
   */
  async receiveMessage(timeout?: number): Promise<ReceivedMessage | null> {
    const first = await this.next(timeout);
    if (first === null) return null;
    if (first.opcode >= 8) {
      if (first.rsv !== 0) throw new Error(`RSV bits ${first.rsv} on a control frame`);
      return { opcode: first.opcode, rsv: 0, payload: first.payload, frames: 1, wireLength: first.payload.length };
    }
    if (first.opcode === 0) throw new Error("a continuation frame with no message to continue");
    if ((first.rsv & 3) !== 0) throw new Error(`RSV2/RSV3 set by the server: ${first.rsv}`);
    const compressed = (first.rsv & 4) !== 0;
    if (compressed && this.deflate === null) throw new Error("RSV1 set without permessage-deflate");
    const parts = [first.payload];
    let frames = 1;
    for (let f = first; !f.fin;) {
      const c = await this.next(timeout);
      if (c === null) throw new Error("connection ended inside a message");
      if (c.opcode >= 8) throw new Error("a control frame inside a server message is not expected by this helper");
      if (c.opcode !== 0) throw new Error(`expected a continuation, got opcode ${c.opcode}`);
      if (c.rsv !== 0) throw new Error(`RSV bits ${c.rsv} on a continuation frame`);
      parts.push(c.payload);
      frames++;
      f = c;
    }
    let total = 0;
    for (const p of parts) total += p.length;
    const joined = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      joined.set(p, o);
      o += p.length;
    }
    const payload = compressed ? await this.deflate!.decompress(joined) : joined;
    return { opcode: first.opcode, rsv: first.rsv, payload, frames, wireLength: joined.length };
  }
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** Reads a whole message the server sent (reassembling its fragments), or a control frame. */
export async function nextMessage(client: RawClient, timeout?: number): Promise<WireFrame | null> {
  const first = await client.next(timeout);
  if (first === null || first.fin || first.opcode >= 8) return first;
  const parts = [first.payload];
  for (;;) {
    const f = await client.next(timeout);
    if (f === null) throw new Error("connection ended inside a message");
    if (f.opcode >= 8) throw new Error("control frame inside a server message is not expected by this helper");
    if (f.opcode !== 0) throw new Error(`expected a continuation, got opcode ${f.opcode}`);
    parts.push(f.payload);
    if (f.fin) break;
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const payload = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    payload.set(p, o);
    o += p.length;
  }
  return { fin: true, rsv: first.rsv, opcode: first.opcode, payload };
}
