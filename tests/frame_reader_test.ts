import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, ErrorCode, Frame, FrameReader, FrameType, WebSocketError } from "../mod.ts";
import { hex } from "./_helpers/client.ts";

function readAll(reader: FrameReader, bytes: Uint8Array, chunk = bytes.length): Frame[] {
  const out: Frame[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    reader.push(bytes.slice(i, i + chunk));
    for (let f = reader.read(); f !== null; f = reader.read()) out.push(f);
  }
  return out;
}

function expectError(bytes: Uint8Array, code: string, closeCode: number, options = {}): void {
  for (const chunk of [bytes.length, 1]) {
    const reader = new FrameReader(options);
    assert.throws(() => readAll(reader, bytes, chunk), (e: unknown) => {
      assert.ok(e instanceof WebSocketError, String(e));
      assert.equal(e.code, code);
      assert.equal(e.closeCode, closeCode);
      return true;
    });
    // A failed reader stays failed.
    assert.throws(() => reader.read(), WebSocketError);
  }
}

test("RFC 6455 §5.7: single-frame unmasked text", () => {
  const [f] = readAll(new FrameReader({ role: "client" }), hex("81 05 48 65 6c 6c 6f"));
  assert.ok(f instanceof Frame.Text);
  assert.equal(f.fin, true);
  assert.equal(f.readText(), "Hello");
});

test("RFC 6455 §5.7: single-frame masked text", () => {
  const [f] = readAll(new FrameReader(), hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"));
  assert.equal(f.frameType, FrameType.Text);
  assert.equal(f.readText(), "Hello");
});

test("RFC 6455 §5.7: fragmented unmasked text", () => {
  const frames = readAll(new FrameReader({ role: "client" }), hex("01 03 48 65 6c 80 02 6c 6f"));
  assert.equal(frames.length, 2);
  assert.ok(frames[0] instanceof Frame.Text);
  assert.equal(frames[0].fin, false);
  assert.equal(frames[0].readText(), "Hel");
  assert.ok(frames[1] instanceof Frame.Continuation);
  assert.equal(frames[1].fin, true);
  assert.equal(frames[1].readText(), "lo");
});

test("RFC 6455 §5.7: unmasked ping and masked pong", () => {
  const [ping] = readAll(new FrameReader({ role: "client" }), hex("89 05 48 65 6c 6c 6f"));
  assert.ok(ping instanceof Frame.Ping);
  assert.equal(ping.readText(), "Hello");
  const [pong] = readAll(new FrameReader(), hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"));
  assert.ok(pong instanceof Frame.Pong);
  assert.equal(pong.readText(), "Hello");
});

test("RFC 6455 §5.7: 256-byte and 64 KiB binary frames (16- and 64-bit lengths)", () => {
  const small = new Uint8Array(4 + 256);
  small.set(hex("82 7e 01 00"));
  for (let i = 0; i < 256; i++) small[4 + i] = i;
  const [a] = readAll(new FrameReader({ role: "client" }), small);
  assert.ok(a instanceof Frame.Binary);
  assert.equal(a.data.length, 256);
  assert.equal(a.data[255], 255);

  const big = new Uint8Array(10 + 65536);
  big.set(hex("82 7f 00 00 00 00 00 01 00 00"));
  big[10 + 65535] = 0xab;
  for (const chunk of [big.length, 1500, 7]) {
    const [b] = readAll(new FrameReader({ role: "client" }), big, chunk);
    assert.equal(b.data.length, 65536);
    assert.equal(b.data[65535], 0xab);
  }
});

test("lengths 0, 125, 126, 127, 128, 65535, 65536 in every chunking", () => {
  for (const n of [0, 1, 125, 126, 127, 128, 65535, 65536]) {
    const header = n < 126
      ? [0x82, 0x80 | n]
      : n < 65536
      ? [0x82, 0xfe, n >> 8, n & 255]
      : [0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0];
    const key = [0x11, 0x22, 0x33, 0x44];
    const bytes = new Uint8Array(header.length + 4 + n);
    bytes.set(header);
    bytes.set(key, header.length);
    for (let i = 0; i < n; i++) bytes[header.length + 4 + i] = (i * 7) ^ key[i & 3];
    for (const chunk of [bytes.length, 1000, 3, 1]) {
      if (chunk === 1 && n > 1000) continue;
      const frames = readAll(new FrameReader(), bytes, chunk);
      assert.equal(frames.length, 1, `n=${n} chunk=${chunk}`);
      assert.equal(frames[0].data.length, n);
      for (let i = 0; i < n; i++) if (frames[0].data[i] !== ((i * 7) & 255)) assert.fail(`byte ${i} of ${n}`);
    }
  }
});

test("many frames in one chunk come out in order, as views of the chunk", () => {
  const one = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  const bytes = new Uint8Array(one.length * 3);
  for (let i = 0; i < 3; i++) bytes.set(one, i * one.length);
  const reader = new FrameReader();
  reader.push(bytes);
  const frames = [reader.read(), reader.read(), reader.read()];
  assert.equal(reader.read(), null);
  assert.deepEqual(frames.map((f) => f?.readText()), ["Hello", "Hello", "Hello"]);
  assert.equal(frames[0]!.data.buffer, bytes.buffer);
});

test("a server rejects unmasked frames and a client rejects masked ones (1002)", () => {
  expectError(hex("81 05 48 65 6c 6c 6f"), ErrorCode.UnmaskedFrame, CloseCode.ProtocolError);
  expectError(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), ErrorCode.UnexpectedMask, CloseCode.ProtocolError, {
    role: "client",
  });
});

test("reserved opcodes 3-7 and 11-15 are rejected (1002)", () => {
  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    expectError(new Uint8Array([0x80 | op, 0x80, 1, 2, 3, 4]), ErrorCode.InvalidOpcode, CloseCode.ProtocolError);
  }
});

