/**
 * A WebAssembly SIMD kernel for the masking XOR of `mask.ts`, assembled here
 * from a dozen opcodes (no toolchain): one exported memory and one exported
 * function `mask(ptr, len, key)` that XORs `len` bytes at `ptr` of that
 * memory with the 32-bit little-endian `key` repeated, 16 bytes per
 * `v128.xor`, 8 of them per loop iteration; then 16-byte steps, 4-byte
 * steps and single bytes for the tail.
 *
 * WebAssembly is a web standard (Deno, Bun, Node and browsers have it), so it
 * may live in the core; `createSimdMask` returns `null` where the engine
 * lacks it or its SIMD (`WebAssembly.validate` fails on the module's
 * `v128` instructions) or refuses to compile it (a CSP without
 * `wasm-unsafe-eval`).
 *
 * The function in WebAssembly text format (`unroll` = 8 copies of the first
 * loop's load/xor/store, at offsets 0, 16, … 112):
 *
 * ```wat
 * (func (export "mask") (param $ptr i32) (param $end i32) (param $key i32)
 *   (local $vkey v128)
 *   (local.set $vkey (i32x4.splat (local.get $key)))
 *   (local.set $end (i32.add (local.get $ptr) (local.get $end)))  ;; len → end
 *   (block (loop                                                   ;; 128 bytes a step
 *     (br_if 1 (i32.lt_u (i32.sub (local.get $end) (local.get $ptr)) (i32.const 128)))
 *     (v128.store offset=0 (local.get $ptr)
 *       (v128.xor (v128.load offset=0 (local.get $ptr)) (local.get $vkey)))
 *     ;; … offset=16 … offset=112
 *     (local.set $ptr (i32.add (local.get $ptr) (i32.const 128)))
 *     (br 0)))
 *   ;; the same loop with 16-byte steps, with 4-byte steps (i32.load / i32.xor $key / i32.store),
 *   ;; then 1-byte steps (i32.load8_u / i32.xor $key / i32.store8; $key >>= 8)
 * )
 * ```
 */

/** What `createSimdMask` gives: a block of wasm memory and the XOR over it. */
export interface SimdMask {
  /** The module's whole memory, viewed as bytes (it never grows, so the view never detaches). */
  readonly bytes: Uint8Array;
  /**
   * XORs `bytes[ptr..ptr+len)` in place with `key` repeated; little-endian:
   * the key's low byte applies to `bytes[ptr]`.
   */
  readonly mask: (ptr: number, len: number, key: number) => void;
}

// Opcodes used (WebAssembly core 1.0 and fixed-width SIMD).
const BLOCK = 0x02;
const LOOP = 0x03;
const END = 0x0b;
const BR = 0x0c;
const BR_IF = 0x0d;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_LOAD = 0x28;
const I32_LOAD8_U = 0x2d;
const I32_STORE = 0x36;
const I32_STORE8 = 0x3a;
const I32_CONST = 0x41;
const I32_LT_U = 0x49;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const I32_XOR = 0x73;
const I32_SHR_U = 0x76;
const VOID = 0x40; // block type: no result
const FUNC = 0x60; // type constructor
const I32 = 0x7f;
const V128 = 0x7b;
// SIMD instructions: the 0xfd prefix, then the opcode as LEB128 (all below 128: one byte).
const SIMD = 0xfd;
const V128_LOAD = 0x00;
const V128_STORE = 0x0b;
const I32X4_SPLAT = 0x11;
const V128_XOR = 0x51;
// memarg alignment hints (log2 of the access's natural alignment).
const ALIGN_16 = 4;
const ALIGN_4 = 2;
const ALIGN_1 = 0;

// The function's locals: its three parameters, then one declared v128.
const PTR = 0;
const END_PTR = 1; // `len` on entry, ptr + len after the prologue
const KEY = 2;
const VKEY = 3;

/** Unsigned LEB128 (sizes, indices, memarg offsets). */
function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128, as `i32.const` takes its operand (64 is two bytes: 0xc0 0x00). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A section: id, then its contents prefixed with their byte length. */
function section(id: number, contents: number[]): number[] {
  return [id, ...leb(contents.length), ...contents];
}

