/**
 * The DEFLATE codec of permessage-deflate (RFC 7692 §7.2) on `node:zlib`,
 * which Deno, Bun and Node all implement natively. The web
 * `CompressionStream` cannot sync-flush, which context takeover needs.
 *
 * `node:zlib` is imported lazily, on the first message that needs it, so the
 * core stays web-standards-only for everyone who does not compress; each zlib
 * stream is created on first use and closed when a message without context
 * takeover ends or when the connection is disposed.
 *
 * Both classes take one call at a time; the extension serialises them.
 *
 * @module
 */
import type * as Zlib from "node:zlib";
import { CloseCode } from "../close_reason.ts";
import { ErrorCode, sessionClosedError, WebSocketError } from "../errors.ts";
import { plainView } from "../transport.ts";

type ZlibModule = typeof Zlib;

/** The empty stored block a sync flush ends with; RFC 7692 strips it from the wire. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
/** Payloads up to this size are joined with the tail and inflated in one zlib call. */
const JOIN_TAIL_BELOW = 16 * 1024;
/** `zlib.constants.Z_SYNC_FLUSH`, fixed by zlib.h. */
const Z_SYNC_FLUSH = 2;

let loading: Promise<ZlibModule> | null = null;
let loaded: ZlibModule | null = null;

/**
 * Starts importing `node:zlib` (once per process) and resolves with it.
 * A failure is reported to every caller, not left unhandled.
 */
export function loadZlib(): Promise<ZlibModule> {
  if (loading === null) {
    loading = import("node:zlib").then((m: ZlibModule) => loaded = m);
    loading.catch(() => {});
  }
  return loading;
}

async function zlibModule(): Promise<ZlibModule> {
  if (loaded !== null) return loaded;
  try {
    return await loadZlib();
  } catch (cause) {
    throw new WebSocketError(
      ErrorCode.InternalError,
      CloseCode.InternalError,
      "permessage-deflate needs node:zlib, which this runtime does not provide",
      { cause },
    );
  }
}

/** Options of a {@linkcode MessageInflater}. */
export interface InflaterOptions {
  /** The peer's LZ77 window, 8–15 (its `*_max_window_bits`). */
  windowBits: number;
  /** Whether the peer starts every message with an empty window. */
  noContextTakeover: boolean;
}

/**
 * Decompresses the messages of one direction of one connection
 * (RFC 7692 §7.2.2): frame payloads go in as they arrive, decompressed
 * chunks come out, and the output of a message is counted against a limit
 * so that a small frame cannot make it allocate a huge one.
 */
export class MessageInflater {
  readonly #windowBits: number;
  readonly #noContextTakeover: boolean;
  #stream: Zlib.InflateRaw | null = null;
  /** Bytes handed to the current zlib stream. */
  #written = 0;
  /** Bytes of the current message produced so far. */
  #total = 0;
  #limit = 0;
  #emit: ((chunk: Uint8Array) => void) | null = null;
  /** Rejects the write in flight. */
  #current: ((error: unknown) => void) | null = null;
  #failure: unknown = null;
  #disposed = false;

  /**
   * Builds an inflater; zlib is not touched until the first message.
   *
   * @param options The peer's window and context takeover.
   */
  constructor(options: InflaterOptions) {
    this.#windowBits = options.windowBits;
    this.#noContextTakeover = options.noContextTakeover;
  }

  /** Whether a zlib stream (and its window) is currently allocated. */
  get allocated(): boolean {
    return this.#stream !== null;
  }

  /**
   * Decompresses one frame of a compressed message.
   *
   * @param data The frame's payload.
   * @param fin Whether it is the message's last frame (the tail is appended then).
   * @param maxMessageSize Most bytes the decompressed message may have.
   * @param emit Receives each decompressed chunk.
   */
  async inflate(
    data: Uint8Array,
    fin: boolean,
    maxMessageSize: number,
    emit: (chunk: Uint8Array) => void,
  ): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#disposed) throw sessionClosedError("the compression context is closed");
    const stream = this.#stream ?? await this.#open();
    this.#limit = maxMessageSize;
    this.#emit = emit;
    let ended: boolean;
    try {
      if (fin && data.length < JOIN_TAIL_BELOW) {
        const joined = new Uint8Array(data.length + 4);
        joined.set(data);
        joined.set(TAIL, data.length);
        ended = await this.#write(stream, joined, true);
      } else {
        if (data.length > 0) await this.#write(stream, data, false);
        ended = fin && await this.#write(stream, TAIL, true);
      }
    } finally {
      this.#emit = null;
    }
    if (fin) {
      this.#total = 0;
      // A stream that ended cannot go on: the next message starts a fresh one.
      if (this.#noContextTakeover || ended) this.#release();
    }
  }

