/**
 * A permessage-deflate peer written straight on node:zlib streams (not on
 * hybi's codec), for the tests: it compresses and decompresses messages the
 * way RFC 7692 §7.2 describes, with or without context takeover.
 */
import * as zlib from "node:zlib";
import { concatBytes } from "./bytes.ts";

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** Decompresses a peer's messages, keeping the window between them. */
export class StreamInflater {
  readonly #z: zlib.InflateRaw;
  #out: Uint8Array[] = [];
  constructor(windowBits = 15) {
    this.#z = zlib.createInflateRaw({ windowBits });
    this.#z.on("data", (c: Uint8Array) => this.#out.push(new Uint8Array(c)));
  }
  /** One message's payload (all its frames joined) → the message. */
  inflate(data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.#z.once("error", reject);
      this.#z.write(concatBytes([data, TAIL]));
      this.#z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        this.#z.off("error", reject);
        resolve(concatBytes(this.#out.splice(0)));
      });
    });
  }
  close(): void {
    this.#z.close();
  }
}

/** Compresses messages, keeping the window between them. */
export class StreamDeflater {
  readonly #z: zlib.DeflateRaw;
  #out: Uint8Array[] = [];
  constructor(windowBits = 15, level = 6) {
    this.#z = zlib.createDeflateRaw({ windowBits, level });
    this.#z.on("data", (c: Uint8Array) => this.#out.push(new Uint8Array(c)));
  }
  /** Compressed and sync-flushed; the tail removed when `fin` (the message's last bytes). */
  deflate(data: Uint8Array, fin = true): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.#z.write(data);
      this.#z.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const all = concatBytes(this.#out.splice(0));
        resolve(fin ? all.subarray(0, all.length - 4) : all);
      });
    });
  }
  close(): void {
    this.#z.close();
  }
}

/** One message's payload inflated on its own (no context), as a peer without context takeover does. */
export function inflateAlone(payload: Uint8Array): Uint8Array {
  return new Uint8Array(
    zlib.inflateRawSync(concatBytes([payload, TAIL]), { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
  );
}

/** One message compressed on its own (no context); the payload to send. */
export function deflateAlone(data: Uint8Array): Uint8Array {
  const all = zlib.deflateRawSync(data, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  return new Uint8Array(all.subarray(0, all.length - 4));
}
