/**
 * The client's target: a `ws://` or `wss://` URL taken apart into what the
 * dial needs (host, port, TLS) and what the request needs (`Host`, the
 * request target). The URL is parsed by the platform's WHATWG `URL`.
 *
 * @module
 */

/** Where a client connects, from its URL. */
export interface WebSocketTarget {
  /** The URL, normalized (`ws:` or `wss:`, no fragment). */
  readonly url: URL;
  /** Whether the connection uses TLS (`wss:`). */
  readonly secure: boolean;
  /** The host to dial: a name, an IPv4 literal, or an IPv6 literal without brackets. */
  readonly hostname: string;
  /** The port to dial: the URL's, or 80 (`ws:`) / 443 (`wss:`). */
  readonly port: number;
  /** The `Host` header: the host as the URL writes it, with the port unless it is the default. */
  readonly host: string;
  /** The request target: the path and the query (`/` at least). */
  readonly path: string;
}

/**
 * Takes a client URL apart. Only `ws:` and `wss:` are accepted (an `http:`
 * or `https:` URL is refused with a hint), and no fragment (RFC 6455 §3).
 *
 * @param input The URL.
 * @param base Resolves a relative `input` (a redirect's `Location`).
 * @returns The target.
 * @throws {SyntaxError} When the URL is not a valid `ws:` or `wss:` URL.
 */
export function parseWebSocketUrl(input: string | URL, base?: URL): WebSocketTarget {
  let url: URL;
  try {
    url = new URL(input, base);
  } catch {
    throw new SyntaxError(`not a valid URL: ${String(input)}`);
  }
  const scheme = url.protocol;
  if (scheme === "http:" || scheme === "https:") {
    throw new SyntaxError(
      `a WebSocket URL starts with ws:// or wss://, not ${scheme}// (use ${scheme === "https:" ? "wss" : "ws"}://)`,
    );
  }
  if (scheme !== "ws:" && scheme !== "wss:") {
    throw new SyntaxError(`a WebSocket URL starts with ws:// or wss://, not ${scheme}`);
  }
  // A fragment means nothing to a WebSocket server and may not be sent (RFC 6455 §3).
  if (url.hash !== "" || url.href.endsWith("#")) {
    throw new SyntaxError(`a WebSocket URL has no fragment: ${String(input)}`);
  }
  if (url.hostname === "") throw new SyntaxError(`a WebSocket URL needs a host: ${String(input)}`);
  const secure = scheme === "wss:";
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  let hostname = url.hostname;
  // `URL` keeps the brackets of an IPv6 literal; the dial takes the bare address.
  if (hostname.charCodeAt(0) === 0x5b) hostname = hostname.slice(1, -1);
  return {
    url,
    secure,
    hostname,
    port,
    // `URL.host` leaves out a default port already.
    host: url.host,
    path: (url.pathname === "" ? "/" : url.pathname) + url.search,
  };
}
