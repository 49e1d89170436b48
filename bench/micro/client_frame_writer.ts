/**
 * FrameWriter in the client role (masking on) for 32 B and 64 KiB binary
 * frames: a fresh masking key per frame from the pooled CSPRNG buffer, and
 * the payload XORed into the kept buffer, as a client connection's write
 * batch does (`encodeInto`) and as a message is framed (`encodeMessageInto`).
 * Reference: one `set()` copy of the frame's bytes into a kept buffer.
 */
import { Frame, FrameWriter } from "../../mod.ts";
import { check, copyReference, formatBytes, type MicroCase, sameBytes, seededBytes } from "./case.ts";

const writer = new FrameWriter({ masking: true });
const OP_BINARY = 2;

/** The payload of a masked frame, unmasked with the key its header carries. */
function unmasked(wire: Uint8Array): Uint8Array {
  const length = wire[1] & 0x7f;
  const keyAt = length < 126 ? 2 : length === 126 ? 4 : 10;
  const key = wire.subarray(keyAt, keyAt + 4);
  const payload = wire.slice(keyAt + 4);
  for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  return payload;
}

function clientCases(size: number): MicroCase[] {
  const data = seededBytes(size, size + 1);
  const frame = new Frame.Binary(data);
  const wire = writer.encode(frame);
  const reference = copyReference(wire);
  const batch = new Uint8Array(wire.length);
  const last = wire.length - 1;
  const verify = (): void => {
    check((wire[1] & 0x80) === 0x80, "the mask bit is not set");
    check(sameBytes(unmasked(wire), data), "the payload does not unmask to the data");
    const into = new Uint8Array(wire.length);
    writer.encodeMessageInto(OP_BINARY, data, into, 0);
    check(sameBytes(unmasked(into), data), "encodeMessageInto does not unmask to the data");
    const again = writer.encode(frame);
    check(!sameBytes(again.subarray(0, wire.length), wire) || size === 0, "two frames got the same masking key");
  };
  return [
    {
      name: `${formatBytes(size)} masked frame, encodeInto (kept buffer)`,
      bytes: wire.length,
      run: () => {
        const end = writer.encodeInto(frame, batch, 0);
        return batch[last] + end;
      },
      reference,
      verify,
    },
    {
      name: `${formatBytes(size)} masked message, encodeMessageInto (kept buffer)`,
      bytes: wire.length,
      run: () => {
        const end = writer.encodeMessageInto(OP_BINARY, data, batch, 0);
        return batch[last] + end;
      },
      reference,
      verify,
    },
  ];
}

export const cases: MicroCase[] = [...clientCases(32), ...clientCases(64 * 1024)];
