/**
 * Limits and timeouts of the HTTP/1.1 front, each with a safe default.
 *
 * @module
 */

/** Limits and timeouts of the HTTP/1.1 front; every one has a safe default. */
export interface HttpOptions {
  /** Largest request head (request line and headers), in bytes; more answers 431. Default 16 KiB. */
  maxHeadBytes?: number;
  /** Most header fields in a request head; more answers 431. Default 100. */
  maxHeaderCount?: number;
  /** Longest request line, in bytes; longer answers 414. Default 8 KiB. */
  maxRequestLineLength?: number;
  /** Largest request body, in bytes; a larger one answers 413. Default 16 MiB. */
  maxBodySize?: number;
  /**
   * Milliseconds a client has to send a whole request head once it started
   * (or, on a new connection, once it connected); then it gets 408 and is
   * closed. Default 10 000.
   */
  headTimeout?: number;
  /** Milliseconds an idle keep-alive connection is kept open between requests. Default 5000. */
  idleTimeout?: number;
  /**
   * Queued outgoing bytes per connection above which writes wait for the
   * peer (the socket's high-water mark). Default 1 MiB.
   */
  writeHighWaterMark?: number;
  /**
   * Most connections served at once: every accepted socket counts until it
   * closes, whether it carries HTTP requests or an upgraded WebSocket
   * session. A connection beyond it is answered `503 Service Unavailable`
   * at once (without reading its request) and closed. Default 10 000.
   */
  maxConnections?: number;
}

/** {@linkcode HttpOptions} with every default filled in. */
export type ResolvedHttpOptions = Required<HttpOptions>;

/** The defaults of {@linkcode HttpOptions}. */
export const HTTP_DEFAULTS: ResolvedHttpOptions = {
  maxHeadBytes: 16 * 1024,
  maxHeaderCount: 100,
  maxRequestLineLength: 8 * 1024,
  maxBodySize: 16 * 1024 * 1024,
  headTimeout: 10_000,
  idleTimeout: 5_000,
  writeHighWaterMark: 1024 * 1024,
  maxConnections: 10_000,
};

/** Fills in the defaults, and checks that each given limit is a positive number. */
export function resolveHttpOptions(options: HttpOptions): ResolvedHttpOptions {
  const out = { ...HTTP_DEFAULTS };
  for (const key of Object.keys(HTTP_DEFAULTS) as (keyof ResolvedHttpOptions)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0)) {
      throw new RangeError(`${key} must be a positive number, not ${String(value)}`);
    }
    out[key] = value;
  }
  return out;
}
