import { CloseReason } from "../close_reason.ts";
import { FrameType, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT } from "./frame_type.ts";

export { OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT };

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// A frame's payload, kept under symbol keys: the codec and the sessions read
// them directly (plain property loads), the application sees only `data`.
/** The payload once made into a view (or given), else null. @internal */
const kData: unique symbol = Symbol("hybi.frameData");
/** The buffer the payload lies in (with `kStart`, `kLength`). @internal */
const kSource: unique symbol = Symbol("hybi.frameSource");
/** Where the payload starts in `kSource`. @internal */
const kStart: unique symbol = Symbol("hybi.frameStart");
/** Payload length. @internal */
const kLength: unique symbol = Symbol("hybi.frameLength");
/** A large payload that arrived over several chunks: its pieces, joined only if `data` is asked for. @internal */
const kParts: unique symbol = Symbol("hybi.frameParts");

/** Payload bytes of a frame, without making its `data` view. */
export function payloadLength(frame: Frame): number {
  return frame[kLength];
}

/** The buffer holding a frame's payload, from `payloadStart` on, `payloadLength` bytes. */
export function payloadSource(frame: Frame): Uint8Array {
  return frame[kParts] !== null ? frame.data : frame[kData] ?? frame[kSource];
}

/** Where a frame's payload starts in `payloadSource`. */
export function payloadStart(frame: Frame): number {
  return frame[kData] === null ? frame[kStart] : 0;
}

/** The pieces a frame's payload arrived in, in order, when it is kept that way; otherwise null. */
export function payloadParts(frame: Frame): readonly Uint8Array[] | null {
  return frame[kParts];
}

function inChunk<F extends Frame>(frame: F, source: Uint8Array, start: number, length: number): F {
  frame[kData] = null;
  frame[kSource] = source;
  frame[kStart] = start;
  frame[kLength] = length;
  return frame;
}

function inParts<F extends Frame>(frame: F, parts: Uint8Array[], length: number): F {
  frame[kData] = null;
  frame[kParts] = parts;
  frame[kStart] = 0;
  frame[kLength] = length;
  return frame;
}

/**
 * One WebSocket frame, as in Ktor: a type, `fin`, the three RSV bits and the
 * (unmasked) payload. Build frames with `new Frame.Text("hi")`,
 * `new Frame.Binary(bytes)`, `new Frame.Close(reason)`, `new Frame.Ping()`,
 * `new Frame.Pong(data)` or, for raw use, `new Frame.Continuation(bytes, fin)`.
 *
 * A frame's `data` may be a view into a receive buffer; it belongs to whoever
 * holds the frame, and a frame handed to `send` must not be changed until the
 * returned promise settles.
 *
 * @example
 * ```ts
 * import { Frame, FrameType } from "@hybi/websocket";
 * const f = new Frame.Text("héllo");
 * console.log(f.frameType === FrameType.Text, f.fin, f.data.length); // true true 6
 * console.log(f instanceof Frame.Text, f.readText()); // true héllo
 * ```
 */
export abstract class Frame {
  /** Whether this is the final fragment of its message. */
  readonly fin: boolean;
  /** The 4-bit opcode. */
  readonly opcode: number;
  /** RSV1 (claimed by permessage-deflate: "this message is compressed"). */
  readonly rsv1: boolean;
  /** RSV2, reserved for extensions. */
  readonly rsv2: boolean;
  /** RSV3, reserved for extensions. */
  readonly rsv3: boolean;
  // The payload: `kData` once made; a frame the reader found whole in a
  // received chunk holds only its range of `kSource` until `data` is asked
  // for, so that an echo or a length check costs no view (50-150 ns each).
  /** @internal */
  [kData]: Uint8Array | null;
  /** @internal */
  [kSource]: Uint8Array;
  /** @internal */
  [kStart]: number;
  /** @internal */
  [kLength]: number;
  /** @internal */
  [kParts]: Uint8Array[] | null;

