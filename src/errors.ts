import { CloseCode } from "./close_reason.ts";

/**
 * Stable, machine-readable codes of every failure hybi reports. Applications
 * can tell failures apart by `error.code` without parsing messages.
 *
 * @example
 * ```ts
 * import { ErrorCode, WebSocketError } from "@hybi/websocket";
 * function describe(e: unknown): string {
 *   if (e instanceof WebSocketError && e.code === ErrorCode.InvalidUtf8) return "bad text";
 *   return "other";
 * }
 * console.log(describe(new Error("x"))); // other
 * ```
 */
export const ErrorCode: {
  /** A client frame arrived without a mask (a server requires one). */
  readonly UnmaskedFrame: "WS_ERR_UNMASKED_FRAME";
  /** A server frame arrived masked (a client forbids it). */
  readonly UnexpectedMask: "WS_ERR_UNEXPECTED_MASK";
  /** Reserved opcode 3–7 or 11–15. */
  readonly InvalidOpcode: "WS_ERR_INVALID_OPCODE";
  /** An RSV bit no negotiated extension claimed, or an extension's bit on a continuation or control frame. */
  readonly UnexpectedRsv: "WS_ERR_UNEXPECTED_RSV_BIT";
  /** A control frame with a payload over 125 bytes. */
  readonly ControlFrameTooLong: "WS_ERR_CONTROL_FRAME_TOO_LONG";
  /** A control frame without FIN. */
  readonly FragmentedControlFrame: "WS_ERR_FRAGMENTED_CONTROL_FRAME";
  /** A 64-bit payload length with its most significant bit set. */
  readonly InvalidLength: "WS_ERR_INVALID_PAYLOAD_LENGTH";
  /** A frame longer than `maxFrameSize`. */
  readonly FrameTooBig: "WS_ERR_FRAME_TOO_BIG";
  /** A message longer than `maxMessageSize` (after reassembly or inflation). */
  readonly MessageTooBig: "WS_ERR_MESSAGE_TOO_BIG";
  /** Text or a close reason that is not valid UTF-8. */
  readonly InvalidUtf8: "WS_ERR_INVALID_UTF8";
  /** A close frame with a code that may not be sent. */
  readonly InvalidCloseCode: "WS_ERR_INVALID_CLOSE_CODE";
  /** A close frame with a one-byte payload. */
  readonly InvalidClosePayload: "WS_ERR_INVALID_CLOSE_PAYLOAD";
  /** A continuation frame with no message to continue. */
  readonly UnexpectedContinuation: "WS_ERR_UNEXPECTED_CONTINUATION";
  /** A new text or binary frame inside a fragmented message. */
  readonly ExpectedContinuation: "WS_ERR_EXPECTED_CONTINUATION";
  /** A compressed message that does not inflate. */
  readonly InvalidCompressedData: "WS_ERR_INVALID_COMPRESSED_DATA";
  /**
   * A message the session's converter could not decode (`receiveDeserialized`,
   * `deserialized()`, the `deserialized` handler): close 1007.
   */
  readonly UndecodableMessage: "WS_ERR_UNDECODABLE_MESSAGE";
  /**
   * A text message where the converter decodes only binary, or binary
   * where it decodes only text (JSON takes text): close 1003.
   */
  readonly UnacceptableMessageType: "WS_ERR_UNACCEPTABLE_MESSAGE_TYPE";
  /** No frame or pong arrived within the session's timeout. */
  readonly Timeout: "WS_ERR_TIMEOUT";
  /** The session is closed; nothing more can be sent. */
  readonly SessionClosed: "WS_ERR_SESSION_CLOSED";
  /** An unexpected failure inside hybi or the application's handler. */
  readonly InternalError: "WS_ERR_INTERNAL";
  /** Outgoing bytes queued beyond the configured limit. */
  readonly SendQueueFull: "WS_ERR_SEND_QUEUE_FULL";
  /**
   * Incoming messages nobody reads piled up beyond the default session's
   * limit while no `for await` loop was reading (1008).
   */
  readonly UnreadMessages: "WS_ERR_UNREAD_MESSAGES";
  /** The peer closed the transport without a close handshake. */
  readonly ConnectionLost: "WS_ERR_CONNECTION_LOST";
  /** The opening handshake request is not a valid WebSocket upgrade. */
  readonly BadHandshake: "WS_ERR_BAD_HANDSHAKE";
  /** The client asked for a WebSocket version other than 13. */
  readonly UnsupportedVersion: "WS_ERR_UNSUPPORTED_VERSION";
  /** The request's `Origin` is refused by the origin policy (403). */
  readonly ForbiddenOrigin: "WS_ERR_FORBIDDEN_ORIGIN";
  /** Client: the server's host name did not resolve. */
  readonly ConnectDns: "WS_ERR_CONNECT_DNS";
  /** Client: the server refused the TCP connection. */
  readonly ConnectRefused: "WS_ERR_CONNECT_REFUSED";
  /** Client: the TLS handshake failed (an untrusted certificate, a name mismatch, a server that does not speak TLS). */
  readonly ConnectTls: "WS_ERR_CONNECT_TLS";
  /** Client: the connection failed otherwise (unreachable network, reset during the handshake …). */
  readonly ConnectFailed: "WS_ERR_CONNECT_FAILED";
  /** Client: the opening handshake did not finish within `handshakeTimeout`. */
  readonly HandshakeTimeout: "WS_ERR_HANDSHAKE_TIMEOUT";
  /** Client: the server answered with a status other than 101 (a 3xx too, unless `redirects` allows it). */
  readonly HandshakeStatus: "WS_ERR_HANDSHAKE_STATUS";
  /** Client: a redirect that may not be followed (too many, `wss:` to `ws:`, a bad `Location`). */
  readonly HandshakeRedirect: "WS_ERR_HANDSHAKE_REDIRECT";
  /** Client: the 101 lacks `Upgrade: websocket` or a `Connection` with the `upgrade` token. */
  readonly HandshakeUpgrade: "WS_ERR_HANDSHAKE_UPGRADE";
  /** Client: `Sec-WebSocket-Accept` is missing or does not match the key sent. */
  readonly HandshakeAccept: "WS_ERR_HANDSHAKE_ACCEPT";
  /** Client: the server chose a subprotocol that was not offered (or any, when none was). */
  readonly HandshakeProtocol: "WS_ERR_HANDSHAKE_PROTOCOL";
  /** Client: the server accepted an extension, or parameters, that were not offered. */
  readonly HandshakeExtension: "WS_ERR_HANDSHAKE_EXTENSION";
  /** Client: the response is not valid HTTP/1.1, too large, or the connection ended before its end. */
  readonly HandshakeResponse: "WS_ERR_HANDSHAKE_RESPONSE";
} = {
  UnmaskedFrame: "WS_ERR_UNMASKED_FRAME",
  UnexpectedMask: "WS_ERR_UNEXPECTED_MASK",
  InvalidOpcode: "WS_ERR_INVALID_OPCODE",
  UnexpectedRsv: "WS_ERR_UNEXPECTED_RSV_BIT",
  ControlFrameTooLong: "WS_ERR_CONTROL_FRAME_TOO_LONG",
  FragmentedControlFrame: "WS_ERR_FRAGMENTED_CONTROL_FRAME",
  InvalidLength: "WS_ERR_INVALID_PAYLOAD_LENGTH",
  FrameTooBig: "WS_ERR_FRAME_TOO_BIG",
  MessageTooBig: "WS_ERR_MESSAGE_TOO_BIG",
  InvalidUtf8: "WS_ERR_INVALID_UTF8",
  InvalidCloseCode: "WS_ERR_INVALID_CLOSE_CODE",
  InvalidClosePayload: "WS_ERR_INVALID_CLOSE_PAYLOAD",
  UnexpectedContinuation: "WS_ERR_UNEXPECTED_CONTINUATION",
  ExpectedContinuation: "WS_ERR_EXPECTED_CONTINUATION",
  InvalidCompressedData: "WS_ERR_INVALID_COMPRESSED_DATA",
  UndecodableMessage: "WS_ERR_UNDECODABLE_MESSAGE",
  UnacceptableMessageType: "WS_ERR_UNACCEPTABLE_MESSAGE_TYPE",
  Timeout: "WS_ERR_TIMEOUT",
  SessionClosed: "WS_ERR_SESSION_CLOSED",
  InternalError: "WS_ERR_INTERNAL",
  SendQueueFull: "WS_ERR_SEND_QUEUE_FULL",
  UnreadMessages: "WS_ERR_UNREAD_MESSAGES",
  ConnectionLost: "WS_ERR_CONNECTION_LOST",
  BadHandshake: "WS_ERR_BAD_HANDSHAKE",
  UnsupportedVersion: "WS_ERR_UNSUPPORTED_VERSION",
  ForbiddenOrigin: "WS_ERR_FORBIDDEN_ORIGIN",
  ConnectDns: "WS_ERR_CONNECT_DNS",
  ConnectRefused: "WS_ERR_CONNECT_REFUSED",
  ConnectTls: "WS_ERR_CONNECT_TLS",
  ConnectFailed: "WS_ERR_CONNECT_FAILED",
  HandshakeTimeout: "WS_ERR_HANDSHAKE_TIMEOUT",
  HandshakeStatus: "WS_ERR_HANDSHAKE_STATUS",
  HandshakeRedirect: "WS_ERR_HANDSHAKE_REDIRECT",
  HandshakeUpgrade: "WS_ERR_HANDSHAKE_UPGRADE",
  HandshakeAccept: "WS_ERR_HANDSHAKE_ACCEPT",
  HandshakeProtocol: "WS_ERR_HANDSHAKE_PROTOCOL",
  HandshakeExtension: "WS_ERR_HANDSHAKE_EXTENSION",
  HandshakeResponse: "WS_ERR_HANDSHAKE_RESPONSE",
};

