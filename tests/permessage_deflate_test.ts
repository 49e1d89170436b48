import { test } from "node:test";
import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import { deflateAlone, inflateAlone, StreamDeflater, StreamInflater } from "./_helpers/zlib_peer.ts";
import {
  CloseCode,
  ErrorCode,
  Frame,
  HandshakeError,
  negotiateExtensions,
  PerMessageDeflate,
  type PerMessageDeflateExtension,
  type PerMessageDeflateOptions,
  WebSocketError,
  type WebSocketExtension,
  type WebSocketExtensionFactory,
} from "../mod.ts";
import { concatBytes } from "./_helpers/bytes.ts";

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
const bytes = (h: string): Uint8Array => new Uint8Array(h.split(" ").map((x) => parseInt(x, 16)));
const utf8 = new TextEncoder();

function negotiate(offer: string, options: PerMessageDeflateOptions = {}): PerMessageDeflateExtension {
  const result = negotiateExtensions(offer, [new PerMessageDeflate(options)]);
  assert.equal(result.extensions.length, 1, `declined: ${offer}`);
  return result.extensions[0] as PerMessageDeflateExtension;
}

/** Decodes one message given as frame payloads; returns its bytes. */
async function decode(ext: WebSocketExtension, payloads: Uint8Array[], max = 1 << 30): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < payloads.length; i++) {
    await ext.decodeFrame(payloads[i], i === payloads.length - 1, max, (c) => void parts.push(c.slice()));
  }
  return concatBytes(parts);
}

async function rejection(p: Promise<unknown>): Promise<WebSocketError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof WebSocketError, `expected a WebSocketError, got ${e}`);
    return e;
  }
  assert.fail("expected a rejection");
}

/** Deterministic bytes that compress partly, like real traffic. */
function sample(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  const words = ["hello", "world", "user", "message", "id", "text", "{", "}", ":", ","];
  let i = 0;
  while (i < length) {
    x = (x * 1103515245 + 12345) >>> 0;
    if ((x & 7) === 0) {
      out[i++] = x >>> 24;
      continue;
    }
    const w = words[(x >>> 16) % words.length];
    for (let j = 0; j < w.length && i < length; j++) out[i++] = w.charCodeAt(j);
  }
  return out;
}

function random(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

// ---------------------------------------------------------------------------
// RFC 7692 §7.2.3, byte for byte

test('RFC 7692 §7.2.3.1: "Hello" compresses to f2 48 cd c9 c9 07 00 with RSV1', async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 0 });
  const frame = await ext.encodeFrame(new Frame.Text("Hello"));
  assert.equal(hex(frame.data), "f2 48 cd c9 c9 07 00");
  assert.equal(frame.rsv1, true);
  assert.equal(frame.fin, true);
  assert.ok(frame instanceof Frame.Text);
  assert.equal(new TextDecoder().decode(await decode(ext, [bytes("f2 48 cd c9 c9 07 00")])), "Hello");
  ext.dispose();
});

test("RFC 7692 §7.2.3.1: a fragmented compressed message (f2 48 / cd c9 c9 07 00)", async () => {
  const ext = negotiate("permessage-deflate");
  const out = await decode(ext, [bytes("f2 48"), bytes("cd c9 c9 07 00")]);
  assert.equal(new TextDecoder().decode(out), "Hello");
  ext.dispose();
});

test("RFC 7692 §7.2.3.2: the same message twice with context takeover; the second is f2 00 11 00 00", async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 0 });
  const first = await ext.encodeFrame(new Frame.Text("Hello"));
  const second = await ext.encodeFrame(new Frame.Text("Hello"));
  assert.equal(hex(first.data), "f2 48 cd c9 c9 07 00");
  assert.equal(hex(second.data), "f2 00 11 00 00");
  assert.equal(new TextDecoder().decode(await decode(ext, [bytes("f2 48 cd c9 c9 07 00")])), "Hello");
  assert.equal(new TextDecoder().decode(await decode(ext, [bytes("f2 00 11 00 00")])), "Hello");
  ext.dispose();
});

