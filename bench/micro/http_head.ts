/**
 * HTTP head parsing (`RequestHeadParser`, `src/http/`): the upgrade request
 * Chrome sends for `new WebSocket(...)` (its header set and order, 500 B),
 * pushed whole and in 16-byte pieces into a parser that is `reset()` between
 * heads, and whole into a new parser per head (what a fresh connection does:
 * the parser and its 1 KiB buffer are made per connection).
 *
 * Reference: the same head turned into the same result the plain way, with
 * no validation: a byte scan for CR LF CR LF, `TextDecoder` over the head,
 * `split("\r\n")`, then each line cut at its first colon, the name lowercased
 * and the value trimmed. Measured over the whole head for every case. The
 * parser does more: it checks every byte against the grammar (tchar,
 * field-vchar, version) and the limits, and copies the head into its buffer.
 */
import { type HeadLimits, RequestHeadParser } from "../../src/http/head_parser.ts";
import { HttpError } from "../../src/http/http_error.ts";
import { check, type MicroCase, type Reference } from "./case.ts";

/** The server defaults (`src/http/options.ts`). */
const LIMITS: HeadLimits = { maxHeadBytes: 16 * 1024, maxHeaderCount: 100, maxRequestLineLength: 8 * 1024 };
const SMALL_PIECE = 16;

/** Chrome's header set and order for `new WebSocket(...)`, names as it writes them. */
const WIRE_HEADERS: [string, string][] = [
  ["Host", "example.com"],
  ["Connection", "Upgrade"],
  ["Pragma", "no-cache"],
  ["Cache-Control", "no-cache"],
  [
    "User-Agent",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  ],
  ["Upgrade", "websocket"],
  ["Origin", "https://example.com"],
  ["Sec-WebSocket-Version", "13"],
  ["Accept-Encoding", "gzip, deflate, br, zstd"],
  ["Accept-Language", "en-US,en;q=0.9"],
  ["Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw=="],
  ["Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"],
];
const EXPECTED_HEADERS: [string, string][] = WIRE_HEADERS.map(([name, value]) => [name.toLowerCase(), value]);
const TARGET = "/chat?room=lobby";
const TEXT = `GET ${TARGET} HTTP/1.1\r\n` + WIRE_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join("") +
  "\r\n";
const HEAD = Uint8Array.from(TEXT, (c) => c.charCodeAt(0));

/** Views of `bytes` of at most `size` bytes each. */
function cut(bytes: Uint8Array, size: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, Math.min(i + size, bytes.length)));
  return pieces;
}

/** Pushes `pieces` in order; returns the parser's head, or throws when it did not end with the last byte. */
function parse(parser: RequestHeadParser, pieces: Uint8Array[]): [string, string][] {
  parser.reset();
  const last = pieces.length - 1;
  for (let i = 0; i < last; i++) parser.push(pieces[i]);
  const end = parser.push(pieces[last]);
  if (!parser.done || end !== pieces[last].length) throw new Error("the head did not end where it should");
  return parser.head.headers;
}

interface PlainHead {
  method: string;
  target: string;
  headers: [string, string][];
}

const latin1 = new TextDecoder("latin1");

/** The plain way (see the module comment); no validation. */
function plainParse(bytes: Uint8Array): PlainHead {
  let end = -1;
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 3] === 0x0d) {
      end = i - 3;
      break;
    }
  }
  if (end < 0) throw new Error("no end of head");
  const lines = latin1.decode(bytes.subarray(0, end)).split("\r\n");
  const requestLine = lines[0];
  const firstSpace = requestLine.indexOf(" ");
  const secondSpace = requestLine.indexOf(" ", firstSpace + 1);
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(":");
    headers.push([line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { method: requestLine.slice(0, firstSpace), target: requestLine.slice(firstSpace + 1, secondSpace), headers };
}

const reference: Reference = {
  name: `scan + decode + split ${HEAD.length} B`,
  bytes: HEAD.length,
  run: () => plainParse(HEAD).headers.length,
};

const whole = [HEAD];
const small = cut(HEAD, SMALL_PIECE);

function verify(): void {
  check(HEAD.length >= 450 && HEAD.length <= 550, `the head is ${HEAD.length} B, not browser-sized`);
  for (const pieces of [whole, small, cut(HEAD, 1)]) {
    const parser = new RequestHeadParser(LIMITS);
    const headers = parse(parser, pieces);
    const head = parser.head;
    check(head.method === "GET" && head.target === TARGET && head.minorVersion === 1, "wrong request line");
    check(headers.length === EXPECTED_HEADERS.length, `${headers.length} headers, expected ${EXPECTED_HEADERS.length}`);
    for (let i = 0; i < headers.length; i++) {
      const [name, value] = EXPECTED_HEADERS[i];
      check(headers[i][0] === name && headers[i][1] === value, `header ${i} is ${headers[i]}, expected ${name}`);
    }
  }
  const plain = plainParse(HEAD);
  check(plain.method === "GET" && plain.target === TARGET, "the reference reads a different request line");
  check(JSON.stringify(plain.headers) === JSON.stringify(EXPECTED_HEADERS), "the reference reads other headers");
  // The parser validates: a space inside a field name is refused with 400.
  const bad = Uint8Array.from(TEXT.replace("Cache-Control:", "Cache Control:"), (c) => c.charCodeAt(0));
  let status = 0;
  try {
    parse(new RequestHeadParser(LIMITS), [bad]);
  } catch (error) {
    if (error instanceof HttpError) status = error.status;
  }
  check(status === 400, `a malformed field name gave status ${status}, expected 400`);
}

const reused = new RequestHeadParser(LIMITS);

export const cases: MicroCase[] = [
  {
    name: `${HEAD.length} B upgrade request, whole`,
    bytes: HEAD.length,
    run: () => parse(reused, whole).length,
    reference,
    verify,
  },
  {
    name: `${HEAD.length} B upgrade request, ${SMALL_PIECE} B pieces`,
    bytes: HEAD.length,
    run: () => parse(reused, small).length,
    reference,
    verify,
  },
  {
    name: `${HEAD.length} B upgrade request, new parser`,
    bytes: HEAD.length,
    run: () => parse(new RequestHeadParser(LIMITS), whole).length,
    reference,
    verify,
  },
];