/** One of the string values of {@linkcode ErrorCode}. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/**
 * A WebSocket-level failure: what went wrong (`code`) and the close code the
 * endpoint sends, or sent, because of it (`closeCode`).
 *
 * @example
 * ```ts
 * import { CloseCode, ErrorCode, WebSocketError } from "@hybi/websocket";
 * const e = new WebSocketError(ErrorCode.MessageTooBig, CloseCode.MessageTooBig, "too big");
 * console.log(e.code, e.closeCode); // WS_ERR_MESSAGE_TOO_BIG 1009
 * ```
 */
export class WebSocketError extends Error {
  /** The stable machine-readable code. */
  readonly code: ErrorCode;
  /** The close code sent to the peer because of this error. */
  readonly closeCode: number;

  /**

   * Builds a WebSocket error.

   *
   * @param code What went wrong.
   * @param closeCode The close code the endpoint sends for it.
   * @param message A human-readable description.
   * @param options Standard error options (`cause`).
   */
  constructor(code: ErrorCode, closeCode: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WebSocketError";
    this.code = code;
    this.closeCode = closeCode;
  }
}

/**
 * A client's opening handshake that failed after the server answered (or
 * failed to answer in time): a `WebSocketError` whose `code` is one of the
 * `WS_ERR_HANDSHAKE_*` codes, with the HTTP `status` and the response's
 * `headers` (`0` and empty when no complete response arrived). No session
 * was created; the connection is closed.
 *
 * @example
 * ```ts
 * import { ClientHandshakeError, ErrorCode } from "@hybi/websocket";
 * const e = new ClientHandshakeError(ErrorCode.HandshakeStatus, "the server answered 404", 404, new Headers());
 * console.log(e.code, e.status, e.closeCode); // WS_ERR_HANDSHAKE_STATUS 404 1006
 * ```
 */
