/**
 * applyMask: XOR of a payload with the 4-byte key, in place (masking and
 * unmasking are the same operation). Reference: a `set()` copy of the same
 * bytes, which also reads and writes every byte once. Target (issue 6):
 * at least half the copy's speed on 1 MiB.
 *
 * "unaligned" starts at byte offset 1 of the buffer with key phase 3, as a
 * payload does after a 2-byte header in a socket read: it exercises the
 * byte-wise head and tail around the word loop.
 */
import { applyMask } from "../../mod.ts";
import { check, copyReference, formatBytes, type MicroCase, sameBytes, seededBytes } from "./case.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/** The obvious byte-wise XOR, to check the fast one against. */
function maskBytewise(data: Uint8Array, key: Uint8Array, phase: number): void {
  for (let i = 0; i < data.length; i++) data[i] ^= key[(i + phase) & 3];
}

function maskCase(size: number, offset: number, phase: number, target?: number): MicroCase {
  const buffer = seededBytes(size + offset + 3, size);
  const start = offset;
  const end = offset + size;
  const last = end - 1;
  return {
    name: `${formatBytes(size)}, ${offset === 0 ? "aligned" : `unaligned (offset ${offset}, phase ${phase})`}`,
    bytes: size,
    run: () => {
      applyMask(buffer, start, end, KEY, 0, phase);
      return buffer[last];
    },
    reference: copyReference(buffer.subarray(start, end)),
    target,
    verify: () => {
      const data = seededBytes(size + offset + 3, size);
      const expected = data.slice(start, end);
      maskBytewise(expected, KEY, phase);
      applyMask(data, start, end, KEY, 0, phase);
      check(sameBytes(data.subarray(start, end), expected), "masked bytes differ from a byte-wise XOR");
      check(data[end] === seededBytes(size + offset + 3, size)[end], "wrote past end");
    },
  };
}

export const cases: MicroCase[] = [
  maskCase(1024 * 1024, 0, 0, 0.5),
  maskCase(1024 * 1024, 1, 3, 0.5),
  maskCase(64 * 1024, 0, 0),
];
