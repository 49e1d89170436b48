/**
 * FrameReader: masked binary frames of 32 B, 1 KiB, 64 KiB and 1 MiB.
 *
 * "one chunk": one frame per `push`, the whole frame in it (the reader then
 * unmasks in place and hands out a view). "1500 B chunks": a stream of such
 * frames, at least 64 KiB of them, cut where a network read would cut it
 * (1,500 bytes), so small frames arrive many to a chunk with some straddling
 * two chunks, and large frames are gathered from many chunks.
 * Reference: one `set()` copy of the same bytes.
 *
 * The reader unmasks the pushed bytes in place, so after the first call the
 * input alternates between masked and unmasked payloads; the work per call
 * is the same, and `verify` checks correctness on a fresh copy.
 */
import { FrameReader } from "../../mod.ts";
import { check, copyReference, formatBytes, maskedFrame, type MicroCase, sameBytes, seededBytes } from "./case.ts";

const KEY = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
const MTU_CHUNK = 1500;
const MIN_STREAM = 64 * 1024;

/** `count` copies of one masked frame, back to back. */
function frameStream(payload: Uint8Array, count: number): Uint8Array {
  const frame = maskedFrame(0x2, payload, KEY);
  const out = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) out.set(frame, i * frame.length);
  return out;
}

/** Views of `stream` of at most `size` bytes each. */
function cut(stream: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, Math.min(i + size, stream.length)));
  return chunks;
}

function readerCase(name: string, payload: Uint8Array, count: number, chunkSize: number): MicroCase {
  const stream = frameStream(payload, count);
  const chunks = cut(stream, chunkSize);
  const reader = new FrameReader();
  const run = (): number => {
    let frames = 0;
    let bytes = 0;
    for (let c = 0; c < chunks.length; c++) {
      reader.push(chunks[c]);
      for (let f = reader.read(); f !== null; f = reader.read()) {
        frames++;
        bytes += f.data.length;
      }
    }
    if (frames !== count) throw new Error(`expected ${count} frames, read ${frames}`);
    return bytes;
  };
  return {
    name,
    bytes: stream.length,
    run,
    reference: copyReference(stream),
    verify: () => {
      const fresh = new FrameReader();
      let seen = 0;
      for (const chunk of cut(stream.slice(), chunkSize)) {
        fresh.push(chunk);
        for (let f = fresh.read(); f !== null; f = fresh.read()) {
          check(f.opcode === 0x2 && f.fin, `frame ${seen} is not a final binary frame`);
          check(sameBytes(f.data, payload), `frame ${seen} payload differs`);
          seen++;
        }
      }
      check(seen === count, `read ${seen} frames, expected ${count}`);
      check(fresh.buffered === 0, "bytes left over");
    },
  };
}

const cases: MicroCase[] = [];
for (const size of [32, 1024, 64 * 1024, 1024 * 1024]) {
  const payload = seededBytes(size, size);
  const frameLength = maskedFrame(0x2, payload, KEY).length;
  cases.push(readerCase(`${formatBytes(size)} frame, one chunk`, payload, 1, frameLength));
  const count = Math.max(1, Math.ceil(MIN_STREAM / frameLength));
  const label = count === 1 ? `${formatBytes(size)} frame` : `${count} × ${formatBytes(size)} frames`;
  cases.push(readerCase(`${label}, 1500 B chunks`, payload, count, MTU_CHUNK));
}
// What one read holds in the pipelined load scenario (16 frames in flight).
const small = seededBytes(32, 16);
cases.push(readerCase("16 × 32 B frames, one chunk", small, 16, 16 * maskedFrame(0x2, small, KEY).length));

export { cases };
