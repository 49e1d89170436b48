/**
 * An incremental HTTP/1.1 request-head parser (RFC 9112 §2–§5): an explicit
 * state machine over bytes, fed any chunking of the input, with a limit on
 * every dimension of the head. It does no I/O and keeps at most
 * `maxHeadBytes` of input.
 *
 * @module
 */
import { HttpError } from "./http_error.ts";
import { FIELD_VCHAR, TCHAR } from "../token_chars.ts";

/** A parsed request head. */
export interface RequestHead {
  /** The method, as sent (case-sensitive). */
  method: string;
  /** The request target, as sent. */
  target: string;
  /** The minor HTTP version: 0 or 1 (the major version is always 1). */
  minorVersion: number;
  /** Header fields in order: lowercase name, value without surrounding whitespace. */
  headers: [string, string][];
}

/** The limits a {@linkcode RequestHeadParser} enforces. */
export interface HeadLimits {
  /** Largest head in bytes, request line included; more is 431. */
  maxHeadBytes: number;
  /** Most header fields; more is 431. */
  maxHeaderCount: number;
  /** Longest request line in bytes; longer is 414. */
  maxRequestLineLength: number;
}

const CR = 0x0d, LF = 0x0a, SP = 0x20, HT = 0x09, COLON = 0x3a;

// Parser states, in the order a head goes through them.
const LEADING = 0, // optional empty lines before the request line (RFC 9112 §2.2)
  LEADING_LF = 1,
  METHOD = 2,
  TARGET = 3,
  VERSION = 4,
  REQUEST_LINE_LF = 5,
  FIELD_START = 6,
  NAME = 7,
  VALUE_OWS = 8,
  VALUE = 9,
  FIELD_LF = 10,
  END_LF = 11,
  DONE = 12;

const INITIAL_CAPACITY = 1024;
const EMPTY = new Uint8Array(0);

/**
 * Parses one request head at a time. Feed it bytes with `push` until `done`;
 * read `head`; `reset` for the next request. Malformed input throws an
 * {@linkcode HttpError} carrying the status to answer with.
 */
export class RequestHeadParser {
  readonly #limits: HeadLimits;
  #buf: Uint8Array = EMPTY;
  #length = 0;
  #state = LEADING;
  #lineStart = 0;
  #methodEnd = 0;
  #targetEnd = 0;
  #versionStart = 0;
  #minorVersion = 1;
  #nameStart = 0;
  #nameEnd = 0;
  #valueStart = 0;
  #valueEnd = 0;
  #headers: [string, string][] = [];
  #head: RequestHead | null = null;

  constructor(limits: HeadLimits) {
    this.#limits = limits;
  }

  /** Whether a whole head has been parsed. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** Whether any byte of the current head has arrived. */
  get started(): boolean {
    return this.#length > 0;
  }

