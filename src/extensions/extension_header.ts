/**
 * The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1, RFC 7692 §5):
 *
 * ```
 * Sec-WebSocket-Extensions = 1#extension
 * extension = token *( OWS ";" OWS extension-param )
 * extension-param = token [ OWS "=" OWS ( token / quoted-string ) ]
 * ```
 *
 * A quoted value must be a token once unescaped (RFC 6455 §9.1). Several
 * header lines arrive joined by ", " (as `Headers.get` joins them), and a
 * client lists several offers of one extension in its order of preference.
 *
 * @module
 */
import { TCHAR } from "../token_chars.ts";

/** One parameter of an extension element: `name` or `name=value`. */
export interface ExtensionParam {
  /** The parameter's name, as sent. */
  readonly name: string;
  /** The value (unquoted), or `null` when the parameter has none. */
  readonly value: string | null;
}

/**
 * One element of a `Sec-WebSocket-Extensions` list: an offer in a request,
 * or an accepted configuration in a response.
 */
export interface ExtensionElement {
  /** The extension token, as sent (for example `permessage-deflate`). */
  readonly name: string;
  /** Its parameters, in order (duplicates are kept: the extension judges them). */
  readonly params: readonly ExtensionParam[];
}

/** What {@linkcode parseExtensions} found in a header value. */
export interface ParsedExtensions {
  /** The well-formed elements, in order. */
  readonly offers: ExtensionElement[];
  /** How many elements were malformed and dropped. */
  readonly malformed: number;
  /** Why the first malformed element was dropped, or `null` when none was. */
  readonly reason: string | null;
}

const COMMA = 0x2c, SEMICOLON = 0x3b, EQUALS = 0x3d, QUOTE = 0x22, BACKSLASH = 0x5c;

function isTchar(c: number): boolean {
  return c < 128 && TCHAR[c] === 1;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Whether `text` is a non-empty RFC 9110 token.
 *
 * @param text The text to check.
 */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) if (!isTchar(text.charCodeAt(i))) return false;
  return true;
}

/**
 * Parses a `Sec-WebSocket-Extensions` value in one left-to-right scan,
 * without regular expressions; it never throws. A malformed element is
 * dropped (and counted) and the scan resumes after the next comma that is
 * not inside a quoted string, so one bad offer does not hide the others.
 * Empty list elements (`a, , b`) are allowed, as RFC 9110 §5.6.1 asks.
 *
 * @param value The header value (several lines joined by `,`), or `null`.
 * @returns The well-formed elements and the count of malformed ones.
 *
 * @example
 * ```ts
 * import { parseExtensions } from "@hybi/websocket";
 * const parsed = parseExtensions('permessage-deflate; client_max_window_bits="10", x-bad;, permessage-deflate');
 * console.log(parsed.offers.length, parsed.malformed); // 2 1
 * console.log(parsed.offers[0].params[0]); // { name: "client_max_window_bits", value: "10" }
 * ```
 */
export function parseExtensions(value: string | null): ParsedExtensions {
  const offers: ExtensionElement[] = [];
  let malformed = 0;
  let reason: string | null = null;
  if (value === null) return { offers, malformed, reason };
  const n = value.length;
  let i = 0;

  // Each pass of this loop reads one list element starting at `i`.
  while (i < n) {
    let c = value.charCodeAt(i);
    if (isOws(c) || c === COMMA) {
      i++;
      continue;
    }
    const start = i;
    let problem: string | null = null;
    let inQuote = false;
    let name = "";
    const params: ExtensionParam[] = [];

    element: {
      const nameEnd = scanToken(value, i);
      if (nameEnd === i) {
        problem = "expected an extension name";
        break element;
      }
      name = value.slice(i, nameEnd);
      i = skipOws(value, nameEnd);
      while (i < n) {
        c = value.charCodeAt(i);
        if (c === COMMA) break;
        if (c !== SEMICOLON) {
          problem = `unexpected character ${JSON.stringify(value[i])}`;
          break element;
        }
        i = skipOws(value, i + 1);
        const paramEnd = scanToken(value, i);
        if (paramEnd === i) {
          problem = "expected a parameter name after ';'";
          break element;
        }
        const paramName = value.slice(i, paramEnd);
        i = skipOws(value, paramEnd);
        let paramValue: string | null = null;
        if (i < n && value.charCodeAt(i) === EQUALS) {
          i = skipOws(value, i + 1);
          if (i < n && value.charCodeAt(i) === QUOTE) {
            const quoted = scanQuoted(value, i);
            i = quoted.end;
            if (quoted.value === null) {
              problem = quoted.problem;
              inQuote = quoted.open;
              break element;
            }
            paramValue = quoted.value;
          } else {
            const valueEnd = scanToken(value, i);
            if (valueEnd === i) {
              problem = `expected a value for ${paramName}`;
              break element;
            }
            paramValue = value.slice(i, valueEnd);
            i = valueEnd;
          }
          i = skipOws(value, i);
        }
        params.push({ name: paramName, value: paramValue });
      }
    }

    if (problem === null) {
      offers.push({ name, params });
    } else {
      malformed++;
      if (reason === null) reason = `malformed extension at offset ${start}: ${problem}`;
      i = skipElement(value, i, inQuote);
    }
  }
  return { offers, malformed, reason };
}

