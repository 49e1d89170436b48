import { test } from "node:test";
import assert from "node:assert/strict";
import { sha1 } from "../mod.ts";
import { prng } from "./_helpers/client.ts";

const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const utf8 = (s: string) => new TextEncoder().encode(s);

test("sha1: FIPS 180 vectors", () => {
  assert.equal(toHex(sha1(utf8(""))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(toHex(sha1(utf8("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(
    toHex(sha1(utf8("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
  assert.equal(toHex(sha1(new Uint8Array(1_000_000).fill(0x61))), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
});

test("sha1: agrees with crypto.subtle on random inputs of every length up to 300 and some large ones", async () => {
  const rand = prng(6455);
  const lengths = [...Array(301).keys(), 1000, 4095, 4096, 65537];
  for (const n of lengths) {
    const data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = (rand() * 256) | 0;
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-1", data));
    assert.deepEqual(sha1(data), expected, `length ${n}`);
  }
});
