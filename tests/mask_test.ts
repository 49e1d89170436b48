import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMask } from "../mod.ts";
import { maskWithKey, maskWords, simdMaskAvailable } from "../src/frame/mask.ts";
import { createSimdMask, simdMaskModule } from "../src/frame/mask_simd.ts";
import { seededBytes } from "./_helpers/seeded_bytes.ts";

/** xorshift32: deterministic random numbers, the same on every runtime. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** The obvious byte-wise XOR, `key[phase]` applying to `data[start]`. */
function maskBytewise(data: Uint8Array, start: number, end: number, key: Uint8Array, phase: number): void {
  for (let i = start; i < end; i++) data[i] ^= key[(i - start + phase) & 3];
}

/** First index where `a` and `b` differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

// Every length to 300 (the byte loop, the word loop's head and tail), then
// the edges of the word loop (128 B), of the SIMD path (1 KiB) and of its
// 16 KiB blocks, and random lengths up to 70,000.
const LENGTHS: number[] = [];
for (let n = 0; n <= 300; n++) LENGTHS.push(n);
for (const edge of [512, 1024, 1500, 4096, 16384, 32768, 49152, 65536, 70000]) {
  for (let d = -9; d <= 9; d++) if (edge + d > 300 && edge + d <= 70000) LENGTHS.push(edge + d);
}
{
  const next = random(0x6d61736b);
  for (let i = 0; i < 80; i++) LENGTHS.push(301 + (next() % 69700));
}

type Masker = (data: Uint8Array, start: number, end: number, key: Uint8Array, phase: number) => void;

/**
 * Checks `masker` against the byte-wise XOR for every length in LENGTHS at
 * offsets 0..7 in a buffer that itself starts at a varying byteOffset of its
 * ArrayBuffer, with random keys and phases; bytes outside the range must stay.
 */
function checkAgainstBytewise(masker: Masker, seed: number): void {
  const next = random(seed);
  const backing = seededBytes(70000 + 8 + 64 + 16, seed);
  for (const n of LENGTHS) {
    for (let offset = 0; offset < 8; offset++) {
      const key = new Uint8Array([next() & 255, next() & 255, next() & 255, next() & 255]);
      const phase = next() & 3;
      // A view starting 0..63 bytes into the backing buffer, so every
      // absolute alignment (mod 64) of `start` is reached.
      const base = next() & 63;
      const data = backing.subarray(base, base + offset + n + 8);
      const expected = data.slice();
      maskBytewise(expected, offset, offset + n, key, phase);
      masker(data, offset, offset + n, key, phase);
      const at = firstDifference(data, expected);
      assert.equal(at, -1, `length ${n}, offset ${offset}, byteOffset ${base}, phase ${phase}: differs at ${at}`);
    }
  }
}

test("the SIMD kernel is available on this runtime", () => {
  assert.equal(WebAssembly.validate(simdMaskModule(1)), true);
  assert.equal(simdMaskAvailable(), true);
});

test("applyMask equals a byte-wise XOR (lengths 0..70000, offsets 0..7, random keys and phases)", () => {
  checkAgainstBytewise((data, start, end, key, phase) => applyMask(data, start, end, key, 0, phase), 1);
});

test("applyMask reads the key at maskOffset", () => {
  const key = new Uint8Array([9, 9, 0x11, 0x22, 0x33, 0x44, 9]);
  for (const n of [7, 200, 5000]) {
    const data = seededBytes(n, n);
    const expected = data.slice();
    maskBytewise(expected, 0, n, key.subarray(2, 6), 1);
    applyMask(data, 0, n, key, 2, 1);
    assert.equal(firstDifference(data, expected), -1);
  }
});

test("maskWithKey equals a byte-wise XOR", () => {
  checkAgainstBytewise((data, start, end, key, phase) => {
    const p = phase & 3;
    maskWithKey(data, start, end, key[p], key[(p + 1) & 3], key[(p + 2) & 3], key[(p + 3) & 3]);
  }, 2);
});

test("maskWords (the JavaScript path, also the fallback without SIMD) equals a byte-wise XOR", () => {
  checkAgainstBytewise((data, start, end, key, phase) => {
    const p = phase & 3;
    maskWords(data, start, end, key[p], key[(p + 1) & 3], key[(p + 2) & 3], key[(p + 3) & 3]);
  }, 3);
});

test("masking twice restores the bytes", () => {
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  for (const n of [0, 1, 100, 1024, 70000]) {
    const original = seededBytes(n + 3, n);
    const data = original.slice();
    applyMask(data, 3, n + 3, key, 0, 2);
    applyMask(data, 3, n + 3, key, 0, 2);
    assert.equal(firstDifference(data, original), -1);
  }
});

test("the kernel XORs bytes of its memory at any pointer and length", () => {
  const simd = createSimdMask(1);
  assert.ok(simd !== null);
  const key = new Uint8Array([0x01, 0x80, 0xff, 0x7f]);
  const keyWord = key[0] | (key[1] << 8) | (key[2] << 16) | (key[3] << 24);
  for (let ptr = 0; ptr < 20; ptr++) {
    for (let len = 0; len <= 300; len++) {
      const input = seededBytes(len, ptr * 1000 + len + 1);
      simd.bytes.fill(0xaa, 0, 400);
      simd.bytes.set(input, ptr);
      const expected = simd.bytes.slice(0, 400);
      maskBytewise(expected, ptr, ptr + len, key, 0);
      simd.mask(ptr, len, keyWord);
      assert.equal(firstDifference(simd.bytes.subarray(0, 400), expected), -1, `ptr ${ptr}, len ${len}`);
    }
  }
  // The last byte of the memory.
  simd.bytes.fill(0, 65536 - 20);
  simd.mask(65536 - 20, 20, keyWord);
  assert.equal(simd.bytes[65535], key[3]);
});