test("RFC 7692 §7.2.3.2: without context takeover both messages compress alike", async () => {
  const ext = negotiate("permessage-deflate; server_no_context_takeover", { compressIfBiggerThan: 0 });
  const first = await ext.encodeFrame(new Frame.Text("Hello"));
  assert.equal(ext.allocated.deflater, false, "the compressor is freed after each message");
  const second = await ext.encodeFrame(new Frame.Text("Hello"));
  assert.equal(hex(first.data), "f2 48 cd c9 c9 07 00");
  assert.equal(hex(second.data), "f2 48 cd c9 c9 07 00");
  ext.dispose();
});

test("RFC 7692 §7.2.3.3: a stored (uncompressed) block decodes", async () => {
  const ext = negotiate("permessage-deflate");
  const out = await decode(ext, [bytes("00 05 00 fa ff 48 65 6c 6c 6f 00")]);
  assert.equal(new TextDecoder().decode(out), "Hello");
  ext.dispose();
});

test("RFC 7692 §7.2.3.4: a block with BFINAL set ends the stream; the next message starts afresh", async () => {
  const ext = negotiate("permessage-deflate");
  assert.equal(new TextDecoder().decode(await decode(ext, [bytes("f3 48 cd c9 c9 07 00")])), "Hello");
  assert.equal(new TextDecoder().decode(await decode(ext, [bytes("f2 48 cd c9 c9 07 00")])), "Hello");
  assert.equal(new TextDecoder().decode(await decode(ext, [bytes("f2 00 11 00 00")])), "Hello");
  ext.dispose();
});

test("RFC 7692 §7.2.3.5: two DEFLATE blocks in one message", async () => {
  const ext = negotiate("permessage-deflate");
  const out = await decode(ext, [bytes("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")]);
  assert.equal(new TextDecoder().decode(out), "Hello");
  ext.dispose();
});

test("RFC 7692 §7.2.3.6: an empty message (00) decodes to nothing", async () => {
  const ext = negotiate("permessage-deflate");
  assert.equal((await decode(ext, [bytes("00")])).length, 0);
  assert.equal(new TextDecoder().decode(await decode(ext, [bytes("f2 48 cd c9 c9 07 00")])), "Hello");
  ext.dispose();
});

test("an outgoing fragmented message: RSV1 on the first frame only, and the frames decode as one message", async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 1 << 20 });
  const a = await ext.encodeFrame(new Frame.Text("Hel", false));
  const b = await ext.encodeFrame(new Frame.Continuation(utf8.encode(""), false));
  const c = await ext.encodeFrame(new Frame.Continuation(utf8.encode("lo"), true));
  assert.deepEqual([a.rsv1, b.rsv1, c.rsv1], [true, false, false]);
  assert.deepEqual([a.fin, b.fin, c.fin], [false, false, true]);
  assert.ok(a instanceof Frame.Text && b instanceof Frame.Continuation && c instanceof Frame.Continuation);
  // Independent check: the payloads plus the tail inflate to the message.
  const wire = concatBytes([a.data, b.data, c.data, bytes("00 00 ff ff")]);
  assert.equal(zlib.inflateRawSync(wire, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString(), "Hello");
  assert.equal(new TextDecoder().decode(await decode(ext, [a.data, b.data, c.data])), "Hello");
  // A small single-frame message after it is below the threshold again.
  const d = await ext.encodeFrame(new Frame.Text("Hello"));
  assert.equal(d.rsv1, false);
  assert.equal(new TextDecoder().decode(d.data), "Hello");
  ext.dispose();
});

test("compressIfBiggerThan: messages up to the threshold go uncompressed with RSV1 clear", async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 10 });
  const small = new Frame.Binary(sample(10));
  assert.equal(await ext.encodeFrame(small), small);
  const big = await ext.encodeFrame(new Frame.Binary(sample(11)));
  assert.equal(big.rsv1, true);
  assert.deepEqual(inflateAlone(big.data), sample(11));
  ext.dispose();
});

test("control frames and RSV2/RSV3 of data frames pass through unchanged", async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 0 });
  const f = await ext.encodeFrame(new Frame.Binary(sample(100), true, false, true, false));
  assert.deepEqual([f.rsv1, f.rsv2, f.rsv3], [true, true, false]);
  ext.dispose();
});

