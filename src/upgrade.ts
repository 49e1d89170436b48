import type { ClientSet } from "./clients.ts";
import type { WebSocketConverter } from "./converter.ts";
import { ErrorCode, HandshakeError, reportHandlerError, WebSocketError } from "./errors.ts";
import type { WebSocketExtension, WebSocketExtensionFactory } from "./extensions/extension.ts";
import { negotiateExtensions } from "./extensions/negotiation.ts";
import { computeAccept, validateHandshake } from "./handshake.ts";
import { Job, kJobClient, kJoin } from "./job.ts";
import { originAllowed, type OriginPolicy } from "./origin.ts";
import type { Connection } from "./session/connection.ts";
import { DEFAULT_IDLE_TIMEOUT } from "./session/idle_sweeper.ts";
import type { MessageOptions } from "./session/message_core.ts";
import { createRawSession, type RawWebSocketSession } from "./session/raw_session.ts";
import type { WebSocketHandlers } from "./session/server_web_socket.ts";
import { openConnection, startHandlers } from "./session/start_session.ts";
import { processTopics, type Topics } from "./topics.ts";
import { type NetAddr, StreamTransport, TRANSPORT, type Transport } from "./transport.ts";

/**
 * The engine's or the application's context for one upgrade, in place of
 * Ktor's coroutine contexts: aborting either signal ends the session's job.
 */
export interface UpgradeContext {
  /** Aborting it drops the connection and ends the job. */
  readonly signal?: AbortSignal;
  /** The peer's address, when the engine knows it (for `ServerWebSocket.remoteAddress`). */
  readonly remoteAddr?: NetAddr;
  /** The topics the connection can subscribe to: the server's (default: one set of topics per process). */
  readonly topics?: Topics;
  /** The set of open connections the session joins until it is finished (the server's `clients`). */
  readonly clients?: ClientSet;
  /**
   * Receives the session handler's errors when the upgrade's options set no
   * `onError` (the server's `onError`). Default: `console.error`.
   */
  readonly onError?: (error: unknown) => void;
}

/**
 * Chooses the subprotocol from those the client offered, in its order (see
 * {@linkcode WebSocketUpgradeOptions.handleProtocols}).
 */
export type ProtocolChooser = (offered: readonly string[], request: Request) => string | null | undefined;

