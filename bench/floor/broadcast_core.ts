/**
 * The runtime's floor for the broadcast scenario (wsbench `--broadcast`:
 * every message any connection sends goes to all open connections, the
 * sender included): the least a JavaScript broadcast server does over the
 * runtime's own socket API. This file holds the part shared by
 * `broadcast_bun.ts` (`Bun.listen`), `broadcast_node.ts` (`node:net`) and
 * `broadcast_deno.ts` (`Deno.listen`): the frame loop of one connection. The handshake is the echo floor's
 * (`echo_core.ts`: the request is searched for `Sec-WebSocket-Key` only).
 *
 * Each read's complete, unfragmented data frames are unmasked in place and
 * moved down over their mask keys (as in the echo floor), so they lie
 * contiguous at the front of the read's own buffer, unmasked, each with its
 * own header: that one view is handed to `broadcast`, which writes the same
 * bytes to every open connection (one frame per message, built once for all
 * subscribers; one write per subscriber per read). A frame cut by the end of
 * a read is collected into a buffer of its own, framed, and broadcast once
 * complete; fragmented messages are reassembled into one frame (no message of
 * one sender is interleaved with another's). A ping is answered with a pong
 * and a close frame is echoed to its sender alone, then the connection ends.
 * No validation (UTF-8, opcodes, RSV bits, lengths, control-frame rules) and
 * no limits. Not a server to use: a bound to measure hybi's
 * `examples/broadcast.ts` against (bench/NOTES.md, "the Bun broadcast floor").
 *
 * @module
 */
import { HEAD_LIMIT, headEnd, joinHead, refusal, unmaskDown, upgradeResponse } from "./echo_core.ts";

const OPCODE_CONTINUATION = 0;
const OPCODE_CLOSE = 8;
const OPCODE_PING = 9;
const OPCODE_PONG = 10;
const FIN = 0x80;

/** A fresh unmasked frame (FIN set) of `opcode` carrying `payload`. */
function frameOf(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const h = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(h + n);
  writeHeader(out, 0, FIN | opcode, n, h);
  out.set(payload, h);
  return out;
}

/** Writes an unmasked frame header of `h` bytes (2, 4 or 10) at `at`. */
function writeHeader(buf: Uint8Array, at: number, b0: number, length: number, h: number): void {
  buf[at] = b0;
  if (h === 2) {
    buf[at + 1] = length;
  } else if (h === 4) {
    buf[at + 1] = 126;
    buf[at + 2] = length >>> 8;
    buf[at + 3] = length & 0xff;
  } else {
    buf[at + 1] = 127;
    const high = Math.floor(length / 2 ** 32);
    buf[at + 2] = high >>> 24;
    buf[at + 3] = (high >>> 16) & 0xff;
    buf[at + 4] = (high >>> 8) & 0xff;
    buf[at + 5] = high & 0xff;
    buf[at + 6] = length >>> 24;
    buf[at + 7] = (length >>> 16) & 0xff;
    buf[at + 8] = (length >>> 8) & 0xff;
    buf[at + 9] = length & 0xff;
  }
}

/**
 * One connection of the floor broadcast. A server subclasses it with the
 * three socket-facing methods and feeds it every read (`data`).
 */
export abstract class FloorBroadcastConnection {
  /** The 101 went out: reads are frames, and the connection receives broadcasts. */
  open = false;
  /** A close frame was answered (or the head was refused): end the connection once the answer is written. */
  closing = false;
  /** The request head so far. */
  #head: Uint8Array | null = null;
  /** The start of a frame header cut off by the end of the last read. */
  #carry: Uint8Array | null = null;
  /** A frame whose payload goes on past the last read: its unmasked header, then the payload as it arrives (masked). */
  #partial: Uint8Array | null = null;
  /** Where the payload starts in `#partial`, how far it is filled, its first byte as received. */
  #partialHeader = 0;
  #partialFilled = 0;
  #partialB0 = 0;
  /** The mask key of `#partial`'s frame (k0 for its first payload byte). */
  #k0 = 0;
  #k1 = 0;
  #k2 = 0;
  #k3 = 0;
  /** The payloads of a fragmented message so far (unmasked copies), and its opcode. */
  #fragments: Uint8Array[] | null = null;
  #fragmentsOpcode = 0;

  /** Writes bytes to this connection alone (the 101, a pong, the close answer, a refusal). */
  protected abstract reply(bytes: Uint8Array): void;
  /** The 101 went out: from now on this connection receives broadcasts. */
  protected abstract opened(): void;
  /** Writes `frames` (one or more whole unmasked frames) to every open connection, this one included. */
  protected abstract broadcast(frames: Uint8Array): void;

