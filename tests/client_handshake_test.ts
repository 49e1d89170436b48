/**
 * The client's handshake pieces without a network: the URL rules, the
 * request's headers, the strict response-head parser (any chunking, every
 * malformation refused, the bytes after the head kept), the response check
 * and the permessage-deflate answer rules of RFC 7692 §7.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { computeAccept, ErrorCode } from "../mod.ts";
import { parseWebSocketUrl } from "../src/client/url.ts";
import { checkRequestOptions, openingRequest } from "../src/client/opening_request.ts";
import { ResponseHeadParser, ResponseParseError } from "../src/client/response_parser.ts";
import { checkResponse, type ClientOffer } from "../src/client/response_check.ts";
import { acceptDeflateResponse, deflateOffer } from "../src/extensions/permessage_deflate_client.ts";
import { parseExtensions } from "../src/extensions/extension_header.ts";

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

test("URLs: ws/wss only, default ports, IPv6 literals, path and query, no fragment", () => {
  const plain = parseWebSocketUrl("ws://example.com/chat?room=1");
  assert.deepEqual([plain.secure, plain.hostname, plain.port, plain.host, plain.path], [
    false,
    "example.com",
    80,
    "example.com",
    "/chat?room=1",
  ]);
  const secure = parseWebSocketUrl("wss://[::1]:8443");
  assert.deepEqual([secure.secure, secure.hostname, secure.port, secure.host, secure.path], [
    true,
    "::1",
    8443,
    "[::1]:8443",
    "/",
  ]);
  assert.equal(parseWebSocketUrl("wss://10.0.0.1:443/").host, "10.0.0.1");
  assert.throws(() => parseWebSocketUrl("http://example.com/"), /use ws:\/\//);
  assert.throws(() => parseWebSocketUrl("https://example.com/"), /use wss:\/\//);
  assert.throws(() => parseWebSocketUrl("ftp://example.com/"), SyntaxError);
  assert.throws(() => parseWebSocketUrl("ws://example.com/#top"), /fragment/);
  assert.throws(() => parseWebSocketUrl("ws://example.com/#"), /fragment/);
  assert.throws(() => parseWebSocketUrl("not a url"), SyntaxError);
});

test("the opening request: protocol headers, a fresh 16-byte key, user headers, owned headers refused", () => {
  const target = parseWebSocketUrl("ws://example.com:8080/a?b");
  const headers = checkRequestOptions(["chat", "v2"], { "x-a": "1" }, "https://o.example");
  const one = openingRequest(target, {
    protocols: ["chat", "v2"],
    extensions: "permessage-deflate",
    origin: "https://o.example",
    headers,
  });
  const two = openingRequest(target, { protocols: [], extensions: null, origin: null, headers: new Headers() });
  assert.notEqual(one.key, two.key);
  assert.equal(atob(one.key).length, 16);
  const text = new TextDecoder().decode(one.bytes);
  assert.ok(text.startsWith("GET /a?b HTTP/1.1\r\nHost: example.com:8080\r\n"));
  for (
    const line of [
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${one.key}`,
      "Sec-WebSocket-Version: 13",
      "Sec-WebSocket-Protocol: chat, v2",
      "Sec-WebSocket-Extensions: permessage-deflate",
      "Origin: https://o.example",
      "x-a: 1",
    ]
  ) assert.ok(text.includes(`\r\n${line}\r\n`), line);
  assert.ok(text.endsWith("\r\n\r\n"));
  assert.throws(() => checkRequestOptions([], { Upgrade: "h2c" }, undefined), TypeError);
  assert.throws(() => checkRequestOptions([], { "Sec-WebSocket-Protocol": "x" }, undefined), TypeError);
  assert.throws(() => checkRequestOptions([], { origin: "a" }, "b"), TypeError);
  assert.throws(() => checkRequestOptions(["a b"], undefined, undefined), SyntaxError);
  assert.throws(() => checkRequestOptions(["a", "a"], undefined, undefined), SyntaxError);
});

const RESPONSE = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nX-Spaced:  a b  \r\n\r\n";

test("the response parser: any chunking, the bytes after the head kept", () => {
  const wire = latin1(RESPONSE + "\x81\x02hi");
  for (let size = 1; size <= wire.length; size++) {
    const parser = new ResponseHeadParser();
    let rest: Uint8Array | null = null;
    for (let i = 0; i < wire.length && rest === null; i += size) rest = parser.push(wire.subarray(i, i + size));
    // The last chunk may end inside the frame: gather what followed the head.
    const after = wire.subarray(RESPONSE.length);
    assert.ok(rest !== null);
    assert.deepEqual([...rest], [...after.subarray(0, rest.length)]);
    assert.equal(parser.head!.status, 101);
    assert.equal(parser.head!.reason, "Switching Protocols");
    assert.equal(parser.head!.headers.get("x-spaced"), "a b");
    assert.equal(parser.head!.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  }
});

test("the response parser refuses malformed heads and enforces its limits", () => {
  const bad = [
    "HTTP/1.0 101 OK\r\n\r\n",
    "HTTP/2 101 OK\r\n\r\n",
    "HTTP/1.1 10 OK\r\n\r\n",
    "HTTP/1.1 1011 OK\r\n\r\n",
    "HTTP/1.1 101 OK\n\r\n",
    "HTTP/1.1 101 OK\r\nUpgrade websocket\r\n\r\n",
    "HTTP/1.1 101 OK\r\nUp grade: websocket\r\n\r\n",
    "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n folded\r\n\r\n",
    "HTTP/1.1 101 OK\r\nUpgrade: web\x00socket\r\n\r\n",
    "HTTP/1.1 101 OK\r\nUpgrade: websocket\n\r\n",
    "HTTP/1.1 101 OK\r\n\rX",
  ];
  for (const head of bad) assert.throws(() => new ResponseHeadParser().push(latin1(head)), ResponseParseError, head);
  const big = "HTTP/1.1 101 OK\r\n" + "X-Pad: " + "a".repeat(20_000) + "\r\n\r\n";
  assert.throws(() => new ResponseHeadParser().push(latin1(big)), /larger than/);
  const many = "HTTP/1.1 101 OK\r\n" + "X: y\r\n".repeat(101) + "\r\n";
  assert.throws(() => new ResponseHeadParser().push(latin1(many)), /more than 100/);
});

function head(lines: Record<string, string>, status = 101) {
  return { status, reason: "", headers: new Headers(lines) };
}
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const GOOD = { upgrade: "WebSocket", connection: "keep-alive, UPGRADE", "sec-websocket-accept": computeAccept(KEY) };

test("the response check: Upgrade, Connection, Accept, the subprotocol", () => {
  const offer: ClientOffer = { key: KEY, protocols: ["a", "b"], deflate: null };
  assert.equal(checkResponse(head({ ...GOOD, "sec-websocket-protocol": "b" }), offer).protocol, "b");
  assert.equal(checkResponse(head(GOOD), offer).protocol, null);
  const code = (lines: Record<string, string>, o = offer) => {
    try {
      checkResponse(head(lines), o);
    } catch (e) {
      return (e as { code: string }).code;
    }
    return "accepted";
  };
  assert.equal(code({ ...GOOD, upgrade: "h2c" }), ErrorCode.HandshakeUpgrade);
  assert.equal(code({ ...GOOD, connection: "close" }), ErrorCode.HandshakeUpgrade);
  assert.equal(code({ ...GOOD, "sec-websocket-accept": computeAccept("x") }), ErrorCode.HandshakeAccept);
  assert.equal(code({ upgrade: "websocket", connection: "upgrade" }), ErrorCode.HandshakeAccept);
  assert.equal(code({ ...GOOD, "sec-websocket-protocol": "c" }), ErrorCode.HandshakeProtocol);
  assert.equal(code({ ...GOOD, "sec-websocket-protocol": "a, b" }), ErrorCode.HandshakeProtocol);
  assert.equal(
    code({ ...GOOD, "sec-websocket-protocol": "a" }, { ...offer, protocols: [] }),
    ErrorCode.HandshakeProtocol,
  );
  assert.equal(code({ ...GOOD, "sec-websocket-extensions": "permessage-deflate" }), ErrorCode.HandshakeExtension);
  const deflate = { ...offer, deflate: deflateOffer() };
  assert.equal(code({ ...GOOD, "sec-websocket-extensions": "x-other" }, deflate), ErrorCode.HandshakeExtension);
  assert.equal(
    code({ ...GOOD, "sec-websocket-extensions": "permessage-deflate, permessage-deflate" }, deflate),
    ErrorCode.HandshakeExtension,
  );
  const agreed = checkResponse(head({ ...GOOD, "sec-websocket-extensions": "permessage-deflate" }), deflate);
  assert.equal(agreed.rsv, 0x40);
  for (const e of agreed.extensions) e.dispose();
});

test("permessage-deflate answers (RFC 7692 §7): allowed parameters accepted, others refused", () => {
  const answer = (offerOptions: Parameters<typeof deflateOffer>[0], response: string) => {
    const element = parseExtensions(response).offers[0];
    const result = acceptDeflateResponse(deflateOffer(offerOptions), element.params, response);
    if (typeof result === "string") return result;
    result.dispose();
    return result.parameters;
  };
  assert.equal(deflateOffer().header, "permessage-deflate; client_max_window_bits");
  assert.equal(
    deflateOffer({ clientMaxWindowBits: 12, serverMaxWindowBits: 10, serverNoContextTakeover: true }).header,
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
  );
  assert.deepEqual(answer({}, "permessage-deflate"), {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  });
  assert.deepEqual(
    answer(
      {},
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10",
    ),
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10 },
  );
  for (
    const [options, response] of [
      [{}, "permessage-deflate; x=1"],
      [{}, "permessage-deflate; client_max_window_bits"],
      [{}, "permessage-deflate; client_max_window_bits=16"],
      [{ clientMaxWindowBits: 10 }, "permessage-deflate; client_max_window_bits=11"],
      [{ serverMaxWindowBits: 10 }, "permessage-deflate; server_max_window_bits=11"],
      [{ serverMaxWindowBits: 10 }, "permessage-deflate"],
      [{ serverNoContextTakeover: true }, "permessage-deflate"],
      [{}, "permessage-deflate; server_no_context_takeover=1"],
      [{}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
      [{}, "permessage-deflate; server_max_window_bits=08"],
    ] as const
  ) assert.equal(typeof answer(options, response), "string", response);
});
