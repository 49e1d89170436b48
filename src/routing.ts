/**
 * Route helpers in the manner of Ktor's routing DSL: `webSocketRaw(path,
 * protocol, handler)` builds a route that upgrades matching requests and
 * runs `handler` on the RAW session; `route(path, handler)` a plain one;
 * `router(routes, fallback)` turns a list of routes into the handler an
 * engine's `serve` takes. (`webSocket(path, protocol, handler)`, on the
 * default session, comes with the default session.)
 *
 * Paths match exactly, segment by segment; a segment `:name` matches any
 * one non-empty segment and is passed, percent-decoded, in `params`.
 *
 * @module
 */
import { ErrorCode, HandshakeError } from "./errors.ts";
import { hasToken, parseTokenList } from "./handshake.ts";
import type { ServeHandler, ServeHandlerInfo } from "./http/serve_types.ts";
import type { RawWebSocketSession } from "./session/raw_session.ts";
import {
  type DefaultSessionOptions,
  type DefaultWebSocketSession,
  runDefaultSession,
} from "./session/default_session.ts";
import type { WebSocketHandlers } from "./session/server_web_socket.ts";
import { type SessionHandler, WebSocketUpgrade, type WebSocketUpgradeOptions } from "./upgrade.ts";

/** What a route's handler learns besides the request. */
export interface RouteContext {
  /** Values of the path's `:name` segments, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The connection the request came on. */
  readonly info: ServeHandlerInfo;
}

/** The handler of a plain route: the same as an engine handler, plus the route context. */
export type RouteHandler = (
  request: Request,
  context: RouteContext,
) => Response | WebSocketUpgrade | Promise<Response | WebSocketUpgrade>;

/**
 * What answers requests no route takes: a fetch-style app
 * (`(request) => Response | Promise<Response>`) fits as it is; it may also
 * answer with a `WebSocketUpgrade` (a Hono app through `honoHandler`, for
 * example).
 */
export type FallbackHandler = (
  request: Request,
  info: ServeHandlerInfo,
) => Response | WebSocketUpgrade | Promise<Response | WebSocketUpgrade>;

/** A route: a path pattern, which requests on it it takes, and its handler. */
export interface Route {
  /** The path pattern, such as `/rooms/:room`. */
  readonly path: string;
  /** Whether this is a WebSocket route (a plain request on its path is answered 426). */
  readonly webSocket: boolean;
  /** The path's parameters when `path` (as sent, percent-encoded) matches the pattern, else `null`. */
  match(path: string): Readonly<Record<string, string>> | null;
  /** Whether the route takes this request, whose path matched. */
  accepts(request: Request): boolean;
  /** Answers a request the route takes. */
  handle: RouteHandler;
}

/** What a WebSocket route's handler learns besides the session. */
export interface WebSocketRouteContext<T = unknown> extends RouteContext {
  /** The opening handshake request. */
  readonly request: Request;
  /** What `verify` returned (the authenticated user, for example), or `undefined`. */
  readonly data: T;
}

/** The handler of a {@linkcode webSocketRaw} route: it runs the RAW session; its return ends the session. */
export type RawRouteHandler<T = unknown> = (
  session: RawWebSocketSession,
  context: WebSocketRouteContext<T>,
) => Promise<void> | void;

/**
 * A route's check of an upgrade request before any WebSocket byte is sent:
 * a `Response` refuses the upgrade with it; anything else accepts it and
 * becomes the connection's `data` (`ws.data`, `session.data`,
 * `context.data`), so the handler gets the authenticated user without
 * parsing the request again.
 */
export type RouteVerifier<T = unknown> = (
  request: Request,
  context: RouteContext,
) => Response | T | Promise<Response | T>;

/** Options of a WebSocket route: the upgrade's limits and origin policy, plus the `verify` hook. */
export interface WebSocketRouteOptions<T = unknown> extends WebSocketUpgradeOptions {
  /**
   * Runs once the handshake is valid and the `Origin` allowed, before the
   * 101 response, with the path's parameters: returning a `Response`
   * (401, 404 …) refuses the upgrade with it; any other value accepts it
   * and becomes the connection's `data`. Default: accept.
   */
  verify?: RouteVerifier<T>;
}

/** Options of a {@linkcode webSocket} route: the route's and the default session's. */
export interface DefaultWebSocketRouteOptions<T = unknown> extends WebSocketRouteOptions<T>, DefaultSessionOptions {}