// ---------------------------------------------------------------------------
// Negotiation

const table: [string, PerMessageDeflateOptions, string | null][] = [
  ["permessage-deflate", {}, "permessage-deflate"],
  ["permessage-deflate; client_max_window_bits", {}, "permessage-deflate"],
  ["permessage-deflate; client_max_window_bits=10", {}, "permessage-deflate; client_max_window_bits=10"],
  ['permessage-deflate; client_max_window_bits="12"', {}, "permessage-deflate; client_max_window_bits=12"],
  ["permessage-deflate; server_max_window_bits=10", {}, "permessage-deflate; server_max_window_bits=10"],
  ["permessage-deflate; server_max_window_bits=8", {}, "permessage-deflate; server_max_window_bits=8"],
  ["permessage-deflate; server_max_window_bits=15", {}, "permessage-deflate; server_max_window_bits=15"],
  ["permessage-deflate; server_no_context_takeover", {}, "permessage-deflate; server_no_context_takeover"],
  ["permessage-deflate; client_no_context_takeover", {}, "permessage-deflate; client_no_context_takeover"],
  [
    "permessage-deflate; client_max_window_bits=9; server_max_window_bits=9; client_no_context_takeover; server_no_context_takeover",
    {},
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9",
  ],
  // Autobahn 13.5's offer.
  [
    "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9",
    {},
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9",
  ],
  // Case-insensitive names.
  ["PerMessage-Deflate; Client_Max_Window_Bits", {}, "permessage-deflate"],
  // Declined: unknown, duplicate or invalid parameters (RFC 7692 §5.1).
  ["permessage-deflate; foo", {}, null],
  ["permessage-deflate; foo=1", {}, null],
  ["permessage-deflate; server_no_context_takeover; server_no_context_takeover", {}, null],
  ["permessage-deflate; client_no_context_takeover; client_no_context_takeover", {}, null],
  ["permessage-deflate; client_max_window_bits; client_max_window_bits=10", {}, null],
  ["permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", {}, null],
  ["permessage-deflate; server_no_context_takeover=1", {}, null],
  ["permessage-deflate; client_no_context_takeover=true", {}, null],
  ["permessage-deflate; server_max_window_bits", {}, null],
  ["permessage-deflate; server_max_window_bits=7", {}, null],
  ["permessage-deflate; server_max_window_bits=16", {}, null],
  ["permessage-deflate; server_max_window_bits=08", {}, null],
  ["permessage-deflate; server_max_window_bits=1O", {}, null],
  ["permessage-deflate; client_max_window_bits=0", {}, null],
  ["permessage-deflate; client_max_window_bits=100", {}, null],
  // The first acceptable offer wins, in the client's order.
  [
    "permessage-deflate; foo, permessage-deflate; client_max_window_bits=11",
    {},
    "permessage-deflate; client_max_window_bits=11",
  ],
  [
    "permessage-deflate; server_max_window_bits=10, permessage-deflate",
    {},
    "permessage-deflate; server_max_window_bits=10",
  ],
  ["x-webkit-deflate-frame, permessage-deflate", {}, "permessage-deflate"],
  ["x-webkit-deflate-frame", {}, null],
  // Server options.
  ["permessage-deflate", { serverNoContextTakeover: true }, "permessage-deflate; server_no_context_takeover"],
  ["permessage-deflate", { clientNoContextTakeover: true }, "permessage-deflate; client_no_context_takeover"],
  ["permessage-deflate", { serverMaxWindowBits: 10 }, "permessage-deflate"],
  [
    "permessage-deflate; server_max_window_bits=12",
    { serverMaxWindowBits: 10 },
    "permessage-deflate; server_max_window_bits=10",
  ],
  [
    "permessage-deflate; server_max_window_bits=9",
    { serverMaxWindowBits: 10 },
    "permessage-deflate; server_max_window_bits=9",
  ],
  ["permessage-deflate", { clientMaxWindowBits: 10 }, null],
  [
    "permessage-deflate; client_max_window_bits",
    { clientMaxWindowBits: 10 },
    "permessage-deflate; client_max_window_bits=10",
  ],
  [
    "permessage-deflate; client_max_window_bits=12",
    { clientMaxWindowBits: 10 },
    "permessage-deflate; client_max_window_bits=10",
  ],
  [
    "permessage-deflate; client_max_window_bits=9",
    { clientMaxWindowBits: 10 },
    "permessage-deflate; client_max_window_bits=9",
  ],
  [
    "permessage-deflate, permessage-deflate; client_max_window_bits",
    { clientMaxWindowBits: 8 },
    "permessage-deflate; client_max_window_bits=8",
  ],
];

