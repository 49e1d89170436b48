/**
 * Serialising response heads (RFC 9112 §4–§6) and chunked framing.
 *
 * @module
 */
import { reasonPhrase } from "./status_text.ts";

/** How the response's body is delimited, and what the connection does after it. */
export interface ResponseFraming {
  /** `Content-Length` to send, or -1 for none. */
  contentLength: number;
  /** Whether to send `Transfer-Encoding: chunked`. */
  chunked: boolean;
  /** Whether to send `Connection: close`. */
  close: boolean;
  /** Whether to send `Connection: keep-alive` (to an HTTP/1.0 client that asked for it). */
  keepAlive: boolean;
}

/** Header names the front writes itself from the framing it chose. */
const MANAGED = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "date"]);

let dateSecond = 0;
let dateLine = "";

/** The `Date` header line, computed at most once a second. */
function dateHeader(): string {
  const now = Date.now();
  const second = now - (now % 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = "date: " + new Date(second).toUTCString() + "\r\n";
  }
  return dateLine;
}

/**
 * The text of a response head: status line, the response's own headers
 * (except those the framing decides), `Date`, and the framing headers.
 *
 * @param status The status code.
 * @param statusText The reason phrase; empty picks the standard one.
 * @param headers The response's headers.
 * @param framing The framing the front chose.
 */
export function responseHead(status: number, statusText: string, headers: Headers, framing: ResponseFraming): string {
  let head = "HTTP/1.1 " + status + " " + (statusText === "" ? reasonPhrase(status) : statusText) + "\r\n";
  let userDate = false;
  for (const [name, value] of headers) {
    if (MANAGED.has(name)) {
      if (name !== "date") continue;
      userDate = true;
    }
    head += name + ": " + value + "\r\n";
  }
  if (!userDate) head += dateHeader();
  if (framing.contentLength >= 0) head += "content-length: " + framing.contentLength + "\r\n";
  if (framing.chunked) head += "transfer-encoding: chunked\r\n";
  if (framing.close) head += "connection: close\r\n";
  else if (framing.keepAlive) head += "connection: keep-alive\r\n";
  return head + "\r\n";
}

/** The head of a `101 Switching Protocols` response with `headers`. */
export function switchingProtocolsHead(headers: Headers): string {
  let head = "HTTP/1.1 101 Switching Protocols\r\n";
  for (const [name, value] of headers) head += name + ": " + value + "\r\n";
  return head + "\r\n";
}

/**
 * `text` as ISO-8859-1 bytes followed by `body` pieces, in one buffer.
 *
 * @throws {TypeError} When `text` holds a character above U+00FF (not a valid header byte).
 */
export function encodeHead(text: string, body: readonly Uint8Array[] = [], bodyLength: number = 0): Uint8Array {
  const n = text.length;
  const out = new Uint8Array(n + bodyLength);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new TypeError("a response header holds a character that is not a byte");
    out[i] = c;
  }
  let offset = n;
  for (const piece of body) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

const CRLF = new Uint8Array([0x0d, 0x0a]);

/** A chunk of a chunked body: size line, data, CRLF, in one buffer. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  const size = data.length.toString(16);
  const out = new Uint8Array(size.length + 2 + data.length + 2);
  for (let i = 0; i < size.length; i++) out[i] = size.charCodeAt(i);
  out[size.length] = 0x0d;
  out[size.length + 1] = 0x0a;
  out.set(data, size.length + 2);
  out.set(CRLF, out.length - 2);
  return out;
}

/** The size line of a chunk, for a chunk too large to copy. */
export function encodeChunkSize(size: number): Uint8Array {
  const hex = size.toString(16);
  const out = new Uint8Array(hex.length + 2);
  for (let i = 0; i < hex.length; i++) out[i] = hex.charCodeAt(i);
  out[hex.length] = 0x0d;
  out[hex.length + 1] = 0x0a;
  return out;
}

/** The CRLF that ends a chunk's data. */
export function chunkEnd(): Uint8Array {
  return CRLF.slice();
}

/** The last chunk and the end of a chunked body (no trailers). */
export function lastChunk(): Uint8Array {
  return new Uint8Array([0x30, 0x0d, 0x0a, 0x0d, 0x0a]);
}

/** A short plain-text response for an error the front answers itself. */
export function errorResponse(status: number, message: string): Uint8Array {
  const body = new TextEncoder().encode(message + "\n");
  const head = responseHead(
    status,
    "",
    new Headers({ "content-type": "text/plain; charset=utf-8" }),
    { contentLength: body.length, chunked: false, close: true, keepAlive: false },
  );
  return encodeHead(head, [body], body.length);
}
