/**
 * The runtime's floor for the load benchmark: the least a WebSocket echo in
 * JavaScript can do over the runtime's own socket API. This file holds the
 * part shared by `node.ts` (`node:net`), `deno.ts` (`Deno.listen`) and
 * `bun.ts` (`Bun.listen`): the handshake and the frame loop.
 *
 * No validation at all: the request head is only searched for
 * `Sec-WebSocket-Key` (answered with a fixed 101 carrying its SHA-1 accept
 * value); frame headers are parsed just enough to find each payload, which is
 * unmasked in place and moved 4 bytes down over the mask key it followed, so
 * the answers to every frame of a read end up contiguous at the front of the
 * read's own buffer and go out in one write, unmasked. Opcodes, RSV bits,
 * fragmentation, UTF-8, lengths and control-frame rules go unchecked; the
 * only protocol courtesy is that a ping comes back as a pong and a close frame
 * is echoed and then the connection ended. Not a server to use: a bound to
 * measure hybi against (`bench/load.ts`, rows `floor-node`, `floor-deno`,
 * `floor-bun`). The broadcast floor (`broadcast_core.ts`) uses its handshake
 * and unmasking functions.
 *
 * @module
 */
import { createHash } from "node:crypto";
import process from "node:process";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** A request head longer than this is refused (the connection is ended). */
export const HEAD_LIMIT = 16 * 1024;
/** Payloads shorter than this are unmasked byte by byte (a word view costs more than it saves). */
const WORD_THRESHOLD = 64;

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const keyBytes = new Uint8Array(4);
const keyWord = new Int32Array(keyBytes.buffer);