test("negotiation table: each offer → the response element (or a decline)", () => {
  for (const [offer, options, expected] of table) {
    const result = negotiateExtensions(offer, [new PerMessageDeflate(options)]);
    assert.equal(result.header, expected, `${offer} with ${JSON.stringify(options)}`);
    assert.equal(result.rsv, expected === null ? 0 : 0x40);
    for (const e of result.extensions) e.dispose();
  }
});

test("negotiated parameters follow the offer and the options", () => {
  const p = (offer: string, options: PerMessageDeflateOptions = {}) => {
    const ext = negotiate(offer, options);
    ext.dispose();
    return ext.parameters;
  };
  assert.deepEqual(p("permessage-deflate"), {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
  assert.deepEqual(
    p("permessage-deflate; server_max_window_bits=12; client_max_window_bits=11; server_no_context_takeover"),
    { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 12, clientMaxWindowBits: 11 },
  );
  assert.deepEqual(p("permessage-deflate", { serverMaxWindowBits: 9, clientNoContextTakeover: true }), {
    serverNoContextTakeover: false,
    clientNoContextTakeover: true,
    serverMaxWindowBits: 9,
    clientMaxWindowBits: 15,
  });
});

test("negotiateExtensions: a malformed header fails the handshake with 400; without extensions it is not read", () => {
  for (const bad of ["permessage-deflate;", 'permessage-deflate; client_max_window_bits="1', "permessage-deflate x"]) {
    assert.throws(
      () => negotiateExtensions(bad, [new PerMessageDeflate()]),
      (e: unknown) => e instanceof HandshakeError && e.status === 400 && e.code === ErrorCode.BadHandshake,
    );
    assert.equal(negotiateExtensions(bad, []).header, null);
  }
  assert.equal(negotiateExtensions(null, [new PerMessageDeflate()]).extensions.length, 0);
});

test("negotiateExtensions: factories in the server's order, RSV bits claimed once, headers joined", () => {
  const made: string[] = [];
  const fake = (name: string, rsv: number): WebSocketExtensionFactory => ({
    name,
    rsv,
    negotiate(offers) {
      made.push(name);
      return {
        name,
        rsv,
        header: offers[0].name,
        decodeFrame: () => Promise.resolve(),
        encodeFrame: (f) => Promise.resolve(f),
        dispose: () => {},
      };
    },
  });
  const result = negotiateExtensions("x-two, permessage-deflate, x-one, x-other", [
    new PerMessageDeflate(),
    fake("x-one", 0x40),
    fake("x-two", 0x20),
    fake("x-absent", 0x10),
  ]);
  assert.equal(result.header, "permessage-deflate, x-two");
  assert.equal(result.rsv, 0x60);
  assert.deepEqual(result.extensions.map((e) => e.name), ["permessage-deflate", "x-two"]);
  assert.deepEqual(made, ["x-two"], "a factory whose bits are taken, or that was not offered, is not asked");
  for (const e of result.extensions) e.dispose();
});

test("options out of range throw RangeError", () => {
  for (
    const o of [
      { compressionLevel: 10 },
      { compressionLevel: -1 },
      { memLevel: 0 },
      { memLevel: 10 },
      { serverMaxWindowBits: 7 },
      { clientMaxWindowBits: 16 },
      { compressIfBiggerThan: -1 },
      { compressIfBiggerThan: 1.5 },
    ]
  ) {
    assert.throws(() => new PerMessageDeflate(o), RangeError, JSON.stringify(o));
  }
});

// ---------------------------------------------------------------------------
// Windows honoured both ways

test("server_max_window_bits=8: zlib compresses with 9 bits, which a peer's 8-bit window decodes across messages", async () => {
  const ext = negotiate("permessage-deflate; server_max_window_bits=8", { compressIfBiggerThan: 0 });
  assert.equal(ext.header, "permessage-deflate; server_max_window_bits=8");
  const peer = new StreamInflater(8);
  // The second message repeats the first from 300 bytes back: out of reach of
  // an 8-bit window, so it must not be referenced.
  const block = random(300, 7);
  for (const data of [block, block, sample(5000), sample(5000)]) {
    const frame = await ext.encodeFrame(new Frame.Binary(data));
    assert.deepEqual(await peer.inflate(frame.data), data);
  }
  peer.close();
  ext.dispose();
});

test("client_max_window_bits: data compressed with a larger window than negotiated fails with 1007", async () => {
  const ext = negotiate("permessage-deflate; client_max_window_bits=9");
  const peer = new StreamDeflater(15);
  const block = random(1000, 3);
  assert.deepEqual(await decode(ext, [await peer.deflate(block)]), block);
  // Now the peer refers 1000 bytes back, beyond the 512 bytes it agreed to.
  const error = await rejection(decode(ext, [await peer.deflate(block)]));
  assert.equal(error.code, ErrorCode.InvalidCompressedData);
  assert.equal(error.closeCode, CloseCode.NotConsistent);
  peer.close();
  ext.dispose();
});

// ---------------------------------------------------------------------------
// Limits and bad data

/** A message of `mib` MiB of zeros in about `mib` KiB of DEFLATE (ratio ~1000:1). */
async function bomb(mib: number): Promise<Uint8Array> {
  const peer = new StreamDeflater(15, 9);
  const first = await peer.deflate(new Uint8Array(1 << 20), false);
  const rest = await peer.deflate(new Uint8Array(1 << 20), false);
  peer.close();
  const parts = [first];
  for (let i = 1; i < mib; i++) parts.push(rest);
  return concatBytes(parts);
}

test("inflation stops at maxMessageSize: a 1 MiB frame that would inflate to 1 GiB fails with 1009", async () => {
  const payload = await bomb(1024);
  assert.ok(payload.length < 1.1 * (1 << 20), `bomb is ${payload.length} bytes`);
  const ext = negotiate("permessage-deflate");
  let emitted = 0;
  const limit = 1 << 20;
  const error = await rejection(ext.decodeFrame(payload, true, limit, (c) => void (emitted += c.length)));
  assert.equal(error.code, ErrorCode.MessageTooBig);
  assert.equal(error.closeCode, CloseCode.MessageTooBig);
  assert.ok(emitted <= limit, `emitted ${emitted}`);
  assert.equal(ext.allocated.inflater, false, "the inflater is freed");
  // The extension stays failed.
  assert.equal((await rejection(decode(ext, [bytes("f2 48 cd c9 c9 07 00")]))).code, ErrorCode.MessageTooBig);
  ext.dispose();
});

test("maxMessageSize counts the whole message across its frames, and resets per message", async () => {
  const data = sample(3000);
  const peer = new StreamDeflater(15);
  const a = await peer.deflate(data.subarray(0, 1500), false);
  const b = await peer.deflate(data.subarray(1500), true);
  const ext = negotiate("permessage-deflate");
  assert.deepEqual(await decode(ext, [a, b], 3000), data, "exactly the limit passes");
  const c = await peer.deflate(data.subarray(0, 1500), false);
  const d = await peer.deflate(data.subarray(1500), true);
  const error = await rejection(decode(ext, [c, d], 2999));
  assert.equal(error.code, ErrorCode.MessageTooBig);
  peer.close();
  ext.dispose();
});

test("invalid compressed data fails with 1007 and later calls fail too", async () => {
  for (const garbage of ["ff ff ff ff", "f2 48 cd c9 c9 07 00 ff ff ff", "07"]) {
    const ext = negotiate("permessage-deflate");
    const error = await rejection(decode(ext, [bytes(garbage)]));
    assert.equal(error.code, ErrorCode.InvalidCompressedData, garbage);
    assert.equal(error.closeCode, CloseCode.NotConsistent);
    assert.equal(ext.allocated.inflater, false);
    assert.equal((await rejection(decode(ext, [bytes("f2 48 cd c9 c9 07 00")]))).code, ErrorCode.InvalidCompressedData);
    ext.dispose();
  }
});

test("data after a final block in a later frame of the message fails with 1007", async () => {
  const ext = negotiate("permessage-deflate");
  const error = await rejection(decode(ext, [bytes("f3 48 cd c9 c9 07 00"), bytes("f2 48 cd c9 c9 07 00")]));
  assert.equal(error.code, ErrorCode.InvalidCompressedData);
  ext.dispose();
});

test("an error thrown by emit fails the call with that error", async () => {
  const ext = negotiate("permessage-deflate");
  const mine = new WebSocketError(ErrorCode.InvalidUtf8, CloseCode.NotConsistent, "bad text");
  const error = await rejection(ext.decodeFrame(bytes("f2 48 cd c9 c9 07 00"), true, 100, () => {
    throw mine;
  }));
  assert.equal(error, mine);
  ext.dispose();
});

// ---------------------------------------------------------------------------
// Memory: lazy, freed

test("zlib state is created on first use, kept with context takeover, and freed by dispose", async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 0 });
  assert.deepEqual(ext.allocated, { inflater: false, deflater: false });
  await ext.encodeFrame(new Frame.Text("Hello"));
  assert.deepEqual(ext.allocated, { inflater: false, deflater: true });
  await decode(ext, [bytes("f2 48 cd c9 c9 07 00")]);
  assert.deepEqual(ext.allocated, { inflater: true, deflater: true });
  ext.dispose();
  assert.deepEqual(ext.allocated, { inflater: false, deflater: false });
  assert.equal((await rejection(ext.encodeFrame(new Frame.Text("Hello")))).code, ErrorCode.SessionClosed);
  assert.equal((await rejection(decode(ext, [bytes("f2 48 cd c9 c9 07 00")]))).code, ErrorCode.SessionClosed);
});

