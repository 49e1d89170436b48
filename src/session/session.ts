import type { CloseReason } from "../close_reason.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import type { Frame } from "../frame/frame.ts";

/**
 * What every WebSocket session offers, as Ktor's `WebSocketSession`: frames
 * in, frames out, and the negotiated parameters.
 *
 * @example
 * ```ts
 * import { Frame, type WebSocketSession } from "@hybi/websocket";
 * async function echo(session: WebSocketSession): Promise<void> {
 *   for await (const frame of session.incoming) {
 *     if (frame instanceof Frame.Text || frame instanceof Frame.Binary) await session.send(frame);
 *   }
 * }
 * console.log(typeof echo); // function
 * ```
 */
export interface WebSocketSession {
  /** Frames from the peer, in order. Iterate with `for await`. */
  readonly incoming: ReadableStream<Frame>;
  /**
   * The same frames as `incoming`, read without a stream:
   * `for await (const frame of session)`. Cheaper per connection; leaving the
   * loop early keeps the session, and one reader at a time may read.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<Frame>;
  /** Frames to the peer; writing is the same as `send`. */
  readonly outgoing: WritableStream<Frame>;
  /** The negotiated extensions. */
  readonly extensions: readonly WebSocketExtension[];
  /** Whether outgoing frames are masked (false on a server). */
  readonly masking: boolean;
  /** Largest incoming frame payload accepted, in bytes. */
  readonly maxFrameSize: number;
  /** The negotiated subprotocol, or `null`. */
  readonly protocol: string | null;
  /** Aborted when the session ends, whatever the cause. */
  readonly signal: AbortSignal;
  /** Bytes queued for the peer and not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /**
   * Queues a frame for the peer. Resolves when it is accepted by the
   * transport's queue; waits while that queue is above its high-water mark
   * (a peer that does not read slows the sender down). Rejects with a
   * `WebSocketError` (`WS_ERR_SESSION_CLOSED`) once the session cannot send.
   */
  send(frame: Frame): Promise<void>;
  /** Resolves when every frame sent so far has been written to the transport. */
  flush(): Promise<void>;
  /** Sends a close frame with `reason` (if none was sent yet) and flushes. */
  close(reason?: CloseReason): Promise<void>;
  /** Drops the connection at once, without a close handshake. */
  terminate(): void;
}
