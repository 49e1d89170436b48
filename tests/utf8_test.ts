import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isValidUtf8, Utf8Validator } from "../mod.ts";
import { hex } from "./_helpers/client.ts";

const fatal = new TextDecoder("utf-8", { fatal: true });
function reference(bytes: Uint8Array): boolean {
  try {
    fatal.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Index of the first byte after which the stream can no longer be valid, or -1. */
function failurePoint(bytes: Uint8Array): number {
  const v = new Utf8Validator();
  for (let i = 0; i < bytes.length; i++) if (!v.push(bytes, i, i + 1)) return i;
  return -1;
}

test("valid text of every width, and the boundaries of Unicode", () => {
  for (const s of ["", "hello", "κόσμε", "€", "𝄞", "\u{10FFFF}", "\uD7FF", "\uE000", "a".repeat(1000) + "é"]) {
    assert.equal(isValidUtf8(new TextEncoder().encode(s)), true, s);
  }
});

test("invalid sequences fail at the first byte that makes them invalid", () => {
  const cases: [string, number][] = [
    ["c0 80", 0], // overlong NUL: C0 can never start a valid sequence
    ["c1 bf", 0],
    ["e0 80 80", 1], // overlong 3-byte
    ["e0 9f bf", 1],
    ["ed a0 80", 1], // surrogate U+D800
    ["ed bf bf", 1],
    ["f0 80 80 80", 1], // overlong 4-byte
    ["f0 8f bf bf", 1],
    ["f4 90 80 80", 1], // U+110000
    ["f5 80 80 80", 0],
    ["ff", 0],
    ["80", 0], // lone continuation
    ["ce ba e1 bd b9 ce bc ce b5 ed a0 80 65 64 69 74 65 64", 10], // Autobahn 6.4.x shape
    ["41 c2 41", 2],
  ];
  for (const [h, at] of cases) assert.equal(failurePoint(hex(h)), at, h);
});

test("a truncated character is incomplete, not invalid, until the message ends", () => {
  const v = new Utf8Validator();
  assert.equal(v.push(hex("f0 9d 84")), true);
  assert.equal(v.complete, false);
  assert.equal(isValidUtf8(hex("f0 9d 84")), false);
});

test("a push that ends in ASCII does not leave the previous character's bounds behind", () => {
  // Found by the conformance property test: "f0" in one push, "91 a4 a0 … 28" in the next, then "e3 82 94".
  const p = hex("2e 2d f0 91 a4 a0 ef a4 8d f0 9e ba 8d 28 e3 82 94 e2 b9 86 2d f0 9f 98 8b");
  const v = new Utf8Validator();
  assert.equal(v.push(p, 0, 3), true);
  assert.equal(v.push(p, 3, 14), true);
  assert.equal(v.push(p, 14), true);
  assert.equal(v.complete, true);
});

test("property: agrees with a fatal TextDecoder under any three-way split", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.string({ unit: "grapheme" }).map((s) => new TextEncoder().encode(s)),
      ),
      fc.nat(),
      fc.nat(),
      (bytes, x, y) => {
        const [a, b] = [x % (bytes.length + 1), y % (bytes.length + 1)].sort((m, n) => m - n);
        const v = new Utf8Validator();
        const ok = v.push(bytes, 0, a) && v.push(bytes, a, b) && v.push(bytes, b) && v.complete;
        assert.equal(ok, reference(bytes));
      },
    ),
    { numRuns: 5000 },
  );
});

test("property: agrees with a fatal TextDecoder on arbitrary bytes, under any split", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.string({ unit: "grapheme" }).map((s) => new TextEncoder().encode(s)),
      ),
      fc.nat(),
      (bytes, cut) => {
        const expected = reference(bytes);
        assert.equal(isValidUtf8(bytes), expected);
        const at = cut % (bytes.length + 1);
        const v = new Utf8Validator();
        const ok = v.push(bytes, 0, at) && v.push(bytes, at, bytes.length) && v.complete;
        assert.equal(ok, expected);
      },
    ),
    { numRuns: 2000 },
  );
});

test("property: fail-fast — the failure point is the shortest prefix that no suffix can repair", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 12 }), (bytes) => {
      const at = failurePoint(bytes);
      if (at === -1) return;
      // Before the failure point some continuation makes the prefix valid...
      const prefix = bytes.subarray(0, at);
      const v = new Utf8Validator();
      assert.equal(v.push(prefix), true);
      // ...and with the failing byte, no 3-byte continuation can help.
      const withByte = bytes.subarray(0, at + 1);
      for (
        const tail of [
          hex(""),
          hex("80"),
          hex("80 80"),
          hex("80 80 80"),
          hex("bf bf bf"),
          hex("a0 80"),
          hex("90 80 80"),
        ]
      ) {
        const joined = new Uint8Array(withByte.length + tail.length);
        joined.set(withByte);
        joined.set(tail, withByte.length);
        assert.equal(reference(joined), false);
      }
    }),
    { numRuns: 2000 },
  );
});
