import { ErrorCode, HandshakeError } from "./errors.ts";
import { TCHAR } from "./token_chars.ts";
import { sha1 } from "./sha1.ts";

/** The GUID RFC 6455 §1.3 appends to the client's key. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const encoder = new TextEncoder();

/**
 * `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key` (RFC 6455 §4.2.2):
 * base64 of the SHA-1 of the key followed by the protocol's GUID.
 *
 * @param key The client's `Sec-WebSocket-Key` header value.
 * @returns The value of the `Sec-WebSocket-Accept` header.
 *
 * @example
 * ```ts
 * import { computeAccept } from "@hybi/websocket";
 * console.log(computeAccept("dGhlIHNhbXBsZSBub25jZQ==")); // s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 * ```
 */
export function computeAccept(key: string): string {
  const digest = sha1(encoder.encode(key + WEBSOCKET_GUID));
  let binary = "";
  for (let i = 0; i < digest.length; i++) binary += String.fromCharCode(digest[i]);
  return btoa(binary);
}

/** What a valid opening handshake request offers. */
export interface HandshakeOffer {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** Subprotocols the client offered, in its order of preference. */
  protocols: string[];
}

/**
 * Checks a request against RFC 6455 §4.2.1: method GET, `Upgrade` holding
 * the token `websocket`, `Connection` holding `upgrade`,
 * `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Key` that is base64 of
 * 16 bytes. (The HTTP version is the HTTP front's to check; a `Request`
 * does not carry it.)
 *
 * @param request The opening handshake request.
 * @returns The key and the offered subprotocols.
 * @throws {HandshakeError} 405, 400 or 426 with a reason.
 *
 * @example
 * ```ts
 * import { validateHandshake } from "@hybi/websocket";
 * const offer = validateHandshake(new Request("http://x/", {
 *   headers: {
 *     upgrade: "websocket",
 *     connection: "keep-alive, Upgrade",
 *     "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *     "sec-websocket-version": "13",
 *     "sec-websocket-protocol": "chat, superchat",
 *   },
 * }));
 * console.log(offer.protocols); // [ "chat", "superchat" ]
 * ```
 */
export function validateHandshake(request: Request): HandshakeOffer {
  const h = request.headers;
  if (request.method !== "GET") {
    throw new HandshakeError(
      ErrorCode.BadHandshake,
      405,
      `a WebSocket handshake must use GET, not ${request.method}`,
      { allow: "GET" },
    );
  }
  if (!hasToken(h.get("upgrade"), "websocket")) {
    throw bad('the Upgrade header must contain the token "websocket"');
  }
  if (!hasToken(h.get("connection"), "upgrade")) {
    throw bad('the Connection header must contain the token "upgrade"');
  }
  const version = h.get("sec-websocket-version");
  if (version === null || version.trim() !== "13") {
    throw new HandshakeError(
      ErrorCode.UnsupportedVersion,
      426,
      version === null
        ? "the Sec-WebSocket-Version header is missing; this server speaks version 13"
        : `Sec-WebSocket-Version ${version} is not supported; this server speaks version 13`,
      { "sec-websocket-version": "13", upgrade: "websocket", connection: "Upgrade" },
    );
  }
  const key = h.get("sec-websocket-key");
  if (key === null) throw bad("the Sec-WebSocket-Key header is missing");
  const trimmed = key.trim();
  if (!isKey(trimmed)) throw bad("Sec-WebSocket-Key must be base64 of exactly 16 bytes");
  const protocols = parseTokenList(h.get("sec-websocket-protocol"));
  if (protocols === null) throw bad("Sec-WebSocket-Protocol must be a comma-separated list of tokens");
  return { key: trimmed, protocols };
}

function bad(message: string): HandshakeError {
  return new HandshakeError(ErrorCode.BadHandshake, 400, message);
}

const B64 = new Uint8Array(128);
for (let c = 0x41; c <= 0x5a; c++) B64[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) B64[c] = 1;
for (let c = 0x30; c <= 0x39; c++) B64[c] = 1;
B64[0x2b] = 1; // +
B64[0x2f] = 1; // /

/** 16 bytes in base64: 22 alphabet characters and `==`. */
function isKey(key: string): boolean {
  if (key.length !== 24 || key.charCodeAt(22) !== 0x3d || key.charCodeAt(23) !== 0x3d) return false;
  for (let i = 0; i < 22; i++) {
    const c = key.charCodeAt(i);
    if (c > 127 || B64[c] === 0) return false;
  }
  return true;
}

function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Parses an RFC 7230 `#token` list (comma-separated, optional whitespace,
 * empty elements allowed) in one scan.
 *
 * @param value The header value, or `null` when absent.
 * @returns The tokens (empty when absent), or `null` when an element is not a token.
 */
export function parseTokenList(value: string | null): string[] | null {
  const out: string[] = [];
  if (value === null) return out;
  const n = value.length;
  let i = 0;
  while (i < n) {
    while (i < n && (isOws(value.charCodeAt(i)) || value.charCodeAt(i) === 0x2c)) i++;
    if (i === n) break;
    const start = i;
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c > 127 || TCHAR[c] === 0) break;
      i++;
    }
    if (i === start) return null;
    out.push(value.slice(start, i));
    while (i < n && isOws(value.charCodeAt(i))) i++;
    if (i < n && value.charCodeAt(i) !== 0x2c) return null;
  }
  return out;
}

/**
 * Whether a comma-separated header value holds `token` (ASCII
 * case-insensitive), scanning once without splitting or regular expressions.
 *
 * @param value The header value, or `null` when absent.
 * @param token The lowercase token to look for.
 */
export function hasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  const n = value.length;
  let i = 0;
  while (i < n) {
    while (i < n && (isOws(value.charCodeAt(i)) || value.charCodeAt(i) === 0x2c)) i++;
    const start = i;
    while (i < n && value.charCodeAt(i) !== 0x2c) i++;
    let end = i;
    while (end > start && isOws(value.charCodeAt(end - 1))) end--;
    if (end - start === token.length && asciiLowerEquals(value, start, token)) return true;
  }
  return false;
}

function asciiLowerEquals(value: string, start: number, lower: string): boolean {
  for (let j = 0; j < lower.length; j++) {
    let c = value.charCodeAt(start + j);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(j)) return false;
  }
  return true;
}
