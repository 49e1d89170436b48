/**
 * Fuzzing of the HTTP/1.1 request head parser and the request framing
 * behind it, with fast-check: arbitrary bytes, and mutations of heads that
 * browsers and common clients send, under arbitrary chunking. No exception
 * escapes; every outcome is a parsed head (then a request the handler
 * sees) or an HTTP error with a status. Seeded and printed as in
 * `_helpers/fuzz.ts`; `npm run fuzz` runs it much longer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { WebSocketUpgrade } from "../mod.ts";
import { type HeadLimits, type RequestHead, RequestHeadParser } from "../src/http/head_parser.ts";
import { HttpError } from "../src/http/http_error.ts";
import { interpretHead } from "../src/http/request_framing.ts";
import { HttpServer } from "../src/http/server.ts";
import { cutPoints, fuzzParameters, mutate, mutation } from "./_helpers/fuzz.ts";
import { MemoryTransport } from "./_helpers/memory_transport.ts";
import { within } from "./_helpers/wait.ts";

const LIMITS: HeadLimits = { maxHeadBytes: 4096, maxHeaderCount: 20, maxRequestLineLength: 1024 };
const PARSER_STATUSES = new Set([400, 414, 431, 505]);
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

type Outcome = { kind: "head"; head: RequestHead; end: number } | { kind: "error"; status: number } | {
  kind: "incomplete";
};

/** Feeds `bytes` in pieces cut at `points`; what the parser made of them. */
function parse(bytes: Uint8Array, points: number[]): Outcome {
  const parser = new RequestHeadParser(LIMITS);
  let prev = 0;
  try {
    for (const cut of [...points, bytes.length]) {
      const piece = bytes.slice(prev, cut);
      const end = parser.push(piece);
      if (parser.done) return { kind: "head", head: parser.head, end: prev + end };
      assert.equal(end, piece.length, "an unfinished head consumes the whole chunk");
      prev = cut;
    }
  } catch (error) {
    assert.ok(error instanceof HttpError, `a non-HTTP exception escaped: ${error}`);
    assert.ok(PARSER_STATUSES.has(error.status), `unexpected status ${error.status}`);
    return { kind: "error", status: error.status };
  }
  return { kind: "incomplete" };
}

/** What every parsed head must satisfy, whatever the input. */
function checkHead(head: RequestHead, end: number, bytes: Uint8Array): void {
  assert.ok(end <= LIMITS.maxHeadBytes, `a head of ${end} bytes`);
  assert.ok(end >= 4 && bytes[end - 1] === 0x0a && bytes[end - 2] === 0x0d, "the head ends with CRLF CRLF");
  assert.match(head.method, TCHAR);
  assert.ok(head.target.length > 0 && head.target.length < LIMITS.maxRequestLineLength);
  for (let i = 0; i < head.target.length; i++) {
    const c = head.target.charCodeAt(i);
    assert.ok(c > 0x20 && c < 0x7f, "the target is visible ASCII");
  }
  assert.ok(head.minorVersion === 0 || head.minorVersion === 1);
  assert.ok(head.headers.length <= LIMITS.maxHeaderCount);
  for (const [name, value] of head.headers) {
    assert.match(name, TCHAR);
    assert.equal(name, name.toLowerCase());
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      assert.ok(c === 0x09 || (c >= 0x20 && c !== 0x7f && c <= 0xff), `byte ${c} in a header value`);
    }
    assert.ok(!/^[ \t]|[ \t]$/.test(value), "values are trimmed");
  }
}

const FRAMING_STATUSES = new Set([400, 413, 417, 501]);

/** A parsed head's framing is interpreted, or refused with a status; nothing else. */
function checkFraming(head: RequestHead): void {
  try {
    const framing = interpretHead(head);
    assert.ok(!(framing.chunked && framing.contentLength >= 0), "never both a length and chunked");
    assert.ok(framing.contentLength >= -1 && Number.isSafeInteger(framing.contentLength));
    if (head.minorVersion === 1) assert.notEqual(framing.host, null);
  } catch (error) {
    assert.ok(error instanceof HttpError, `a non-HTTP exception escaped the framing: ${error}`);
    assert.ok(FRAMING_STATUSES.has(error.status), `unexpected status ${error.status}`);
  }
}

/** The same bytes in one piece must give the same outcome as in any chunking. */
function checkChunkingInvariant(bytes: Uint8Array, chunked: Outcome): void {
  const whole = parse(bytes, []);
  assert.equal(chunked.kind, whole.kind);
  if (chunked.kind === "error" && whole.kind === "error") assert.equal(chunked.status, whole.status);
  if (chunked.kind === "head" && whole.kind === "head") {
    assert.deepEqual(chunked.head, whole.head);
    assert.equal(chunked.end, whole.end);
  }
}

