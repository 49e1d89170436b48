import { CloseCode, CloseReason } from "../close_reason.ts";
import { ErrorCode, WebSocketError } from "../errors.ts";
import { OP_TEXT } from "../frame/frame.ts";
import type { DefaultWebSocketSession } from "../session/default_session.ts";
import { WebSocketCloseEvent } from "./close_event.ts";

const encoder = new TextEncoder();
/**
 * An `on…` event handler property of a {@linkcode SessionWebSocket}.
 *
 * @example
 * ```ts
 * import type { WebSocketEventHandler } from "@hybi/websocket";
 * const onmessage: WebSocketEventHandler<MessageEvent> = (e) => console.log(e.data);
 * console.log(typeof onmessage); // function
 * ```
 */
export type WebSocketEventHandler<E extends Event> = ((this: SessionWebSocket, event: E) => unknown) | null;

/** The data `SessionWebSocket.send` accepts, as the browser's `WebSocket.send`. */
export type WebSocketData = string | ArrayBufferLike | ArrayBufferView | Blob;

/**
 * Opens a {@linkcode SessionWebSocket} on a session still being connected
 * (the client's `WebSocket`); the facade's own, not an API.
 */
export const kOpening: unique symbol = Symbol("hybi.opening");

/**
 * A session seen through the browser's `WebSocket` API (`readyState`,
 * `binaryType`, `bufferedAmount`, `send`, `close`, `onopen` / `onmessage` /
 * `onclose` / `onerror` and `addEventListener`), so code written for browsers
 * or for `Deno.upgradeWebSocket` ports over. On the server, get one from
 * {@linkcode upgradeWebSocket}; the client's `WebSocket`
 * (`@hybi/websocket/client`) is one that connects itself.
 *
 * @example
 * ```ts
 * import { upgradeWebSocket } from "@hybi/websocket";
 * function handle(request: Request) {
 *   const { socket, response } = upgradeWebSocket(request);
 *   socket.onmessage = (event) => socket.send(event.data);
 *   socket.onclose = (event) => console.log("closed", event.code);
 *   return response; // the engine performs the upgrade
 * }
 * console.log(typeof handle); // function
 * ```
 */
export class SessionWebSocket extends EventTarget {
  /** `readyState` before the upgrade has run. */
  static readonly CONNECTING: 0 = 0;
  /** `readyState` while messages flow. */
  static readonly OPEN: 1 = 1;
  /** `readyState` once the close handshake has started. */
  static readonly CLOSING: 2 = 2;
  /** `readyState` once the connection is finished. */
  static readonly CLOSED: 3 = 3;
  /** `readyState` before the upgrade has run. */
  readonly CONNECTING: 0 = 0;
  /** `readyState` while messages flow. */
  readonly OPEN: 1 = 1;
  /** `readyState` once the close handshake has started. */
  readonly CLOSING: 2 = 2;
  /** `readyState` once the connection is finished. */
  readonly CLOSED: 3 = 3;

