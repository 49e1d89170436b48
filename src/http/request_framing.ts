/**
 * What a parsed request head means for the connection (RFC 9112 §6, §9):
 * where the body ends, whether the connection stays open, the authority.
 * Ambiguous framing is refused rather than guessed (request smuggling).
 *
 * @module
 */
import { hasToken, parseTokenList } from "../handshake.ts";
import type { RequestHead } from "./head_parser.ts";
import { HttpError } from "./http_error.ts";

/** The connection-level meaning of a request head. */
export interface RequestFraming {
  /** The `Host` header's value (`null` only for HTTP/1.0 without one). */
  host: string | null;
  /** The body's length from `Content-Length`, or -1 when there is none. */
  contentLength: number;
  /** Whether the body is chunked. */
  chunked: boolean;
  /** Whether the client allows the connection to stay open after the response. */
  keepAlive: boolean;
  /** Whether the client waits for `100 Continue` before sending the body. */
  expectContinue: boolean;
}

/** Longest Content-Length accepted as a number (beyond it the body is too large anyway). */
const MAX_LENGTH_DIGITS = 15;

/**
 * Interprets the framing headers of a request head.
 *
 * @throws {HttpError} 400 on a missing or repeated `Host`, conflicting or
 *   invalid lengths; 501 on an unknown transfer coding; 417 on an unknown
 *   expectation; 413 on an absurd length.
 */
export function interpretHead(head: RequestHead): RequestFraming {
  const http11 = head.minorVersion === 1;
  let host: string | null = null;
  let hostCount = 0;
  let contentLength = -1;
  let transferEncoding: string[] | null = null;
  let connection: string | null = null;
  let expect: string | null = null;
  for (const [name, value] of head.headers) {
    switch (name) {
      case "host":
        hostCount++;
        host = value;
        break;
      case "content-length": {
        const length = parseLength(value);
        if (contentLength !== -1 && contentLength !== length) throw new HttpError(400, "conflicting Content-Length");
        contentLength = length;
        break;
      }
      case "transfer-encoding": {
        const codings = parseTokenList(value);
        if (codings === null) throw new HttpError(400, "malformed Transfer-Encoding");
        transferEncoding = transferEncoding === null ? codings : transferEncoding.concat(codings);
        break;
      }
      case "connection":
        connection = connection === null ? value : connection + "," + value;
        break;
      case "expect":
        expect = value;
        break;
    }
  }
  if (hostCount > 1) throw new HttpError(400, "more than one Host header");
  if (http11 && hostCount === 0) throw new HttpError(400, "an HTTP/1.1 request needs a Host header");
  if (host !== null && !isAuthority(host)) throw new HttpError(400, "malformed Host header");

  let chunked = false;
  if (transferEncoding !== null) {
    if (!http11) throw new HttpError(400, "Transfer-Encoding is not allowed in HTTP/1.0");
    if (contentLength !== -1) throw new HttpError(400, "both Transfer-Encoding and Content-Length");
    for (let i = 0; i < transferEncoding.length; i++) {
      if (transferEncoding[i].toLowerCase() !== "chunked") {
        throw new HttpError(501, `the transfer coding "${transferEncoding[i]}" is not supported`);
      }
    }
    // Only a single "chunked" is unambiguous.
    if (transferEncoding.length !== 1) throw new HttpError(400, "Transfer-Encoding must be chunked once");
    chunked = true;
  }

  const keepAlive = http11 ? !hasToken(connection, "close") : hasToken(connection, "keep-alive");
  let expectContinue = false;
  if (expect !== null) {
    if (expect.toLowerCase() !== "100-continue") {
      throw new HttpError(417, `the expectation "${expect}" is not supported`);
    }
    expectContinue = http11;
  }
  return { host, contentLength, chunked, keepAlive, expectContinue };
}

function parseLength(value: string): number {
  const n = value.length;
  if (n === 0) throw new HttpError(400, "malformed Content-Length");
  if (n > MAX_LENGTH_DIGITS) throw new HttpError(413, "the request body is too large");
  let length = 0;
  for (let i = 0; i < n; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) throw new HttpError(400, "malformed Content-Length");
    length = length * 10 + d;
  }
  return length;
}

/**
 * 1 for bytes allowed in a Host value: RFC 3986 reg-name / IP-literal
 * characters and `:` before the port. Excludes `/ ? # @ \` and whitespace,
 * so that the value cannot move the request to another authority or path.
 */
const AUTHORITY = new Uint8Array(128);
for (const c of "-._~!$&'()*+,;=:[]%") AUTHORITY[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) AUTHORITY[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) AUTHORITY[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) AUTHORITY[c] = 1;

function isAuthority(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c > 127 || AUTHORITY[c] === 0) return false;
  }
  return true;
}