/** `--port N` (default 9001) and `--hostname H` (default 127.0.0.1), as examples/echo.ts takes them. */
export function listenOptions(): { port: number; hostname: string } {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: string): string => {
    for (let i = 0; i < args.length; i++) {
      if (args[i] === `--${name}` && i + 1 < args.length) return args[i + 1];
      if (args[i].startsWith(`--${name}=`)) return args[i].slice(name.length + 3);
    }
    return fallback;
  };
  const port = Number(option("port", "9001"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, not ${option("port", "")}`);
    process.exit(2);
  }
  return { port, hostname: option("hostname", "127.0.0.1") };
}

/** Exits normally on SIGINT and SIGTERM, so that a profiler (`--cpu-prof`) writes its profile. */
export function exitOnSignals(): void {
  process.on("SIGINT", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
}

/** `Sec-WebSocket-Accept` for a key: base64 of SHA-1 over key + GUID. */
export function acceptFor(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

/**
 * Unmasks `length` bytes at `from` and writes them at `to` (≤ `from`, and
 * `from - to` a multiple of 4, as the frame loop guarantees), in one pass:
 * XOR with the key bytes `k0..k3` (k0 for the byte at `from`).
 */
export function unmaskDown(
  buf: Uint8Array,
  from: number,
  to: number,
  length: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
): void {
  let i = 0;
  if (length >= WORD_THRESHOLD) {
    // Bytes until the source is 4-aligned (the target then is too: they differ by a multiple of 4).
    const base = buf.byteOffset;
    let r = 0; // how far the key has turned
    for (; ((base + from + i) & 3) !== 0; i++, r++) buf[to + i] = buf[from + i] ^ (r === 0 ? k0 : r === 1 ? k1 : k2);
    keyBytes[0] = r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3;
    keyBytes[1] = r === 0 ? k1 : r === 1 ? k2 : r === 2 ? k3 : k0;
    keyBytes[2] = r === 0 ? k2 : r === 1 ? k3 : r === 2 ? k0 : k1;
    keyBytes[3] = r === 0 ? k3 : r === 1 ? k0 : r === 2 ? k1 : k2;
    const k = keyWord[0];
    const words = (length - i) >>> 2;
    const shift = (from - to) >>> 2;
    // One view from the target's first word to the source's last.
    const view = new Int32Array(buf.buffer, base + to + i, words + shift);
    let w = 0;
    if (shift === 0) {
      for (const end8 = words - 7; w < end8; w += 8) {
        view[w] ^= k;
        view[w + 1] ^= k;
        view[w + 2] ^= k;
        view[w + 3] ^= k;
        view[w + 4] ^= k;
        view[w + 5] ^= k;
        view[w + 6] ^= k;
        view[w + 7] ^= k;
      }
      for (; w < words; w++) view[w] ^= k;
    } else {
      for (const end8 = words - 7; w < end8; w += 8) {
        view[w] = view[w + shift] ^ k;
        view[w + 1] = view[w + 1 + shift] ^ k;
        view[w + 2] = view[w + 2 + shift] ^ k;
        view[w + 3] = view[w + 3 + shift] ^ k;
        view[w + 4] = view[w + 4 + shift] ^ k;
        view[w + 5] = view[w + 5 + shift] ^ k;
        view[w + 6] = view[w + 6 + shift] ^ k;
        view[w + 7] = view[w + 7 + shift] ^ k;
      }
      for (; w < words; w++) view[w] = view[w + shift] ^ k;
    }
    i += words << 2;
    for (let b = 0; i < length; i++, b++) buf[to + i] = buf[from + i] ^ keyBytes[b];
    return;
  }
  for (const end4 = length - 3; i < end4; i += 4) {
    buf[to + i] = buf[from + i] ^ k0;
    buf[to + i + 1] = buf[from + i + 1] ^ k1;
    buf[to + i + 2] = buf[from + i + 2] ^ k2;
    buf[to + i + 3] = buf[from + i + 3] ^ k3;
  }
  if (i < length) buf[to + i] = buf[from + i++] ^ k0;
  if (i < length) buf[to + i] = buf[from + i++] ^ k1;
  if (i < length) buf[to + i] = buf[from + i] ^ k2;
}

/** The request head kept so far followed by the next read. */
export function joinHead(kept: Uint8Array, chunk: Uint8Array): Uint8Array {
  const head = new Uint8Array(kept.length + chunk.length);
  head.set(kept);
  head.set(chunk, kept.length);
  return head;
}

/**
 * Where the request head in `head` ends (just past its blank line), or -1;
 * `keptLength` bytes were searched before (the blank line may straddle them).
 */
export function headEnd(head: Uint8Array, keptLength: number): number {
  for (let i = Math.max(0, keptLength - 3); i + 3 < head.length; i++) {
    if (head[i] === 13 && head[i + 1] === 10 && head[i + 2] === 13 && head[i + 3] === 10) return i + 4;
  }
  return -1;
}

/** The 101 for the request head `head[0, end)`, or null when it has no `Sec-WebSocket-Key`. */
export function upgradeResponse(head: Uint8Array, end: number): Uint8Array | null {
  for (const line of latin1.decode(head.subarray(0, end)).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === "sec-websocket-key") {
      return encoder.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${acceptFor(line.slice(colon + 1).trim())}\r\n\r\n`,
      );
    }
  }
  return null;
}

