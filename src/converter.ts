/**
 * Converters between application values and WebSocket messages, as Ktor's
 * `WebsocketContentConverter` behind `sendSerialized` / `receiveDeserialized`:
 * JSON by default, any other format through the same two functions.
 *
 * @module
 */
import { CloseCode } from "./close_reason.ts";
import { ErrorCode, WebSocketError } from "./errors.ts";
import { type Frame, OP_TEXT, payloadLength, payloadSource, payloadStart } from "./frame/frame.ts";
import { decodeUtf8 } from "./utf8.ts";

/**
 * Turns values into messages and messages into values: the `converter`
 * option of a route, an upgrade or a default session.
 *
 * `encode` returns a `string` (sent as a text message) or bytes (a binary
 * message); it may throw for a value it cannot encode, and the send throws
 * that error. `decode` gets a text message as a `string` and a binary one
 * as a `Uint8Array` (valid until it returns: copy what you keep); when it
 * throws, the connection closes with 1007 and `WS_ERR_UNDECODABLE_MESSAGE`
 * (a `WebSocketError` it throws is used as it is, with its own close code).
 * With `messageType` set, a message of the other type closes with 1003 and
 * `WS_ERR_UNACCEPTABLE_MESSAGE_TYPE` before `decode` sees it.
 *
 * @example A MessagePack-like converter shape: binary in, binary out
 * ```ts
 * import type { WebSocketConverter } from "@hybi/websocket";
 * const utf8 = new TextEncoder();
 * const lengthPrefixed: WebSocketConverter = {
 *   messageType: "binary",
 *   encode: (value) => {
 *     const body = utf8.encode(String(value));
 *     return new Uint8Array([body.length, ...body]);
 *   },
 *   decode: (data) => {
 *     const bytes = data as Uint8Array;
 *     if (bytes[0] !== bytes.length - 1) throw new Error("bad length prefix");
 *     return new TextDecoder().decode(bytes.subarray(1));
 *   },
 * };
 * console.log(lengthPrefixed.decode(lengthPrefixed.encode("hi") as Uint8Array)); // hi
 * ```
 */
export interface WebSocketConverter {
  /** The one message type `decode` accepts; unset: both. */
  readonly messageType?: "text" | "binary";
  /**
   * A value as a message: a `string` is sent as text, bytes as binary.
   *
   * @param value What the application sends.
   */
  encode(value: unknown): string | Uint8Array;
  /**
   * A message as a value; throws when the message is not one.
   *
   * @param data A text message's string, or a binary message's bytes.
   */
  decode(data: string | Uint8Array): unknown;
}

/**
 * The default converter: JSON in text messages (`JSON.stringify` /
 * `JSON.parse`). A binary message closes with 1003, text that is not JSON
 * with 1007; a value `JSON.stringify` cannot encode (`undefined`, a
 * function, a `BigInt`, a cycle) makes the send throw a `TypeError`.
 *
 * @example
 * ```ts
 * import { jsonConverter } from "@hybi/websocket";
 * const text = jsonConverter.encode({ op: "join", room: 7 });
 * console.log(text, (jsonConverter.decode(text) as { room: number }).room); // {"op":"join","room":7} 7
 * ```
 */
export const jsonConverter: WebSocketConverter = {
  messageType: "text",
  encode(value: unknown): string {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`JSON cannot encode ${typeof value}`);
    return text;
  },
  decode(data: string | Uint8Array): unknown {
    return JSON.parse(data as string);
  },
};

/**
 * A whole message decoded by `converter`, or the `WebSocketError` to fail
 * the connection with (thrown): 1003 for a type it does not take, 1007 when
 * `decode` throws (its own `WebSocketError` as it is).
 *
 * @param converter The session's converter.
 * @param message A text or binary message (`fin` set).
 */
export function decodeMessage(converter: WebSocketConverter, message: Frame): unknown {
  const text = message.opcode === OP_TEXT;
  const only = converter.messageType;
  if (only !== undefined && (only === "text") !== text) {
    throw new WebSocketError(
      ErrorCode.UnacceptableMessageType,
      CloseCode.CannotAccept,
      `only ${only} messages are accepted`,
    );
  }
  let data: string | Uint8Array;
  if (text) {
    const start = payloadStart(message);
    data = decodeUtf8(payloadSource(message), start, start + payloadLength(message));
  } else {
    data = message.data;
  }
  try {
    return converter.decode(data);
  } catch (error) {
    if (error instanceof WebSocketError) throw error;
    const why = error instanceof Error ? error.message : String(error);
    throw new WebSocketError(
      ErrorCode.UndecodableMessage,
      CloseCode.NotConsistent,
      `the message did not decode: ${why}`,
      { cause: error },
    );
  }
}
