/**
 * What a micro benchmark case file exports, and the helpers case files share.
 *
 * A case file (one per area, listed in `registry.ts`) exports
 * `const cases: MicroCase[]`. Every case names the reference it is compared
 * with; the runner measures both in the same process, one right after the
 * other, and prints `ratio = reference time / case time` (1.0 = as fast as the
 * reference, 0.5 = half its speed).
 *
 * Keeping the JIT honest: the runner hands every value a `run` returns to
 * mitata's `do_not_optimize`, so a case must return something that depends on
 * the work done (a frame count, a byte of the output), not `undefined`. Inputs
 * live in module-level buffers (never constants the compiler could fold), and
 * work done in place (unmasking, copying) lands in buffers that outlive the
 * call. `verify` runs once before timing and must throw when `run` does not
 * do the work the case claims, so a broken fast path cannot look fast.
 */

/** Something measured beside a case: the same bytes through a plain operation. */
export interface Reference {
  /** Label in the table, e.g. `"set() copy 1 MiB"`. */
  name: string;
  /** Bytes handled per call, for MB/s; 0 when a byte rate means nothing. */
  bytes: number;
  /** One call of the work; may return a promise. */
  run: () => unknown;
}

/** One measured operation of the library. */
export interface MicroCase {
  /** Label in the table, e.g. `"1 KiB frame, one chunk"`. */
  name: string;
  /** Bytes handled per call, for MB/s; 0 when a byte rate means nothing. */
  bytes: number;
  /** One call of the work; may return a promise. Its result is consumed. */
  run: () => unknown;
  /** What the case is compared with, measured in the same run. */
  reference: Reference;
  /** Lowest acceptable ratio (reference time / case time), when the issue sets one. */
  target?: number;
  /** Checks once, before timing, that `run` does what the case claims; throws if not. */
  verify?: () => void | Promise<void>;
}

/** `n` pseudo-random bytes from a fixed seed, so every runtime parses the same input. */
export { seededBytes } from "../../tests/_helpers/seeded_bytes.ts";

/**
 * A reference that copies `source` into a buffer of the same size with
 * `Uint8Array.prototype.set`, the cheapest way to touch every byte once.
 */
export function copyReference(source: Uint8Array, name = `set() copy ${formatBytes(source.length)}`): Reference {
  const target = new Uint8Array(source.length);
  const last = source.length - 1;
  return {
    name,
    bytes: source.length,
    run: () => {
      target.set(source);
      return target[last];
    },
  };
}

/**
 * Bytes of one client frame (masked, as a server receives it) carrying
 * `payload`, built here rather than with the library's own writer so the
 * reader is not fed by the code it is compared with.
 */
export function maskedFrame(opcode: number, payload: Uint8Array, key: Uint8Array): Uint8Array {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : n < 0x10000 ? 2 : 8;
  const out = new Uint8Array(2 + lengthBytes + 4 + n);
  out[0] = 0x80 | opcode;
  let p = 2;
  if (lengthBytes === 0) {
    out[1] = 0x80 | n;
  } else if (lengthBytes === 2) {
    out[1] = 0x80 | 126;
    out[p++] = n >>> 8;
    out[p++] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    const hi = Math.floor(n / 0x100000000);
    for (const byte of [hi >>> 24, hi >>> 16, hi >>> 8, hi, n >>> 24, n >>> 16, n >>> 8, n]) out[p++] = byte & 0xff;
  }
  out.set(key, p);
  p += 4;
  for (let i = 0; i < n; i++) out[p + i] = payload[i] ^ key[i & 3];
  return out;
}

/** `1 MiB`, `64 KiB`, `38 B`. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

/** `0.53×`; below 0.1 two significant digits (`0.0061×`), so small ratios still compare. */
export function formatRatio(ratio: number): string {
  return `${ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}×`;
}

/** Throws with `message` unless `condition` holds (verify steps). */
export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`verify failed: ${message}`);
}

/** Whether two byte ranges are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