/** Limits and hooks of a {@linkcode WebSocketUpgrade}. */
export interface WebSocketUpgradeOptions extends MessageOptions {
  /** Largest incoming frame payload, in bytes; a longer frame closes with 1009. Default 64 MiB. */
  maxFrameSize?: number;
  /** Queued outgoing bytes above which `send` waits for the peer. Default 1 MiB. */
  writeHighWaterMark?: number;
  /**
   * Queued outgoing bytes beyond which the connection fails instead of
   * queueing more: a `send` that finds more than this already queued for a
   * peer that does not read rejects with a `WebSocketError` whose code is
   * `ErrorCode.SendQueueFull`, and the session closes with 1008. An
   * application that awaits every `send` never gets there (it waits at
   * `writeHighWaterMark`); one that sends without waiting (a broadcast)
   * would otherwise queue without bound. `Infinity` turns the limit off, so
   * `send` only waits — which bounds memory only when every `send` is
   * awaited. Default 16 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * Milliseconds to wait for the peer's close frame after ours, and for the
   * peer to close the transport once our side is done, before dropping the
   * connection. Default 5000.
   */
  closeTimeout?: number;
  /**
   * Milliseconds without a byte from the peer (no message, no pong, not a
   * part of a frame) after which the connection is dropped, as
   * uWebSockets' and Bun's `idleTimeout`: no close frame, the `close`
   * handler gets 1006 "idle timeout", a session's `closeReason` is `null`.
   * Resolution: an eighth of it (a connection goes after between
   * `idleTimeout` and 1.125 × `idleTimeout` of silence). A peer the server
   * itself stopped reading (`pause()`, a session loop behind) is never
   * dropped for it. Default 120000 (2 min); 0 turns it off.
   *
   * @example
   * ```ts
   * import { webSocket } from "@hybi/websocket";
   * // Dead peers go within 30 to 34 s; live ones are pinged after about 23 s of silence and answer.
   * const route = webSocket("/live", { message: (ws, data) => void ws.send(data) }, { idleTimeout: 30_000 });
   * console.log(typeof route.handle); // function
   * ```
   */
  idleTimeout?: number;
  /**
   * Whether a peer quiet for three quarters of `idleTimeout` is pinged, so
   * that one that is alive answers with a pong and stays (browsers answer
   * pings by themselves). Not on a RAW session, which would see the pong.
   * Default true, as Bun's `sendPings`; false drops quiet peers too.
   */
  pingWhenIdle?: boolean;
  /**
   * Turns values into messages and back for `sendSerialized`, the
   * `deserialized` handler and a default session's `deserialized()` /
   * `receiveDeserialized()` (see {@linkcode WebSocketConverter}). Default
   * `jsonConverter`.
   */
  converter?: WebSocketConverter;
  /**
   * Receives errors thrown by the handler (other than those that only
   * report the connection's own end). Default: the server's `onError`
   * (`serve({ onError })`, `attach(server, handler, { onError })`), else
   * `console.error`.
   */
  onError?: (error: unknown) => void;
  /**
   * Chooses the subprotocol to speak from those the client offered, as
   * `ws`'s `handleProtocols`: called during the handshake (after the
   * request is validated and its `Origin` allowed, before `verify`) with the
   * `Sec-WebSocket-Protocol` values in the client's order, and only when
   * the client offered at least one. Return one of them to speak it, or
   * `null` / `undefined` to answer without a subprotocol (the handshake
   * still succeeds; a client that requires one then fails on its side).
   *
   * Returning a value the client did not offer is a bug in the server (RFC
   * 6455 §4.2.2 lets the server pick only from the offer): the upgrade
   * throws a `TypeError`, so the client gets 500 and the error goes to
   * `onError`, rather than a handshake the client must reject. So does an
   * exception thrown here. Synchronous, as the handshake's answer is built
   * at once; do asynchronous checks in `verify`, which runs next. Not with
   * a fixed `protocol` (that is a `TypeError` too).
   *
   * @example Speak the newest version of our protocol the client knows
   * ```ts
   * import { router, webSocket } from "@hybi/websocket";
   * const handle = router([
   *   webSocket("/ws", { message(ws, data) { ws.send(data); } }, {
   *     handleProtocols: (offered) => ["chat.v2", "chat.v1"].find((p) => offered.includes(p)),
   *   }),
   * ]);
   * console.log(typeof handle); // function
   * ```
   */
  handleProtocols?: ProtocolChooser;
  /**
   * Extensions the server offers to negotiate, in its order of preference,
   * for example `[new PerMessageDeflate()]`. Each is negotiated during the
   * handshake from the client's `Sec-WebSocket-Extensions` offers; the
   * accepted ones answer in `headers`, claim their RSV bits, and appear in
   * the session's `extensions`. Default none.
   */
  extensions?: readonly WebSocketExtensionFactory[];
  /**
   * Which `Origin`s may connect (see {@linkcode OriginPolicy}); a refused
   * request throws a `HandshakeError` whose response is 403 Forbidden.
   * Default `"any"`: set it whenever the session trusts the browser's
   * cookies or other ambient credentials (cross-site WebSocket hijacking).
   */
  origins?: OriginPolicy;
}

/**
 * Decides, before any WebSocket byte is sent, whether an upgrade request is
 * refused: a `Response` (401, 403, 404, 429 …) refuses it with that
 * response; anything else accepts it and becomes the connection's `data`
 * (the authenticated user, for example; `undefined` when nothing is returned).
 */
export type UpgradeVerifier<T = unknown> = (request: Request) => Response | T | Promise<Response | T>;

/** Options of {@linkcode WebSocketUpgrade.accept}: the upgrade's, plus the `verify` hook. */
export interface WebSocketAcceptOptions<T = unknown> extends WebSocketUpgradeOptions {
  /**
   * Runs after the handshake is validated and the origin allowed, before the
   * 101 response: returning a `Response` refuses the upgrade with it (an
   * exception becomes 500); any other value accepts it and becomes the
   * connection's `data`. Default: accept.
   */
  verify?: UpgradeVerifier<T>;
}

/** A handler of a RAW session; its return ends the session. */
export type RawSessionHandler = (session: RawWebSocketSession) => Promise<void> | void;