/** A name as the binary format spells it: length, then the bytes (ASCII here). */
function name(s: string): number[] {
  return [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
}

/**
 * A loop that runs `body` and advances ptr by `step` while at least `step`
 * bytes are left: `block loop (br_if 1 (end - ptr < step)) body (ptr += step) (br 0) end end`.
 */
function stepLoop(step: number, body: number[]): number[] {
  // deno-fmt-ignore
  return [
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, END_PTR, LOCAL_GET, PTR, I32_SUB, I32_CONST, ...sleb(step), I32_LT_U, BR_IF, 1,
    ...body,
    LOCAL_GET, PTR, I32_CONST, ...sleb(step), I32_ADD, LOCAL_SET, PTR,
    BR, 0,
    END, END,
  ];
}

/** `v128.store offset (ptr, v128.xor (v128.load offset (ptr), vkey))`: 16 bytes. */
function xor16(offset: number): number[] {
  // deno-fmt-ignore
  return [
    LOCAL_GET, PTR,
    LOCAL_GET, PTR, SIMD, V128_LOAD, ALIGN_16, ...leb(offset),
    LOCAL_GET, VKEY, SIMD, V128_XOR,
    SIMD, V128_STORE, ALIGN_16, ...leb(offset),
  ];
}

/**
 * The module's bytes: a memory of `pages` 64 KiB pages that cannot grow,
 * exported as "memory", and the function `mask(ptr, len, key)` with its
 * first loop unrolled `unroll` times (16 × `unroll` bytes a step).
 *
 * @param pages Size of the memory, in 64 KiB pages.
 * @param unroll `v128.xor`s per iteration of the main loop (8 measured best; 4 and 16 alike).
 */
export function simdMaskModule(pages: number, unroll = 8): Uint8Array<ArrayBuffer> {
  const unrolled: number[] = [];
  for (let u = 0; u < unroll; u++) unrolled.push(...xor16(16 * u));
  // deno-fmt-ignore
  const code = [
    1, 1, V128, // locals: one group of one v128
    LOCAL_GET, KEY, SIMD, I32X4_SPLAT, LOCAL_SET, VKEY, // vkey = i32x4.splat(key)
    LOCAL_GET, PTR, LOCAL_GET, END_PTR, I32_ADD, LOCAL_SET, END_PTR, // end = ptr + len
    ...stepLoop(16 * unroll, unrolled),
    ...stepLoop(16, xor16(0)),
    // i32.store (ptr, i32.xor (i32.load (ptr), key))
    ...stepLoop(4, [
      LOCAL_GET, PTR, LOCAL_GET, PTR, I32_LOAD, ALIGN_4, 0, LOCAL_GET, KEY, I32_XOR, I32_STORE, ALIGN_4, 0,
    ]),
    // i32.store8 (ptr, i32.xor (i32.load8_u (ptr), key)); key = key >>> 8
    ...stepLoop(1, [
      LOCAL_GET, PTR, LOCAL_GET, PTR, I32_LOAD8_U, ALIGN_1, 0, LOCAL_GET, KEY, I32_XOR, I32_STORE8, ALIGN_1, 0,
      LOCAL_GET, KEY, I32_CONST, 8, I32_SHR_U, LOCAL_SET, KEY,
    ]),
    END,
  ];
  // deno-fmt-ignore
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [1, FUNC, 3, I32, I32, I32, 0]), // types: (i32, i32, i32) -> ()
    ...section(3, [1, 0]), // functions: one, of type 0
    ...section(5, [1, 1, ...leb(pages), ...leb(pages)]), // memories: one, min = max = pages
    ...section(7, [2, ...name("memory"), 2, 0, ...name("mask"), 0, 0]), // exports: memory 0, function 0
    ...section(10, [1, ...leb(code.length), ...code]), // code: one body
  ];
  return new Uint8Array(bytes);
}

/**
 * Compiles and instantiates the kernel synchronously (the module is 348
 * bytes, which every engine compiles synchronously, browsers' main
 * threads included) with a memory of `pages` 64 KiB pages; `null` when the
 * engine lacks WebAssembly or its SIMD, or refuses to compile.
 *
 * @param pages Size of the memory, in 64 KiB pages.
 * @param unroll `v128.xor`s per iteration of the main loop.
 *
 * @example
 * ```ts
 * import { createSimdMask } from "./mask_simd.ts";
 * const simd = createSimdMask(1);
 * if (simd !== null) {
 *   simd.bytes.set([1, 2, 3, 4, 5]);
 *   simd.mask(0, 5, 0x04030201); // key bytes 01 02 03 04
 *   console.log(simd.bytes.subarray(0, 5)); // Uint8Array(5) [ 0, 0, 0, 0, 4 ]
 * }
 * ```
 */
export function createSimdMask(pages: number, unroll = 8): SimdMask | null {
  const wasm = (globalThis as { WebAssembly?: typeof WebAssembly }).WebAssembly;
  if (wasm === undefined) return null;
  const bytes = simdMaskModule(pages, unroll);
  try {
    if (!wasm.validate(bytes)) return null;
    const instance = new wasm.Instance(new wasm.Module(bytes));
    const memory = instance.exports.memory as WebAssembly.Memory;
    const mask = instance.exports.mask as (ptr: number, len: number, key: number) => void;
    return { bytes: new Uint8Array(memory.buffer), mask };
  } catch {
    return null;
  }
}
