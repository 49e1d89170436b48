/**
 * Request body framing (RFC 9112 §6–§7): a fixed `Content-Length` or the
 * chunked coding, decoded incrementally. Decoded pieces are views into the
 * input chunks (no copy); the decoder stops exactly at the body's end so
 * that the bytes after it (a pipelined request, or nothing) stay with the
 * caller.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";

const CR = 0x0d, LF = 0x0a, SP = 0x20, HT = 0x09, SEMICOLON = 0x3b;

// Chunked decoder states.
const SIZE = 0, // hex digits of a chunk size
  SIZE_BWS = 1, // whitespace after the size, before an extension or CR
  EXTENSION = 2, // chunk extensions, ignored up to CR
  SIZE_LF = 3,
  DATA = 4,
  DATA_CR = 5,
  DATA_LF = 6,
  TRAILER_START = 7,
  TRAILER = 8, // a trailer field line, ignored
  TRAILER_LF = 9,
  END_LF = 10,
  DONE = 11;

/** Longest chunk-size line (size, extensions) and the most trailer bytes accepted. */
const MAX_LINE = 4096;

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/** Decodes one request body. */
export class BodyDecoder {
  readonly #chunked: boolean;
  readonly #maxBodySize: number;
  #remaining: number;
  #state: number;
  #received = 0;
  #lineBytes = 0;
  #sizeDigits = 0;

  /**
   * @param contentLength The body's length, or -1 for a chunked body.
   * @param maxBodySize Largest body accepted; a chunked body growing beyond it fails with 413.
   */
  constructor(contentLength: number, maxBodySize: number) {
    this.#chunked = contentLength < 0;
    this.#maxBodySize = maxBodySize;
    this.#remaining = this.#chunked ? 0 : contentLength;
    this.#state = this.#chunked ? SIZE : contentLength === 0 ? DONE : DATA;
  }

  /** Whether the whole body has been decoded. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** Body bytes decoded so far. */
  get received(): number {
    return this.#received;
  }

  /**
   * Decodes from `chunk[offset]` until the chunk or the body ends.
   *
   * @param onData Receives each decoded piece (a view into `chunk`).
   * @returns The index in `chunk` just after the last byte consumed.
   * @throws {HttpError} 400 on malformed chunked framing, 413 beyond `maxBodySize`.
   */
  decode(chunk: Uint8Array, offset: number, onData: (piece: Uint8Array) => void): number {
    const n = chunk.length;
    let i = offset;
    if (!this.#chunked) {
      if (this.#state === DONE) return i;
      const take = Math.min(this.#remaining, n - i);
      if (take > 0) {
        this.#remaining -= take;
        this.#received += take;
        onData(chunk.subarray(i, i + take));
        i += take;
      }
      if (this.#remaining === 0) this.#state = DONE;
      return i;
    }
    let state = this.#state;
    while (i < n && state !== DONE) {
      if (state === DATA) {
        const take = Math.min(this.#remaining, n - i);
        this.#remaining -= take;
        this.#received += take;
        onData(chunk.subarray(i, i + take));
        i += take;
        if (this.#remaining === 0) state = DATA_CR;
        continue;
      }
      const c = chunk[i++];
      switch (state) {
        case SIZE: {
          const d = hexValue(c);
          if (d >= 0) {
            // Sixteen digits would overflow exact arithmetic; no sane body needs them.
            if (++this.#sizeDigits > 12) throw new HttpError(413, "the request body is too large");
            this.#remaining = this.#remaining * 16 + d;
            break;
          }
          if (this.#sizeDigits === 0) throw malformed();
          if (c === CR) state = SIZE_LF;
          else if (c === SEMICOLON) state = EXTENSION;
          else if (c === SP || c === HT) state = SIZE_BWS;
          else throw malformed();
          break;
        }
        case SIZE_BWS:
          if (c === CR) state = SIZE_LF;
          else if (c === SEMICOLON) state = EXTENSION;
          else if (c !== SP && c !== HT) throw malformed();
          break;
        case EXTENSION:
          if (c === CR) state = SIZE_LF;
          else if (++this.#lineBytes > MAX_LINE) throw malformed();
          else if ((c < 0x20 && c !== HT) || c === 0x7f) throw malformed();
          break;
        case SIZE_LF:
          if (c !== LF) throw malformed();
          if (this.#received + this.#remaining > this.#maxBodySize) {
            throw new HttpError(413, "the request body is too large");
          }
          this.#sizeDigits = 0;
          this.#lineBytes = 0;
          state = this.#remaining === 0 ? TRAILER_START : DATA;
          break;
        case DATA_CR:
          if (c !== CR) throw malformed();
          state = DATA_LF;
          break;
        case DATA_LF:
          if (c !== LF) throw malformed();
          state = SIZE;
          break;
        case TRAILER_START:
          if (c === CR) state = END_LF;
          else if ((this.#lineBytes += 1) > MAX_LINE) throw malformed();
          else state = TRAILER;
          break;
        case TRAILER:
          if (c === CR) state = TRAILER_LF;
          else if (++this.#lineBytes > MAX_LINE) throw new HttpError(431, "the request trailer is too large");
          break;
        case TRAILER_LF:
          if (c !== LF) throw malformed();
          state = TRAILER_START;
          break;
        case END_LF:
          if (c !== LF) throw malformed();
          state = DONE;
          break;
      }
    }
    this.#state = state;
    return i;
  }
}

function malformed(): HttpError {
  return new HttpError(400, "malformed chunked request body");
}