/**
 * What runs a session: a function on the RAW session (which may build the
 * default session on it), or an object of handlers (the handler path, see
 * {@linkcode WebSocketHandlers}).
 */
export type SessionHandler<T = unknown> = RawSessionHandler | WebSocketHandlers<T>;

/**
 * The subprotocol `choose` picks from the client's offer, or `null`.
 *
 * @throws {TypeError} When it picks one the client did not offer.
 */
function chooseProtocol(choose: ProtocolChooser, offered: readonly string[], request: Request): string | null {
  if (offered.length === 0) return null;
  const chosen = choose(offered, request) ?? null;
  if (chosen !== null && !offered.includes(chosen)) {
    throw new TypeError(
      `handleProtocols chose "${String(chosen)}", which the client did not offer (it offered ${
        offered.map((p) => `"${p}"`).join(", ")
      })`,
    );
  }
  return chosen;
}

/**
 * An aborted context closes with 1001 Going Away and waits, up to the close
 * timeout, for the peer's answer (`job.cancel()` drops at once). Called once
 * the connection has its handler: an aborted signal closes at once.
 */
function closeOnAbort(connection: Connection, engineContext: UpgradeContext, userContext: UpgradeContext): void {
  if (engineContext.signal !== undefined) connection.closeOnAbort(engineContext.signal);
  if (userContext.signal !== undefined) connection.closeOnAbort(userContext.signal);
}

/**
 * The answer to a WebSocket opening handshake, as Ktor's `WebSocketUpgrade`:
 * a `101 Switching Protocols` response (`status`, `headers`) whose
 * `upgrade()` the engine calls with the connection's byte streams once it
 * has written that response. `upgrade()` runs `handle` on a RAW session.
 *
 * Building one validates the request (RFC 6455 §4.2.1) and computes
 * `Sec-WebSocket-Accept` synchronously; an invalid request throws a
 * {@linkcode HandshakeError} whose `response()` is the answer to send.
 *
 * @example
 * ```ts
 * import { WebSocketUpgrade } from "@hybi/websocket";
 * const upgrade = new WebSocketUpgrade(
 *   new Request("http://x/", {
 *     headers: {
 *       upgrade: "websocket",
 *       connection: "Upgrade",
 *       "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
 *       "sec-websocket-version": "13",
 *     },
 *   }),
 *   null,
 *   async (session) => {
 *     for await (const frame of session.incoming) await session.send(frame);
 *   },
 * );
 * console.log(upgrade.status, upgrade.headers.get("sec-websocket-accept"));
 * // 101 s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
 * ```
 */
export class WebSocketUpgrade<T = unknown> {
  /** Always 101 Switching Protocols. */
  readonly status: 101 = 101;
  /**
   * The response headers: `Upgrade`, `Connection`, `Sec-WebSocket-Accept`,
   * and the negotiated protocol and extensions.
   */
  readonly headers: Headers;
  /** The opening handshake request. */
  readonly request: Request;
  /** The chosen subprotocol, or `null`. */
  readonly protocol: string | null;
  /** What runs the session: a function on the RAW session, or handlers. */
  readonly handle: SessionHandler<T>;
  /**
   * Attached to the connection: the handlers' `ws.data`, the sessions'
   * `data`. Set by `options.data`, by `accept`'s `verify`, or directly
   * before the engine calls `upgrade`.
   */
  data: T;
  /** The negotiated extensions. */
  readonly extensions: readonly WebSocketExtension[];
  readonly #options: WebSocketUpgradeOptions;
  readonly #rsv: number;
  #upgraded = false;

