import { test } from "node:test";
import assert from "node:assert/strict";
import { BodyDecoder } from "../src/http/body_decoder.ts";
import { HttpError } from "../src/http/http_error.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const text = (parts: Uint8Array[]) => parts.map((p) => String.fromCharCode(...p)).join("");

/** Decodes `input` in chunks of `size`; returns the body and what followed it. */
function decode(contentLength: number, input: string, size = Infinity, max = 1 << 20) {
  const decoder = new BodyDecoder(contentLength, max);
  const bytes = ascii(input);
  const body: Uint8Array[] = [];
  let rest = "";
  for (let i = 0; i < bytes.length; i += size) {
    const chunk = bytes.subarray(i, Math.min(bytes.length, i + size));
    if (decoder.done) {
      rest += text([chunk]);
      continue;
    }
    const end = decoder.decode(chunk, 0, (p) => body.push(p.slice()));
    rest += text([chunk.subarray(end)]);
  }
  return { done: decoder.done, body: text(body), rest, received: decoder.received };
}

test("a Content-Length body ends at its length; what follows is left", () => {
  for (const size of [1, 3, 100]) {
    assert.deepEqual(decode(5, "helloGET /", size), { done: true, body: "hello", rest: "GET /", received: 5 });
  }
  assert.equal(decode(0, "x").done, true);
  assert.deepEqual(decode(10, "short", 2).done, false);
});

const CHUNKED = "5\r\nhello\r\n6;name=value\r\n world\r\nA \t; x\r\n0123456789\r\n0\r\nTrailer: yes\r\n\r\nNEXT";

test("a chunked body with extensions and trailers decodes under any chunking", () => {
  for (const size of [1, 2, 5, 1000]) {
    assert.deepEqual(decode(-1, CHUNKED, size), {
      done: true,
      body: "hello world0123456789",
      rest: "NEXT",
      received: 21,
    });
  }
});

test("malformed chunked framing is 400, a body over the limit 413", () => {
  const bad = (input: string, max?: number) => {
    try {
      decode(-1, input, Infinity, max);
    } catch (error) {
      assert.ok(error instanceof HttpError);
      return error.status;
    }
    return 0;
  };
  assert.equal(bad("x\r\n"), 400);
  assert.equal(bad("\r\n"), 400);
  assert.equal(bad("5\r\nhelloX\r\n"), 400);
  assert.equal(bad("5\nhello\r\n"), 400);
  assert.equal(bad("5 x\r\n"), 400);
  assert.equal(bad("0\r\n\r\r"), 400);
  assert.equal(bad("5\r\nhello\r\n6\r\n world\r\n", 10), 413);
  assert.equal(bad("fffffffffffffff\r\n"), 413);
  assert.equal(bad("5\r\nhello\r\n0\r\n\r\n", 5), 0);
});