  /**

   * Builds the frame.

   *
   * @param opcode The frame's opcode.
   * @param fin Whether this is a final fragment.
   * @param data The payload.
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   */
  protected constructor(
    opcode: number,
    fin: boolean,
    data: Uint8Array,
    rsv1: boolean,
    rsv2: boolean,
    rsv3: boolean,
  ) {
    this.opcode = opcode;
    this.fin = fin;
    this.rsv1 = rsv1;
    this.rsv2 = rsv2;
    this.rsv3 = rsv3;
    this[kData] = data;
    this[kSource] = data;
    this[kStart] = 0;
    this[kLength] = data.length;
    this[kParts] = null;
  }

  /** The unmasked payload. */
  get data(): Uint8Array {
    const data = this[kData];
    if (data !== null) return data;
    const parts = this[kParts];
    if (parts !== null) {
      const joined = new Uint8Array(this[kLength]);
      let offset = 0;
      for (const part of parts) {
        joined.set(part, offset);
        offset += part.length;
      }
      this[kParts] = null;
      this[kSource] = joined;
      return this[kData] = joined;
    }
    // A plain view even when the chunk is a runtime's subclass (Node's and Bun's Buffer).
    const source = this[kSource];
    return this[kData] = new Uint8Array(source.buffer, source.byteOffset + this[kStart], this[kLength]);
  }

  /** The frame's {@linkcode FrameType}. */
  get frameType(): FrameType {
    return FrameType.byOpcode(this.opcode)!;
  }

  /** The payload decoded as UTF-8 (invalid sequences become U+FFFD). */
  readText(): string {
    return decoder.decode(this.data);
  }

  /** A copy of the payload. */
  readBytes(): Uint8Array {
    return this.data.slice();
  }

  /** A short description such as `Frame Text (fin=true, buffer len = 5)`. */
  toString(): string {
    return `Frame ${this.frameType.name} (fin=${this.fin}, buffer len = ${this.data.length})`;
  }

  /**
   * Builds a frame of the given type, as Ktor's `Frame.byType`.
   *
   * @param fin Whether this is a final fragment.
   * @param frameType The type.
   * @param data The unmasked payload.
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   * @returns A frame of the matching subclass.
   */
  static byType(
    fin: boolean,
    frameType: FrameType,
    data: Uint8Array,
    rsv1: boolean = false,
    rsv2: boolean = false,
    rsv3: boolean = false,
  ): Frame {
    return frameOf(frameType.opcode, fin, data, rsv1, rsv2, rsv3);
  }

  /** A text frame (opcode 1). */
  static get Text(): typeof TextFrame {
    return TextFrame;
  }
  /** A binary frame (opcode 2). */
  static get Binary(): typeof BinaryFrame {
    return BinaryFrame;
  }
  /** A close frame (opcode 8). */
  static get Close(): typeof CloseFrame {
    return CloseFrame;
  }
  /** A ping frame (opcode 9). */
  static get Ping(): typeof PingFrame {
    return PingFrame;
  }
  /** A pong frame (opcode 10). */
  static get Pong(): typeof PongFrame {
    return PongFrame;
  }
  /** A continuation fragment (opcode 0), as the RAW session delivers them. */
  static get Continuation(): typeof ContinuationFrame {
    return ContinuationFrame;
  }
}

/**
 * A text frame. Its data is UTF-8; the RAW session does not validate it.
 *
 * @example
 * ```ts
 * import { Frame } from "@hybi/websocket";
 * const first = new Frame.Text("hel", false);
 * console.log(first.fin, first.readText()); // false hel
 * ```
 */
export class TextFrame extends Frame {
  /**
   * Builds the frame.
   *
   * @param data The text, or its UTF-8 bytes.
   * @param fin Whether this is the final fragment (default `true`).
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   */
  constructor(
    data: string | Uint8Array,
    fin: boolean = true,
    rsv1: boolean = false,
    rsv2: boolean = false,
    rsv3: boolean = false,
  ) {
    super(OP_TEXT, fin, typeof data === "string" ? encoder.encode(data) : data, rsv1, rsv2, rsv3);
  }
}

