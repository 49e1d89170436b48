import { ErrorCode, HandshakeError } from "../errors.ts";
import type { WebSocketExtension, WebSocketExtensionFactory } from "./extension.ts";
import { type ExtensionElement, parseExtensions } from "./extension_header.ts";

/** What {@linkcode negotiateExtensions} agreed to. */
export interface NegotiatedExtensions {
  /** The extensions for the connection, in the order they apply. */
  readonly extensions: readonly WebSocketExtension[];
  /** The response's `Sec-WebSocket-Extensions` value, or `null` when none was accepted. */
  readonly header: string | null;
  /** The RSV bits the extensions claim (for the frame reader). */
  readonly rsv: number;
}

const NONE: NegotiatedExtensions = Object.freeze({ extensions: Object.freeze([]), header: null, rsv: 0 });

/**
 * Negotiates extensions during the opening handshake: hands each factory,
 * in the server's order, the client's offers of its extension, and keeps
 * what it accepts unless another accepted extension already claimed its RSV
 * bits. Offers of extensions no factory knows are ignored; an offer that an
 * extension finds unacceptable (unknown or duplicate parameters, bad
 * values) is declined and the connection goes on without it.
 *
 * A header that breaks the ABNF of RFC 6455 §9.1 fails the handshake with
 * 400, as RFC 6455 §4.2.1 requires (the header is only read when the server
 * has extensions configured).
 *
 * @param value The request's `Sec-WebSocket-Extensions` value, or `null`.
 * @param factories The server's extensions, in its order of preference.
 * @returns The negotiated extensions and the response header value.
 * @throws {HandshakeError} 400 when the header is malformed.
 *
 * @example
 * ```ts
 * import { negotiateExtensions, PerMessageDeflate } from "@hybi/websocket";
 * const result = negotiateExtensions("permessage-deflate; client_max_window_bits", [new PerMessageDeflate()]);
 * console.log(result.header, result.rsv); // permessage-deflate 64
 * for (const e of result.extensions) e.dispose();
 * ```
 */
export function negotiateExtensions(
  value: string | null,
  factories: readonly WebSocketExtensionFactory[],
): NegotiatedExtensions {
  if (value === null || factories.length === 0) return NONE;
  const parsed = parseExtensions(value);
  if (parsed.malformed > 0) {
    throw new HandshakeError(ErrorCode.BadHandshake, 400, `invalid Sec-WebSocket-Extensions header: ${parsed.reason}`);
  }
  const extensions: WebSocketExtension[] = [];
  let rsv = 0;
  let header: string | null = null;
  for (const factory of factories) {
    if ((factory.rsv & rsv) !== 0) continue;
    const offers = offersOf(parsed.offers, factory.name);
    if (offers.length === 0) continue;
    const extension = factory.negotiate(offers);
    if (extension === null) continue;
    if ((extension.rsv & rsv) !== 0) {
      extension.dispose();
      continue;
    }
    extensions.push(extension);
    rsv |= extension.rsv;
    header = header === null ? extension.header : header + ", " + extension.header;
  }
  return extensions.length === 0 ? NONE : { extensions, header, rsv };
}

function offersOf(offers: readonly ExtensionElement[], name: string): ExtensionElement[] {
  const out: ExtensionElement[] = [];
  for (const offer of offers) if (asciiEqualsIgnoreCase(offer.name, name)) out.push(offer);
  return out;
}

/**
 * Whether two strings are equal ignoring ASCII case.
 *
 * @param a One string.
 * @param b The other.
 */
export function asciiEqualsIgnoreCase(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}
