/**
 * Turns data frames into whole messages: reassembly of fragments, UTF-8
 * validation of text as its bytes arrive (so an invalid message fails at the
 * first bad byte, not at its end), and the `maxMessageSize` limit. It does
 * no I/O and knows nothing of extensions beyond being fed their decoded
 * bytes; like fastwebsockets' `FragmentCollector`, it is tested alone.
 *
 * Not exported from `mod.ts`: the sessions built on the message core use it.
 *
 * @module
 */
import { CloseCode } from "../close_reason.ts";
import { ErrorCode, protocolError, WebSocketError } from "../errors.ts";
import {
  BinaryFrame,
  type Frame,
  OP_BINARY,
  OP_CONTINUATION,
  OP_TEXT,
  payloadLength,
  payloadParts,
  payloadSource,
  payloadStart,
  TextFrame,
} from "../frame/frame.ts";
import { Utf8Validator } from "../utf8.ts";

/** Default largest message: 64 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE: number = 64 * 1024 * 1024;

const EMPTY = new Uint8Array(0);
const MESSAGE_INITIAL_CAPACITY = 4096;
// A message in one frame is checked in one go: a shared validator keeps no state between messages.
const wholeMessageUtf8 = new Utf8Validator();

/** The 1007 error of text that is not UTF-8. */
export function invalidUtf8(what: string): WebSocketError {
  return new WebSocketError(ErrorCode.InvalidUtf8, CloseCode.NotConsistent, `${what} is not valid UTF-8`);
}

/** Checks the bytes of `parts` (one payload in pieces) from byte `from` of the whole on. */
function pushParts(utf8: Utf8Validator, parts: readonly Uint8Array[], from: number): boolean {
  let offset = 0;
  for (const part of parts) {
    const end = offset + part.length;
    if (end > from && !utf8.push(part, from > offset ? from - offset : 0)) return false;
    offset = end;
  }
  return true;
}

/**
 * Reassembles one connection's messages. Every method throws a
 * {@linkcode WebSocketError} carrying the close code when the peer broke a
 * rule; the caller then fails the connection.
 *
 * @example
 * ```ts
 * import { Frame } from "@hybi/websocket";
 * import { MessageAssembler } from "./message_assembler.ts";
 *
 * const assembler = new MessageAssembler(1 << 20);
 * assembler.frame(new Frame.Text("Hel", false)); // null: the message goes on
 * assembler.frame(new Frame.Continuation(new TextEncoder().encode("lo"), true)); // a Frame.Text "Hello"
 * ```
 */
export class MessageAssembler {
  /** Largest message accepted, in bytes. */
  readonly maxMessageSize: number;
  // The fragmented message being reassembled (0 when none).
  #opcode = 0;
  #message: Uint8Array = EMPTY;
  #length = 0;
  // Made for the first text message split across frames or reads.
  #utf8Validator: Utf8Validator | null = null;
  // Bytes of the frame still arriving that were already validated by `partial`.
  #validated = 0;

  /**
   * @param maxMessageSize Largest message, in bytes; a longer one fails with 1009.
   */
  constructor(maxMessageSize: number = DEFAULT_MAX_MESSAGE_SIZE) {
    this.maxMessageSize = maxMessageSize;
  }

  /** Opcode of the message being reassembled (1 text, 2 binary), or 0 between messages. */
  get opcode(): number {
    return this.#opcode;
  }

  /**
   * Takes a data frame without extension bits (opcode 0, 1 or 2).
   *
   * @returns The whole message (a `Frame.Text` or `Frame.Binary` with `fin`)
   *   when this frame completes one, otherwise `null`.
   */
  frame(frame: Frame): Frame | null {
    const validated = this.#validated;
    this.#validated = 0;
    const opcode = frame.opcode;
    if (opcode === OP_CONTINUATION) {
      if (this.#opcode === 0) {
        throw protocolError(ErrorCode.UnexpectedContinuation, "a continuation frame with no message to continue");
      }
      return this.#appendFrame(frame, frame.fin, validated);
    }
    if (this.#opcode !== 0) {
      throw protocolError(ErrorCode.ExpectedContinuation, "a new message started inside a fragmented one");
    }
    if (frame.fin) return this.#whole(frame, validated);
    this.#opcode = opcode;
    if (validated === 0) this.#utf8.reset();
    return this.#appendFrame(frame, false, validated);
  }

