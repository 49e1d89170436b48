/**
 * Hono's WebSocket helper on hybi: an unchanged Hono app — routes,
 * middleware, `upgradeWebSocket((c) => ({ onOpen, onMessage, onClose,
 * onError }))` — served by hybi's `serve` on Deno, Bun and Node, its
 * WebSockets run by hybi's protocol core (its limits, permessage-deflate,
 * the close handshake) on the handler path.
 *
 * Two pieces: {@linkcode upgradeWebSocket}, which takes the place of the
 * one from `hono/deno`, `hono/bun` or `@hono/node-ws`, and
 * {@linkcode honoHandler}, which turns the app into the handler `serve`
 * takes. How they meet: `honoHandler` calls `app.fetch(request, env)` with
 * an `env` of its own for each request; `upgradeWebSocket` leaves the
 * {@linkcode WebSocketUpgrade} it built there (as Hono's Bun adapter calls
 * `c.env.upgrade`), and `honoHandler` answers with that upgrade instead of
 * the app's `Response`. A middleware that answers first (a 401) refuses
 * the upgrade with its answer; an error thrown on the way (Hono's
 * `c.error`) refuses it with the app's error response.
 *
 * Hono is the application's: `npm:hono@^4` (the core package does not
 * depend on it).
 *
 * @example A Hono app with a page and a WebSocket echo, on the Deno engine
 * ```ts
 * import { Hono } from "hono";
 * import { serve } from "@hybi/websocket/deno";
 * import { honoHandler, upgradeWebSocket } from "@hybi/websocket/hono";
 *
 * const app = new Hono();
 * app.get("/", (c) => c.text("home"));
 * app.get(
 *   "/ws",
 *   upgradeWebSocket(() => ({
 *     onMessage(event, ws) {
 *       ws.send(`echo: ${event.data}`);
 *     },
 *   })),
 * );
 *
 * const server = await serve({ port: 0 }, honoHandler(app));
 * const client = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
 * client.onopen = () => client.send("hello");
 * console.log(await new Promise((resolve) => client.onmessage = (e) => resolve(e.data))); // echo: hello
 * client.close();
 * await server.shutdown();
 * ```
 *
 * @module
 */
import type { Context } from "hono";
import { createWSMessageEvent, defineWebSocketHelper, type UpgradeWebSocket, WSContext, type WSEvents } from "hono/ws";
import { HandshakeError } from "./errors.ts";
import { WebSocketCloseEvent } from "./facade/close_event.ts";
import { hasToken, parseTokenList } from "./handshake.ts";
import type { NetAddr, ServeHandler, ServeHandlerInfo } from "./http/serve_types.ts";
import { upgradeRequired } from "./routing.ts";
import type { ServerWebSocket, WebSocketHandlers } from "./session/server_web_socket.ts";
import { WebSocketUpgrade, type WebSocketUpgradeOptions } from "./upgrade.ts";

export type { ServerWebSocket } from "./session/server_web_socket.ts";
export type { NetAddr } from "./http/serve_types.ts";

/**
 * Options of {@linkcode upgradeWebSocket}: the upgrade's limits, origin
 * policy and extensions (over the defaults given to
 * {@linkcode honoHandler}), and the subprotocol.
 */
export interface HonoWebSocketOptions extends WebSocketUpgradeOptions {
  /**
   * The subprotocol to speak, which the client must offer (else 400);
   * `null` for none. Default: the first one the client offers, as Hono's
   * Deno and Bun adapters choose.
   */
  protocol?: string | null;
}

/** Options of {@linkcode honoHandler}: the defaults of every `upgradeWebSocket` of the app. */
export interface HonoHandlerOptions extends WebSocketUpgradeOptions {}

/**
 * The `env` (`c.env`) `honoHandler` gives the app for each request; type
 * the app with it (`new Hono<{ Bindings: HybiBindings }>()`) to read it.
 */
export interface HybiBindings {
  /** The client's address. */
  readonly remoteAddr: NetAddr;
}

