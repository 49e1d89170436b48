import { CloseCode, CloseReason } from "../close_reason.ts";
import { ErrorCode, WebSocketError } from "../errors.ts";
import { OP_TEXT } from "../frame/frame.ts";
import type { DefaultWebSocketSession } from "../session/default_session.ts";

/** How a {@linkcode SessionWebSocketStream} closed, or how to close it. */
export interface WebSocketCloseInfo {
  /** The close code. */
  closeCode?: number;
  /** The close reason. */
  reason?: string;
}

/** What {@linkcode SessionWebSocketStream.opened} resolves to, as the browser's `WebSocketStream`. */
export interface WebSocketStreamConnection {
  /** Incoming messages: strings for text, `Uint8Array`s for binary. Reading slowly slows the peer. */
  readable: ReadableStream<string | Uint8Array>;
  /** Outgoing messages: strings as text, buffers as binary. Writes wait while the peer is behind. */
  writable: WritableStream<string | ArrayBuffer | ArrayBufferView>;
  /** The negotiated subprotocol, or `""`. */
  protocol: string;
  /** The negotiated extensions, as in the response header. */
  extensions: string;
}

/**
 * A server session seen through the browser's `WebSocketStream` API: a
 * readable and a writable stream of messages with backpressure both ways,
 * `opened`, `closed` and `close()`. Get one from
 * {@linkcode upgradeWebSocketStream}.
 *
 * @example
 * ```ts
 * import { upgradeWebSocketStream } from "@hybi/websocket";
 * function handle(request: Request) {
 *   const { stream, response } = upgradeWebSocketStream(request);
 *   stream.opened.then(({ readable, writable }) => readable.pipeTo(writable)); // echo
 *   return response;
 * }
 * console.log(typeof handle); // function
 * ```
 */
export class SessionWebSocketStream {
  /** The URL of the opening handshake request. */
  readonly url: string;
  readonly #opened: Promise<WebSocketStreamConnection>;
  #resolveOpened!: (c: WebSocketStreamConnection) => void;
  readonly #closed: Promise<WebSocketCloseInfo>;
  #settleClosed!: (info: WebSocketCloseInfo | Error) => void;
  #session: DefaultWebSocketSession | null = null;
  #pendingClose: WebSocketCloseInfo | null = null;

  /**
   * Builds a stream that opens when the engine runs the upgrade.
   *
   * @param url The URL of the opening handshake request.
   */
  constructor(url: string) {
    this.url = url;
    this.#opened = new Promise((resolve) => this.#resolveOpened = resolve);
    this.#closed = new Promise<WebSocketCloseInfo>((resolve, reject) => {
      this.#settleClosed = (info) => info instanceof Error ? reject(info) : resolve(info);
    });
    // Nobody has to observe `closed`; an unclean end must not crash the process.
    this.#closed.catch(() => {});
  }

  /** Resolves with the streams once the connection is open. */
  get opened(): Promise<WebSocketStreamConnection> {
    return this.#opened;
  }

  /**
   * Resolves with the close code and reason after a clean close handshake;
   * rejects when the connection failed or dropped.
   */
  get closed(): Promise<WebSocketCloseInfo> {
    return this.#closed;
  }

  /**
   * Starts the close handshake.
   *
   * @param info Close code (1000 when omitted) and reason.
   */
  close(info: WebSocketCloseInfo = {}): void {
    if (this.#session === null) {
      this.#pendingClose = info;
      return;
    }
    void this.#session.close(new CloseReason(info.closeCode ?? CloseCode.Normal, info.reason ?? ""));
  }

  /**
   * Runs the stream on a session until the connection is finished; called
   * by {@linkcode upgradeWebSocketStream}'s handler.
   *
   * @param session The default session of the upgraded connection.
   * @param extensions The `Sec-WebSocket-Extensions` response value.
   */
  async run(session: DefaultWebSocketSession, extensions: string = ""): Promise<void> {
    if (this.#session !== null) throw new TypeError("the stream already runs on a session");
    this.#session = session;
    const incoming = session.incoming.getReader();
    let failure: unknown = null;
    const readable = new ReadableStream<string | Uint8Array>({
      pull: async (controller) => {
        try {
          const { value, done } = await incoming.read();
          if (done) controller.close();
          else controller.enqueue(value.opcode === OP_TEXT ? value.readText() : value.data);
        } catch (error) {
          failure = error;
          controller.error(error);
        }
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
    const writable = new WritableStream<string | ArrayBuffer | ArrayBufferView>({
      write: (chunk) => {
        if (typeof chunk === "string") return session.sendText(chunk);
        if (ArrayBuffer.isView(chunk)) {
          return session.sendBinary(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        }
        return session.sendBinary(new Uint8Array(chunk));
      },
      close: () => session.close(),
      abort: () => session.close(new CloseReason(CloseCode.GoingAway, "")),
    });
    this.#resolveOpened({ readable, writable, protocol: session.protocol ?? "", extensions });
    if (this.#pendingClose !== null) this.close(this.#pendingClose);
    if (!session.signal.aborted) {
      await new Promise((resolve) => session.signal.addEventListener("abort", resolve, { once: true }));
    }
    const reason = await session.closeReason;
    if (reason === null || failure !== null) {
      this.#settleClosed(
        failure instanceof Error ? failure : new WebSocketError(
          ErrorCode.ConnectionLost,
          reason?.code ?? CloseCode.ClosedAbnormally,
          reason === null ? "the connection dropped without a close handshake" : `the connection failed: ${reason}`,
        ),
      );
    } else {
      this.#settleClosed({ closeCode: reason.code, reason: reason.message });
    }
  }
}
