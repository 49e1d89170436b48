/** What a {@linkcode WebSocketCloseEvent} carries. */
export interface WebSocketCloseEventInit extends EventInit {
  /** The close code; 1005 when the close frame had none, 1006 when there was no close frame. */
  code?: number;
  /** The close reason text. */
  reason?: string;
  /** Whether the close handshake completed. */
  wasClean?: boolean;
}

/**
 * The `close` event of a {@linkcode SessionWebSocket}, shaped like the
 * browser's `CloseEvent` (which not every runtime provides as a global).
 *
 * @example
 * ```ts
 * import { WebSocketCloseEvent } from "@hybi/websocket";
 * const e = new WebSocketCloseEvent("close", { code: 1000, reason: "bye", wasClean: true });
 * console.log(e.type, e.code, e.reason, e.wasClean); // close 1000 bye true
 * ```
 */
export class WebSocketCloseEvent extends Event {
  /** The close code. */
  readonly code: number;
  /** The close reason text. */
  readonly reason: string;
  /** Whether the close handshake completed. */
  readonly wasClean: boolean;

  /**
   * Builds a close event.
   *
   * @param type The event type, normally `"close"`.
   * @param init Code, reason and cleanliness.
   */
  constructor(type: string, init: WebSocketCloseEventInit = {}) {
    super(type, init);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}