/** What `honoHandler` serves: a Hono app, or anything with Hono's `fetch(request, env)`. */
export interface HonoApp {
  /**
   * Answers a request, as `Hono.fetch`.
   *
   * @param request The request.
   * @param env The bindings, `c.env` in the app.
   */
  fetch(request: Request, env: HybiBindings): Response | Promise<Response>;
}

/** Where `upgradeWebSocket` leaves its upgrade for `honoHandler`, under {@linkcode kUpgradeSlot} in `c.env`. */
class UpgradeSlot {
  upgrade: WebSocketUpgrade<undefined> | null = null;
  context: Context | null = null;
  readonly defaults: HonoHandlerOptions;

  constructor(defaults: HonoHandlerOptions) {
    this.defaults = defaults;
  }
}

const kUpgradeSlot: unique symbol = Symbol("hybi.hono.upgrade");

/** The `env` of one request: the bindings, and the slot (not part of the public type). */
interface RequestEnv extends HybiBindings {
  readonly [kUpgradeSlot]: UpgradeSlot;
}

/** The `CloseEvent` class: the runtime's where it has one (not Node 24), else hybi's of the same shape. */
const CloseEventClass: typeof WebSocketCloseEvent = typeof CloseEvent === "function"
  ? CloseEvent as unknown as typeof WebSocketCloseEvent
  : WebSocketCloseEvent;

/** An `error` event carrying `error` and `message`, as the browser's `ErrorEvent` (absent on Node 24). */
function errorEvent(error: unknown): Event {
  const message = error instanceof Error ? error.message : String(error);
  if (typeof ErrorEvent === "function") return new ErrorEvent("error", { error, message });
  return Object.assign(new Event("error"), { error, message });
}

/** The bytes of a binary message as an `ArrayBuffer` of their own (a view may share a larger buffer). */
function arrayBufferOf(data: Uint8Array): ArrayBuffer {
  const buffer = data.buffer as ArrayBuffer;
  if (data.byteOffset === 0 && data.byteLength === buffer.byteLength) return buffer;
  return buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
}

/**
 * The hybi handlers of one Hono WebSocket: each hybi event becomes the
 * Hono event, with one `WSContext` for the connection (so `binaryType` set
 * in `onOpen` holds for its messages).
 */
class HonoEvents implements WebSocketHandlers<undefined> {
  readonly #events: WSEvents<ServerWebSocket<undefined>>;
  readonly #url: string;
  #context: WSContext<ServerWebSocket<undefined>> | null = null;
  /**
   * Present only when the app gave `onError`: without it a handler's error
   * goes where hybi's handlers' errors go (the route's or upgrade's
   * `onError`, else the server's, else `console.error`).
   */
  readonly error?: (ws: ServerWebSocket<undefined>, error: unknown) => void;

  constructor(events: WSEvents<ServerWebSocket<undefined>>, url: string) {
    this.#events = events;
    this.#url = url;
    const onError = events.onError;
    if (onError !== undefined) this.error = (ws, error) => onError(errorEvent(error), this.#contextOf(ws));
  }

  #contextOf(ws: ServerWebSocket<undefined>): WSContext<ServerWebSocket<undefined>> {
    return this.#context ??= new WSContext<ServerWebSocket<undefined>>({
      send: (source) => void ws.send(source),
      close: (code, reason) => ws.close(code, reason),
      raw: ws,
      get readyState() {
        return ws.readyState;
      },
      url: this.#url,
      protocol: ws.protocol,
    });
  }

  open(ws: ServerWebSocket<undefined>): void {
    const context = this.#contextOf(ws);
    this.#events.onOpen?.(new Event("open"), context);
  }

  message(ws: ServerWebSocket<undefined>, data: string | Uint8Array): void {
    const onMessage = this.#events.onMessage;
    if (onMessage === undefined) return;
    const context = this.#contextOf(ws);
    const received = typeof data === "string"
      ? data
      : context.binaryType === "blob"
      ? new Blob([data as Uint8Array<ArrayBuffer>])
      : arrayBufferOf(data);
    onMessage(createWSMessageEvent(received), context);
  }

  close(ws: ServerWebSocket<undefined>, code: number, reason: string): void {
    this.#events.onClose?.(
      new CloseEventClass("close", { code, reason, wasClean: code !== 1006 }) as CloseEvent,
      this.#contextOf(ws),
    );
  }
}