test("fuzz: arbitrary bytes under arbitrary chunking give a head, an HTTP error status, or need more", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 6000 }),
        // Printable-heavy input reaches deeper states than uniform bytes.
        fc.string({ unit: fc.constantFrom(..."GET /HTP1.0\r\n:host aXx-\t \x00\xff"), maxLength: 600 }).map(ascii),
      ),
      fc.array(fc.nat(), { maxLength: 30 }),
      (bytes, cuts) => {
        const outcome = parse(bytes, cutPoints(cuts, bytes.length));
        if (outcome.kind === "head") {
          checkHead(outcome.head, outcome.end, bytes);
          checkFraming(outcome.head);
        }
        checkChunkingInvariant(bytes, outcome);
      },
    ),
    fuzzParameters(500),
  );
});

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** Heads as browsers and common clients send them (header order and spelling as they do). */
const HEADS: string[] = [
  // Chromium: a WebSocket handshake.
  "GET /chat?room=1 HTTP/1.1\r\nHost: example.com:8000\r\nConnection: Upgrade\r\nPragma: no-cache\r\n" +
  "Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " +
  "Chrome/126.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\nOrigin: http://example.com:8000\r\n" +
  "Sec-WebSocket-Version: 13\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n" +
  `Cookie: session=abc123; theme=dark\r\nSec-WebSocket-Key: ${KEY}\r\n` +
  "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
  // Firefox: a WebSocket handshake with subprotocols.
  "GET /socket HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) " +
  "Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\n" +
  "Accept-Encoding: gzip, deflate, br, zstd\r\nSec-WebSocket-Version: 13\r\nOrigin: http://localhost:8080\r\n" +
  `Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Key: ${KEY}\r\n` +
  "Connection: keep-alive, Upgrade\r\nSec-Fetch-Dest: empty\r\nSec-Fetch-Mode: websocket\r\nSec-Fetch-Site: same-origin\r\n" +
  "Pragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n\r\n",
  // Safari: a WebSocket handshake.
  "GET / HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nSec-WebSocket-Extensions: permessage-deflate\r\n" +
  `Sec-WebSocket-Key: ${KEY}\r\nUpgrade: websocket\r\nOrigin: http://127.0.0.1:9001\r\n` +
  "Sec-WebSocket-Version: 13\r\nConnection: Upgrade\r\n\r\n",
  // A browser loading a page.
  "GET /index.html HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n" +
  "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nSec-Fetch-Site: none\r\n" +
  'sec-ch-ua: "Chromium";v="126"\r\nIf-None-Match: W/"abc"\r\n\r\n',
  // Bodies, pipelining, HTTP/1.0, an absolute-form target.
  "POST /api/items HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n" +
  '{"name":"x"}\nGET /next HTTP/1.1\r\nHost: api.example\r\n\r\n',
  "PUT /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" +
  "5\r\nhello\r\n0\r\n\r\n",
  "GET http://example.com/abs HTTP/1.0\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
];

/** Line-level mutations on top of the byte-level ones: the shapes limits and smuggling tricks take. */
const lineMutation = fc.oneof(
  fc.record({ kind: fc.constant("duplicate" as const), line: fc.nat(), times: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant("drop" as const), line: fc.nat() }),
  fc.record({ kind: fc.constant("longValue" as const), line: fc.nat(), length: fc.integer({ min: 1, max: 6000 }) }),
  fc.record({
    kind: fc.constant("replace" as const),
    line: fc.nat(),
    text: fc.constantFrom(
      "Content-Length: 5",
      "Content-Length: 5, 6",
      "Content-Length: -1",
      "Content-Length: 99999999999999999999",
      "Transfer-Encoding: gzip, chunked",
      "Transfer-Encoding: chunked",
      "Transfer-Encoding:chunked ",
      "Host: a@b",
      "Host:",
      " folded",
      "Expect: 101-switch",
      "Sec-WebSocket-Version: 8",
      "Connection: close",
      "X\x00: y",
      "X: y\rz",
      "GET / HTTP/2.0",
      "CONNECT h:443 HTTP/1.1",
      "TRACE / HTTP/1.1",
      "get * HTTP/1.1",
    ),
  }),
);

type LineMutation = typeof lineMutation extends fc.Arbitrary<infer M> ? M : never;

