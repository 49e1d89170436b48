/**
 * XOR masking of RFC 6455 §5.3, a 32-bit word at a time.
 *
 * Masking is its own inverse, so one function masks and unmasks.
 */

// Below this many bytes a 4-byte unrolled byte loop beats creating a word
// view (a typed-array view costs 50–150 ns to create on V8 and JSC).
const WORD_THRESHOLD = 128;
const keyBytes = new Uint8Array(4);
// Int32, not Uint32: its elements stay small integers to the JIT, never heap numbers.
const keyWord = new Int32Array(keyBytes.buffer);

/**
 * XORs `data[start..end)` in place with the 4-byte key `mask[maskOffset..+4)`,
 * the key's first byte applying to `data[start]` when `phase` is 0.
 *
 * @param data The bytes to mask or unmask in place.
 * @param start First index to transform.
 * @param end One past the last index to transform.
 * @param mask Buffer holding the key.
 * @param maskOffset Index of the key's first byte in `mask`.
 * @param phase How many payload bytes precede `start` in the frame, mod 4.
 *
 * @example
 * ```ts
 * import { applyMask } from "@hybi/websocket";
 * const key = new Uint8Array([1, 2, 3, 4]);
 * const data = new Uint8Array([10, 20, 30, 40, 50]);
 * applyMask(data, 0, data.length, key, 0, 0);
 * applyMask(data, 0, data.length, key, 0, 0);
 * console.log(data); // Uint8Array(5) [ 10, 20, 30, 40, 50 ]
 * ```
 */
export function applyMask(
  data: Uint8Array,
  start: number,
  end: number,
  mask: Uint8Array,
  maskOffset: number,
  phase: number,
): void {
  const p = phase & 3;
  // The key rotated so that its first byte applies to data[start].
  maskWithKey(
    data,
    start,
    end,
    mask[maskOffset + p],
    mask[maskOffset + ((p + 1) & 3)],
    mask[maskOffset + ((p + 2) & 3)],
    mask[maskOffset + ((p + 3) & 3)],
  );
}

/**
 * `applyMask` with the key as four bytes, `k0` applying to `data[start]`:
 * what the frame reader calls, so that it keeps its key in four numbers
 * rather than an array of its own.
 */
export function maskWithKey(
  data: Uint8Array,
  start: number,
  end: number,
  k0: number,
  k1: number,
  k2: number,
  k3: number,
): void {
  let i = start;
  if (end - start < WORD_THRESHOLD) {
    for (const end4 = end - 3; i < end4; i += 4) {
      data[i] ^= k0;
      data[i + 1] ^= k1;
      data[i + 2] ^= k2;
      data[i + 3] ^= k3;
    }
    if (i < end) data[i++] ^= k0;
    if (i < end) data[i++] ^= k1;
    if (i < end) data[i] ^= k2;
    return;
  }
  // Bytes until the absolute address is 4-aligned, so an Int32Array view fits;
  // r counts how far the key has rotated meanwhile.
  let r = 0;
  const base = data.byteOffset;
  for (; ((base + i) & 3) !== 0; i++, r++) data[i] ^= r === 0 ? k0 : r === 1 ? k1 : k2;
  keyBytes[0] = r === 0 ? k0 : r === 1 ? k1 : r === 2 ? k2 : k3;
  keyBytes[1] = r === 0 ? k1 : r === 1 ? k2 : r === 2 ? k3 : k0;
  keyBytes[2] = r === 0 ? k2 : r === 1 ? k3 : r === 2 ? k0 : k1;
  keyBytes[3] = r === 0 ? k3 : r === 1 ? k0 : r === 2 ? k1 : k2;
  const k = keyWord[0];
  const words = (end - i) >>> 2;
  const view = new Int32Array(data.buffer, base + i, words);
  let w = 0;
  // Unrolled: the loop's own overhead, not the XOR, bounds a word-per-iteration loop.
  for (const words8 = words - 7; w < words8; w += 8) {
    view[w] ^= k;
    view[w + 1] ^= k;
    view[w + 2] ^= k;
    view[w + 3] ^= k;
    view[w + 4] ^= k;
    view[w + 5] ^= k;
    view[w + 6] ^= k;
    view[w + 7] ^= k;
  }
  for (; w < words; w++) view[w] ^= k;
  i += words << 2;
  for (let b = 0; i < end; i++, b++) data[i] ^= keyBytes[b];
}
