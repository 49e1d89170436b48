import { CloseCode } from "../close_reason.ts";
import { ErrorCode, protocolError, WebSocketError } from "../errors.ts";
import { type Frame, frameInChunk, frameInParts, frameOf, OP_BINARY, OP_CLOSE, OP_PONG } from "./frame.ts";
import { maskWithKey } from "./mask.ts";

/** Options of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /**
   * Largest payload accepted, in bytes; a longer frame fails with 1009 as
   * soon as its header is read. Default 64 MiB.
   */
  maxFrameSize?: number;
  /**
   * Which side reads: a `"server"` requires masked frames, a `"client"`
   * rejects them. Default `"server"`.
   */
  role?: "server" | "client";
  /**
   * RSV bits claimed by negotiated extensions, as they sit in the first
   * header byte (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10). Default 0.
   */
  allowedRsv?: number;
}

/** The default of {@linkcode FrameReaderOptions.maxFrameSize}: 64 MiB. */
export const DEFAULT_MAX_FRAME_SIZE: number = 64 * 1024 * 1024;

const EMPTY = new Uint8Array(0);
// A frame split across reads gets a buffer of its announced length at once
// when that is small, or once an eighth of it has arrived (a fresh buffer
// costs ~0.3 µs per KiB on V8, so growing step by step pays twice); before
// that the buffer grows by doubling, so a peer that announces a huge frame
// and sends little reserves little.
const EXACT_PAYLOAD_LIMIT = 64 * 1024;
// A frame at least this long that straddles chunks is not gathered at all:
// its pieces stay where they arrived (unmasked in place) and the frame keeps
// the list, so an echo writes them out without a copy and a consumer that
// wants one buffer pays for one join. (A socket read is at most 64 KiB on
// Node, so every large frame straddles.)
const PARTS_THRESHOLD = 16 * 1024;
// Pieces of a large frame shorter than this are copied together rather than
// kept as views each (a view costs ~100 bytes: a peer trickling bytes must
// not cost far more memory than it sends).
const SMALL_PIECE = 4096;

/**
 * An incremental WebSocket frame parser (RFC 6455 §5.2). It does no I/O:
 * `push` hands it bytes, `read` returns each complete frame (or `null` when
 * it needs more bytes) and throws a {@linkcode WebSocketError} carrying the
 * close code to send when the peer breaks the protocol. Any chunking of the
 * input, down to a byte per `push`, gives the same frames.
 *
 * Payloads are unmasked in place: a frame that lies whole in a pushed chunk
 * is returned as a view of that chunk, so the chunk must not be reused by its
 * producer. A small frame split across chunks is gathered into one buffer; a
 * large one keeps the pieces it arrived in (views of the chunks), joined only
 * when its `data` is asked for.
 *
 * @example
 * ```ts
 * import { FrameReader } from "@hybi/websocket";
 * const reader = new FrameReader({ role: "client" });
 * reader.push(new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]));
 * const frame = reader.read();
 * console.log(frame?.readText()); // Hello
 * console.log(reader.read()); // null
 * ```
 */
export class FrameReader {
  /** Largest payload accepted. */
  readonly maxFrameSize: number;
  #requireMask: boolean;
  #allowedRsv: number;

  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  #error: WebSocketError | null = null;

  // A header that straddles chunks is gathered here.
  // Allocated the first time a header straddles two chunks.
  #head: Uint8Array | null = null;
  #headLen = 0;

  // The frame whose payload is being received.
  #inPayload = false;
  #b0 = 0;
  #masked = false;
  // The masking key, as four numbers (no array per reader).
  #m0 = 0;
  #m1 = 0;
  #m2 = 0;
  #m3 = 0;
  #length = 0;
  #payload: Uint8Array = EMPTY;
  #parts: Uint8Array[] | null = null;
  // Where small pieces of a large frame are gathered before joining `#parts`.
  #tail: Uint8Array = EMPTY;
  #tailLength = 0;
  #received = 0;

  /**

   * Builds a reader.

   *

   * @param options Limits, role and claimed RSV bits.

   */
  constructor(options: FrameReaderOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#requireMask = (options.role ?? "server") === "server";
    this.#allowedRsv = options.allowedRsv ?? 0;
  }

