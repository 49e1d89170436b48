import { test } from "node:test";
import assert from "node:assert/strict";
import { type HeadLimits, RequestHeadParser } from "../src/http/head_parser.ts";
import { HttpError } from "../src/http/http_error.ts";

const LIMITS: HeadLimits = { maxHeadBytes: 16 * 1024, maxHeaderCount: 100, maxRequestLineLength: 8 * 1024 };
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function parse(text: string, limits: HeadLimits = LIMITS) {
  const parser = new RequestHeadParser(limits);
  const bytes = ascii(text);
  const end = parser.push(bytes);
  return { parser, end, bytes };
}

function status(text: string, limits: HeadLimits = LIMITS): number {
  try {
    const { parser } = parse(text, limits);
    return parser.done ? 0 : -1;
  } catch (error) {
    assert.ok(error instanceof HttpError, String(error));
    return error.status;
  }
}

const SAMPLE = "GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade:  websocket \r\n" +
  "X-Empty:\r\nX-Latin: caf\xe9\r\n\r\n";

test("a head is parsed into method, target, version and headers (lowercase names, trimmed values)", () => {
  const { parser, end, bytes } = parse(SAMPLE + "NEXT");
  assert.ok(parser.done);
  assert.equal(end, bytes.length - 4);
  assert.deepEqual(parser.head, {
    method: "GET",
    target: "/chat?room=1",
    minorVersion: 1,
    headers: [["host", "example.com:8080"], ["upgrade", "websocket"], ["x-empty", ""], ["x-latin", "caf\xe9"]],
  });
});

test("any chunking of the input, down to one byte a push, gives the same head", () => {
  const whole = parse(SAMPLE).parser.head;
  const bytes = ascii(SAMPLE);
  for (const size of [1, 2, 3, 7, 16]) {
    const parser = new RequestHeadParser(LIMITS);
    for (let i = 0; i < bytes.length; i += size) {
      assert.equal(parser.done, false);
      const chunk = bytes.subarray(i, i + size);
      const end = parser.push(chunk);
      if (parser.done) assert.equal(end, chunk.length);
    }
    assert.ok(parser.done);
    assert.deepEqual(parser.head, whole);
  }
});

test("a push can start at an offset, and reset() parses the next head", () => {
  const two = ascii("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.0\r\n\r\n");
  const parser = new RequestHeadParser(LIMITS);
  const end = parser.push(two);
  assert.equal(parser.head.target, "/a");
  parser.reset();
  assert.equal(parser.started, false);
  assert.equal(parser.push(two, end), two.length);
  assert.equal(parser.head.method, "POST");
  assert.equal(parser.head.minorVersion, 0);
});

test("empty lines before the request line are skipped", () => {
  assert.equal(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").parser.head.target, "/");
});

test("malformed heads are 400", () => {
  for (
    const text of [
      "GET / HTTP/1.1\nHost: x\r\n\r\n", // bare LF
      "GET  / HTTP/1.1\r\n\r\n", // empty target
      "GET / HTTP/1.1 \r\n\r\n",
      "GET /a b HTTP/1.1\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "G(T / HTTP/1.1\r\n\r\n",
      " GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost : x\r\n\r\n", // whitespace before the colon
      "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", // obs-fold
      "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
      "GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
      "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
      "GET / HTTP/1.1\r\n: empty-name\r\n\r\n",
      "GET / HTTP/1.1\r\nX: y\r\r\n",
      "GET / http/1.1\r\n\r\n",
      "GET / HTTP/1.x\r\n\r\n",
      "GET / HTTP/11\r\n\r\n",
      "GET / HTTP/1.1.1\r\n\r\n",
      "\x16\x03\x01\x02\x00", // a TLS ClientHello on the plain port
    ]
  ) {
    assert.equal(status(text), 400, JSON.stringify(text));
  }
});

test("other HTTP versions are 505", () => {
  assert.equal(status("GET / HTTP/2.0\r\n\r\n"), 505);
  assert.equal(status("GET / HTTP/1.2\r\n\r\n"), 505);
  assert.equal(status("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
  assert.equal(status("GET / HTTP/0.9\r\n\r\n"), 505);
});

test("a request line over the limit is 414, a head over the limit or with too many fields 431", () => {
  assert.equal(status(`GET /${"a".repeat(10 * 1024)} HTTP/1.1\r\n\r\n`), 414);
  // The limit is reached before the end of the line: answered without waiting for it.
  assert.equal(status(`GET /${"a".repeat(9 * 1024)}`), 414);
  assert.equal(status(`GET /${"a".repeat(8100)} HTTP/1.1\r\n\r\n`), 0);
  const big = "GET / HTTP/1.1\r\n" + `X-Big: ${"b".repeat(17 * 1024)}\r\n\r\n`;
  assert.equal(status(big), 431);
  const many = "GET / HTTP/1.1\r\n" + Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join("") + "\r\n";
  assert.equal(status(many), 431);
  const hundred = "GET / HTTP/1.1\r\n" + Array.from({ length: 100 }, (_, i) => `X-${i}: v\r\n`).join("") + "\r\n";
  assert.equal(status(hundred), 0);
  const tight = { maxHeadBytes: 64, maxHeaderCount: 2, maxRequestLineLength: 20 };
  assert.equal(status("GET /0123456789abcdef HTTP/1.1\r\n\r\n", tight), 414);
  assert.equal(status("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", tight), 431);
  assert.equal(status("GET / HTTP/1.1\r\nA: " + "x".repeat(60) + "\r\n\r\n", tight), 431);
});

test("an incomplete head is not done and keeps everything", () => {
  const { parser, end, bytes } = parse("GET / HTTP/1.1\r\nHost: x\r\n");
  assert.equal(parser.done, false);
  assert.equal(parser.started, true);
  assert.equal(end, bytes.length);
  assert.throws(() => parser.head);
});