  /**
   * Checks the part of a frame received so far (in the pieces it arrived
   * in), so that a message that can no longer be valid fails now.
   *
   * @param opcode The frame's opcode.
   * @param received Its payload so far.
   */
  partial(opcode: number, received: readonly Uint8Array[]): void {
    if (opcode === OP_CONTINUATION) {
      if (this.#opcode === 0) {
        throw protocolError(ErrorCode.UnexpectedContinuation, "a continuation frame with no message to continue");
      }
      if (this.#opcode !== OP_TEXT) return;
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (this.#opcode !== 0) {
        throw protocolError(ErrorCode.ExpectedContinuation, "a new message started inside a fragmented one");
      }
      if (opcode === OP_BINARY) return;
      if (this.#validated === 0) this.#utf8.reset();
    } else {
      return;
    }
    let length = 0;
    for (const part of received) length += part.length;
    if (this.#length + length > this.maxMessageSize) throw this.#tooBig(this.#length + length);
    if (!pushParts(this.#utf8, received, this.#validated)) throw invalidUtf8("a text message");
    this.#validated = length;
  }

  /**
   * Starts a message whose frames an extension decodes: the decoded bytes
   * come through {@linkcode append}, the end through {@linkcode end}.
   *
   * @param opcode The message's opcode (1 text, 2 binary).
   */
  startDecoded(opcode: number): void {
    if (this.#opcode !== 0) {
      throw protocolError(ErrorCode.ExpectedContinuation, "a new message started inside a fragmented one");
    }
    this.#opcode = opcode;
    this.#utf8.reset();
  }

  /**
   * Adds decoded bytes to the message started with {@linkcode startDecoded}.
   *
   * @param chunk The bytes; kept only as a copy.
   */
  append(chunk: Uint8Array): void {
    this.#append(chunk, false, 0);
  }

  /** Ends the decoded message; returns it. */
  end(): Frame {
    return this.#append(EMPTY, true, 0)!;
  }

  /** Forgets the message being reassembled. */
  reset(): void {
    this.#opcode = 0;
    this.#message = EMPTY;
    this.#length = 0;
    this.#validated = 0;
  }

  get #utf8(): Utf8Validator {
    return this.#utf8Validator ??= new Utf8Validator();
  }

  #whole(frame: Frame, validated: number): Frame {
    const length = payloadLength(frame);
    if (length > this.maxMessageSize) throw this.#tooBig(length);
    if (frame.opcode === OP_TEXT) {
      const utf8 = validated === 0 ? wholeMessageUtf8 : this.#utf8;
      if (validated === 0) utf8.reset();
      const parts = payloadParts(frame);
      const start = payloadStart(frame);
      const valid = parts !== null
        ? pushParts(utf8, parts, validated)
        : utf8.push(payloadSource(frame), start + validated, start + length);
      if (!valid || !utf8.complete) throw invalidUtf8("a text message");
    }
    return frame;
  }

  /** `#append` of a frame's payload, piece by piece when it arrived in pieces. */
  #appendFrame(frame: Frame, fin: boolean, validated: number): Frame | null {
    const parts = payloadParts(frame);
    if (parts === null) return this.#append(frame.data, fin, validated);
    let offset = 0;
    const last = parts.length - 1;
    let message: Frame | null = null;
    for (let i = 0; i <= last; i++) {
      const part = parts[i];
      // Bytes of this piece already checked as the frame arrived.
      const checked = Math.max(0, Math.min(part.length, validated - offset));
      offset += part.length;
      message = this.#append(part, fin && i === last, checked);
    }
    return message;
  }

  #append(data: Uint8Array, fin: boolean, validated: number): Frame | null {
    const length = this.#length + data.length;
    if (length > this.maxMessageSize) throw this.#tooBig(length);
    if (this.#opcode === OP_TEXT) {
      if (!this.#utf8.push(data, validated)) throw invalidUtf8("a text message");
      if (fin && !this.#utf8.complete) throw invalidUtf8("a text message");
    }
    if (data.length > 0) {
      if (length > this.#message.length) {
        let capacity = Math.max(this.#message.length * 2, MESSAGE_INITIAL_CAPACITY, length);
        if (capacity > this.maxMessageSize) capacity = this.maxMessageSize;
        const grown = new Uint8Array(capacity);
        grown.set(this.#message.subarray(0, this.#length));
        this.#message = grown;
      }
      this.#message.set(data, this.#length);
      this.#length = length;
    }
    if (!fin) return null;
    const payload = this.#message.subarray(0, length);
    const opcode = this.#opcode;
    this.reset();
    return opcode === OP_TEXT ? new TextFrame(payload) : new BinaryFrame(payload);
  }

  #tooBig(length: number): WebSocketError {
    return new WebSocketError(
      ErrorCode.MessageTooBig,
      CloseCode.MessageTooBig,
      `message of ${length} bytes exceeds maxMessageSize ${this.maxMessageSize}`,
    );
  }
}