  /** The URL of the opening handshake request. */
  readonly url: string;
  /** How binary messages are delivered: `"blob"` (the browser's default) or `"arraybuffer"`. */
  binaryType: BinaryType = "blob";
  #readyState: 0 | 1 | 2 | 3 = 0;
  #session: DefaultWebSocketSession | null = null;
  #protocol = "";
  #extensions = "";
  // Sends wait behind a Blob being read, so messages keep their order.
  #sendChain: Promise<void> | null = null;
  #pendingClose: CloseReason | null = null;
  // The client's connect while it runs: `close()` aborts it.
  #connecting: AbortController | null = null;
  #handlers: Record<string, WebSocketEventHandler<Event> | null> = {
    open: null,
    message: null,
    close: null,
    error: null,
  };

  /**
   * Builds a socket in the CONNECTING state; {@linkcode upgradeWebSocket}
   * does this and opens it when the engine runs the upgrade.
   *
   * @param url The URL of the opening handshake request.
   */
  constructor(url: string) {
    super();
    this.url = url;
    for (const type of ["open", "message", "close", "error"]) {
      this.addEventListener(type, (event) => this.#handlers[type]?.call(this, event));
    }
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED. */
  get readyState(): 0 | 1 | 2 | 3 {
    return this.#readyState;
  }

  /** The negotiated subprotocol, or `""`. */
  get protocol(): string {
    return this.#protocol;
  }

  /** The negotiated extensions, as in the `Sec-WebSocket-Extensions` response header. */
  get extensions(): string {
    return this.#extensions;
  }

  /** Bytes sent but not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.#session?.bufferedAmount ?? 0;
  }

  /** Called when the socket opens. */
  get onopen(): WebSocketEventHandler<Event> {
    return this.#handlers.open;
  }
  set onopen(handler: WebSocketEventHandler<Event>) {
    this.#handlers.open = handler;
  }
  /** Called with a `MessageEvent` for each message. */
  get onmessage(): WebSocketEventHandler<MessageEvent> {
    return this.#handlers.message as WebSocketEventHandler<MessageEvent>;
  }
  set onmessage(handler: WebSocketEventHandler<MessageEvent>) {
    this.#handlers.message = handler as WebSocketEventHandler<Event>;
  }
  /** Called with a {@linkcode WebSocketCloseEvent} once the connection is finished. */
  get onclose(): WebSocketEventHandler<WebSocketCloseEvent> {
    return this.#handlers.close as WebSocketEventHandler<WebSocketCloseEvent>;
  }
  set onclose(handler: WebSocketEventHandler<WebSocketCloseEvent>) {
    this.#handlers.close = handler as WebSocketEventHandler<Event>;
  }
  /** Called when the connection fails (a protocol error or a dropped transport). */
  get onerror(): WebSocketEventHandler<Event> {
    return this.#handlers.error;
  }
  set onerror(handler: WebSocketEventHandler<Event>) {
    this.#handlers.error = handler;
  }

  /**
   * Sends a message: strings as text, everything else as binary. Throws
   * `InvalidStateError` while CONNECTING; once closing, data is discarded,
   * as in browsers.
   *
   * @param data The message.
   */
  send(data: WebSocketData): void {
    if (this.#readyState === 0) throw new DOMException("the WebSocket is not open yet", "InvalidStateError");
    const session = this.#session;
    if (this.#readyState !== 1 || session === null) return;
    if (this.#sendChain === null && !(data instanceof Blob)) {
      void this.#sendNow(session, data);
      return;
    }
    const previous = this.#sendChain ?? Promise.resolve();
    const next = previous.then(async () => {
      const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data;
      await this.#sendNow(session, bytes);
    });
    this.#sendChain = next;
    void next.finally(() => {
      if (this.#sendChain === next) this.#sendChain = null;
    });
  }

  #sendNow(session: DefaultWebSocketSession, data: Exclude<WebSocketData, Blob>): Promise<void> {
    if (typeof data === "string") return session.sendText(data);
    if (ArrayBuffer.isView(data)) {
      return session.sendBinary(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    return session.sendBinary(new Uint8Array(data));
  }

  /**
   * Starts the close handshake, as the browser's `close`: `code` must be
   * 1000 or 3000–4999 and `reason` at most 123 bytes of UTF-8.
   *
   * @param code The close code; 1000 when omitted.
   * @param reason The close reason; empty when omitted.
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
      throw new DOMException(`close code ${code} is not 1000 or 3000-4999`, "InvalidAccessError");
    }
    if (reason !== undefined && encoder.encode(reason).length > 123) {
      throw new DOMException("the close reason is longer than 123 bytes", "SyntaxError");
    }
    if (this.#readyState >= 2) return;
    if (this.#connecting !== null) {
      // As browsers: closing a connection not yet established fails it (error, then close with 1006).
      this.#readyState = 2;
      this.#connecting.abort(
        new DOMException("the WebSocket was closed before the connection was established", "AbortError"),
      );
      return;
    }
    if (this.#readyState === 0) {
      // Closing before the upgrade ran: the session closes as soon as it opens.
      this.#pendingClose = new CloseReason(code ?? CloseCode.Normal, reason ?? "");
      return;
    }
    this.#readyState = 2;
    void this.#session!.close(new CloseReason(code ?? CloseCode.Normal, reason ?? ""));
  }

  /**
   * Runs the socket on a connect in progress (the client's `WebSocket`):
   * opens it on the session the connect resolves to; `close()` meanwhile
   * aborts the connect; a failed connect fires `error`, then `close` with
   * 1006 (not clean), as browsers do.
   *
   * @param opening The connect, resolving to the default session.
   * @param connecting Aborts the connect (its signal is the connect's).
   */
  [kOpening](opening: Promise<DefaultWebSocketSession>, connecting: AbortController): void {
    this.#connecting = connecting;
    opening.then(
      (session) => {
        this.#connecting = null;
        if (this.#readyState !== 0) {
          // close() came as the handshake finished: the connection is failed all the same.
          session.terminate();
          this.#failOpening(new DOMException("the WebSocket was closed before it opened", "AbortError"));
          return;
        }
        void this.run(session, session.extensions.map((extension) => extension.header).join(", "));
      },
      (error: unknown) => {
        this.#connecting = null;
        this.#failOpening(error);
      },
    );
  }

  #failOpening(error: unknown): void {
    this.#readyState = 3;
    this.dispatchEvent(new ErrorEventLike(error));
    this.dispatchEvent(new WebSocketCloseEvent("close", { code: CloseCode.ClosedAbnormally, wasClean: false }));
  }

  /**
   * Runs the socket on a session until the connection is finished; called
   * by {@linkcode upgradeWebSocket}'s handler.
   *
   * @param session The default session of the upgraded connection.
   * @param extensions The `Sec-WebSocket-Extensions` response value.
   */
  async run(session: DefaultWebSocketSession, extensions: string = ""): Promise<void> {
    if (this.#session !== null) throw new TypeError("the socket already runs on a session");
    this.#session = session;
    this.#protocol = session.protocol ?? "";
    this.#extensions = extensions;
    this.#readyState = 1;
    this.dispatchEvent(new Event("open"));
    if (this.#pendingClose !== null) this.close(this.#pendingClose.code, this.#pendingClose.message);
    let failed = false;
    const origin = new URL(this.url).origin;
    try {
      for await (const frame of session.incoming) {
        const data = frame.opcode === OP_TEXT
          ? frame.readText()
          : this.binaryType === "blob"
          ? new Blob([frame.data as Uint8Array<ArrayBuffer>])
          : ownBuffer(frame.data);
        this.dispatchEvent(new MessageEvent("message", { data, origin }));
      }
    } catch (error) {
      failed = true;
      if (!(error instanceof WebSocketError) || error.code !== ErrorCode.SessionClosed) {
        this.dispatchEvent(new ErrorEventLike(error));
      }
    }
    if (this.#readyState === 1) this.#readyState = 2;
    const reason = await session.closeReason;
    await session.close();
    this.#readyState = 3;
    if (reason === null && !failed) this.dispatchEvent(new ErrorEventLike(new Error("the connection dropped")));
    // As browsers: the code and reason of the close frame received (ours only when none came).
    const received = session.peerCloseReason ?? reason;
    this.dispatchEvent(
      new WebSocketCloseEvent("close", {
        code: received?.code ?? CloseCode.ClosedAbnormally,
        reason: received?.message ?? "",
        wasClean: reason !== null && !failed,
      }),
    );
  }
}

/** An `error` event carrying the cause, like the browser's (which carries none). */
class ErrorEventLike extends Event {
  readonly error: unknown;
  constructor(error: unknown) {
    super("error");
    this.error = error;
  }
}

function ownBuffer(data: Uint8Array): ArrayBuffer {
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer) {
    return data.buffer;
  }
  return data.slice().buffer as ArrayBuffer;
}
