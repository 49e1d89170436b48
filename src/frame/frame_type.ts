/**
 * The kind of a frame: its opcode (RFC 6455 §5.2) and whether it is a
 * control frame. Mirrors Ktor's `FrameType`, plus `Continuation` for the
 * RAW session, which hands fragments over as they arrive.
 *
 * @example
 * ```ts
 * import { FrameType } from "@hybi/websocket";
 * console.log(FrameType.Ping.opcode, FrameType.Ping.controlFrame); // 9 true
 * console.log(FrameType.byOpcode(2) === FrameType.Binary); // true
 * ```
 */
export class FrameType {
  /** Opcode 0x0: a further fragment of a text or binary message. */
  static readonly Continuation: FrameType = new FrameType("Continuation", 0x0);
  /** Opcode 0x1: UTF-8 text. */
  static readonly Text: FrameType = new FrameType("Text", 0x1);
  /** Opcode 0x2: binary data. */
  static readonly Binary: FrameType = new FrameType("Binary", 0x2);
  /** Opcode 0x8: the close handshake. */
  static readonly Close: FrameType = new FrameType("Close", 0x8);
  /** Opcode 0x9: a ping, to be answered with a pong. */
  static readonly Ping: FrameType = new FrameType("Ping", 0x9);
  /** Opcode 0xA: a pong. */
  static readonly Pong: FrameType = new FrameType("Pong", 0xa);

  /** The type's name. */
  readonly name: string;
  /** The 4-bit opcode. */
  readonly opcode: number;
  /** Whether frames of this type are control frames (opcode ≥ 8). */
  readonly controlFrame: boolean;

  private constructor(name: string, opcode: number) {
    this.name = name;
    this.opcode = opcode;
    this.controlFrame = opcode >= 0x8;
  }

  /**
   * The frame type of a defined opcode, or `undefined` for a reserved one.
   *
   * @param opcode A 4-bit opcode.
   */
  static byOpcode(opcode: number): FrameType | undefined {
    return BY_OPCODE[opcode];
  }

  /** The type's name. */
  toString(): string {
    return this.name;
  }
}

const BY_OPCODE: (FrameType | undefined)[] = [];
for (
  const t of [
    FrameType.Continuation,
    FrameType.Text,
    FrameType.Binary,
    FrameType.Close,
    FrameType.Ping,
    FrameType.Pong,
  ]
) BY_OPCODE[t.opcode] = t;

// The opcodes as plain numbers, for the hot paths that compare them (RFC 6455 §5.2).
/** Opcode of a continuation frame. */
export const OP_CONTINUATION = 0x0;
/** Opcode of a text frame. */
export const OP_TEXT = 0x1;
/** Opcode of a binary frame. */
export const OP_BINARY = 0x2;
/** Opcode of a close frame. */
export const OP_CLOSE = 0x8;
/** Opcode of a ping frame. */
export const OP_PING = 0x9;
/** Opcode of a pong frame. */
export const OP_PONG = 0xa;
