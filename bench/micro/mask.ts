/**
 * applyMask: XOR of a payload with the 4-byte key, in place (masking and
 * unmasking are the same operation). Reference: a `set()` copy of the same
 * bytes, which also reads and writes every byte once. Target (issue 6):
 * at least half the copy's speed on 1 MiB.
 *
 * "unaligned" starts at byte offset 1 of the buffer with key phase 3, as a
 * payload does after a 2-byte header in a socket read: it exercises the
 * byte-wise head and tail around the word loop, and the SIMD path's copies
 * at an odd address.
 *
 * `applyMask` takes WebAssembly SIMD from 1 KiB on (8 KiB on Bun), where the
 * engine has it; the "JS word loop" cases run `maskWords`, the plain
 * JavaScript path it replaced there (still used below that and without SIMD), on the same
 * bytes, so the two compare in one run. 1,500 B is one network piece (what
 * the reader unmasks per chunk of a gathered frame), 256 B a size below the
 * SIMD threshold.
 */
import { applyMask } from "../../mod.ts";
import { maskWords } from "../../src/frame/mask.ts";
import { check, formatBytes, type MicroCase, type Reference, sameBytes, seededBytes } from "./case.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** The obvious byte-wise XOR, to check the fast one against. */
function maskBytewise(data: Uint8Array, key: Uint8Array, phase: number): void {
  for (let i = 0; i < data.length; i++) data[i] ^= key[(i + phase) & 3];
}

/** `applyMask` with its key and phase, or the JavaScript word loop with the key rotated the same way. */
type Masker = (data: Uint8Array, start: number, end: number, key: Uint8Array, phase: number) => void;

const viaApplyMask: Masker = (data, start, end, key, phase) => applyMask(data, start, end, key, 0, phase);
const viaWordLoop: Masker = (data, start, end, key, phase) => {
  const p = phase & 3;
  maskWords(data, start, end, key[p], key[(p + 1) & 3], key[(p + 2) & 3], key[(p + 3) & 3]);
};

/**
 * `copyReference`, but into the same offset of a buffer of the same size, so
 * that source and target are equally aligned: with the target at offset 0
 * and the source at 1, a copy whose target lands 1–15 bytes past its source
 * mod 4 KiB (as two neighbouring 64 KiB allocations do on V8) runs 10–40×
 * slower (`rep movsb` on AMD Zen) and made the 64 KiB unaligned ratio 5.9×.
 */
function sameOffsetCopyReference(buffer: Uint8Array, start: number, end: number): Reference {
  const source = buffer.subarray(start, end);
  const target = new Uint8Array(buffer.length);
  const last = end - 1;
  return {
    name: `set() copy ${formatBytes(end - start)}`,
    bytes: end - start,
    run: () => {
      target.set(source, start);
      return target[last];
    },
  };
}

function maskCase(size: number, offset: number, phase: number, wordLoop: boolean, target?: number): MicroCase {
  const masker = wordLoop ? viaWordLoop : viaApplyMask;
  const buffer = seededBytes(size + offset + 3, size);
  const start = offset;
  const end = offset + size;
  const last = end - 1;
  const where = offset === 0 ? "aligned" : `unaligned (offset ${offset}, phase ${phase})`;
  return {
    name: `${formatBytes(size)}, ${where}${wordLoop ? ", JS word loop" : ""}`,
    bytes: size,
    run: () => {
      masker(buffer, start, end, KEY, phase);
      return buffer[last];
    },
    reference: sameOffsetCopyReference(buffer, start, end),
    target,
    verify: () => {
      const data = seededBytes(size + offset + 3, size);
      const expected = data.slice(start, end);
      maskBytewise(expected, KEY, phase);
      masker(data, start, end, KEY, phase);
      check(sameBytes(data.subarray(start, end), expected), "masked bytes differ from a byte-wise XOR");
      check(data[end] === seededBytes(size + offset + 3, size)[end], "wrote past end");
    },
  };
}

export const cases: MicroCase[] = [
  maskCase(1024 * 1024, 0, 0, false, 0.5),
  maskCase(1024 * 1024, 0, 0, true),
  maskCase(1024 * 1024, 1, 3, false, 0.5),
  maskCase(1024 * 1024, 1, 3, true),
  maskCase(64 * 1024, 0, 0, false),
  maskCase(64 * 1024, 0, 0, true),
  maskCase(64 * 1024, 1, 3, false),
  maskCase(64 * 1024, 1, 3, true),
  maskCase(1500, 1, 3, false),
  maskCase(1500, 1, 3, true),
  maskCase(256, 0, 0, false),
];
