import type { Frame } from "../frame/frame.ts";
import type { ExtensionElement } from "./extension_header.ts";

/**
 * A WebSocket extension negotiated for one connection (RFC 6455 §9), in the
 * spirit of Ktor's `WebSocketExtension`: it has a name, the response element
 * it agreed to, the RSV bits it claims, and it transforms messages.
 *
 * Its RSV bits mark whole messages, as every per-message extension does
 * (RFC 7692 §6): they may be set on the first frame of a text or binary
 * message only. The session fails the connection with 1002 when they appear
 * on a continuation or control frame, and never passes control frames to
 * the extension.
 *
 * Both transforms are asynchronous and their results settle in call order,
 * so a session may issue the next call before the previous one settles
 * without reordering messages.
 *
 * @example The shape of the calls a session makes
 * ```ts
 * import { Frame, type WebSocketExtension } from "@hybi/websocket";
 * async function receive(ext: WebSocketExtension, frame: Frame, parts: Uint8Array[]): Promise<void> {
 *   await ext.decodeFrame(frame.data, frame.fin, 1 << 20, (chunk) => void parts.push(chunk.slice()));
 * }
 * async function send(ext: WebSocketExtension, text: string): Promise<Frame> {
 *   return await ext.encodeFrame(new Frame.Text(text));
 * }
 * console.log(typeof receive, typeof send); // function function
 * ```
 */
export interface WebSocketExtension {
  /** The extension token, for example `permessage-deflate`. */
  readonly name: string;
  /** RSV bits the extension claims, as in the first header byte (RSV1 = 0x40). */
  readonly rsv: number;
  /** The response's `Sec-WebSocket-Extensions` element for this extension. */
  readonly header: string;
  /**
   * Decodes one frame (text, binary or continuation) of an incoming message
   * whose first frame carried this extension's RSV bits. The decoded bytes
   * go to `emit` as they are produced, possibly in several chunks; a chunk
   * is the callee's to keep. An error thrown by `emit` fails the call.
   *
   * @param data The frame's payload; it must not change until the promise settles.
   * @param fin Whether this is the message's last frame.
   * @param maxMessageSize Most bytes the whole decoded message may have;
   *   decoding stops as soon as it would exceed this.
   * @param emit Receives the decoded bytes, in order.
   * @returns Settles once all of this frame's bytes were emitted; rejects
   *   with a `WebSocketError` (1007 for undecodable data, 1009 for a message
   *   over the limit). After a rejection every later call rejects too.
   */
  decodeFrame(
    data: Uint8Array,
    fin: boolean,
    maxMessageSize: number,
    emit: (chunk: Uint8Array) => void,
  ): Promise<void>;
  /**
   * Encodes one outgoing text, binary or continuation frame. Call it for
   * every data frame, in order: the extension decides at each message's
   * first frame whether to transform the message, and marks that frame
   * with its RSV bits.
   *
   * @param frame The frame; its data must not change until the promise settles.
   * @returns The frame to send in its place (possibly `frame` itself).
   */
  encodeFrame(frame: Frame): Promise<Frame>;
  /**
   * Frees what the extension holds (compression state). Pending and later
   * calls reject. Called once when the connection ends.
   */
  dispose(): void;
}

/**
 * A configured extension that negotiates per connection, as Ktor's
 * `WebSocketExtensionFactory`: the server's list of factories goes into
 * `WebSocketUpgradeOptions.extensions`, and during the opening handshake each
 * one sees the client's offers of its extension.
 *
 * @example A factory that never accepts
 * ```ts
 * import type { ExtensionElement, WebSocketExtension, WebSocketExtensionFactory } from "@hybi/websocket";
 * const never: WebSocketExtensionFactory = {
 *   name: "x-never",
 *   rsv: 0x20,
 *   negotiate(_offers: readonly ExtensionElement[]): WebSocketExtension | null {
 *     return null;
 *   },
 * };
 * console.log(never.negotiate([{ name: "x-never", params: [] }])); // null
 * ```
 */
export interface WebSocketExtensionFactory {
  /** The extension token it answers (compared ASCII case-insensitively). */
  readonly name: string;
  /** RSV bits its extensions claim; a factory whose bits are taken is skipped. */
  readonly rsv: number;
  /**
   * Picks the first acceptable offer, in the client's order of preference,
   * and returns the extension for this connection, or `null` to decline
   * them all. Runs synchronously in the handshake and allocates nothing
   * heavy: compression state is created when first used.
   *
   * @param offers The client's well-formed offers of this extension.
   */
  negotiate(offers: readonly ExtensionElement[]): WebSocketExtension | null;
}
