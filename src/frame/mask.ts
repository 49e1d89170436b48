/**
 * XOR masking of RFC 6455 §5.3: WebAssembly SIMD for large ranges, a 32-bit
 * word at a time in JavaScript below that (or where SIMD is missing).
 *
 * Masking is its own inverse, so one function masks and unmasks.
 */
import { createSimdMask, type SimdMask } from "./mask_simd.ts";

// Below this many bytes a 4-byte unrolled byte loop beats creating a word
// view (a typed-array view costs 50–150 ns to create on V8 and JSC).
const WORD_THRESHOLD = 128;
// From this many bytes the SIMD path (two copies and a wasm call per block)
// beats the word loop: from 512 B–1 KiB on V8 (Node, Deno), only from
// 8–16 KiB on JavaScriptCore (Bun), whose word loop runs twice V8's speed and
// which was 10–40 % slower through SIMD at 1–8 KiB (bench/NOTES.md,
// 2026-12-06): the one choice here made by runtime rather than by feature.
const SIMD_THRESHOLD = (globalThis as { Bun?: unknown }).Bun === undefined ? 1024 : 8192;
// Bytes per round trip through wasm memory: copy in, XOR, copy out while the
// block is still in L1 (8–32 KiB measured alike; 64 KiB and whole-payload slower).
const SIMD_BLOCK = 16384;
// The block sits in wasm memory at the payload's address mod 64, so neither
// copy's target lies 1–15 bytes past its source mod 4 KiB: there `set`'s
// memcpy (`rep movsb` on AMD Zen, all three runtimes) runs 10–40× slower.
// (Assumes ArrayBuffers start 16-byte aligned, as V8's and JSC's do.)
const SIMD_ALIGN = 64;
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
 * rather than an array of its own. Ranges of 1 KiB and more (8 KiB on Bun)
 * go through WebAssembly SIMD where the engine has it (16 KiB blocks copied
 * into wasm memory, XORed there and copied back), shorter ones through
 * `maskWords`.
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
  if (end - start >= SIMD_THRESHOLD && (simdState === SIMD_READY || (simdState === SIMD_UNTRIED && loadSimd()))) {
    maskBlocks(data, start, end, k0 | (k1 << 8) | (k2 << 16) | (k3 << 24));
  } else {
    maskWords(data, start, end, k0, k1, k2, k3);
  }
}

// The wasm kernel, instantiated on the first large payload; absent where
// WebAssembly SIMD is missing (then `maskWithKey` always takes the word loop).
const SIMD_UNTRIED = 0;
const SIMD_READY = 1;
const SIMD_ABSENT = 2;
let simdState = SIMD_UNTRIED;
let simdBytes: Uint8Array;
let simdMaskFn: SimdMask["mask"];
// simdViews[o]: the SIMD_BLOCK bytes at offset o of wasm memory, kept so a
// full block's copy out needs no new view. The memory never grows, so they
// never detach.
const simdViews: Uint8Array[] = [];

/** Instantiates the kernel once; whether it is usable. */
function loadSimd(): boolean {
  if (simdState === SIMD_UNTRIED) {
    const simd = createSimdMask(Math.ceil((SIMD_BLOCK + SIMD_ALIGN) / 65536));
    if (simd === null) {
      simdState = SIMD_ABSENT;
    } else {
      simdBytes = simd.bytes;
      simdMaskFn = simd.mask;
      for (let o = 0; o < SIMD_ALIGN; o++) simdViews.push(simdBytes.subarray(o, o + SIMD_BLOCK));
      simdState = SIMD_READY;
    }
  }
  return simdState === SIMD_READY;
}

/**
 * Whether `maskWithKey` and `applyMask` take the WebAssembly SIMD path for
 * large ranges (instantiating it if not done yet); `false` where the engine
 * lacks WebAssembly SIMD. For tests and benchmarks.
 */
export function simdMaskAvailable(): boolean {
  return loadSimd();
}

/**
 * The SIMD path: `data[start..end)` through wasm memory a block at a time
 * (copy in, XOR there, copy back). `key` is little-endian: its low byte
 * applies to `data[start]`; blocks are whole words, so it never rotates.
 */
function maskBlocks(data: Uint8Array, start: number, end: number, key: number): void {
  const o = (data.byteOffset + start) & (SIMD_ALIGN - 1);
  const bytes = simdBytes;
  const mask = simdMaskFn;
  for (let a = start; a < end; a += SIMD_BLOCK) {
    const n = end - a < SIMD_BLOCK ? end - a : SIMD_BLOCK;
    bytes.set(data.subarray(a, a + n), o);
    mask(o, n, key);
    data.set(n === SIMD_BLOCK ? simdViews[o] : bytes.subarray(o, o + n), a);
  }
}

/**
 * `maskWithKey` in plain JavaScript, a 32-bit word at a time: what every
 * range below the SIMD threshold takes, and all of them where WebAssembly
 * SIMD is missing. Exported for the benchmarks and tests, not the package.
 *
 * @param data The bytes to mask or unmask in place.
 * @param start First index to transform.
 * @param end One past the last index to transform.
 * @param k0 Key byte applying to `data[start]`.
 * @param k1 Key byte applying to `data[start + 1]`.
 * @param k2 Key byte applying to `data[start + 2]`.
 * @param k3 Key byte applying to `data[start + 3]`.
 */
export function maskWords(
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