test("without context takeover the inflater is freed after each message, kept within one", async () => {
  const ext = negotiate("permessage-deflate; client_no_context_takeover");
  await ext.decodeFrame(bytes("f2 48"), false, 100, () => {});
  assert.equal(ext.allocated.inflater, true);
  await ext.decodeFrame(bytes("cd c9 c9 07 00"), true, 100, () => {});
  assert.equal(ext.allocated.inflater, false);
  ext.dispose();
});

test("dispose rejects the calls in flight", async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 0 });
  const pending = ext.encodeFrame(new Frame.Binary(sample(1 << 20)));
  const queued = ext.encodeFrame(new Frame.Binary(sample(10)));
  ext.dispose();
  assert.equal((await rejection(pending)).code, ErrorCode.SessionClosed);
  assert.equal((await rejection(queued)).code, ErrorCode.SessionClosed);
});

// ---------------------------------------------------------------------------
// Order and round trips

test("calls made without waiting settle in call order and never reorder messages", async () => {
  const ext = negotiate("permessage-deflate", { compressIfBiggerThan: 100 });
  const messages = [sample(1 << 20, 1), sample(10, 2), sample(5000, 3), sample(50, 4), sample(200_000, 5)];
  const settled: number[] = [];
  const frames = await Promise.all(
    messages.map((m, i) => ext.encodeFrame(new Frame.Binary(m)).then((f) => (settled.push(i), f))),
  );
  assert.deepEqual(settled, [0, 1, 2, 3, 4]);
  assert.deepEqual(frames.map((f) => f.rsv1), [true, false, true, false, true]);
  const decoded: Uint8Array[][] = messages.map(() => []);
  const order: number[] = [];
  await Promise.all(frames.map((f, i) => {
    if (!f.rsv1) return Promise.resolve(decoded[i].push(f.data));
    return ext.decodeFrame(f.data, true, 1 << 30, (c) => void decoded[i].push(c.slice())).then(() => order.push(i));
  }));
  assert.deepEqual(order, [0, 2, 4]);
  messages.forEach((m, i) => assert.deepEqual(concatBytes(decoded[i]), m, `message ${i}`));
  ext.dispose();
});