export class ClientHandshakeError extends WebSocketError {
  /** The response's HTTP status, or `0` when no complete response head arrived. */
  readonly status: number;
  /** The response's headers (empty when no complete response head arrived). */
  readonly headers: Headers;

  /**
   * Builds a client handshake error.
   *
   * @param code One of the `WS_ERR_HANDSHAKE_*` codes.
   * @param message What was wrong.
   * @param status The response's status, or `0`.
   * @param headers The response's headers.
   * @param options Standard error options (`cause`).
   */
  constructor(code: ErrorCode, message: string, status: number, headers: Headers, options?: ErrorOptions) {
    super(code, CloseCode.ClosedAbnormally, message, options);
    this.name = "ClientHandshakeError";
    this.status = status;
    this.headers = headers;
  }
}

/**
 * An invalid opening handshake: the HTTP status (and headers) to answer
 * with instead of `101 Switching Protocols`.
 *
 * @example
 * ```ts
 * import { HandshakeError, WebSocketUpgrade } from "@hybi/websocket";
 * try {
 *   new WebSocketUpgrade(new Request("http://x/"), null, async () => {});
 * } catch (e) {
 *   if (e instanceof HandshakeError) console.log(e.status, e.response().status); // 400 400
 * }
 * ```
 */
export class HandshakeError extends Error {
  /** The stable machine-readable code. */
  readonly code: ErrorCode;
  /** The HTTP status to answer with. */
  readonly status: number;
  /** Extra response headers (for example `Sec-WebSocket-Version` with 426). */
  readonly headers: Headers;