  /** RSV bits claimed by extensions (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10). */
  get allowedRsv(): number {
    return this.#allowedRsv;
  }
  set allowedRsv(bits: number) {
    this.#allowedRsv = bits & 0x70;
  }

  /** Opcode of the frame whose payload is partly received, or -1 between frames. */
  get pendingOpcode(): number {
    return this.#inPayload ? this.#b0 & 0x0f : -1;
  }

  /** RSV bits of the frame in `pendingOpcode` (RSV1 = 0x40), or 0 between frames. */
  get pendingRsv(): number {
    return this.#inPayload ? this.#b0 & 0x70 : 0;
  }

  /** The unmasked payload received so far of the frame in `pendingOpcode`. */
  get pendingPayload(): Uint8Array {
    if (this.#parts === null) return this.#payload.subarray(0, this.#received);
    const joined = new Uint8Array(this.#received);
    let offset = 0;
    for (const part of this.pendingParts) {
      joined.set(part, offset);
      offset += part.length;
    }
    return joined;
  }

  /** `pendingPayload` as the pieces it arrived in (no copy), for the connection's fail-fast checks. */
  get pendingParts(): readonly Uint8Array[] {
    const parts = this.#parts;
    if (parts === null) return [this.#payload.subarray(0, this.#received)];
    return this.#tailLength === 0 ? parts : [...parts, this.#tail.subarray(0, this.#tailLength)];
  }

  /** Bytes pushed but not yet consumed by `read`. */
  get buffered(): number {
    return this.#chunk.length - this.#pos;
  }

  /**
   * Hands the reader the next bytes of the stream. Bytes of an earlier chunk
   * that `read` has not consumed yet are kept in front of them.
   *
   * @param chunk The next bytes; the reader may unmask them in place.
   */
  push(chunk: Uint8Array): void {
    const rest = this.#chunk.length - this.#pos;
    if (rest === 0) {
      this.#chunk = chunk;
    } else {
      const joined = new Uint8Array(rest + chunk.length);
      joined.set(this.#chunk.subarray(this.#pos));
      joined.set(chunk, rest);
      this.#chunk = joined;
    }
    this.#pos = 0;
  }

  /**
   * Parses the next frame from the bytes pushed so far.
   *
   * @returns The frame, or `null` when the pushed bytes are all consumed and
   *   no frame is complete.
   * @throws {WebSocketError} When the peer broke the protocol; the reader
   *   then stays failed and throws the same error again.
   */
  read(): Frame | null {
    if (this.#error !== null) throw this.#error;
    try {
      return this.#inPayload ? this.#readPayload() : this.#readHeader();
    } catch (e) {
      if (e instanceof WebSocketError) {
        this.#error = e;
        this.#chunk = EMPTY;
        this.#pos = 0;
      }
      throw e;
    }
  }

  #readHeader(): Frame | null {
    const chunk = this.#chunk;
    let pos = this.#pos;
    let src = chunk;
    let at = pos;
    const available = chunk.length - pos;
    if (this.#headLen === 0 && available >= 2) {
      const need = headerSize(chunk[pos + 1]);
      if (available < need) return this.#gatherHeader();
      pos += need;
    } else {
      if (!this.#gatherHeaderBytes()) return null;
      src = this.#head!;
      at = 0;
      pos = this.#pos;
      this.#headLen = 0;
    }
    this.#pos = pos;

    const b0 = src[at];
    const b1 = src[at + 1];
    const opcode = b0 & 0x0f;
    if ((b0 & 0x70 & ~this.#allowedRsv) !== 0) {
      throw protocolError(
        ErrorCode.UnexpectedRsv,
        `RSV bits 0x${(b0 & 0x70).toString(16)} set, no extension claimed them`,
      );
    }
    if ((opcode > OP_BINARY && opcode < OP_CLOSE) || opcode > OP_PONG) {
      throw protocolError(ErrorCode.InvalidOpcode, `reserved opcode ${opcode}`);
    }
    const masked = (b1 & 0x80) !== 0;
    if (masked !== this.#requireMask) {
      throw masked
        ? protocolError(ErrorCode.UnexpectedMask, "a server's frames must not be masked")
        : protocolError(ErrorCode.UnmaskedFrame, "a client's frames must be masked");
    }
    let length = b1 & 0x7f;
    let next = at + 2;
    if (length === 126) {
      length = (src[next] << 8) | src[next + 1];
      next += 2;
    } else if (length === 127) {
      const hi = ((src[next] << 24) | (src[next + 1] << 16) | (src[next + 2] << 8) | src[next + 3]) >>> 0;
      const lo = ((src[next + 4] << 24) | (src[next + 5] << 16) | (src[next + 6] << 8) | src[next + 7]) >>> 0;
      if (hi >= 0x80000000) {
        throw protocolError(ErrorCode.InvalidLength, "64-bit payload length with the most significant bit set");
      }
      // Beyond 2^53 the exact value no longer matters: it exceeds any limit.
      length = hi * 0x100000000 + lo;
      next += 8;
    }
    if (opcode >= OP_CLOSE) {
      if ((b0 & 0x80) === 0) {
        throw protocolError(ErrorCode.FragmentedControlFrame, "control frames must not be fragmented");
      }
      if (length > 125) {
        throw protocolError(ErrorCode.ControlFrameTooLong, `control frame of ${length} bytes (at most 125)`);
      }
    }
    if (length > this.maxFrameSize) {
      throw new WebSocketError(
        ErrorCode.FrameTooBig,
        CloseCode.MessageTooBig,
        `frame of ${length} bytes exceeds maxFrameSize ${this.maxFrameSize}`,
      );
    }
    if (masked) {
      this.#m0 = src[next];
      this.#m1 = src[next + 1];
      this.#m2 = src[next + 2];
      this.#m3 = src[next + 3];
    }

    this.#b0 = b0;
    this.#masked = masked;
    this.#length = length;
    // Fast path: the whole payload is in this chunk; hand out a view of it.
    if (chunk.length - pos >= length) {
      const end = pos + length;
      if (masked && length > 0) maskWithKey(chunk, pos, end, this.#m0, this.#m1, this.#m2, this.#m3);
      this.#pos = end;
      return frameInChunk(
        b0 & 0x0f,
        (b0 & 0x80) !== 0,
        chunk,
        pos,
        length,
        (b0 & 0x40) !== 0,
        (b0 & 0x20) !== 0,
        (b0 & 0x10) !== 0,
      );
    }
    this.#inPayload = true;
    this.#received = 0;
    this.#payload = EMPTY;
    if (length >= PARTS_THRESHOLD) this.#parts = [];
    return this.#readPayload();
  }

  /** Copies the partial header into `#head`; always returns null. */
  #gatherHeader(): null {
    this.#gatherHeaderBytes();
    return null;
  }

  /** Moves header bytes from the chunk into `#head`; true once complete. */
  #gatherHeaderBytes(): boolean {
    const chunk = this.#chunk;
    const head = this.#head ??= new Uint8Array(14);
    let pos = this.#pos;
    while (pos < chunk.length) {
      const need = this.#headLen < 2 ? 2 : headerSize(head[1]);
      if (this.#headLen >= need) break;
      head[this.#headLen++] = chunk[pos++];
    }
    this.#pos = pos;
    return this.#headLen >= 2 && this.#headLen >= headerSize(head[1]);
  }

  #readPayload(): Frame | null {
    if (this.#parts !== null) return this.#readParts();
    const chunk = this.#chunk;
    const pos = this.#pos;
    const want = this.#length - this.#received;
    const take = Math.min(want, chunk.length - pos);
    if (take > 0) {
      const needed = this.#received + take;
      if (needed > this.#payload.length) {
        let capacity = this.#length <= EXACT_PAYLOAD_LIMIT || needed * 8 >= this.#length
          ? this.#length
          : Math.max(this.#payload.length * 2, EXACT_PAYLOAD_LIMIT, needed);
        if (capacity > this.#length) capacity = this.#length;
        const grown = new Uint8Array(capacity);
        grown.set(this.#payload.subarray(0, this.#received));
        this.#payload = grown;
      }
      // A chunk taken whole needs no view of it.
      this.#payload.set(pos === 0 && take === chunk.length ? chunk : chunk.subarray(pos, pos + take), this.#received);
      if (this.#masked) {
        // The key rotated by how many payload bytes came before.
        const r = this.#received & 3;
        const m0 = this.#m0, m1 = this.#m1, m2 = this.#m2, m3 = this.#m3;
        if (r === 0) maskWithKey(this.#payload, this.#received, needed, m0, m1, m2, m3);
        else if (r === 1) maskWithKey(this.#payload, this.#received, needed, m1, m2, m3, m0);
        else if (r === 2) maskWithKey(this.#payload, this.#received, needed, m2, m3, m0, m1);
        else maskWithKey(this.#payload, this.#received, needed, m3, m0, m1, m2);
      }
      this.#received = needed;
      this.#pos = pos + take;
    }
    if (this.#received < this.#length) return null;
    const data = this.#payload;
    this.#payload = EMPTY;
    this.#inPayload = false;
    return this.#emit(data);
  }

  /**
   * `#readPayload` of a large frame: unmasks the piece in place and keeps
   * it, or copies it to `#tail` when it is small.
   */
  #readParts(): Frame | null {
    const chunk = this.#chunk;
    const pos = this.#pos;
    const take = Math.min(this.#length - this.#received, chunk.length - pos);
    const parts = this.#parts!;
    if (take > 0) {
      let target = chunk, at = pos;
      if (take < SMALL_PIECE) {
        if (this.#tailLength + take > this.#tail.length) {
          this.#keepTail();
          this.#tail = new Uint8Array(Math.min(4 * SMALL_PIECE, this.#length - this.#received));
        }
        target = this.#tail;
        at = this.#tailLength;
        target.set(pos === 0 && take === chunk.length ? chunk : chunk.subarray(pos, pos + take), at);
        this.#tailLength += take;
      } else {
        this.#keepTail();
        parts.push(pos === 0 && take === chunk.length ? chunk : chunk.subarray(pos, pos + take));
      }
      if (this.#masked) {
        // The key rotated by how many payload bytes came before.
        const r = this.#received & 3, end = at + take;
        const m0 = this.#m0, m1 = this.#m1, m2 = this.#m2, m3 = this.#m3;
        if (r === 0) maskWithKey(target, at, end, m0, m1, m2, m3);
        else if (r === 1) maskWithKey(target, at, end, m1, m2, m3, m0);
        else if (r === 2) maskWithKey(target, at, end, m2, m3, m0, m1);
        else maskWithKey(target, at, end, m3, m0, m1, m2);
      }
      this.#received += take;
      this.#pos = pos + take;
    }
    if (this.#received < this.#length) return null;
    this.#keepTail();
    this.#tail = EMPTY;
    this.#parts = null;
    this.#inPayload = false;
    const b0 = this.#b0;
    return frameInParts(
      b0 & 0x0f,
      (b0 & 0x80) !== 0,
      parts,
      this.#length,
      (b0 & 0x40) !== 0,
      (b0 & 0x20) !== 0,
      (b0 & 0x10) !== 0,
    );
  }

  /** Moves what `#tail` holds to `#parts`; the rest of `#tail` is used no more. */
  #keepTail(): void {
    if (this.#tailLength === 0) return;
    this.#parts!.push(this.#tail.subarray(0, this.#tailLength));
    this.#tail = this.#tail.subarray(this.#tailLength);
    this.#tailLength = 0;
  }

  #emit(data: Uint8Array): Frame {
    const b0 = this.#b0;
    return frameOf(b0 & 0x0f, (b0 & 0x80) !== 0, data, (b0 & 0x40) !== 0, (b0 & 0x20) !== 0, (b0 & 0x10) !== 0);
  }
}

/** Header size implied by the second header byte (mask bit + length code). */
function headerSize(b1: number): number {
  const code = b1 & 0x7f;
  return 2 + (code === 126 ? 2 : code === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
