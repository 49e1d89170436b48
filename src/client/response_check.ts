/**
 * The client's check of the server's 101 (RFC 6455 §4.1, the client's
 * requirements on the response; RFC 7692 §7 for permessage-deflate): what
 * the server agreed to, or a {@linkcode ClientHandshakeError} with a
 * `WS_ERR_HANDSHAKE_*` code, the status and the headers.
 *
 * @module
 */
import { ClientHandshakeError, ErrorCode } from "../errors.ts";
import type { WebSocketExtension } from "../extensions/extension.ts";
import { parseExtensions } from "../extensions/extension_header.ts";
import { asciiEqualsIgnoreCase } from "../extensions/negotiation.ts";
import { acceptDeflateResponse, type DeflateOffer } from "../extensions/permessage_deflate_client.ts";
import { computeAccept, hasToken, parseTokenList } from "../handshake.ts";
import type { ResponseHead } from "./response_parser.ts";

/** What the client offered, to check the answer against. */
export interface ClientOffer {
  /** The `Sec-WebSocket-Key` sent. */
  readonly key: string;
  /** The subprotocols offered. */
  readonly protocols: readonly string[];
  /** The permessage-deflate offer, or `null`. */
  readonly deflate: DeflateOffer | null;
}

/** What the server agreed to. */
export interface Agreement {
  /** The chosen subprotocol, or `null`. */
  readonly protocol: string | null;
  /** The accepted extensions (built for the client role). */
  readonly extensions: readonly WebSocketExtension[];
  /** The RSV bits they claim. */
  readonly rsv: number;
}

/**
 * Checks a 101 response against the offer.
 *
 * @param head The response head (its status already known to be 101).
 * @param offer What was offered.
 * @returns The agreement.
 * @throws {ClientHandshakeError} When the server did not accept the handshake as offered.
 */
export function checkResponse(head: ResponseHead, offer: ClientOffer): Agreement {
  const headers = head.headers;
  const fail = (code: ErrorCode, message: string) => new ClientHandshakeError(code, message, head.status, headers);
  if (!hasToken(headers.get("upgrade"), "websocket")) {
    throw fail(ErrorCode.HandshakeUpgrade, 'the response\'s Upgrade header does not hold "websocket"');
  }
  if (!hasToken(headers.get("connection"), "upgrade")) {
    throw fail(ErrorCode.HandshakeUpgrade, 'the response\'s Connection header does not hold "upgrade"');
  }
  const accept = headers.get("sec-websocket-accept");
  if (accept === null) throw fail(ErrorCode.HandshakeAccept, "the response has no Sec-WebSocket-Accept");
  if (accept.trim() !== computeAccept(offer.key)) {
    throw fail(ErrorCode.HandshakeAccept, "Sec-WebSocket-Accept does not match the key sent");
  }

  let protocol: string | null = null;
  const protocolValue = headers.get("sec-websocket-protocol");
  if (protocolValue !== null) {
    const chosen = parseTokenList(protocolValue);
    if (chosen === null || chosen.length !== 1) {
      throw fail(ErrorCode.HandshakeProtocol, `Sec-WebSocket-Protocol must name one subprotocol: "${protocolValue}"`);
    }
    if (!offer.protocols.includes(chosen[0])) {
      throw fail(
        ErrorCode.HandshakeProtocol,
        offer.protocols.length === 0
          ? `the server chose the subprotocol "${chosen[0]}" though none was offered`
          : `the server chose the subprotocol "${chosen[0]}", which was not offered`,
      );
    }
    protocol = chosen[0];
  }

  const extensionsValue = headers.get("sec-websocket-extensions");
  if (extensionsValue === null) return { protocol, extensions: [], rsv: 0 };
  const parsed = parseExtensions(extensionsValue);
  if (parsed.malformed > 0) {
    throw fail(ErrorCode.HandshakeExtension, `invalid Sec-WebSocket-Extensions: ${parsed.reason}`);
  }
  const extensions: WebSocketExtension[] = [];
  let rsv = 0;
  try {
    for (const element of parsed.offers) {
      if (offer.deflate === null || !asciiEqualsIgnoreCase(element.name, "permessage-deflate")) {
        throw fail(ErrorCode.HandshakeExtension, `the server accepted the extension "${element.name}", not offered`);
      }
      if (extensions.length > 0) throw fail(ErrorCode.HandshakeExtension, "permessage-deflate accepted twice");
      const extension = acceptDeflateResponse(offer.deflate, element.params, extensionsValue);
      if (typeof extension === "string") {
        throw fail(ErrorCode.HandshakeExtension, `the server's permessage-deflate is not acceptable: ${extension}`);
      }
      extensions.push(extension);
      rsv |= extension.rsv;
    }
  } catch (error) {
    for (const extension of extensions) extension.dispose();
    throw error;
  }
  return { protocol, extensions, rsv };
}