  /**

   * Validates the handshake and prepares the 101 response.

   *
   * @param request The opening handshake request.
   * @param protocol The subprotocol to speak, which the client must offer (else 400); `null` for none, or
   *   when `options.handleProtocols` chooses.
   * @param handle Runs the session: a function on the RAW session (the
   *   session ends when it returns), or an object of handlers.
   * @param options Limits and hooks (`handleProtocols` chooses the subprotocol instead of `protocol`).
   * @throws {HandshakeError} When the request is not a valid opening handshake
   *   (including a malformed `Sec-WebSocket-Extensions` when extensions are configured).
   * @throws {TypeError} When `options.handleProtocols` chooses a subprotocol
   *   the client did not offer, or is given with a `protocol`.
   */
  constructor(
    request: Request,
    protocol: string | null,
    handle: SessionHandler<T>,
    options: WebSocketUpgradeOptions & { data?: T } = {},
  ) {
    const offer = validateHandshake(request);
    if (options.origins !== undefined && !originAllowed(request, options.origins)) {
      throw new HandshakeError(ErrorCode.ForbiddenOrigin, 403, "the request's Origin is not allowed");
    }
    if (options.handleProtocols !== undefined) {
      if (protocol !== null) throw new TypeError("pass either a subprotocol or handleProtocols, not both");
      protocol = chooseProtocol(options.handleProtocols, offer.protocols, request);
    } else if (protocol !== null && !offer.protocols.includes(protocol)) {
      throw new HandshakeError(
        ErrorCode.BadHandshake,
        400,
        `the client did not offer the subprotocol "${protocol}"`,
      );
    }
    const negotiated = negotiateExtensions(request.headers.get("sec-websocket-extensions"), options.extensions ?? []);
    this.request = request;
    this.protocol = protocol;
    this.handle = handle;
    this.data = options.data as T;
    this.extensions = negotiated.extensions;
    this.#rsv = negotiated.rsv;
    this.#options = options;
    const headers = new Headers();
    headers.set("upgrade", "websocket");
    headers.set("connection", "Upgrade");
    headers.set("sec-websocket-accept", computeAccept(offer.key));
    if (protocol !== null) headers.set("sec-websocket-protocol", protocol);
    if (negotiated.header !== null) headers.set("sec-websocket-extensions", negotiated.header);
    this.headers = headers;
  }

  /**
   * Answers an upgrade request the way a handler returns it: the
   * `WebSocketUpgrade` when the handshake is valid, its `Origin` allowed and
   * `options.verify` accepts it; otherwise the `Response` that refuses it
   * (the handshake error's, 403 for the origin, or `verify`'s own). Nothing
   * is sent to the client before the handler returns, so a refused upgrade
   * sends no WebSocket byte.
   *
   * @param request The opening handshake request.
   * @param protocol The subprotocol to speak, which the client must offer (else 400); `null` for none, or
   *   when `options.handleProtocols` chooses.
   * @param handle Runs the session: a function on the RAW session, or handlers.
   * @param options Limits, origin policy and the `verify` hook (whose result becomes `data`).
   * @returns The upgrade, or the refusal.
   *
   * @example Refuse upgrades without a token
   * ```ts
   * import { WebSocketUpgrade } from "@hybi/websocket";
   * const answer = (request: Request) =>
   *   WebSocketUpgrade.accept(request, null, async (session) => {
   *     for await (const frame of session.incoming) await session.send(frame);
   *   }, {
   *     origins: ["https://app.example"],
   *     verify: (req) => {
   *       if (new URL(req.url).searchParams.get("token") !== "s3cret") return new Response("who?", { status: 401 });
   *     },
   *   });
   * const headers = {
   *   upgrade: "websocket",
   *   connection: "Upgrade",
   *   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
   *   "sec-websocket-version": "13",
   * };
   * const refused = await answer(new Request("http://x/?token=nope", { headers }));
   * const accepted = await answer(new Request("http://x/?token=s3cret", { headers }));
   * console.log((refused as Response).status, (accepted as WebSocketUpgrade).status); // 401 101
   * ```
   */
  static async accept<T = unknown>(
    request: Request,
    protocol: string | null,
    handle: SessionHandler<T>,
    options: WebSocketAcceptOptions<T> = {},
  ): Promise<WebSocketUpgrade<T> | Response> {
    let upgrade: WebSocketUpgrade<T>;
    try {
      upgrade = new WebSocketUpgrade<T>(request, protocol, handle, options);
    } catch (error) {
      if (error instanceof HandshakeError) return error.response();
      throw error;
    }
    const verify = options.verify;
    if (verify === undefined) return upgrade;
    let verdict: Response | T;
    try {
      verdict = await verify(request);
    } catch (error) {
      upgrade.#discard();
      throw error;
    }
    if (verdict instanceof Response) {
      upgrade.#discard();
      return verdict;
    }
    upgrade.data = verdict;
    return upgrade;
  }

