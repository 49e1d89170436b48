/**
 * The client's opening handshake request (RFC 6455 §4.1): a fresh random
 * key, the headers the protocol owns, the offers, and the application's own
 * headers, encoded as one HTTP/1.1 request head.
 *
 * @module
 */
import { isToken } from "../extensions/extension_header.ts";
import type { WebSocketTarget } from "./url.ts";

/** Headers the opening handshake owns: an application may not set them. */
const OWNED_HEADERS: ReadonlySet<string> = new Set([
  "host",
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
  "content-length",
  "transfer-encoding",
]);

/** What goes into an opening request besides the target. */
export interface OpeningRequestInit {
  /** Subprotocols to offer, in order of preference (tokens, no duplicates). */
  readonly protocols: readonly string[];
  /** The `Sec-WebSocket-Extensions` offer, or `null` for none. */
  readonly extensions: string | null;
  /** The `Origin` to send, or `null` for none. */
  readonly origin: string | null;
  /** The application's headers (none the protocol owns). */
  readonly headers: Headers;
}

/** An opening request, ready to write. */
export interface OpeningRequest {
  /** The head's bytes. */
  readonly bytes: Uint8Array;
  /** The `Sec-WebSocket-Key` sent (to check `Sec-WebSocket-Accept` against). */
  readonly key: string;
}

/**
 * Checks the connect options that shape the request, once per `connect`:
 * the subprotocols (tokens, no duplicates) and the application's headers
 * (valid, and none the protocol owns).
 *
 * @param protocols The subprotocols to offer.
 * @param headers The application's headers.
 * @param origin The `origin` option, when given.
 * @returns The headers as a `Headers`.
 * @throws {SyntaxError} When a subprotocol is not a token or offered twice.
 * @throws {TypeError} When a header is invalid or one the handshake owns.
 */
export function checkRequestOptions(
  protocols: readonly string[],
  headers: HeadersInit | undefined,
  origin: string | undefined,
): Headers {
  const seen = new Set<string>();
  for (const protocol of protocols) {
    if (!isToken(protocol)) throw new SyntaxError(`not a valid subprotocol name: "${protocol}"`);
    if (seen.has(protocol)) throw new SyntaxError(`the subprotocol "${protocol}" is offered twice`);
    seen.add(protocol);
  }
  const checked = new Headers(headers);
  for (const name of checked.keys()) {
    if (OWNED_HEADERS.has(name)) {
      throw new TypeError(`the ${name} header belongs to the WebSocket handshake and cannot be set`);
    }
    if (name === "origin" && origin !== undefined) {
      throw new TypeError("give the Origin either as the origin option or as a header, not both");
    }
  }
  return checked;
}

/** Headers that carry the application's credentials for the URL it connects to. */
const CREDENTIAL_HEADERS: readonly string[] = ["authorization", "proxy-authorization", "cookie"];

/**
 * The request init for a redirect to another origin: the same offers and
 * headers without the credentials (`Authorization`, `Proxy-Authorization`,
 * `Cookie`), which were meant for the origin the application named (as
 * `fetch` drops `Authorization` on a cross-origin redirect, and `ws` these).
 *
 * @param init The init of the request that was redirected.
 * @returns The same init when it carries no credentials, or a copy without them.
 */
export function withoutCredentials(init: OpeningRequestInit): OpeningRequestInit {
  if (!CREDENTIAL_HEADERS.some((name) => init.headers.has(name))) return init;
  const headers = new Headers(init.headers);
  for (const name of CREDENTIAL_HEADERS) headers.delete(name);
  return { ...init, headers };
}

/**
 * A random `Sec-WebSocket-Key`: base64 of 16 bytes from the platform's
 * CSPRNG (RFC 6455 §4.1, item 7).
 */
export function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let binary = "";
  for (let i = 0; i < 16; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

const encoder = new TextEncoder();

/**
 * Builds the request head for `target`.
 *
 * @param target Where to connect.
 * @param init Offers, origin and headers.
 * @returns The head and the key it carries.
 */
export function openingRequest(target: WebSocketTarget, init: OpeningRequestInit): OpeningRequest {
  const key = randomKey();
  let head = `GET ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (init.protocols.length > 0) head += `Sec-WebSocket-Protocol: ${init.protocols.join(", ")}\r\n`;
  if (init.extensions !== null) head += `Sec-WebSocket-Extensions: ${init.extensions}\r\n`;
  if (init.origin !== null) head += `Origin: ${init.origin}\r\n`;
  // `Headers` validated names and values (no CR or LF can get in).
  for (const [name, value] of init.headers) head += `${name}: ${value}\r\n`;
  head += "\r\n";
  return { bytes: encoder.encode(head), key };
}
