import { copyPayload, type Frame, payloadLength } from "./frame.ts";
import { applyMask } from "./mask.ts";

/** Options of a {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /**
   * Mask every frame with a fresh random key, as a client must (RFC 6455
   * §5.3). A server leaves this off (the default).
   */
  masking?: boolean;
}

// Masking keys come from a pool filled by one getRandomValues call, not one
// call per frame.
const KEY_POOL_SIZE = 4096;
let keyPool: Uint8Array = new Uint8Array(0);
let keyPoolPos = KEY_POOL_SIZE;

function nextKeyOffset(): number {
  if (keyPoolPos + 4 > keyPool.length) {
    keyPool = new Uint8Array(KEY_POOL_SIZE);
    crypto.getRandomValues(keyPool);
    keyPoolPos = 0;
  }
  const at = keyPoolPos;
  keyPoolPos += 4;
  return at;
}

/**
 * Serialises frames (RFC 6455 §5.2) with the shortest length encoding:
 * unmasked for the server role, masked with a fresh random key for the client
 * role. It does no I/O.
 *
 * @example
 * ```ts
 * import { Frame, FrameWriter } from "@hybi/websocket";
 * const bytes = new FrameWriter().encode(new Frame.Text("Hello"));
 * console.log(bytes); // Uint8Array(7) [ 129, 5, 72, 101, 108, 108, 111 ]
 * ```
 */
export class FrameWriter {
  /** Whether frames are masked (client role). */
  readonly masking: boolean;

  /**

   * Builds a writer.

   *

   * @param options Role: `masking` for a client.

   */
  constructor(options: FrameWriterOptions = {}) {
    this.masking = options.masking ?? false;
  }

  /**
   * Bytes the frame takes on the wire.
   *
   * @param frame The frame to measure.
   */
  encodedLength(frame: Frame): number {
    const length = payloadLength(frame);
    return headerLength(length, this.masking) + length;
  }

  /**
   * Serialises one frame into a new buffer.
   *
   * @param frame The frame to serialise.
   * @returns Its bytes on the wire.
   */
  encode(frame: Frame): Uint8Array {
    const out = new Uint8Array(this.encodedLength(frame));
    this.encodeInto(frame, out, 0);
    return out;
  }

  /**
   * Serialises one frame into `target` at `offset`, which must have room for
   * {@linkcode FrameWriter.encodedLength} bytes.
   *
   * @param frame The frame to serialise.
   * @param target The buffer to write into.
   * @param offset Where the frame starts in `target`.
   * @returns The offset just past the frame.
   */
  encodeInto(frame: Frame, target: Uint8Array, offset: number): number {
    const length = payloadLength(frame);
    const start = this.encodeHeader(frame, length, target, offset);
    copyPayload(frame, target, start);
    const end = start + length;
    if (this.masking && end > start) applyMask(target, start, end, target, start - 4, 0);
    return end;
  }

  /**
   * Writes only the header of a frame whose payload is `length` bytes long.
   * With masking on, the masking key is the header's last 4 bytes and the
   * caller masks the payload with it.
   *
   * @param frame Supplies opcode, `fin` and RSV bits.
   * @param length The payload length.
   * @param target The buffer to write into.
   * @param offset Where the header starts.
   * @returns The offset just past the header.
   */
  encodeHeader(frame: Frame, length: number, target: Uint8Array, offset: number): number {
    let b0 = frame.opcode;
    if (frame.fin) b0 |= 0x80;
    if (frame.rsv1) b0 |= 0x40;
    if (frame.rsv2) b0 |= 0x20;
    if (frame.rsv3) b0 |= 0x10;
    return this.#header(b0, length, target, offset);
  }

  /**
   * Writes the header of an unfragmented message without extension bits
   * (FIN set, RSV clear); see {@linkcode FrameWriter.encodeHeader}.
   *
   * @param opcode The message's opcode (1 text, 2 binary).
   * @param length The payload length.
   * @param target The buffer to write into.
   * @param offset Where the header starts.
   * @returns The offset just past the header.
   */
  encodeMessageHeader(opcode: number, length: number, target: Uint8Array, offset: number): number {
    return this.#header(0x80 | opcode, length, target, offset);
  }

  /**
   * Serialises an unfragmented message from its opcode and payload, with no
   * `Frame` object (the handler path's send); `target` must have room for
   * the header and the payload.
   *
   * @param opcode The message's opcode (1 text, 2 binary).
   * @param data The payload.
   * @param target The buffer to write into.
   * @param offset Where the frame starts in `target`.
   * @returns The offset just past the frame.
   */
  encodeMessageInto(opcode: number, data: Uint8Array, target: Uint8Array, offset: number): number {
    const length = data.length;
    const start = this.#header(0x80 | opcode, length, target, offset);
    if (length <= 64) {
      // A loop beats `set` (and its checks) for a few dozen bytes.
      for (let i = 0; i < length; i++) target[start + i] = data[i];
    } else {
      target.set(data, start);
    }
    const end = start + length;
    if (this.masking && end > start) applyMask(target, start, end, target, start - 4, 0);
    return end;
  }

  #header(b0: number, length: number, target: Uint8Array, offset: number): number {
    target[offset] = b0;
    const maskBit = this.masking ? 0x80 : 0;
    let p = offset + 2;
    if (length < 126) {
      target[offset + 1] = maskBit | length;
    } else if (length < 0x10000) {
      target[offset + 1] = maskBit | 126;
      target[p++] = length >>> 8;
      target[p++] = length & 0xff;
    } else {
      target[offset + 1] = maskBit | 127;
      const hi = Math.floor(length / 0x100000000);
      target[p++] = hi >>> 24;
      target[p++] = (hi >>> 16) & 0xff;
      target[p++] = (hi >>> 8) & 0xff;
      target[p++] = hi & 0xff;
      target[p++] = length >>> 24;
      target[p++] = (length >>> 16) & 0xff;
      target[p++] = (length >>> 8) & 0xff;
      target[p++] = length & 0xff;
    }
    if (this.masking) {
      const k = nextKeyOffset();
      target[p++] = keyPool[k];
      target[p++] = keyPool[k + 1];
      target[p++] = keyPool[k + 2];
      target[p++] = keyPool[k + 3];
    }
    return p;
  }
}

/**
 * Header bytes of a frame with a payload of `length` bytes.
 *
 * @param length The payload length.
 * @param masked Whether the frame carries a masking key.
 */
export function headerLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * One unfragmented server frame (unmasked) in a buffer of its own: the bytes
 * a published message is sent as, to every subscriber alike.
 *
 * @param head The first header byte: FIN, RSV bits and opcode.
 * @param payload The payload, copied after the header.
 */
export function unmaskedFrame(head: number, payload: Uint8Array): Uint8Array {
  const length = payload.length;
  const header = headerLength(length, false);
  const frame = new Uint8Array(header + length);
  frame[0] = head;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 0x10000) {
    frame[1] = 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 127;
    const hi = Math.floor(length / 0x100000000);
    frame[2] = hi >>> 24;
    frame[3] = (hi >>> 16) & 0xff;
    frame[4] = (hi >>> 8) & 0xff;
    frame[5] = hi & 0xff;
    frame[6] = length >>> 24;
    frame[7] = (length >>> 16) & 0xff;
    frame[8] = (length >>> 8) & 0xff;
    frame[9] = length & 0xff;
  }
  frame.set(payload, header);
  return frame;
}