/** Options of a {@linkcode webSocket} route on handlers: the route's, and the subprotocol to speak. */
export interface WebSocketHandlersRouteOptions<T = undefined> extends WebSocketRouteOptions<T> {
  /** The subprotocol to speak, which the client must offer; default `null` (none). */
  protocol?: string | null;
}

/** The handler of a {@linkcode webSocket} route: it runs the default session; its return closes it with 1000. */
export type DefaultRouteHandler<T = unknown> = (
  session: DefaultWebSocketSession<T>,
  context: WebSocketRouteContext<T>,
) => Promise<void> | void;

/** One compiled segment: a literal, or a parameter name. */
interface Segment {
  literal: string | null;
  param: string | null;
}

function compile(path: string): Segment[] {
  if (path.charCodeAt(0) !== 0x2f) throw new TypeError(`a route path must start with "/": ${path}`);
  return path.slice(1).split("/").map((s) =>
    s.charCodeAt(0) === 0x3a && s.length > 1 ? { literal: null, param: s.slice(1) } : { literal: s, param: null }
  );
}

function decode(segment: string): string {
  if (segment.indexOf("%") < 0) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** Matches `path` against compiled segments; the parameters, or `null`. */
function match(segments: readonly Segment[], path: string): Readonly<Record<string, string>> | null {
  let params: Record<string, string> | null = null;
  let start = 1;
  for (let i = 0; i < segments.length; i++) {
    if (start > path.length) return null;
    let end = path.indexOf("/", start);
    if (end < 0) end = path.length;
    const last = i === segments.length - 1;
    if (last !== (end === path.length)) return null;
    const segment = segments[i];
    if (segment.literal !== null) {
      if (end - start !== segment.literal.length || !path.startsWith(segment.literal, start)) return null;
    } else {
      if (end === start) return null;
      params ??= {};
      params[segment.param!] = decode(path.slice(start, end));
    }
    start = end + 1;
  }
  return params ?? NO_PARAMS;
}

/** The path of an absolute URL string, scanned without parsing the whole URL. */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  let end = start;
  while (end < url.length) {
    const c = url.charCodeAt(end);
    if (c === 0x3f || c === 0x23) break; // ? #
    end++;
  }
  return url.slice(start, end);
}

function isUpgradeRequest(request: Request): boolean {
  return hasToken(request.headers.get("upgrade"), "websocket");
}

/**
 * A plain route: requests whose path matches `path` (any method) go to
 * `handler`, which may also return a `WebSocketUpgrade` itself.
 *
 * @param path The path pattern, such as `/` or `/rooms/:room`.
 * @param handler Answers the request.
 * @returns The route, for {@linkcode router}.
 *
 * @example
 * ```ts
 * import { route, router } from "@hybi/websocket";
 * const handle = router([route("/hello/:name", (_req, { params }) => new Response(`hello ${params.name}`))]);
 * const info = { remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" as const } };
 * const res = await handle(new Request("http://x/hello/w%C3%B6rld"), info) as Response;
 * console.log(await res.text()); // hello wörld
 * ```
 */
export function route(path: string, handler: RouteHandler): Route {
  const segments = compile(path);
  return {
    path,
    webSocket: false,
    match: (p) => match(segments, p),
    accepts: () => true,
    handle: handler,
  };
}

/**
 * The WebSocket route builder behind `webSocketRaw` and `webSocket`: `run`
 * makes what runs each accepted upgrade on `path` (a RAW session handler,
 * or the handlers object) from its route context.
 */
function upgradeRoute<T>(
  path: string,
  protocol: string | null,
  run: (context: WebSocketRouteContext<T>) => SessionHandler<T>,
  options: WebSocketRouteOptions<T>,
): Route {
  const segments = compile(path);
  const { verify, ...upgradeOptions } = options;
  if (protocol !== null && upgradeOptions.handleProtocols !== undefined) {
    throw new TypeError(`the route ${path} has both a subprotocol and handleProtocols; pass one`);
  }
  return {
    path,
    webSocket: true,
    match: (p) => match(segments, p),
    accepts(request) {
      if (!isUpgradeRequest(request)) return false;
      if (protocol === null) return true;
      return parseTokenList(request.headers.get("sec-websocket-protocol"))?.includes(protocol) ?? false;
    },
    handle(request, context) {
      if (verify === undefined) {
        const routeContext = { params: context.params, info: context.info, request, data: undefined as T };
        return new WebSocketUpgrade<T>(request, protocol, run(routeContext), upgradeOptions);
      }
      // The route context carries `verify`'s result: it is made once that is known.
      const routeContext = { params: context.params, info: context.info, request, data: undefined as T };
      return WebSocketUpgrade.accept<T>(request, protocol, run(routeContext), {
        ...upgradeOptions,
        verify: async (r) => {
          const verdict = await verify(r, context);
          if (!(verdict instanceof Response)) routeContext.data = verdict;
          return verdict;
        },
      });
    },
  };
}