/** The end of the token starting at `i` (`i` itself when there is none). */
function scanToken(value: string, i: number): number {
  const n = value.length;
  while (i < n && isTchar(value.charCodeAt(i))) i++;
  return i;
}

function skipOws(value: string, i: number): number {
  const n = value.length;
  while (i < n && isOws(value.charCodeAt(i))) i++;
  return i;
}

interface Quoted {
  /** The unescaped value, or `null` when it is not acceptable. */
  value: string | null;
  /** Just past the closing quote (or the end of input). */
  end: number;
  /** Why the value is not acceptable. */
  problem: string;
  /** Whether the input ended inside the quotes. */
  open: boolean;
}

/**
 * Reads the quoted-string whose opening quote is at `i`. The whole string is
 * scanned even when a character disqualifies it, so the caller resumes after
 * it and never mistakes a quoted comma for a list separator.
 */
function scanQuoted(value: string, i: number): Quoted {
  const n = value.length;
  let j = i + 1;
  let segment = j;
  let out = "";
  let valid = true;
  while (j < n) {
    const c = value.charCodeAt(j);
    if (c === QUOTE) {
      if (!valid) return { value: null, end: j + 1, problem: "a quoted value must be a token", open: false };
      out += value.slice(segment, j);
      if (out.length === 0) return { value: null, end: j + 1, problem: "empty quoted value", open: false };
      return { value: out, end: j + 1, problem: "", open: false };
    }
    if (c === BACKSLASH) {
      if (j + 1 >= n) break;
      out += value.slice(segment, j);
      segment = j + 1; // the escaped character starts the next segment
      if (!isTchar(value.charCodeAt(j + 1))) valid = false;
      j += 2;
      continue;
    }
    if (!isTchar(c)) valid = false;
    j++;
  }
  return { value: null, end: n, problem: "unterminated quoted string", open: true };
}

/**
 * Skips the rest of a malformed element: to just past the next comma that is
 * outside quotes, or to the end.
 */
function skipElement(value: string, i: number, inQuote: boolean): number {
  const n = value.length;
  while (i < n) {
    const c = value.charCodeAt(i);
    if (inQuote) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inQuote = false;
    } else if (c === QUOTE) {
      inQuote = true;
    } else if (c === COMMA) {
      return i + 1;
    }
    i++;
  }
  return n;
}

/**
 * Serialises one element for a `Sec-WebSocket-Extensions` header, as
 * `name; param; param=value`.
 *
 * @param element The extension and its parameters.
 * @returns The header element.
 * @throws {TypeError} When a name or a value is not a token (RFC 6455 §9.1
 *   requires values to be tokens, quoted or not).
 *
 * @example
 * ```ts
 * import { formatExtension } from "@hybi/websocket";
 * console.log(formatExtension({
 *   name: "permessage-deflate",
 *   params: [{ name: "server_no_context_takeover", value: null }, { name: "client_max_window_bits", value: "10" }],
 * })); // permessage-deflate; server_no_context_takeover; client_max_window_bits=10
 * ```
 */
export function formatExtension(element: ExtensionElement): string {
  if (!isToken(element.name)) throw new TypeError(`extension name ${JSON.stringify(element.name)} is not a token`);
  let out = element.name;
  for (const p of element.params) {
    if (!isToken(p.name)) throw new TypeError(`parameter name ${JSON.stringify(p.name)} is not a token`);
    out += "; " + p.name;
    if (p.value === null) continue;
    if (!isToken(p.value)) throw new TypeError(`value ${JSON.stringify(p.value)} of ${p.name} is not a token`);
    out += "=" + p.value;
  }
  return out;
}
