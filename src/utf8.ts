/**
 * A streaming UTF-8 validator (RFC 3629, Unicode §3.9 table 3-7). It checks
 * bytes as they arrive and fails on the first byte that makes the sequence
 * invalid — including sequences that could never complete validly, such as
 * overlong forms, surrogates and code points above U+10FFFF — so a WebSocket
 * text message fails fast, not when its last fragment arrives.
 *
 * @example
 * ```ts
 * import { Utf8Validator } from "@hybi/websocket";
 * const v = new Utf8Validator();
 * console.log(v.push(new Uint8Array([0xce, 0xba, 0xe1]))); // true: "κ" and the start of a 3-byte character
 * console.log(v.complete); // false: the character is unfinished
 * console.log(v.push(new Uint8Array([0xbd, 0xb9]))); // true
 * console.log(v.complete); // true
 * console.log(v.push(new Uint8Array([0xed, 0xa0]))); // false: a UTF-16 surrogate
 * ```
 */
export class Utf8Validator {
  // Continuation bytes still expected, and the allowed range of the next one.
  #need = 0;
  #low = 0x80;
  #high = 0xbf;
  #failed = false;

  /** Whether everything pushed so far is valid and ends on a character boundary. */
  get complete(): boolean {
    return !this.#failed && this.#need === 0;
  }

  /** Whether an invalid byte has been seen. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Forgets all state, for the next message. */
  reset(): void {
    this.#need = 0;
    this.#low = 0x80;
    this.#high = 0xbf;
    this.#failed = false;
  }

  /**
   * Checks the next bytes of the stream.
   *
   * @param bytes The bytes.
   * @param start First index to check (default 0).
   * @param end One past the last index to check (default `bytes.length`).
   * @returns False as soon as the stream can no longer be valid UTF-8.
   */
  push(bytes: Uint8Array, start: number = 0, end: number = bytes.length): boolean {
    if (this.#failed) return false;
    let need = this.#need, low = this.#low, high = this.#high;
    let i = start;
    while (i < end) {
      if (need === 0) {
        // ASCII runs are the common case: skip them without touching state.
        let b = bytes[i];
        if (b < 0x80) {
          i = skipAscii(bytes, i + 1, end);
          if (i === end) {
            this.#need = 0;
            return true;
          }
          b = bytes[i];
        }
        i++;
        if (b < 0xc2) return this.#fail();
        // Every lead byte sets both bounds: the saved ones may belong to an earlier character.
        low = 0x80;
        high = 0xbf;
        if (b < 0xe0) {
          need = 1;
        } else if (b < 0xf0) {
          need = 2;
          if (b === 0xe0) low = 0xa0; // no overlong 3-byte forms
          else if (b === 0xed) high = 0x9f; // no surrogates
        } else if (b < 0xf5) {
          need = 3;
          if (b === 0xf0) low = 0x90; // no overlong 4-byte forms
          else if (b === 0xf4) high = 0x8f; // nothing above U+10FFFF
        } else {
          return this.#fail();
        }
      } else {
        const b = bytes[i++];
        if (b < low || b > high) return this.#fail();
        need--;
        low = 0x80;
        high = 0xbf;
      }
    }
    this.#need = need;
    this.#low = low;
    this.#high = high;
    return true;
  }

  #fail(): false {
    this.#failed = true;
    return false;
  }
}

/**
 * The index of the first non-ASCII byte in `bytes[i..end)`, or `end`. Four
 * bytes a step; a free function because JavaScriptCore runs this loop about
 * ten times slower inlined into `push`.
 */
function skipAscii(bytes: Uint8Array, i: number, end: number): number {
  for (const end4 = end - 3; i < end4; i += 4) {
    if (((bytes[i] | bytes[i + 1] | bytes[i + 2] | bytes[i + 3]) & 0x80) !== 0) break;
  }
  while (i < end && bytes[i] < 0x80) i++;
  return i;
}

/**
 * Whether `bytes` is, on its own, complete and valid UTF-8.
 *
 * @param bytes The bytes to check.
 *
 * @example
 * ```ts
 * import { isValidUtf8 } from "@hybi/websocket";
 * console.log(isValidUtf8(new TextEncoder().encode("héllo")), isValidUtf8(new Uint8Array([0xc0, 0x80]))); // true false
 * ```
 */
export function isValidUtf8(bytes: Uint8Array): boolean {
  scratch.reset();
  return scratch.push(bytes) && scratch.complete;
}

const scratch = new Utf8Validator();

const textDecoder = new TextDecoder();

/** A byte array with a native UTF-8 decoder (Node's and Bun's `Buffer`, which the engines of those runtimes hand on). */
interface NativeUtf8Slice {
  utf8Slice(start: number, end: number): string;
}

/**
 * Decodes `bytes[start, end)`, already known to be valid UTF-8, to a string.
 * The engines on Node and Bun hand on the runtime's `Buffer`, whose own
 * decoder is about twice as fast as `TextDecoder` on short text (a view and
 * a call into the decoder cost more than the decoding): it is used when the
 * bytes have it, found by feature, not by runtime.
 *
 * @param bytes Holds the text.
 * @param start Where it starts.
 * @param end Where it ends.
 */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string {
  const native = (bytes as Uint8Array & Partial<NativeUtf8Slice>).utf8Slice;
  if (native !== undefined) return native.call(bytes, start, end);
  return textDecoder.decode(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
}
