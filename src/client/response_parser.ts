/**
 * The client's parser of the server's answer to the opening handshake: an
 * explicit state machine over bytes (RFC 9112 §4 status line, §5 fields),
 * fed the chunks as they arrive, strict (CRLF line ends, no folded lines,
 * token field names, a three-digit status) and bounded (`maxHeadBytes`,
 * `maxHeaderCount`). It does no I/O. What follows the head belongs to the
 * WebSocket stream and is handed back untouched.
 *
 * @module
 */
import { FIELD_VCHAR, TCHAR } from "../token_chars.ts";

/** A parsed response head. */
export interface ResponseHead {
  /** The status code (100–999 as written; the caller judges it). */
  readonly status: number;
  /** The reason phrase, as sent. */
  readonly reason: string;
  /** The header fields. */
  readonly headers: Headers;
}

/** The limits of a {@linkcode ResponseHeadParser}. */
export interface ResponseLimits {
  /** Largest head in bytes, status line included. */
  readonly maxHeadBytes: number;
  /** Most header fields. */
  readonly maxHeaderCount: number;
}

/** Default limits: 16 KiB of head (Node's own default), 100 fields. */
export const DEFAULT_RESPONSE_LIMITS: ResponseLimits = Object.freeze({ maxHeadBytes: 16 * 1024, maxHeaderCount: 100 });

/** Why a response head was refused; the message says where. */
export class ResponseParseError extends Error {
  /**
   * @param message What was wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "ResponseParseError";
  }
}

const CR = 0x0d, LF = 0x0a, SP = 0x20, HT = 0x09, COLON = 0x3a;
const VERSION = "HTTP/1.1";

// Parser states, in the order a head goes through them.
const HTTP_VERSION = 0, // "HTTP/1.1", byte by byte
  VERSION_SP = 1,
  STATUS = 2, // three digits
  STATUS_SP = 3, // the space before the reason (the reason may be empty)
  REASON = 4,
  STATUS_LF = 5,
  FIELD_START = 6, // a field name, or the CR of the empty line
  NAME = 7,
  VALUE_OWS = 8,
  VALUE = 9,
  FIELD_LF = 10,
  END_LF = 11,
  DONE = 12;

/**
 * Parses one response head. Feed it with `push` until it returns the bytes
 * after the head (possibly empty); then read `head`.
 */
export class ResponseHeadParser {
  readonly #limits: ResponseLimits;
  #state = HTTP_VERSION;
  #consumed = 0;
  #index = 0; // position in VERSION, or digits of the status read
  #status = 0;
  #token = ""; // the reason, a field's name, or its value, as it is read
  #name = "";
  #valueEnd = 0; // the value's length without trailing whitespace
  #count = 0;
  #reason = "";
  readonly #headers = new Headers();
  #head: ResponseHead | null = null;

  /** @param limits The size limits. */
  constructor(limits: ResponseLimits = DEFAULT_RESPONSE_LIMITS) {
    this.#limits = limits;
  }

  /** The parsed head, once `push` returned the rest of the input. */
  get head(): ResponseHead | null {
    return this.#head;
  }

  /**
   * Parses more of the head.
   *
   * @param chunk The next bytes from the server.
   * @returns `null` while the head is not complete; then the bytes of
   *   `chunk` after the head (a view, possibly empty).
   * @throws {ResponseParseError} When the head is malformed or over a limit.
   */
  push(chunk: Uint8Array): Uint8Array | null {
    if (this.#state === DONE) return chunk;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk[i];
      if (++this.#consumed > this.#limits.maxHeadBytes) {
        throw new ResponseParseError(`the response head is larger than ${this.#limits.maxHeadBytes} bytes`);
      }
      switch (this.#state) {
        case HTTP_VERSION:
          if (c !== VERSION.charCodeAt(this.#index)) throw new ResponseParseError("the response is not HTTP/1.1");
          if (++this.#index === VERSION.length) this.#state = VERSION_SP;
          break;
        case VERSION_SP:
          if (c !== SP) throw new ResponseParseError("a space must follow the HTTP version");
          this.#state = STATUS;
          this.#index = 0;
          break;
        case STATUS:
          if (c < 0x30 || c > 0x39) throw new ResponseParseError("the status code must be three digits");
          this.#status = this.#status * 10 + (c - 0x30);
          if (++this.#index === 3) this.#state = STATUS_SP;
          break;
        case STATUS_SP:
          // RFC 9112 §4: the space is required, the reason may be empty; a bare CRLF is tolerated by
          // most clients, and so here.
          if (c === SP) this.#state = REASON;
          else if (c === CR) this.#state = STATUS_LF;
          else throw new ResponseParseError("the status code must be three digits followed by a space");
          break;
        case REASON:
          if (c === CR) {
            this.#reason = this.#token;
            this.#token = "";
            this.#state = STATUS_LF;
          } else if (FIELD_VCHAR[c] === 1 || c === SP || c === HT) this.#token += String.fromCharCode(c);
          else throw new ResponseParseError("invalid byte in the reason phrase");
          break;
        case STATUS_LF:
        case FIELD_LF:
          if (c !== LF) throw new ResponseParseError("a line must end with CRLF");
          if (this.#state === FIELD_LF) this.#addField();
          this.#state = FIELD_START;
          break;
        case FIELD_START:
          if (c === CR) this.#state = END_LF;
          else if (TCHAR[c] === 1) {
            if (++this.#count > this.#limits.maxHeaderCount) {
              throw new ResponseParseError(`the response has more than ${this.#limits.maxHeaderCount} header fields`);
            }
            this.#token = String.fromCharCode(c);
            this.#state = NAME;
          } else if (c === SP || c === HT) throw new ResponseParseError("folded header lines are not allowed");
          else throw new ResponseParseError("invalid byte at the start of a header field");
          break;
        case NAME:
          if (c === COLON) {
            this.#name = this.#token;
            this.#token = "";
            this.#valueEnd = 0;
            this.#state = VALUE_OWS;
          } else if (TCHAR[c] === 1) this.#token += String.fromCharCode(c);
          else throw new ResponseParseError("invalid byte in a header field name");
          break;
        case VALUE_OWS:
          if (c === SP || c === HT) break;
          this.#state = VALUE;
          // falls through: the byte starts the value
        case VALUE:
          if (c === CR) this.#state = FIELD_LF;
          else if (FIELD_VCHAR[c] === 1) {
            this.#token += String.fromCharCode(c);
            this.#valueEnd = this.#token.length;
          } else if (c === SP || c === HT) this.#token += String.fromCharCode(c);
          else throw new ResponseParseError("invalid byte in a header field value");
          break;
        case END_LF:
          if (c !== LF) throw new ResponseParseError("the head must end with an empty line (CRLF)");
          this.#state = DONE;
          this.#head = { status: this.#status, reason: this.#reason, headers: this.#headers };
          return chunk.subarray(i + 1);
      }
    }
    return null;
  }

  #addField(): void {
    // Trailing whitespace is not part of the value (RFC 9110 §5.5).
    this.#headers.append(this.#name, this.#token.slice(0, this.#valueEnd));
    this.#token = "";
  }
}