test("RSV bits are rejected unless an extension claimed them", () => {
  for (const bit of [0x40, 0x20, 0x10]) {
    const bytes = new Uint8Array([0x81 | bit, 0x80, 1, 2, 3, 4]);
    expectError(bytes, ErrorCode.UnexpectedRsv, CloseCode.ProtocolError);
    expectError(bytes, ErrorCode.UnexpectedRsv, CloseCode.ProtocolError, { allowedRsv: 0x70 & ~bit });
    const [f] = readAll(new FrameReader({ allowedRsv: bit }), bytes);
    assert.equal(f.rsv1, bit === 0x40);
    assert.equal(f.rsv2, bit === 0x20);
    assert.equal(f.rsv3, bit === 0x10);
  }
});

test("control frames: over 125 bytes or not final are rejected (1002)", () => {
  const long = new Uint8Array(8 + 126);
  long.set([0x89, 0xfe, 0, 126, 1, 2, 3, 4]);
  expectError(long, ErrorCode.ControlFrameTooLong, CloseCode.ProtocolError);
  expectError(new Uint8Array([0x09, 0x80, 1, 2, 3, 4]), ErrorCode.FragmentedControlFrame, CloseCode.ProtocolError);
  expectError(new Uint8Array([0x08, 0x80, 1, 2, 3, 4]), ErrorCode.FragmentedControlFrame, CloseCode.ProtocolError);
  const [ok] = readAll(new FrameReader(), new Uint8Array([0x89, 0xfd, 1, 2, 3, 4, ...new Uint8Array(125)]));
  assert.equal(ok.data.length, 125);
});

test("a 64-bit length with the top bit set is rejected (1002)", () => {
  expectError(hex("82 ff 80 00 00 00 00 00 00 00 01 02 03 04"), ErrorCode.InvalidLength, CloseCode.ProtocolError);
});

test("frames over maxFrameSize fail with 1009 from the header alone", () => {
  const reader = new FrameReader({ maxFrameSize: 1024 });
  // Only the header of a 1025-byte frame: the reader must not wait for the payload.
  reader.push(hex("82 fe 04 01 01 02 03 04"));
  assert.throws(() => reader.read(), (e: unknown) => {
    assert.ok(e instanceof WebSocketError);
    assert.equal(e.code, ErrorCode.FrameTooBig);
    assert.equal(e.closeCode, CloseCode.MessageTooBig);
    return true;
  });
  // 2^63 - 1 bytes claimed.
  expectError(hex("82 ff 7f ff ff ff ff ff ff ff 01 02 03 04"), ErrorCode.FrameTooBig, CloseCode.MessageTooBig);
  const exact = new Uint8Array(8 + 1024);
  exact.set(hex("82 fe 04 00 00 00 00 00"));
  assert.equal(readAll(new FrameReader({ maxFrameSize: 1024 }), exact)[0].data.length, 1024);
});

test("a frame announced huge but sent slowly reserves memory as bytes arrive", () => {
  const reader = new FrameReader();
  reader.push(hex("82 ff 00 00 00 00 04 00 00 00 00 00 00 00")); // 64 MiB announced
  assert.equal(reader.read(), null);
  reader.push(new Uint8Array(10));
  assert.equal(reader.read(), null);
  assert.equal(reader.buffered, 0);
});

test("bytes pushed before the previous chunk was read are kept", () => {
  const reader = new FrameReader({ role: "client" });
  reader.push(hex("81 02 48 69 81"));
  const first = reader.read();
  reader.push(hex("02 79 6f"));
  assert.equal(first?.readText(), "Hi");
  assert.equal(reader.read()?.readText(), "yo");
});