  /**

   * Builds a handshake error.

   *
   * @param code What went wrong.
   * @param status The HTTP status to answer with.
   * @param message The reason, also sent as the response body.
   * @param headers Extra response headers.
   */
  constructor(code: ErrorCode, status: number, message: string, headers?: HeadersInit) {
    super(message);
    this.name = "HandshakeError";
    this.code = code;
    this.status = status;
    this.headers = new Headers(headers);
  }

  /** A plain-text HTTP response that reports this error to the client. */
  response(): Response {
    const headers = new Headers(this.headers);
    headers.set("content-type", "text/plain; charset=utf-8");
    headers.set("connection", "close");
    return new Response(this.message + "\n", { status: this.status, headers });
  }
}

/**
 * A protocol violation by the peer: close code 1002 with a stable code.
 *
 * @param code What was violated.
 * @param message A human-readable description.
 */
export function protocolError(code: ErrorCode, message: string): WebSocketError {
  return new WebSocketError(code, CloseCode.ProtocolError, message);
}

/**
 * The error of a send, or of a wait, on a session that can send no more.
 *
 * @param message What is closed.
 */
export function sessionClosedError(message: string = "the WebSocket session is closed"): WebSocketError {
  return new WebSocketError(ErrorCode.SessionClosed, CloseCode.ClosedAbnormally, message);
}

/**
 * The error a session's readers see when the transport failed.
 *
 * @param cause The transport's error.
 */
export function connectionLostError(cause: unknown): WebSocketError {
  return new WebSocketError(ErrorCode.ConnectionLost, CloseCode.ClosedAbnormally, "the connection failed", { cause });
}

/**
 * Where a WebSocket handler's error goes when the application gave no
 * `onError` (nor an `error` handler): the console.
 *
 * @param error The error.
 */
export function reportHandlerError(error: unknown): void {
  console.error("hybi: a WebSocket handler failed:", error);
}

/**
 * Where an HTTP handler's or the server's error goes when the application
 * gave no `onError`: the console.
 *
 * @param error The error.
 */
export function reportRequestError(error: unknown): void {
  console.error("hybi: request failed:", error);
}
