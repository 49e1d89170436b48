/**
 * FrameWriter (server role, unmasked) for 32 B and 64 KiB binary frames.
 *
 * `encode` allocates a buffer per frame; `encodeInto` writes into a buffer
 * the caller keeps, as the connection's write batch does for small frames.
 * (For frames of 16 KiB and more the connection writes only the header with
 * `encodeHeader` and hands the payload to the transport as it is.)
 * Reference: one `set()` copy of the frame's bytes into a kept buffer.
 */
import { Frame, FrameWriter } from "../../mod.ts";
import { check, copyReference, formatBytes, type MicroCase, sameBytes, seededBytes } from "./case.ts";

const writer = new FrameWriter();

function writerCases(size: number): MicroCase[] {
  const frame = new Frame.Binary(seededBytes(size, size));
  const wire = writer.encode(frame);
  const reference = copyReference(wire);
  const batch = new Uint8Array(wire.length);
  const last = wire.length - 1;
  const verify = (): void => {
    const header = size < 126
      ? [0x82, size]
      : size < 0x10000
      ? [0x82, 126, size >>> 8, size & 0xff]
      : [0x82, 127, 0, 0, 0, 0, size >>> 24, (size >>> 16) & 0xff, (size >>> 8) & 0xff, size & 0xff];
    check(sameBytes(wire.subarray(0, header.length), new Uint8Array(header)), "header bytes differ");
    check(sameBytes(wire.subarray(header.length), frame.data), "payload differs");
    const into = new Uint8Array(wire.length);
    check(writer.encodeInto(frame, into, 0) === wire.length && sameBytes(into, wire), "encodeInto differs from encode");
  };
  return [
    {
      name: `${formatBytes(size)} frame, encode (new buffer)`,
      bytes: wire.length,
      run: () => writer.encode(frame),
      reference,
      verify,
    },
    {
      name: `${formatBytes(size)} frame, encodeInto (kept buffer)`,
      bytes: wire.length,
      run: () => {
        const end = writer.encodeInto(frame, batch, 0);
        return batch[last] + end;
      },
      reference,
      verify,
    },
  ];
}

export const cases: MicroCase[] = [...writerCases(32), ...writerCases(64 * 1024)];