  /**
   * Takes one read (which it may change: payloads are unmasked in place; the
   * bytes handed to `broadcast` may be a view of it, so the caller must not
   * reuse it).
   */
  data(chunk: Uint8Array): void {
    if (this.closing) return;
    if (!this.open) {
      this.#handshake(chunk);
      return;
    }
    let buf = chunk;
    if (this.#carry !== null) {
      buf = joinHead(this.#carry, chunk);
      this.#carry = null;
    }
    this.#frames(buf, this.#partial === null ? 0 : this.#fillPartial(buf));
  }

  #handshake(chunk: Uint8Array): void {
    const head = this.#head === null ? chunk : joinHead(this.#head, chunk);
    const end = headEnd(head, this.#head === null ? 0 : this.#head.length);
    if (end < 0) {
      if (head.length > HEAD_LIMIT) this.#refuse();
      else this.#head = head === chunk ? chunk.slice() : head;
      return;
    }
    this.#head = null;
    const response = upgradeResponse(head, end);
    if (response === null) {
      this.#refuse();
      return;
    }
    this.open = true;
    this.reply(response);
    this.opened();
    // Frames sent right behind the request.
    if (end < head.length) this.#frames(head.slice(end), 0);
  }

  #refuse(): void {
    this.closing = true;
    this.reply(refusal());
  }

  /** Copies the start of `buf` into `#partial`; returns how many bytes it took (the frame is handled once full). */
  #fillPartial(buf: Uint8Array): number {
    const partial = this.#partial!;
    const take = Math.min(partial.length - this.#partialFilled, buf.length);
    partial.set(take === buf.length ? buf : buf.subarray(0, take), this.#partialFilled);
    this.#partialFilled += take;
    if (this.#partialFilled === partial.length) {
      this.#partial = null;
      const h = this.#partialHeader;
      unmaskDown(partial, h, h, partial.length - h, this.#k0, this.#k1, this.#k2, this.#k3);
      const b0 = this.#partialB0;
      const opcode = b0 & 0x0f;
      if ((b0 & FIN) !== 0 && opcode !== OPCODE_CONTINUATION && opcode < 8 && this.#fragments === null) {
        this.broadcast(partial);
      } else {
        this.#frame(b0, partial.subarray(h));
      }
    }
    return take;
  }

  /**
   * Broadcasts the frames of `buf` from `r` on: whole unfragmented data
   * frames in place (moved to the front, unmasked, one `broadcast` for all of
   * them), anything else through `#frame`.
   */
  #frames(buf: Uint8Array, r: number): void {
    const n = buf.length;
    let start = r; // first byte of the frames not yet broadcast
    let w = r; // next byte of them; w ≤ r, and r − w is a multiple of 4
    while (r < n && !this.closing) {
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
      const k = masked ? 4 : 0;
      if (avail < h + k) break;
      const k0 = masked ? buf[r + h] : 0;
      const k1 = masked ? buf[r + h + 1] : 0;
      const k2 = masked ? buf[r + h + 2] : 0;
      const k3 = masked ? buf[r + h + 3] : 0;
      if (avail < h + k + length) {
        // The payload goes on past this read: collect the frame in a buffer of its own.
        const partial = new Uint8Array(h + length);
        for (let i = 0; i < h; i++) partial[i] = buf[r + i];
        partial[1] &= 0x7f;
        this.#partial = partial;
        this.#partialHeader = h;
        this.#partialFilled = h;
        this.#partialB0 = b0;
        this.#k0 = k0;
        this.#k1 = k1;
        this.#k2 = k2;
        this.#k3 = k3;
        r += h + k;
        this.#fillPartial(buf.subarray(r));
        r = n;
        break;
      }
      // The header without the mask bit and key, then the payload unmasked behind it.
      buf[w] = b0;
      buf[w + 1] = b1 & 0x7f;
      for (let i = 2; i < h; i++) buf[w + i] = buf[r + i];
      unmaskDown(buf, r + h + k, w + h, length, k0, k1, k2, k3);
      r += h + k + length;
      const opcode = b0 & 0x0f;
      if ((b0 & FIN) !== 0 && opcode !== OPCODE_CONTINUATION && opcode < 8 && this.#fragments === null) {
        w += h + length;
        continue;
      }
      // A control frame or a fragment: what came before goes out first, then this frame is handled alone.
      if (w > start) this.broadcast(buf.subarray(start, w));
      this.#frame(b0, buf.subarray(w + h, w + h + length));
      // Its bytes were scratch: the next frames are moved down from here (r − w stays a multiple of 4).
      start = w = r;
    }
    if (w > start) this.broadcast(buf.subarray(start, w));
    if (r < n && !this.closing) this.#carry = buf.slice(r, n);
  }

  /** A whole frame that is not an unfragmented data frame (its payload unmasked; copied if kept). */
  #frame(b0: number, payload: Uint8Array): void {
    const opcode = b0 & 0x0f;
    if (opcode === OPCODE_PING) {
      this.reply(frameOf(OPCODE_PONG, payload));
    } else if (opcode === OPCODE_CLOSE) {
      this.closing = true;
      this.reply(frameOf(OPCODE_CLOSE, payload));
    } else if (opcode < 8) {
      if (opcode !== OPCODE_CONTINUATION) {
        this.#fragments = [];
        this.#fragmentsOpcode = opcode;
      }
      if (this.#fragments === null) return; // a continuation without a start: dropped (no validation)
      this.#fragments.push(payload.slice());
      if ((b0 & FIN) === 0) return;
      let total = 0;
      for (const part of this.#fragments) total += part.length;
      const message = new Uint8Array(total);
      let at = 0;
      for (const part of this.#fragments) {
        message.set(part, at);
        at += part.length;
      }
      this.#fragments = null;
      this.broadcast(frameOf(this.#fragmentsOpcode, message));
    }
    // A pong: nothing to do.
  }
}