/**
 * Hono's `upgradeWebSocket` on hybi, for an app served by
 * {@linkcode honoHandler}: use it where the one from `hono/deno`,
 * `hono/bun` or `@hono/node-ws` was, nothing else changes. The events
 * behave as on Hono's other adapters: `onOpen`, `onMessage` (a
 * `MessageEvent` whose `data` is a `string` for text, an `ArrayBuffer`
 * for binary, or a `Blob` once `ws.binaryType = "blob"`), `onClose` (a
 * `CloseEvent` with `code`, `reason`, `wasClean`), `onError` (an event
 * with `error`); `ws` is Hono's `WSContext` with `send`, `close(code,
 * reason)`, `readyState`, `protocol`, `url`, and `raw`, the connection's
 * hybi {@linkcode ServerWebSocket} (for `subscribe`/`publish`,
 * `bufferedAmount`, `ping`).
 *
 * An event handler that throws (or rejects) closes the connection with
 * 1011 after `onError`; a peer that breaks the protocol gets its close code
 * and `onError` a `WebSocketError`. `ws.send`'s `compress` option is
 * ignored: permessage-deflate, when negotiated (the `extensions` option),
 * compresses every message.
 *
 * A request that is not an upgrade is answered `426 Upgrade Required`; an
 * invalid opening handshake `400` (`405` for a method other than GET, `403`
 * for an `Origin` the `origins` option refuses). Hono's adapters instead
 * pass a plain request on to the next handler; a route that also serves
 * plain requests keeps them on a route of its own.
 *
 * @param createEvents Makes the connection's events from the request's Hono context.
 * @param options The subprotocol, limits, origin policy and extensions (over `honoHandler`'s defaults).
 * @returns Hono middleware that upgrades the request.
 * @throws {TypeError} (to Hono's error handler, a 500) when the app is not
 *   served through {@linkcode honoHandler}.
 *
 * @example An echo that also counts, with a subprotocol and a size limit
 * ```ts
 * import { Hono } from "hono";
 * import { upgradeWebSocket } from "@hybi/websocket/hono";
 *
 * const app = new Hono();
 * app.get(
 *   "/ws",
 *   upgradeWebSocket((c) => {
 *     let count = 0;
 *     const user = c.req.query("user") ?? "anonymous";
 *     return {
 *       onOpen(_event, ws) {
 *         ws.send(`hello ${user}`);
 *       },
 *       onMessage(event, ws) {
 *         if (typeof event.data === "string") ws.send(`${++count}: ${event.data}`);
 *         else if (event.data instanceof ArrayBuffer) ws.send(event.data); // binary, as ArrayBuffer by default
 *       },
 *       onClose(event) {
 *         console.log("closed", event.code, event.reason);
 *       },
 *     };
 *   }, { protocol: "echo.v1", maxMessageSize: 1 << 20 }),
 * );
 * console.log(app.routes.length); // 1
 * ```
 */
export const upgradeWebSocket: UpgradeWebSocket<ServerWebSocket<undefined>, HonoWebSocketOptions> =
  defineWebSocketHelper<ServerWebSocket<undefined>, HonoWebSocketOptions>((c, events, options) => {
    const slot = (c.env as Partial<RequestEnv> | undefined)?.[kUpgradeSlot];
    if (slot === undefined) {
      throw new TypeError(
        "upgradeWebSocket from @hybi/websocket/hono needs the app served through honoHandler(app) " +
          "(serve(options, honoHandler(app)))",
      );
    }
    const request = c.req.raw;
    if (!hasToken(request.headers.get("upgrade"), "websocket")) return upgradeRequired();
    const { protocol, ...upgradeOptions } = { ...slot.defaults, ...options };
    const chosen = protocol !== undefined
      ? protocol
      : parseTokenList(request.headers.get("sec-websocket-protocol"))?.[0] ?? null;
    let upgrade: WebSocketUpgrade<undefined>;
    try {
      upgrade = new WebSocketUpgrade<undefined>(
        request,
        chosen,
        new HonoEvents(events, request.url),
        upgradeOptions,
      );
    } catch (error) {
      if (error instanceof HandshakeError) return error.response();
      throw error;
    }
    slot.upgrade?.extensions.forEach((extension) => extension.dispose());
    slot.upgrade = upgrade;
    slot.context = c;
    // What the app's middleware sees; `honoHandler` answers with the upgrade instead.
    return new Response(null);
  });