/**
 * A binary frame.
 *
 * @example
 * ```ts
 * import { Frame } from "@hybi/websocket";
 * console.log(new Frame.Binary(new Uint8Array([1, 2])).data); // Uint8Array(2) [ 1, 2 ]
 * ```
 */
export class BinaryFrame extends Frame {
  /**
   * Builds the frame.
   *
   * @param data The payload.
   * @param fin Whether this is the final fragment (default `true`).
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   */
  constructor(
    data: Uint8Array,
    fin: boolean = true,
    rsv1: boolean = false,
    rsv2: boolean = false,
    rsv3: boolean = false,
  ) {
    super(OP_BINARY, fin, data, rsv1, rsv2, rsv3);
  }
}

/**
 * A continuation fragment of a text or binary message.
 *
 * @example
 * ```ts
 * import { Frame } from "@hybi/websocket";
 * const last = new Frame.Continuation(new TextEncoder().encode("lo"), true);
 * console.log(last.opcode, last.fin); // 0 true
 * ```
 */
export class ContinuationFrame extends Frame {
  /**
   * Builds the frame.
   *
   * @param data The payload.
   * @param fin Whether this is the final fragment (default `true`).
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   */
  constructor(
    data: Uint8Array,
    fin: boolean = true,
    rsv1: boolean = false,
    rsv2: boolean = false,
    rsv3: boolean = false,
  ) {
    super(OP_CONTINUATION, fin, data, rsv1, rsv2, rsv3);
  }
}

/**
 * A close frame: an optional 2-byte code followed by a UTF-8 reason.
 *
 * @example
 * ```ts
 * import { CloseCode, CloseReason, Frame } from "@hybi/websocket";
 * const f = new Frame.Close(new CloseReason(CloseCode.GoingAway, "restart"));
 * console.log(f.readReason()?.code, f.readReason()?.message); // 1001 restart
 * ```
 */
export class CloseFrame extends Frame {
  /**
   * Builds the frame.
   *
   * @param reason The reason to send, raw payload bytes, or nothing for an
   *   empty close frame.
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   */
  constructor(
    reason?: CloseReason | Uint8Array | null,
    rsv1: boolean = false,
    rsv2: boolean = false,
    rsv3: boolean = false,
  ) {
    super(OP_CLOSE, true, reason instanceof Uint8Array ? reason : encodeCloseReason(reason), rsv1, rsv2, rsv3);
  }

  /**
   * The reason the payload carries, or `null` when it is empty. A one-byte
   * payload gives `null` too; the default session rejects it before this.
   */
  readReason(): CloseReason | null {
    const d = this.data;
    if (d.length < 2) return null;
    return new CloseReason((d[0] << 8) | d[1], decoder.decode(d.subarray(2)));
  }
}

/**
 * A ping frame; its payload (at most 125 bytes) comes back in the pong.
 *
 * @example
 * ```ts
 * import { Frame } from "@hybi/websocket";
 * console.log(new Frame.Ping().data.length); // 0
 * ```
 */
export class PingFrame extends Frame {
  /**
   * Builds the frame.
   *
   * @param data The payload (default empty).
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   */
  constructor(data: Uint8Array = EMPTY, rsv1: boolean = false, rsv2: boolean = false, rsv3: boolean = false) {
    super(OP_PING, true, data, rsv1, rsv2, rsv3);
  }
}

/**
 * A pong frame, the answer to a ping (or an unsolicited heartbeat).
 *
 * @example
 * ```ts
 * import { Frame } from "@hybi/websocket";
 * const ping = new Frame.Ping(new Uint8Array([7]));
 * console.log(new Frame.Pong(ping.data).data[0]); // 7
 * ```
 */