/**
 * A WebSocket route on `path`, in one of two shapes.
 *
 * **Handlers** (`webSocket(path, handlers, options)`), the fast path: an
 * object of `open`, `message`, `drain`, `close`, `ping`, `pong`, `error`
 * handlers, as `Bun.serve`'s `websocket`; `message(ws, data)` is called
 * synchronously from the read that completed the message, and sends return
 * at once (see {@linkcode ServerWebSocket}). `options.protocol` is the
 * subprotocol to speak; `options.verify` may return the connection's `data`.
 *
 * **A session function** (`webSocket(path, protocol, handler, options)`), as
 * Ktor's `webSocket(path, protocol) { }`: `handler` runs on a
 * {@linkcode DefaultWebSocketSession} read with `for await`. When it
 * returns the session closes with 1000; when it throws, with 1011.
 *
 * Either way pings are answered, fragments reassembled, UTF-8 validated and
 * the close handshake run for you, by the same protocol core.
 *
 * @example Handlers
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * const handle = router([
 *   webSocket("/echo", {
 *     message(ws, data) {
 *       ws.send(data);
 *     },
 *     close(_ws, code, reason) {
 *       console.log("closed", code, reason);
 *     },
 *   }, { origins: "same-origin", pingInterval: 30_000 }),
 * ]);
 * console.log(typeof handle); // function
 * ```
 *
 * @example A session read with `for await`
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * const handle = router([
 *   webSocket("/rooms/:room", null, async (session, { params }) => {
 *     await session.sendText(`welcome to ${params.room}`);
 *     for await (const message of session.messages()) {
 *       if (typeof message === "string") await session.sendText(message);
 *     }
 *   }, { origins: "same-origin", pingInterval: 30_000 }),
 * ]);
 * console.log(typeof handle); // function
 * ```
 */
export function webSocket<T = undefined>(
  path: string,
  handlers: WebSocketHandlers<T>,
  options?: WebSocketHandlersRouteOptions<T>,
): Route;
/**
 * A WebSocket route on the default session (see the other signature).
 *
 * @param path The path pattern, such as `/ws` or `/rooms/:room`.
 * @param protocol The subprotocol to speak, or `null` for none.
 * @param handler Runs the session.
 * @param options Upgrade and session limits, ping interval, the origin policy and `verify`.
 * @returns The route, for {@linkcode router}.
 */
export function webSocket<T = unknown>(
  path: string,
  protocol: string | null,
  handler: DefaultRouteHandler<T>,
  options?: DefaultWebSocketRouteOptions<T>,
): Route;
/**
 * The implementation of both signatures.
 *
 * @param path The path pattern.
 * @param second Handlers, or the subprotocol.
 * @param third Options of a handlers route, or the session function.
 * @param fourth Options of a session route.
 * @returns The route.
 */
export function webSocket<T>(
  path: string,
  second: WebSocketHandlers<T> | string | null,
  third?: WebSocketHandlersRouteOptions<T> | DefaultRouteHandler<T>,
  fourth: DefaultWebSocketRouteOptions<T> = {},
): Route {
  if (second !== null && typeof second === "object") {
    const options = (third ?? {}) as WebSocketHandlersRouteOptions<T>;
    const { protocol = null, ...rest } = options;
    return upgradeRoute<T>(path, protocol, () => second, rest);
  }
  const handler = third as DefaultRouteHandler<T>;
  const sessionOptions: DefaultSessionOptions = {
    pingInterval: fourth.pingInterval,
    timeout: fourth.timeout,
    maxMessageSize: fourth.maxMessageSize,
    publishOverflow: fourth.publishOverflow,
  };
  return upgradeRoute<T>(
    path,
    second,
    (context) => (raw: RawWebSocketSession) =>
      runDefaultSession<T>(raw, (session) => handler(session, context), sessionOptions),
    fourth,
  );
}