  async #open(): Promise<Zlib.InflateRaw> {
    const zlib = await zlibModule();
    if (this.#failure !== null) throw this.#failure;
    if (this.#disposed) throw sessionClosedError("the compression context is closed");
    const stream = zlib.createInflateRaw({ windowBits: this.#windowBits, flush: Z_SYNC_FLUSH });
    stream.on("data", (chunk: Uint8Array) => {
      if (stream !== this.#stream) return;
      const total = this.#total + chunk.length;
      if (total > this.#limit) {
        this.#fail(
          new WebSocketError(
            ErrorCode.MessageTooBig,
            CloseCode.MessageTooBig,
            `a compressed message inflates to more than maxMessageSize ${this.#limit} bytes`,
          ),
        );
        return;
      }
      this.#total = total;
      const emit = this.#emit;
      if (emit === null) {
        this.#fail(new WebSocketError(ErrorCode.InternalError, CloseCode.InternalError, "zlib output outside a call"));
        return;
      }
      try {
        emit(plainView(chunk));
      } catch (error) {
        this.#fail(error);
      }
    });
    // Stays attached after release: an 'error' without a listener would crash the process.
    stream.on("error", (error: unknown) => {
      if (stream === this.#stream) this.#fail(invalid(describe(error), error));
    });
    this.#stream = stream;
    this.#written = 0;
    return stream;
  }

  /**
   * Feeds `chunk` and waits until zlib has taken it. zlib stops reading at
   * the end of a DEFLATE stream (a block with BFINAL set), so unread input
   * (`bytesWritten` counts what zlib read) shows where one ended: only our
   * tail may follow it. Resolves with whether the stream has ended.
   */
  #write(stream: Zlib.InflateRaw, chunk: Uint8Array, endsWithTail: boolean): Promise<boolean> {
    this.#written += chunk.length;
    return new Promise((resolve, reject) => {
      this.#current = reject;
      stream.write(chunk, () => {
        if (this.#current === null || stream !== this.#stream) return;
        // Deno calls back before it emits the error of a destroyed stream.
        if (stream.destroyed) {
          this.#fail(invalid(describe(stream.errored), stream.errored));
          return;
        }
        const unread = this.#written - stream.bytesWritten;
        if (unread !== 0 && !(endsWithTail && unread === TAIL.length)) {
          this.#fail(invalid("data after the end of the DEFLATE stream"));
          return;
        }
        this.#current = null;
        resolve(unread !== 0);
      });
    });
  }

  /** Fails for good: frees the stream and rejects the call in flight. */
  #fail(error: unknown): unknown {
    if (this.#failure === null) this.#failure = error;
    this.#release();
    const reject = this.#current;
    this.#current = null;
    reject?.(this.#failure);
    return this.#failure;
  }

  #release(): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    stream.close();
  }

  /** Frees the zlib stream; the call in flight and later calls reject. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#release();
    const reject = this.#current;
    this.#current = null;
    reject?.(sessionClosedError("the compression context is closed"));
  }
}

function invalid(message: string, cause?: unknown): WebSocketError {
  return new WebSocketError(
    ErrorCode.InvalidCompressedData,
    CloseCode.NotConsistent,
    `invalid compressed data: ${message}`,
    { cause },
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Options of a {@linkcode MessageDeflater}. */
export interface DeflaterOptions {
  /** Our LZ77 window, 8–15 (zlib cannot do 8 in raw mode and uses 9; see below). */
  windowBits: number;
  /** Whether every message starts with an empty window. */
  noContextTakeover: boolean;
  /** zlib compression level, 0–9. */
  level: number;
  /** zlib memory level, 1–9: the hash table's size. */
  memLevel: number;
}

/**
 * Compresses the messages of one direction of one connection
 * (RFC 7692 §7.2.1): each call compresses one frame's data and sync-flushes,
 * and the last frame of a message loses the `00 00 ff ff` tail.
 */
export class MessageDeflater {
  readonly #options: DeflaterOptions;
  #stream: Zlib.DeflateRaw | null = null;
  #chunks: Uint8Array[] = [];
  #current: { resolve: () => void; reject: (error: unknown) => void } | null = null;
  #failure: unknown = null;
  #disposed = false;

  /**
   * Builds a deflater; zlib is not touched until the first message.
   *
   * @param options Window, context takeover, level and memory level.
   */
  constructor(options: DeflaterOptions) {
    this.#options = options;
  }

  /** Whether a zlib stream (and its window and hash table) is currently allocated. */
  get allocated(): boolean {
    return this.#stream !== null;
  }

  /**
   * Compresses one frame's data.
   *
   * @param data The frame's payload.
   * @param fin Whether it ends the message: the tail is stripped, and the
   *   context freed when there is no context takeover.
   * @returns The compressed payload.
   */
  async deflate(data: Uint8Array, fin: boolean): Promise<Uint8Array> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#disposed) throw sessionClosedError("the compression context is closed");
    const stream = this.#stream ?? await this.#open();
    await new Promise<void>((resolve, reject) => {
      this.#current = { resolve, reject };
      stream.write(data, () => {
        if (this.#current === null || stream !== this.#stream) return;
        if (stream.destroyed) {
          this.#fail(stream.errored ?? sessionClosedError("the compression context is closed"));
          return;
        }
        const current = this.#current;
        this.#current = null;
        current.resolve();
      });
    });
    const chunks = this.#chunks;
    this.#chunks = [];
    if (fin && this.#options.noContextTakeover) this.#release();
    return join(chunks, fin ? TAIL.length : 0);
  }

  async #open(): Promise<Zlib.DeflateRaw> {
    const zlib = await zlibModule();
    if (this.#failure !== null) throw this.#failure;
    if (this.#disposed) throw sessionClosedError("the compression context is closed");
    const o = this.#options;
    // zlib refuses an 8-bit window in raw mode; 9 is safe in its place: a
    // 9-bit zlib deflater never refers further back than 512 - 262 = 250
    // bytes (MAX_DIST), which a peer's 256-byte window covers.
    const stream = zlib.createDeflateRaw({
      windowBits: Math.max(9, o.windowBits),
      level: o.level,
      memLevel: o.memLevel,
      flush: Z_SYNC_FLUSH,
    });
    stream.on("data", (chunk: Uint8Array) => {
      if (stream === this.#stream) this.#chunks.push(plainView(chunk));
    });
    stream.on("error", (error: unknown) => {
      if (stream === this.#stream) this.#fail(error);
    });
    this.#stream = stream;
    return stream;
  }

  #fail(error: unknown): void {
    if (this.#failure === null) {
      this.#failure = error instanceof WebSocketError
        ? error
        : new WebSocketError(ErrorCode.InternalError, CloseCode.InternalError, "compression failed", { cause: error });
    }
    this.#release();
    const current = this.#current;
    this.#current = null;
    current?.reject(this.#failure);
  }

  #release(): void {
    const stream = this.#stream;
    if (stream === null) return;
    this.#stream = null;
    this.#chunks = [];
    stream.close();
  }

  /** Frees the zlib stream; the call in flight and later calls reject. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#release();
    const current = this.#current;
    this.#current = null;
    current?.reject(sessionClosedError("the compression context is closed"));
  }
}

/**
 * One whole message compressed at once, synchronously, from an empty window
 * (no context takeover), with the same bytes {@linkcode MessageDeflater}
 * would produce: the one-shot zlib call ends with a sync flush, whose tail is
 * stripped. `null` while `node:zlib` is not loaded yet (see `loadZlib`).
 *
 * @param data The message; at least one byte.
 * @param options Window, level and memory level.
 */
export function deflateMessageSync(data: Uint8Array, options: DeflaterOptions): Uint8Array | null {
  if (loaded === null) return null;
  const out = plainView(loaded.deflateRawSync(data, {
    windowBits: Math.max(9, options.windowBits),
    level: options.level,
    memLevel: options.memLevel,
    finishFlush: Z_SYNC_FLUSH,
  }));
  return out.subarray(0, out.length - TAIL.length);
}

/** The chunks joined, without their last `drop` bytes. */
function join(chunks: Uint8Array[], drop: number): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const length = Math.max(0, total - drop);
  if (chunks.length === 1) return chunks[0].subarray(0, length);
  const out = new Uint8Array(length);
  let offset = 0;
  for (const c of chunks) {
    if (offset >= length) break;
    const take = Math.min(c.length, length - offset);
    out.set(take === c.length ? c : c.subarray(0, take), offset);
    offset += take;
  }
  return out;
}
