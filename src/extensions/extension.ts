/**
 * A WebSocket extension negotiated for one connection (RFC 6455 §9), in the
 * spirit of Ktor's `WebSocketExtension`: it has a name, the parameters it
 * agreed to, and the RSV bits it claims.
 *
 * @example
 * ```ts
 * import type { WebSocketExtension } from "@hybi/websocket";
 * function names(list: readonly WebSocketExtension[]): string {
 *   return list.map((e) => e.name).join(", ");
 * }
 * console.log(names([])); // ""
 * ```
 */
export interface WebSocketExtension {
  /** The extension token, for example `permessage-deflate`. */
  readonly name: string;
  /** RSV bits the extension claims, as in the first header byte (RSV1 = 0x40). */
  readonly rsv: number;
  /** The response's `Sec-WebSocket-Extensions` element for this extension. */
  readonly header: string;
}