function mutateLines(head: string, mutations: LineMutation[]): string {
  const lines = head.split("\r\n");
  for (const m of mutations) {
    const at = m.line % lines.length;
    switch (m.kind) {
      case "duplicate":
        lines.splice(at, 0, ...Array(m.times).fill(lines[at]));
        break;
      case "drop":
        lines.splice(at, 1);
        break;
      case "longValue":
        lines[at] = lines[at] + "v".repeat(m.length);
        break;
      case "replace":
        lines[at] = m.text;
        break;
    }
  }
  return lines.join("\r\n");
}

/** Statuses the HTTP front or the WebSocket handshake may answer a bad request with. */
const ERROR_STATUSES = new Set([400, 405, 413, 414, 417, 426, 431, 501, 505]);

/** Serves `bytes` (cut at `points`) on one in-memory connection; the statuses answered, in order. */
async function serveBytes(bytes: Uint8Array, points: number[]): Promise<{ statuses: number[]; requests: number }> {
  const errors: unknown[] = [];
  let requests = 0;
  const server = new HttpServer(
    { onError: (e) => errors.push(e), ...LIMITS, headTimeout: 60_000, idleTimeout: 60_000 },
    async (request) => {
      requests++;
      assert.ok(request instanceof Request);
      if (request.headers.get("upgrade") !== null) return await WebSocketUpgrade.accept(request, null, () => {});
      await request.arrayBuffer().catch(() => {});
      return new Response(`${request.method} ${request.url}`);
    },
  );
  server.listening({ hostname: "127.0.0.1", port: 8000, transport: "tcp" }, { close() {} });
  const t = new MemoryTransport();
  server.accept(t, { hostname: "127.0.0.1", port: 50000, transport: "tcp" });
  let prev = 0;
  for (const cut of [...points, bytes.length]) {
    if (t.destroyed || t.inputEnded) break;
    if (cut > prev) t.push(bytes.slice(prev, cut));
    prev = cut;
    await Promise.resolve();
  }
  if (!t.inputEnded && !t.destroyed) t.endInput();
  await within(t.closed, {
    message: () => `the connection to close; written: ${JSON.stringify(t.text().slice(0, 300))}`,
  });
  // Everything is closed: shutdown has nothing to wait for (its 100 ms only bounds the wait for sessions).
  await within(server.shutdown({ timeout: 100 }), {
    message: () => `server.shutdown() to resolve (${server.clientCount} session jobs not ended)`,
  });
  assert.deepEqual(errors, [], "nothing reached onError");
  // Status lines at the start of each response (a 101 ends the HTTP part).
  const statuses: number[] = [];
  const text = t.text();
  for (let i = 0; i < text.length;) {
    assert.ok(text.startsWith("HTTP/1.1 ", i), `a response starts at ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
    const status = Number(text.slice(i + 9, i + 12));
    statuses.push(status);
    if (status === 101) break;
    const headEnd = text.indexOf("\r\n\r\n", i);
    assert.ok(headEnd > 0, "a whole response head");
    const length = /\r\ncontent-length: (\d+)\r\n/i.exec(text.slice(i, headEnd + 2));
    if (status === 100) {
      i = headEnd + 4;
      continue;
    }
    assert.ok(length !== null, "responses here have a Content-Length");
    i = headEnd + 4 + Number(length[1]);
  }
  return { statuses, requests };
}

test("fuzz: mutated browser and client heads under arbitrary chunking are served or refused with a status", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...HEADS),
      fc.array(lineMutation, { maxLength: 3 }),
      fc.array(mutation, { maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      async (head, lineMutations, byteMutations, cuts) => {
        const bytes = mutate(ascii(mutateLines(head, lineMutations)), byteMutations);
        const { statuses } = await serveBytes(bytes, cutPoints(cuts, bytes.length));
        for (const status of statuses) {
          assert.ok(
            status === 100 || status === 101 || status === 200 || ERROR_STATUSES.has(status),
            `status ${status}`,
          );
        }
        // Whatever the pieces, the parser alone agrees with itself, and the framing holds.
        const outcome = parse(bytes, cutPoints(cuts, bytes.length));
        if (outcome.kind === "head") {
          checkHead(outcome.head, outcome.end, bytes);
          checkFraming(outcome.head);
        }
        checkChunkingInvariant(bytes, outcome);
      },
    ),
    fuzzParameters(200),
  );
});

test("the unmutated heads are served: 101 for the handshakes, 200 for the rest", async () => {
  const expected = [[101], [101], [101], [200], [200, 200], [100, 200], [200]];
  for (let i = 0; i < HEADS.length; i++) {
    const { statuses } = await serveBytes(ascii(HEADS[i]), []);
    assert.deepEqual(statuses, expected[i], HEADS[i].slice(0, 40));
  }
});