/**
 * Turns a Hono app into the handler an engine's `serve` takes (or a
 * {@linkcode router}'s fallback): each request goes to `app.fetch` with
 * `env` {@linkcode HybiBindings}; a request that `upgradeWebSocket`
 * accepted is answered with its `WebSocketUpgrade` (101, then the
 * connection runs on hybi), any other with the app's `Response`.
 *
 * `serve(options, app.fetch)` serves the app's plain routes too, but its
 * `upgradeWebSocket` routes answer 500: the upgrade has no way out of a
 * `Response`.
 *
 * @param app The Hono app (anything with `fetch(request, env)`).
 * @param options Defaults for every `upgradeWebSocket` of the app: limits,
 *   origin policy, extensions (`[new PerMessageDeflate()]` for compression).
 * @returns The handler for `serve`.
 *
 * @example Compression and an origin policy for every WebSocket of the app
 * ```ts
 * import { Hono } from "hono";
 * import { PerMessageDeflate } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/node";
 * import { honoHandler, upgradeWebSocket } from "@hybi/websocket/hono";
 *
 * const app = new Hono();
 * app.get("/ws", upgradeWebSocket(() => ({ onMessage: (event, ws) => ws.send(String(event.data)) })));
 * const server = await serve(
 *   { port: 0 },
 *   honoHandler(app, { extensions: [new PerMessageDeflate()], origins: "same-origin" }),
 * );
 * console.log(server.port > 0); // true
 * await server.shutdown();
 * ```
 */
export function honoHandler(app: HonoApp, options: HonoHandlerOptions = {}): ServeHandler {
  return async (request: Request, info: ServeHandlerInfo) => {
    const slot = new UpgradeSlot(options);
    const env: RequestEnv = { remoteAddr: info.remoteAddr, [kUpgradeSlot]: slot };
    const response = await app.fetch(request, env);
    const upgrade = slot.upgrade;
    if (upgrade === null) return response;
    // Something after `upgradeWebSocket` threw: the app's error response stands.
    if (slot.context?.error !== undefined) {
      upgrade.extensions.forEach((extension) => extension.dispose());
      return response;
    }
    return upgrade;
  };
}

/**
 * The client's address, in the shape of Hono's `ConnInfo` (`hono/conninfo`).
 */
export interface HybiConnInfo {
  /** The remote end. */
  readonly remote: {
    /** The IP address. */
    readonly address?: string;
    /** Whether `address` is IPv4 or IPv6. */
    readonly addressType?: "IPv4" | "IPv6";
    /** The port. */
    readonly port?: number;
    /** Always TCP. */
    readonly transport?: "tcp";
  };
}

/**
 * Hono's `getConnInfo` for an app served by {@linkcode honoHandler}: the
 * client's address, as `hono/deno`'s and `hono/bun`'s (empty when the app
 * is not served by `honoHandler`).
 *
 * @param c The request's Hono context (only its `env` is read).
 * @returns The client's address, port and transport.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { getConnInfo } from "@hybi/websocket/hono";
 *
 * const app = new Hono();
 * app.get("/ip", (c) => c.text(getConnInfo(c).remote.address ?? "unknown"));
 * console.log(app.routes[0].path); // /ip
 * ```
 */
export function getConnInfo(c: { readonly env: unknown }): HybiConnInfo {
  const addr = (c.env as Partial<HybiBindings> | undefined)?.remoteAddr;
  if (addr === undefined) return { remote: {} };
  const address = addr.hostname;
  return {
    remote: {
      address,
      addressType: address.includes(":") ? "IPv6" : "IPv4",
      port: addr.port,
      transport: "tcp",
    },
  };
}
