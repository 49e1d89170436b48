/**
 * The small protocol every peer of tests/_helpers/peer_servers.ts speaks (see
 * there), in a module of its own so that the child-process peers import
 * nothing else.
 */

/** The subprotocols every peer supports, in no order of preference (the client's offer decides). */
export const PEER_PROTOCOLS: readonly string[] = ["chat", "superchat"];

/** The frames of the reply to `fragmented`; the message is their concatenation. */
export const FRAGMENTS: readonly string[] = ["frag", "men", "ted ✓"];

/** What a peer replies to `headers`. */
export interface PeerRequestInfo {
  /** The request target (path and query). */
  path: string;
  /** The request headers, names in lower case, repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The subprotocol the server chose ("" for none). */
  protocol: string;
}

/**
 * The first protocol of the client's offer that is in {@linkcode PEER_PROTOCOLS}, or "".
 *
 * @example
 * ```ts
 * choosePeerProtocol(["mqtt", "superchat", "chat"]); // "superchat"
 * ```
 */
export function choosePeerProtocol(offer: Iterable<string>): string {
  for (const protocol of offer) if (PEER_PROTOCOLS.includes(protocol)) return protocol;
  return "";
}

/** The items of a `Sec-WebSocket-Protocol` header value ("" or absent: none). */
export function protocolOffer(header: string | null): string[] {
  if (header === null) return [];
  return header.split(",").map((p) => p.trim()).filter((p) => p !== "");
}
