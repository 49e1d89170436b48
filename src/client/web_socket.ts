/**
 * The browser's `WebSocket` over hybi's client: the WHATWG constructor
 * (`new WebSocket(url, protocols)`) with `connect`'s options as a third
 * argument, on the same facade as the server's `upgradeWebSocket`
 * ({@linkcode SessionWebSocket}: events, `send`, `close`, `binaryType`).
 *
 * @module
 */
import { kOpening, SessionWebSocket } from "../facade/session_web_socket.ts";
import type { DefaultWebSocketSession } from "../session/default_session.ts";
import type { ConnectOptions } from "./connect.ts";
import { checkRequestOptions } from "./opening_request.ts";
import { connect } from "./runtime_connect.ts";
import { parseWebSocketUrl } from "./url.ts";

/**
 * Options of {@linkcode HybiWebSocket}, beyond the browser's: request
 * `headers`, `origin`, TLS (`caCerts`, `serverName`), permessage-deflate
 * (`extensions`, offered by default), `handshakeTimeout`, `redirects`,
 * limits, and a `signal` that aborts the connect (or closes with 1001 once
 * open). The subprotocols are the constructor's second argument.
 *
 * @example
 * ```ts
 * import type { WebSocketOptions } from "@hybi/websocket/client";
 * const options: WebSocketOptions = { headers: { authorization: "Bearer t0ken" }, handshakeTimeout: 5000 };
 * console.log(options.handshakeTimeout); // 5000
 * ```
 */
export type WebSocketOptions = Omit<ConnectOptions, "protocols" | "raw" | "handlers">;

/**
 * Which `connect` a {@linkcode HybiWebSocket} dials with: the runtime's
 * engine's, or the one engine's for the `WebSocket` each engine exports.
 */
export const kConnect: unique symbol = Symbol("hybi.connect");

/**
 * The browser's `WebSocket` on hybi's client, for code written for the
 * browser to run on Deno, Bun and Node alike: `url`, `protocol`,
 * `extensions`, `readyState`, `binaryType` (`"blob"` by default, or
 * `"arraybuffer"`), `bufferedAmount`, `send`, `close` (with the browser's
 * checks), and the `open`, `message`, `error` and `close` events (also as
 * `onopen` …). A connection that fails fires `error` then `close` with 1006,
 * as in browsers. `@hybi/websocket/client` exports it as `WebSocket` too.
 *
 * @example
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * import { WebSocket } from "@hybi/websocket/client";
 * import { serve } from "@hybi/websocket/deno";
 *
 * const server = await serve({ port: 0 }, router([webSocket("/echo", { message: (ws, data) => void ws.send(data) })]));
 * const socket = new WebSocket(`ws://127.0.0.1:${server.port}/echo`, [], { headers: { "x-token": "t0ken" } });
 * socket.binaryType = "arraybuffer";
 * socket.onopen = () => socket.send("hello");
 * socket.onmessage = (event) => {
 *   console.log(event.data); // hello
 *   socket.close(1000, "done");
 * };
 * await new Promise((resolve) => socket.addEventListener("close", resolve));
 * await server.shutdown();
 * ```
 */
export class HybiWebSocket extends SessionWebSocket {
  /**
   * Connects at once, as browsers do: the socket is CONNECTING until `open`
   * (or `error` and `close`).
   *
   * @param url A `ws:` or `wss:` URL (`http:` and `https:` are taken as `ws:` and `wss:`, as in browsers).
   * @param protocols The subprotocols to offer, in order of preference.
   * @param options What a browser does not let you set (headers, TLS, limits …).
   * @throws {DOMException} `SyntaxError` when the URL is not a WebSocket URL, or a subprotocol is not a token or is offered twice.
   * @throws {TypeError} When a header is invalid or one the handshake owns.
   */
  constructor(url: string | URL, protocols: string | readonly string[] = [], options: WebSocketOptions = {}) {
    super(webSocketUrl(url));
    const offered = typeof protocols === "string" ? [protocols] : protocols;
    try {
      checkRequestOptions(offered, options.headers, options.origin);
    } catch (error) {
      if (error instanceof SyntaxError) throw new DOMException(error.message, "SyntaxError");
      throw error;
    }
    const connecting = new AbortController();
    const signal = options.signal === undefined
      ? connecting.signal
      : AbortSignal.any([options.signal, connecting.signal]);
    this[kOpening](this[kConnect](this.url, { ...options, protocols: offered, signal }), connecting);
  }

  /**
   * Connects as the default session; the runtime's engine's `connect` here,
   * the engine's own in the `WebSocket` an engine exports.
   *
   * @param url The normalized URL.
   * @param options The connect options.
   * @returns The default session, once the handshake succeeded.
   */
  [kConnect](url: string, options: ConnectOptions): Promise<DefaultWebSocketSession> {
    return connect(url, options);
  }
}

/** The URL as browsers take it: `http:` / `https:` become `ws:` / `wss:`; anything else invalid is a `SyntaxError`. */
function webSocketUrl(input: string | URL): string {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new DOMException(`not a valid URL: ${String(input)}`, "SyntaxError");
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  try {
    return parseWebSocketUrl(url).url.href;
  } catch (error) {
    throw new DOMException(error instanceof Error ? error.message : String(error), "SyntaxError");
  }
}