/** The answer to a request that is not an upgrade (the connection is then ended). */
export function refusal(): Uint8Array {
  return encoder.encode("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
}

/** One connection of the floor echo: feed it each read, write what it returns. */
export class FloorEcho {
  /** The 101 went out: reads are frames. */
  open = false;
  /** A close frame was echoed (or the head was refused): end the connection once the answer is written. */
  closing = false;
  /** The request head so far. */
  #head: Uint8Array | null = null;
  /** The start of a frame header cut off by the end of the last read. */
  #carry: Uint8Array | null = null;
  /** Payload bytes of the current frame still to come. */
  #remaining = 0;
  // The mask key, turned so that #k0 applies to the next payload byte.
  #k0 = 0;
  #k1 = 0;
  #k2 = 0;
  #k3 = 0;

  /**
   * Takes one read (which it may change: payloads are unmasked in place) and
   * returns the bytes to write for it, or null when there are none. Once
   * open, the answer is a view of the front of `chunk` (or, after a header
   * cut in two, of a fresh buffer holding both parts).
   */
  data(chunk: Uint8Array): Uint8Array | null {
    if (this.closing) return null;
    if (!this.open) return this.#handshake(chunk);
    let buf = chunk;
    if (this.#carry !== null) {
      buf = new Uint8Array(this.#carry.length + chunk.length);
      buf.set(this.#carry);
      buf.set(chunk, this.#carry.length);
      this.#carry = null;
    }
    const n = this.#frames(buf);
    return n === 0 ? null : buf.subarray(0, n);
  }

  #handshake(chunk: Uint8Array): Uint8Array | null {
    const head = this.#head === null ? chunk : joinHead(this.#head, chunk);
    const end = headEnd(head, this.#head === null ? 0 : this.#head.length);
    if (end < 0) {
      if (head.length > HEAD_LIMIT) return this.#refuse();
      this.#head = head === chunk ? chunk.slice() : head;
      return null;
    }
    this.#head = null;
    const response = upgradeResponse(head, end);
    if (response === null) return this.#refuse();
    this.open = true;
    if (end === head.length) return response;
    // Frames sent right behind the request: their answers follow the 101.
    const rest = head.slice(end);
    const n = this.#frames(rest);
    const out = new Uint8Array(response.length + n);
    out.set(response);
    out.set(rest.subarray(0, n), response.length);
    return out;
  }

  #refuse(): Uint8Array {
    this.closing = true;
    return refusal();
  }

  /** Answers the frames in `buf` in place; returns how many bytes at its front are the answer. */
  #frames(buf: Uint8Array): number {
    const n = buf.length;
    let r = 0; // next byte to read
    let w = 0; // next byte of the answer; w ≤ r, and r − w is a multiple of 4
    let remaining = this.#remaining;
    while (r < n) {
      if (remaining === 0) {
        // A frame header: 2 bytes, a 2- or 8-byte length, the 4-byte key.
        const avail = n - r;
        if (avail < 2) break;
        const b0 = buf[r];
        const b1 = buf[r + 1];
        let length = b1 & 0x7f;
        let h = 2;
        if (length === 126) {
          if (avail < 4) break;
          length = (buf[r + 2] << 8) | buf[r + 3];
          h = 4;
        } else if (length === 127) {
          if (avail < 10) break;
          // Lengths above 4 GiB are not expected here (the high half is taken as it is).
          length = (buf[r + 2] << 24 | buf[r + 3] << 16 | buf[r + 4] << 8 | buf[r + 5]) * 2 ** 32 +
            (buf[r + 6] * 2 ** 24 + (buf[r + 7] << 16 | buf[r + 8] << 8 | buf[r + 9]));
          h = 10;
        }
        const masked = (b1 & 0x80) !== 0;
        if (masked && avail < h + 4) break;
        const opcode = b0 & 0x0f;
        // The answer's header is the request's without the mask bit and key (a ping's answer is a pong).
        buf[w] = opcode === 9 ? (b0 & 0xf0) | 10 : b0;
        buf[w + 1] = b1 & 0x7f;
        for (let i = 2; i < h; i++) buf[w + i] = buf[r + i];
        if (opcode === 8) this.closing = true;
        if (masked) {
          this.#k0 = buf[r + h];
          this.#k1 = buf[r + h + 1];
          this.#k2 = buf[r + h + 2];
          this.#k3 = buf[r + h + 3];
          r += h + 4;
        } else {
          this.#k0 =
            this.#k1 =
            this.#k2 =
            this.#k3 =
              0;
          r += h;
        }
        w += h;
        remaining = length;
        if (remaining === 0) continue;
      }
      const take = remaining < n - r ? remaining : n - r;
      const k0 = this.#k0, k1 = this.#k1, k2 = this.#k2, k3 = this.#k3;
      unmaskDown(buf, r, w, take, k0, k1, k2, k3);
      const turn = take & 3;
      if (turn !== 0) {
        this.#k0 = turn === 1 ? k1 : turn === 2 ? k2 : k3;
        this.#k1 = turn === 1 ? k2 : turn === 2 ? k3 : k0;
        this.#k2 = turn === 1 ? k3 : turn === 2 ? k0 : k1;
        this.#k3 = turn === 1 ? k0 : turn === 2 ? k1 : k2;
      }
      r += take;
      w += take;
      remaining -= take;
    }
    this.#remaining = remaining;
    if (r < n) this.#carry = buf.slice(r, n);
    return w;
  }
}
