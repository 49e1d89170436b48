/**
 * XOR masking of RFC 6455 §5.3, a 32-bit word at a time.
 *
 * Masking is its own inverse, so one function masks and unmasks.
 */

// Short payloads are cheaper byte by byte than through a word view.
const WORD_THRESHOLD = 32;
const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

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
  const m0 = mask[maskOffset], m1 = mask[maskOffset + 1];
  const m2 = mask[maskOffset + 2], m3 = mask[maskOffset + 3];
  let i = start;
  let p = phase & 3;
  if (end - start < WORD_THRESHOLD) {
    for (; i < end; i++, p = (p + 1) & 3) {
      data[i] ^= p === 0 ? m0 : p === 1 ? m1 : p === 2 ? m2 : m3;
    }
    return;
  }
  // Bytes until the absolute address is 4-aligned, so a Uint32Array view fits.
  const base = data.byteOffset;
  for (; ((base + i) & 3) !== 0; i++, p = (p + 1) & 3) {
    data[i] ^= p === 0 ? m0 : p === 1 ? m1 : p === 2 ? m2 : m3;
  }
  // The key rotated so that its byte for phase p lands on the word's first byte.
  keyBytes[0] = p === 0 ? m0 : p === 1 ? m1 : p === 2 ? m2 : m3;
  keyBytes[1] = p === 0 ? m1 : p === 1 ? m2 : p === 2 ? m3 : m0;
  keyBytes[2] = p === 0 ? m2 : p === 1 ? m3 : p === 2 ? m0 : m1;
  keyBytes[3] = p === 0 ? m3 : p === 1 ? m0 : p === 2 ? m1 : m2;
  const k = keyWord[0];
  const words = (end - i) >>> 2;
  const view = new Uint32Array(data.buffer, base + i, words);
  for (let w = 0; w < words; w++) view[w] ^= k;
  i += words << 2;
  for (; i < end; i++, p = (p + 1) & 3) {
    data[i] ^= p === 0 ? m0 : p === 1 ? m1 : p === 2 ? m2 : m3;
  }
}
