/**
 * `decodeUtf8`: the same strings from a plain `Uint8Array` (TextDecoder) and
 * from a `Buffer` (its own decoder, found by feature), at any offset.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decodeUtf8 } from "../src/utf8.ts";

const samples = [
  "",
  "a",
  "hello, world",
  "héllo wörld",
  "日本語のテキスト",
  "emoji 😀👍🏽 mixed ascii",
  "x".repeat(70_000),
];

test("decodeUtf8 gives what TextDecoder gives, from plain arrays and from Buffers, whole and in ranges", () => {
  for (const text of samples) {
    const bytes = new TextEncoder().encode(`<<${text}>>`);
    const start = 2, end = bytes.length - 2;
    const plain = new Uint8Array(bytes);
    const buffer = Buffer.from(bytes);
    assert.equal(decodeUtf8(plain, start, end), text);
    assert.equal(decodeUtf8(buffer, start, end), text);
    assert.equal(decodeUtf8(plain, 0, plain.length), `<<${text}>>`);
    assert.equal(decodeUtf8(buffer, 0, buffer.length), `<<${text}>>`);
  }
});

test("decodeUtf8 uses a Buffer's own decoder when the bytes have one", () => {
  const bytes = Buffer.from("abc");
  let called = 0;
  const spy = Object.assign(bytes, {
    utf8Slice(start: number, end: number): string {
      called++;
      return Buffer.prototype.toString.call(bytes, "utf8", start, end);
    },
  });
  assert.equal(decodeUtf8(spy, 1, 3), "bc");
  assert.equal(called, 1);
});