  /** Frees what negotiation allocated for an upgrade that will not run. */
  #discard(): void {
    this.#upgraded = true;
    for (const extension of this.extensions) extension.dispose();
  }

  /** The request, under Ktor's name. */
  get call(): Request {
    return this.request;
  }

  /**
   * Starts the session over the connection's byte streams; called by the
   * engine after it wrote the 101 response. The job ends when `handle`
   * returns or throws, when the input ends, or when a context's signal
   * aborts; then the output is closed (or aborted when the handler threw)
   * and nothing is left pending. An aborted context closes the session with
   * 1001 Going Away and gives the peer `closeTimeout` to answer;
   * `job.cancel()` drops the connection at once.
   *
   * @param input Bytes from the client (after the request head).
   * @param output Bytes to the client.
   * @param engineContext The engine's context; its signal aborts on shutdown.
   * @param userContext The application's context.
   * @returns The session's job.
   */
  upgrade(
    input: ReadableStream<Uint8Array>,
    output: WritableStream<Uint8Array>,
    engineContext: UpgradeContext = {},
    userContext: UpgradeContext = {},
  ): Job {
    if (this.#upgraded) throw new TypeError("upgrade() may be called once");
    this.#upgraded = true;
    const options = this.#options;
    const native = (input as { [TRANSPORT]?: Transport })[TRANSPORT];
    const transport = native !== undefined && native === (output as { [TRANSPORT]?: Transport })[TRANSPORT]
      ? native
      : new StreamTransport(input, output, options.writeHighWaterMark);
    const handle = this.handle;
    const handlers = typeof handle === "function" ? null : handle;
    const extensions = this.extensions;
    const connection = openConnection(transport, {
      maxFrameSize: options.maxFrameSize,
      writeHighWaterMark: options.writeHighWaterMark,
      maxQueuedBytes: options.maxQueuedBytes,
      closeTimeout: options.closeTimeout,
      idleTimeout: options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT,
      pingWhenIdle: options.pingWhenIdle,
      allowedRsv: this.#rsv,
      // Handlers run inside the read: what they send goes out at its end.
      flushAfterRead: handlers !== null,
    }, extensions);
    // The connection ends the job by a direct call (an idle connection holds no
    // promise for it); made before anything can finish the connection (an
    // input that already ended, an aborted context).
    const job = connection.job = new Job(null, connection);
    const clients = engineContext.clients ?? userContext.clients;
    const onError = options.onError ?? engineContext.onError ?? userContext.onError ?? reportHandlerError;

    if (handlers !== null) {
      const remoteAddr = engineContext.remoteAddr ?? userContext.remoteAddr;
      startHandlers(
        connection,
        extensions,
        {
          handlers,
          data: this.data,
          protocol: this.protocol,
          remoteAddress: remoteAddr === undefined ? "" : remoteAddr.hostname,
          onError,
          converter: options.converter,
          topics: engineContext.topics ?? userContext.topics ?? processTopics,
        },
        options,
        (ws) => {
          job[kJobClient] = ws;
          // Listed before `open` runs.
          clients?.[kJoin](job);
          closeOnAbort(connection, engineContext, userContext);
        },
      );
      return job;
    }

    const session = createRawSession(
      connection,
      this.protocol,
      extensions,
      this.data,
      engineContext.topics ?? userContext.topics ?? processTopics,
      options,
    );
    job[kJobClient] = session;
    // Listed before the handler runs (a default session built on this one takes its place).
    clients?.[kJoin](job);
    closeOnAbort(connection, engineContext, userContext);

    // The handler's synchronous part runs before the first byte is read, so
    // a session built on top of the RAW one (the default session) is in place
    // before any frame arrives.
    let handled: Promise<void>;
    try {
      handled = Promise.resolve((handle as RawSessionHandler)(session));
    } catch (error) {
      handled = Promise.reject(error);
    }
    connection.start();
    handled.then(
      () => {
        connection.discardInput();
        connection.endOutput();
      },
      (error) => {
        // An error that only reports the session's own end is not the handler's fault.
        if (!(error instanceof WebSocketError && !connection.writable)) {
          try {
            onError(error);
          } catch {
            // A failing reporter must not take the engine down.
          }
        }
        if (connection.writable) connection.destroy(error);
        else connection.endOutput();
      },
    );
    return job;
  }
}
