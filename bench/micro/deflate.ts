/**
 * permessage-deflate (`PerMessageDeflate`, RFC 7692): one text message
 * compressed with `encodeFrame` and the result decompressed with
 * `decodeFrame`, 1 KiB and 64 KiB of JSON-like text, with the defaults a
 * browser's plain offer negotiates: context takeover both ways, 15-bit
 * windows, level 6, memLevel 8 (`compressIfBiggerThan: 0`, so the 1 KiB
 * message is compressed too). The same extension compresses and decompresses
 * (its two directions have their own zlib streams), and messages rotate
 * through a ring of 16 different ones of the same kind, so the window
 * carried over helps as it would in real traffic, no more (the same message
 * again would be one long back-reference). The decompressed chunks are
 * copied into a kept buffer, as a consumer would.
 *
 * Reference: `node:zlib` `deflateRawSync` + `inflateRawSync` of the same
 * message with the same level, window and memLevel: synchronous, and a fresh
 * zlib context per call, so without context takeover (the window's help is
 * lost, but so is any cost of keeping streams and waiting for callbacks).
 */
import { constants, deflateRawSync, inflateRawSync } from "node:zlib";
import { Frame, PerMessageDeflate, type PerMessageDeflateExtension } from "../../mod.ts";
import { check, formatBytes, type MicroCase, sameBytes, seededBytes } from "./case.ts";

const RING = 16;
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);
const WORDS = ("hello world the message was sent to room lobby from a browser server ok see you later thanks great " +
  "typing meeting at noon update").split(" ");

/** `size` bytes of chat-like JSON records from `seed`, cut at `size` (so it may end mid-record). */
function jsonLike(size: number, seed: number): Uint8Array {
  const random = seededBytes(4096, seed);
  let r = 0;
  const next = (): number => random[r++ & 4095] | (random[r++ & 4095] << 8);
  let text = "[";
  let id = 1000 + seed * 97;
  while (text.length < size) {
    const words: string[] = [];
    for (let w = 2 + (next() % 12); w > 0; w--) words.push(WORDS[next() % WORDS.length]);
    text += JSON.stringify({
      id: id++,
      type: next() % 5 === 0 ? "presence" : "message",
      room: `room-${next() % 8}`,
      user: { id: next() % 500, name: `user${next() % 500}` },
      text: words.join(" "),
      ts: 1732780800000 + next() * 37,
      read: next() % 2 === 0,
    }) + ",";
  }
  return Uint8Array.from(text.slice(0, size), (c) => c.charCodeAt(0));
}

function negotiated(): PerMessageDeflateExtension {
  const ext = new PerMessageDeflate({ compressIfBiggerThan: 0 }).negotiate([{
    name: "permessage-deflate",
    params: [],
  }]);
  if (ext === null) throw new Error("permessage-deflate was declined");
  return ext;
}

/** Compresses `message` with `ext`, decompresses the result, and copies the output into `into`. */
async function roundTrip(ext: PerMessageDeflateExtension, message: Uint8Array, into: Uint8Array): Promise<number> {
  const sent = await ext.encodeFrame(new Frame.Text(message));
  let length = 0;
  await ext.decodeFrame(sent.data, true, into.length, (chunk) => {
    into.set(chunk, length);
    length += chunk.length;
  });
  return length;
}

function deflateCase(size: number): MicroCase {
  const messages: Uint8Array[] = [];
  for (let i = 0; i < RING; i++) messages.push(jsonLike(size, size + i));
  const out = new Uint8Array(size);
  const ext = negotiated();
  let next = 0;
  let refNext = 0;
  return {
    name: `${formatBytes(size)} JSON-like, compress + decompress`,
    bytes: size,
    run: async () => {
      const length = await roundTrip(ext, messages[next++ % RING], out);
      if (length !== size) throw new Error(`round trip gave ${length} bytes, expected ${size}`);
      return out[length - 1];
    },
    reference: {
      name: "deflate/inflateRawSync",
      bytes: size,
      run: () => {
        const inflated = inflateRawSync(deflateRawSync(messages[refNext++ % RING]));
        return inflated[inflated.length - 1];
      },
    },
    verify: async () => {
      const fresh = negotiated();
      try {
        for (let pass = 0; pass < 2; pass++) {
          for (let i = 0; i < RING; i++) {
            const message = messages[i];
            const sent = await fresh.encodeFrame(new Frame.Text(message));
            check(sent instanceof Frame.Text && sent.rsv1 && sent.fin, "not a compressed final text frame");
            check(sent.data.length < message.length / 2, `message ${i} compressed only to ${sent.data.length} bytes`);
            if (pass === 0 && i === 0) {
              // A fresh context: any raw-DEFLATE decoder reads it once the tail is back.
              const withTail = new Uint8Array(sent.data.length + 4);
              withTail.set(sent.data);
              withTail.set(TAIL, sent.data.length);
              check(
                sameBytes(inflateRawSync(withTail, { finishFlush: constants.Z_SYNC_FLUSH }), message),
                "zlib inflates the first message differently",
              );
            }
            const parts: Uint8Array[] = [];
            await fresh.decodeFrame(sent.data, true, size, (chunk) => void parts.push(chunk.slice()));
            const back = new Uint8Array(size);
            let o = 0;
            for (const p of parts) {
              check(o + p.length <= size, "round trip gives more bytes than went in");
              back.set(p, o);
              o += p.length;
            }
            check(o === size && sameBytes(back, message), `message ${i} (pass ${pass}) came back different`);
          }
        }
      } finally {
        fresh.dispose();
      }
      const timed = negotiated();
      try {
        const copy = new Uint8Array(size);
        check(await roundTrip(timed, messages[3], copy) === size && sameBytes(copy, messages[3]), "roundTrip differs");
      } finally {
        timed.dispose();
      }
      check(sameBytes(inflateRawSync(deflateRawSync(messages[0])), messages[0]), "the reference round trip differs");
    },
  };
}

export const cases: MicroCase[] = [deflateCase(1024), deflateCase(64 * 1024)];