/**
 * A WebSocket route on the RAW session, as Ktor's `webSocketRaw(path,
 * protocol) { }`: an upgrade request on `path` (offering `protocol`, when
 * not `null`) is answered `101` and `handler` runs on the RAW session
 * (frames as they come: no automatic pong, no reassembly, no close
 * handshake of its own). Most applications want {@linkcode webSocket}.
 *
 * @param path The path pattern, such as `/ws` or `/rooms/:room`.
 * @param protocol The subprotocol to speak, or `null` for none.
 * @param handler Runs the session; the session ends when it returns.
 * @param options Upgrade limits and the origin policy.
 * @returns The route, for {@linkcode router}.
 *
 * @example
 * ```ts
 * import { Frame, router, webSocketRaw } from "@hybi/websocket";
 * const handle = router([
 *   webSocketRaw("/echo", null, async (session) => {
 *     for await (const frame of session.incoming) {
 *       if (frame instanceof Frame.Ping) await session.send(new Frame.Pong(frame.data));
 *       else if (frame instanceof Frame.Close) return void await session.close(frame.readReason() ?? undefined);
 *       else await session.send(frame);
 *     }
 *   }, { origins: "same-origin" }),
 * ]);
 * const info = { remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" as const } };
 * const plain = await handle(new Request("http://x/echo"), info) as Response;
 * console.log(plain.status); // 426
 * ```
 */
export function webSocketRaw<T = unknown>(
  path: string,
  protocol: string | null,
  handler: RawRouteHandler<T>,
  options: WebSocketRouteOptions<T> = {},
): Route {
  return upgradeRoute<T>(
    path,
    protocol,
    (context) => (session: RawWebSocketSession) => handler(session, context),
    options,
  );
}

function notFound(): Response {
  return new Response("not found\n", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
}

/** The answer to a plain request on a WebSocket-only path: 426 Upgrade Required. */
export function upgradeRequired(): Response {
  return new Response("this path speaks WebSocket only\n", {
    status: 426,
    headers: { "content-type": "text/plain; charset=utf-8", upgrade: "websocket", connection: "Upgrade" },
  });
}

/**
 * Turns routes into the handler `serve` takes. Routes are tried in order;
 * the first whose path matches and that takes the request answers it. A
 * request on a WebSocket route's path that no route takes gets 426 Upgrade
 * Required when it is not an upgrade, and 400 when it is one that offers
 * none of the path's subprotocols. Any other request goes to `fallback`
 * (default: 404), which may be a whole fetch-style app: WebSocket routes
 * in front of an existing HTTP application.
 *
 * @param routes The routes, tried in order.
 * @param fallback Answers requests no route takes: a fetch-style app
 *   `(request) => Response | Promise<Response>` (its `info` argument, the
 *   connection, is optional).
 * @returns A handler for an engine's `serve`.
 *
 * @example
 * ```ts
 * import { route, router } from "@hybi/websocket";
 * const handle = router([route("/", () => new Response("home"))], () => new Response("elsewhere", { status: 404 }));
 * const info = { remoteAddr: { hostname: "127.0.0.1", port: 1, transport: "tcp" as const } };
 * console.log((await handle(new Request("http://x/nope"), info) as Response).status); // 404
 * ```
 *
 * @example WebSocket routes in front of a fetch-style app
 * ```ts
 * import { router, webSocket } from "@hybi/websocket";
 * import { serve } from "@hybi/websocket/deno";
 *
 * // Any `(request) => Response` app: a framework's `fetch`, or your own.
 * const app = (request: Request): Response =>
 *   new URL(request.url).pathname === "/" ? new Response("home") : new Response("not here", { status: 404 });
 *
 * const server = await serve(
 *   { port: 0 },
 *   router([webSocket("/ws", { message: (ws, data) => void ws.send(data) })], app),
 * );
 * console.log(await (await fetch(`http://127.0.0.1:${server.port}/`)).text()); // home
 * await server.shutdown();
 * ```
 */
export function router(routes: readonly Route[], fallback: FallbackHandler = notFound): ServeHandler {
  const list = [...routes];
  return (request, info) => {
    const path = pathOf(request.url);
    let onWebSocketPath = false;
    for (const route of list) {
      const params = route.match(path);
      if (params === null) continue;
      if (!route.accepts(request)) {
        if (route.webSocket) onWebSocketPath = true;
        continue;
      }
      return route.handle(request, { params, info });
    }
    if (onWebSocketPath) {
      if (!isUpgradeRequest(request)) return upgradeRequired();
      return new HandshakeError(ErrorCode.BadHandshake, 400, "the client offered none of this path's subprotocols")
        .response();
    }
    return fallback(request, info);
  };
}