const sizes = [1, 100, 1025, 16 * 1024 + 3, 200_000, 3 * 1024 * 1024];
for (const takeover of [true, false]) {
  const offer = takeover
    ? "permessage-deflate"
    : "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  test(`round trip against node:zlib as the peer, context takeover ${takeover ? "on" : "off"}`, async () => {
    const ext = negotiate(offer, { compressIfBiggerThan: 0 });
    const peerIn = new StreamInflater(15);
    const peerOut = new StreamDeflater(15);
    for (let round = 0; round < 2; round++) {
      for (const size of sizes) {
        const data = sample(size, size + round);
        // Ours → peer.
        const frame = await ext.encodeFrame(new Frame.Binary(data));
        assert.equal(frame.rsv1, true);
        if (takeover) assert.deepEqual(await peerIn.inflate(frame.data), data);
        else assert.deepEqual(inflateAlone(frame.data), data);
        // Peer → ours, also fragmented into 3 frames.
        const compressed = takeover ? await peerOut.deflate(data) : deflateAlone(data);
        assert.deepEqual(await decode(ext, [compressed]), data);
        const again = takeover ? await peerOut.deflate(data) : compressed;
        const third = Math.ceil(again.length / 3);
        assert.deepEqual(
          await decode(ext, [again.subarray(0, third), again.subarray(third, 2 * third), again.subarray(2 * third)]),
          data,
        );
      }
    }
    assert.equal(ext.allocated.deflater, takeover);
    assert.equal(ext.allocated.inflater, takeover);
    peerIn.close();
    peerOut.close();
    ext.dispose();
  });
}

