/**
 * Compression shared by the subscribers of a topic: a published message is
 * compressed once for every connection whose permessage-deflate lets it
 * receive the same bytes, that is, every connection whose server side has no
 * context takeover (each message compressed from an empty window, so the
 * result does not depend on what the connection was sent before) and the
 * same window, level and memory level. Connections with context takeover
 * compress for themselves.
 *
 * One `SharedDeflater` per such configuration, process-wide (see
 * {@linkcode sharedDeflater}): a handful at most, each holding no zlib state
 * between messages.
 *
 * @module
 */
import { unmaskedFrame } from "../frame/frame_writer.ts";
import { deflateMessageSync, type DeflaterOptions, MessageDeflater } from "./deflate_codec.ts";
import { SerialQueue } from "./serial_queue.ts";

/** FIN and RSV1 ("compressed", RFC 7692 §6) in a frame's first byte. */
const FIN_RSV1 = 0x80 | 0x40;
/**
 * Messages up to this size are compressed synchronously (a fraction of a
 * millisecond at level 6): the frame is ready during the publish, so it goes
 * into the subscribers' batches with the messages published in the same
 * turn, as uncompressed ones do, rather than in a write of its own after a
 * round trip to zlib's thread. Larger ones go through zlib's thread, so a
 * large publish does not stall the event loop.
 */
const SYNC_UP_TO = 16 * 1024;

/**
 * Compresses whole messages without context takeover, one at a time, into
 * server frames (RSV1 set, unmasked) that any connection negotiated with
 * the same parameters can send as they are.
 */
export class SharedDeflater {
  readonly #options: DeflaterOptions;
  #deflater: MessageDeflater;
  readonly #queue = new SerialQueue();
  /** Messages compressed so far (for tests and measurements). */
  compressions = 0;

  /**
   * Builds a shared deflater; zlib is not touched until the first message.
   *
   * @param options Window, level and memory level; `noContextTakeover` is forced on.
   */
  constructor(options: DeflaterOptions) {
    this.#options = { ...options, noContextTakeover: true };
    this.#deflater = new MessageDeflater(this.#options);
  }

  /**
   * The message compressed as one frame: header and payload; at once for a
   * small message (see `SYNC_UP_TO`), later for a large one.
   *
   * @param opcode 1 (text) or 2 (binary).
   * @param payload The message, at least one byte; must not change until the promise settles.
   */
  frame(opcode: number, payload: Uint8Array): Uint8Array | Promise<Uint8Array> {
    this.compressions++;
    if (payload.length <= SYNC_UP_TO) {
      const data = deflateMessageSync(payload, this.#options);
      if (data !== null) return unmaskedFrame(FIN_RSV1 | opcode, data);
    }
    return this.#queue.run(async () => {
      let data: Uint8Array;
      try {
        data = await this.#deflater.deflate(payload, true);
      } catch (error) {
        // A deflater that failed stays failed; the next message gets a fresh one.
        this.#deflater = new MessageDeflater(this.#options);
        throw error;
      }
      return unmaskedFrame(FIN_RSV1 | opcode, data);
    });
  }
}

// Keyed by window bits (8–15), level (0–9) and memory level (1–9), packed in one number.
const deflaters = new Map<number, SharedDeflater>();

/**
 * The process's shared deflater for one configuration, made on first use.
 *
 * @param windowBits The negotiated `server_max_window_bits`.
 * @param level zlib compression level.
 * @param memLevel zlib memory level.
 */
export function sharedDeflater(windowBits: number, level: number, memLevel: number): SharedDeflater {
  const key = (windowBits << 8) | (level << 4) | memLevel;
  let deflater = deflaters.get(key);
  if (deflater === undefined) {
    deflater = new SharedDeflater({ windowBits, level, memLevel, noContextTakeover: true });
    deflaters.set(key, deflater);
  }
  return deflater;
}