  /** The parsed head; only once `done`. */
  get head(): RequestHead {
    if (this.#head === null) throw new Error("the request head is not complete");
    return this.#head;
  }

  /** Forgets the current head, keeping the buffer for the next one. */
  reset(): void {
    this.#length = 0;
    this.#state = LEADING;
    this.#headers = [];
    this.#head = null;
    // A buffer grown for one large head should not stay that large.
    if (this.#buf.length > 4 * INITIAL_CAPACITY) this.#buf = EMPTY;
  }

  /**
   * Consumes bytes of `chunk` from `offset` up to the end of the head.
   *
   * @returns The index in `chunk` just after the last byte consumed: the end
   *   of the head once `done`, otherwise `chunk.length`.
   * @throws {HttpError} On a malformed head or a limit exceeded.
   */
  push(chunk: Uint8Array, offset: number = 0): number {
    const limits = this.#limits;
    let state = this.#state;
    let pos = this.#length;
    let i = offset;
    const n = chunk.length;
    this.#reserve(Math.min(pos + (n - offset), limits.maxHeadBytes));
    const buf = this.#buf;
    // The byte tables as locals: the loop reads them for every byte.
    const tchar = TCHAR, fieldVchar = FIELD_VCHAR;
    while (i < n && state !== DONE) {
      let c = chunk[i++];
      if (pos >= limits.maxHeadBytes) {
        if (state < FIELD_START) throw new HttpError(414, "the request line is too long");
        throw new HttpError(431, "the request head is too large");
      }
      if (state >= METHOD && state <= REQUEST_LINE_LF && pos - this.#lineStart >= limits.maxRequestLineLength) {
        throw new HttpError(414, "the request line is too long");
      }
      switch (state) {
        case LEADING:
          if (c === CR) state = LEADING_LF;
          else if (tchar[c] === 1) {
            this.#lineStart = pos;
            state = METHOD;
          } else throw malformed("request line");
          break;
        case LEADING_LF:
          if (c !== LF) throw malformed("request line");
          state = LEADING;
          break;
        case METHOD:
          if (c === SP) {
            this.#methodEnd = pos;
            state = TARGET;
          } else if (tchar[c] !== 1) throw malformed("method");
          break;
        case TARGET:
          if (c === SP) {
            if (pos === this.#methodEnd + 1) throw malformed("request target");
            this.#targetEnd = pos;
            this.#versionStart = pos + 1;
            state = VERSION;
          } else if (c < 0x21 || c > 0x7e) throw malformed("request target");
          break;
        case VERSION:
          if (c === CR) {
            this.#minorVersion = parseVersion(buf, this.#versionStart, pos);
            state = REQUEST_LINE_LF;
          } else if (pos - this.#versionStart >= 8) throw malformed("HTTP version");
          break;
        case REQUEST_LINE_LF:
          if (c !== LF) throw malformed("request line");
          state = FIELD_START;
          break;
        case FIELD_START:
          if (c === CR) state = END_LF;
          else if (tchar[c] === 1) {
            if (this.#headers.length >= limits.maxHeaderCount) {
              throw new HttpError(431, "the request has too many header fields");
            }
            this.#nameStart = pos;
            if (c >= 0x41 && c <= 0x5a) c |= 0x20;
            state = NAME;
          } else if (c === SP || c === HT) throw malformed("header field (line folding is not accepted)");
          else throw malformed("header field name");
          break;
        case NAME:
          if (c === COLON) {
            this.#nameEnd = pos;
            state = VALUE_OWS;
          } else if (tchar[c] === 1) {
            if (c >= 0x41 && c <= 0x5a) c |= 0x20;
          } else throw malformed("header field name");
          break;
        case VALUE_OWS:
          if (c === SP || c === HT) break;
          if (c === CR) {
            this.#valueStart = this.#valueEnd = pos;
            state = FIELD_LF;
          } else if (fieldVchar[c] === 1) {
            this.#valueStart = pos;
            this.#valueEnd = pos + 1;
            state = VALUE;
          } else throw malformed("header field value");
          break;
        case VALUE:
          if (c === CR) state = FIELD_LF;
          else if (fieldVchar[c] === 1) this.#valueEnd = pos + 1;
          else if (c !== SP && c !== HT) throw malformed("header field value");
          break;
        case FIELD_LF:
          if (c !== LF) throw malformed("header field");
          this.#headers.push([
            latin1(buf, this.#nameStart, this.#nameEnd),
            latin1(buf, this.#valueStart, this.#valueEnd),
          ]);
          state = FIELD_START;
          break;
        case END_LF:
          if (c !== LF) throw malformed("request head");
          state = DONE;
          this.#head = {
            method: latin1(buf, this.#lineStart, this.#methodEnd),
            target: latin1(buf, this.#methodEnd + 1, this.#targetEnd),
            minorVersion: this.#minorVersion,
            headers: this.#headers,
          };
          break;
      }
      buf[pos++] = c;
    }
    this.#state = state;
    this.#length = pos;
    return i;
  }

  #reserve(size: number): void {
    if (size <= this.#buf.length) return;
    let capacity = Math.max(this.#buf.length * 2, INITIAL_CAPACITY);
    while (capacity < size) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, this.#limits.maxHeadBytes));
    grown.set(this.#buf.subarray(0, this.#length));
    this.#buf = grown;
  }
}

function malformed(part: string): HttpError {
  return new HttpError(400, `malformed ${part}`);
}

/** `HTTP/1.0` or `HTTP/1.1` gives the minor version; another `HTTP/d.d` is 505; anything else 400. */
function parseVersion(buf: Uint8Array, start: number, end: number): number {
  if (
    end - start !== 8 || buf[start] !== 0x48 || buf[start + 1] !== 0x54 || buf[start + 2] !== 0x54 ||
    buf[start + 3] !== 0x50 || buf[start + 4] !== 0x2f || buf[start + 6] !== 0x2e
  ) {
    throw malformed("HTTP version");
  }
  const major = buf[start + 5] - 0x30, minor = buf[start + 7] - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) throw malformed("HTTP version");
  if (major !== 1 || minor > 1) throw new HttpError(505, `HTTP/${major}.${minor} is not supported; use HTTP/1.1`);
  return minor;
}

/** Bytes as a string of the same char codes (header fields are ISO-8859-1 octets). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start < 32) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    return s;
  }
  return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
}