// The `ws` package's permessage-deflate, an implementation we did not write,
// as the client: Node only (it is a Node library).
const isNode = typeof (globalThis as { Deno?: unknown }).Deno === "undefined" &&
  typeof (globalThis as { Bun?: unknown }).Bun === "undefined";

test(
  "round trip against ws's PerMessageDeflate as the client",
  { skip: isNode ? false : "ws is a Node library" },
  async () => {
    type WsDeflate = {
      offer(): Record<string, unknown>;
      accept(configurations: unknown[]): void;
      compress(data: Uint8Array, fin: boolean, cb: (e: Error | null, r?: Buffer) => void): void;
      decompress(data: Uint8Array, fin: boolean, cb: (e: Error | null, r?: Buffer) => void): void;
      cleanup(): void;
    };
    const lib = new URL("../node_modules/ws/lib/", import.meta.url);
    const { default: WsPerMessageDeflate } = await import(new URL("permessage-deflate.js", lib).href);
    const { parse, format } = (await import(new URL("extension.js", lib).href)).default;
    for (
      const [clientOptions, serverOptions] of [
        [{}, {}],
        [{ serverNoContextTakeover: true, clientNoContextTakeover: true }, {}],
        [{ clientMaxWindowBits: true, serverMaxWindowBits: 10 }, { clientMaxWindowBits: 11 }],
        [{}, { serverNoContextTakeover: true, serverMaxWindowBits: 9 }],
      ] as [Record<string, unknown>, PerMessageDeflateOptions][]
    ) {
      const client: WsDeflate = new WsPerMessageDeflate({ ...clientOptions, threshold: 0, isServer: false });
      const offer = format({ "permessage-deflate": client.offer() });
      const ext = negotiate(offer, { ...serverOptions, compressIfBiggerThan: 0 });
      client.accept(parse(ext.header)["permessage-deflate"]);
      const call = (f: "compress" | "decompress", data: Uint8Array) =>
        new Promise<Uint8Array>((resolve, reject) =>
          client[f](data, true, (e, r) => e ? reject(e) : resolve(new Uint8Array(r!)))
        );
      for (let round = 0; round < 3; round++) {
        for (const size of [5, 1000, 70_000, 1 << 20]) {
          const data = sample(size, round * 7 + size);
          const frame = await ext.encodeFrame(new Frame.Binary(data));
          assert.deepEqual(await call("decompress", frame.data), data, `${offer} → ${ext.header}, ${size}`);
          assert.deepEqual(
            await decode(ext, [await call("compress", data)]),
            data,
            `${offer}, client → server ${size}`,
          );
        }
      }
      client.cleanup();
      ext.dispose();
    }
  },
);
