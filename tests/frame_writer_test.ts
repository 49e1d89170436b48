import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMask, CloseCode, CloseReason, Frame, FrameReader, FrameWriter } from "../mod.ts";
import { hex, prng } from "./_helpers/client.ts";

const server = new FrameWriter();

test("RFC 6455 §5.7 frames byte for byte (server role)", () => {
  assert.deepEqual(server.encode(new Frame.Text("Hello")), hex("81 05 48 65 6c 6c 6f"));
  assert.deepEqual(server.encode(new Frame.Text("Hel", false)), hex("01 03 48 65 6c"));
  assert.deepEqual(server.encode(new Frame.Continuation(new TextEncoder().encode("lo"))), hex("80 02 6c 6f"));
  assert.deepEqual(server.encode(new Frame.Ping(new TextEncoder().encode("Hello"))), hex("89 05 48 65 6c 6c 6f"));
  assert.deepEqual(server.encode(new Frame.Binary(new Uint8Array(256))).subarray(0, 4), hex("82 7e 01 00"));
  assert.deepEqual(
    server.encode(new Frame.Binary(new Uint8Array(65536))).subarray(0, 10),
    hex("82 7f 00 00 00 00 00 01 00 00"),
  );
});

test("shortest length encoding at every boundary", () => {
  for (const [n, header] of [[0, 2], [125, 2], [126, 4], [65535, 4], [65536, 10]] as const) {
    const bytes = server.encode(new Frame.Binary(new Uint8Array(n)));
    assert.equal(bytes.length, n + header, `length ${n}`);
  }
});

test("RSV bits and close reasons are written", () => {
  const bytes = server.encode(new Frame.Text("x", true, true, false, true));
  assert.equal(bytes[0], 0x80 | 0x40 | 0x10 | 0x1);
  assert.deepEqual(
    server.encode(new Frame.Close(new CloseReason(CloseCode.GoingAway, "bye"))),
    hex("88 05 03 e9 62 79 65"),
  );
  assert.deepEqual(server.encode(new Frame.Close()), hex("88 00"));
});

test("client role: masked with a fresh key per frame, and a server reader gets the payload back", () => {
  const client = new FrameWriter({ masking: true });
  const keys = new Set<string>();
  const reader = new FrameReader();
  for (let i = 0; i < 200; i++) {
    const payload = new TextEncoder().encode("Hello, masked world " + i);
    const bytes = client.encode(new Frame.Text(payload));
    assert.equal(bytes[1] & 0x80, 0x80);
    keys.add(bytes.subarray(2, 6).join(","));
    reader.push(bytes);
    assert.deepEqual(reader.read()?.data, payload);
  }
  assert.ok(keys.size > 190, `keys repeat too often: ${keys.size} distinct of 200`);
});

test("applyMask matches a byte-by-byte XOR at every alignment, phase and length", () => {
  const rand = prng(42);
  const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
  const backing = new Uint8Array(400);
  for (let i = 0; i < backing.length; i++) backing[i] = (rand() * 256) | 0;
  for (const length of [0, 1, 3, 4, 5, 31, 32, 33, 100, 257]) {
    for (let offset = 0; offset < 4; offset++) {
      for (let phase = 0; phase < 4; phase++) {
        const data = backing.slice(0, 300);
        const expected = data.slice();
        for (let i = 0; i < length; i++) expected[offset + i] ^= key[(phase + i) & 3];
        applyMask(data, offset, offset + length, key, 0, phase);
        assert.deepEqual(data, expected, `length ${length} offset ${offset} phase ${phase}`);
      }
    }
  }
  // A view whose byteOffset is not 4-aligned.
  const view = new Uint8Array(backing.buffer.slice(0), 3, 100);
  const expected = view.slice();
  for (let i = 0; i < 100; i++) expected[i] ^= key[i & 3];
  applyMask(view, 0, 100, key, 0, 0);
  assert.deepEqual(view, expected);
});

test("close reasons over 123 bytes are refused", () => {
  assert.throws(() => new Frame.Close(new CloseReason(1000, "x".repeat(124))), RangeError);
  assert.equal(new Frame.Close(new CloseReason(1000, "x".repeat(123))).data.length, 125);
});