export class PongFrame extends Frame {
  /**
   * Builds the frame.
   *
   * @param data The payload (default empty).
   * @param rsv1 RSV1.
   * @param rsv2 RSV2.
   * @param rsv3 RSV3.
   */
  constructor(data: Uint8Array = EMPTY, rsv1: boolean = false, rsv2: boolean = false, rsv3: boolean = false) {
    super(OP_PONG, true, data, rsv1, rsv2, rsv3);
  }
}

function encodeCloseReason(reason: CloseReason | null | undefined): Uint8Array {
  if (reason === null || reason === undefined) return EMPTY;
  const text = encoder.encode(reason.message);
  if (text.length > 123) {
    throw new RangeError(`a close reason is at most 123 bytes of UTF-8, got ${text.length}`);
  }
  if (!Number.isInteger(reason.code) || reason.code < 0 || reason.code > 0xffff) {
    throw new RangeError(`a close code is a 16-bit integer, got ${reason.code}`);
  }
  const out = new Uint8Array(2 + text.length);
  out[0] = reason.code >>> 8;
  out[1] = reason.code & 0xff;
  out.set(text, 2);
  return out;
}

/**
 * Copies a frame's payload into `target` at `offset`; short payloads by a
 * loop, which beats `set` (and a view) below a few dozen bytes.
 */
export function copyPayload(frame: Frame, target: Uint8Array, offset: number): void {
  const parts = payloadParts(frame);
  if (parts !== null) {
    for (const part of parts) {
      target.set(part, offset);
      offset += part.length;
    }
    return;
  }
  const length = payloadLength(frame);
  const source = payloadSource(frame);
  const start = payloadStart(frame);
  if (length <= 64) {
    let i = 0;
    for (const end4 = length - 3; i < end4; i += 4) {
      target[offset + i] = source[start + i];
      target[offset + i + 1] = source[start + i + 1];
      target[offset + i + 2] = source[start + i + 2];
      target[offset + i + 3] = source[start + i + 3];
    }
    for (; i < length; i++) target[offset + i] = source[start + i];
  } else {
    target.set(start === 0 && length === source.length ? source : source.subarray(start, start + length), offset);
  }
}

/**
 * A frame whose payload is `length` bytes of `source` from `start`, as the
 * frame reader finds it in a received chunk; the `data` view is made only
 * when asked for.
 */
export function frameInChunk(
  opcode: number,
  fin: boolean,
  source: Uint8Array,
  start: number,
  length: number,
  rsv1: boolean,
  rsv2: boolean,
  rsv3: boolean,
): Frame {
  return inChunk(frameOf(opcode, fin, EMPTY, rsv1, rsv2, rsv3), source, start, length);
}

/** A frame whose payload is kept as the pieces it arrived in (see `payloadParts`). */
export function frameInParts(
  opcode: number,
  fin: boolean,
  parts: Uint8Array[],
  length: number,
  rsv1: boolean,
  rsv2: boolean,
  rsv3: boolean,
): Frame {
  return inParts(frameOf(opcode, fin, EMPTY, rsv1, rsv2, rsv3), parts, length);
}

/**
 * Builds a frame of the subclass matching `opcode`; the frame reader's
 * factory, so it takes the opcode as a number and allocates nothing else.
 */
export function frameOf(
  opcode: number,
  fin: boolean,
  data: Uint8Array,
  rsv1: boolean,
  rsv2: boolean,
  rsv3: boolean,
): Frame {
  switch (opcode) {
    case OP_TEXT:
      return new TextFrame(data, fin, rsv1, rsv2, rsv3);
    case OP_BINARY:
      return new BinaryFrame(data, fin, rsv1, rsv2, rsv3);
    case OP_CONTINUATION:
      return new ContinuationFrame(data, fin, rsv1, rsv2, rsv3);
    case OP_CLOSE:
      return new CloseFrame(data, rsv1, rsv2, rsv3);
    case OP_PING:
      return new PingFrame(data, rsv1, rsv2, rsv3);
    case OP_PONG:
      return new PongFrame(data, rsv1, rsv2, rsv3);
  }
  throw new RangeError(`reserved opcode ${opcode}`);
}
