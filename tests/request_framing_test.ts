import { test } from "node:test";
import assert from "node:assert/strict";
import type { RequestHead } from "../src/http/head_parser.ts";
import { HttpError } from "../src/http/http_error.ts";
import { interpretHead } from "../src/http/request_framing.ts";

function head(headers: [string, string][], minorVersion = 1): RequestHead {
  return { method: "POST", target: "/", minorVersion, headers };
}

function refused(h: RequestHead): number {
  try {
    interpretHead(h);
  } catch (error) {
    assert.ok(error instanceof HttpError);
    return error.status;
  }
  return 0;
}

test("Host is required in HTTP/1.1, optional in HTTP/1.0, and must be one plain authority", () => {
  assert.equal(refused(head([])), 400);
  assert.equal(interpretHead(head([], 0)).host, null);
  assert.equal(refused(head([["host", "a"], ["host", "b"]])), 400);
  for (const bad of ["", "a/b", "a b", "evil.com@x", "x?y", "x#y", "h\xe9"]) {
    assert.equal(refused(head([["host", bad]])), 400, bad);
  }
  assert.equal(interpretHead(head([["host", "[::1]:8080"]])).host, "[::1]:8080");
});

test("Content-Length: digits only, repeated only with the same value", () => {
  assert.equal(interpretHead(head([["host", "x"], ["content-length", "42"]])).contentLength, 42);
  assert.equal(interpretHead(head([["host", "x"]])).contentLength, -1);
  assert.equal(interpretHead(head([["host", "x"], ["content-length", "5"], ["content-length", "5"]])).contentLength, 5);
  assert.equal(refused(head([["host", "x"], ["content-length", "5"], ["content-length", "6"]])), 400);
  for (const bad of ["-1", "1.0", "0x10", "", "5, 5", "+5"]) {
    assert.equal(refused(head([["host", "x"], ["content-length", bad]])), 400, bad);
  }
  assert.equal(refused(head([["host", "x"], ["content-length", "9".repeat(20)]])), 413);
});

test("Transfer-Encoding: exactly chunked, never with Content-Length, never in HTTP/1.0", () => {
  assert.equal(interpretHead(head([["host", "x"], ["transfer-encoding", "Chunked"]])).chunked, true);
  assert.equal(refused(head([["host", "x"], ["transfer-encoding", "gzip, chunked"]])), 501);
  assert.equal(refused(head([["host", "x"], ["transfer-encoding", "chunked"], ["transfer-encoding", "chunked"]])), 400);
  assert.equal(refused(head([["host", "x"], ["transfer-encoding", "chunked"], ["content-length", "3"]])), 400);
  assert.equal(refused(head([["transfer-encoding", "chunked"]], 0)), 400);
  assert.equal(refused(head([["host", "x"], ["transfer-encoding", "chunked;"]])), 400);
});

test("keep-alive: HTTP/1.1 unless Connection: close; HTTP/1.0 only with Connection: keep-alive", () => {
  assert.equal(interpretHead(head([["host", "x"]])).keepAlive, true);
  assert.equal(interpretHead(head([["host", "x"], ["connection", "Upgrade, Close"]])).keepAlive, false);
  assert.equal(interpretHead(head([], 0)).keepAlive, false);
  assert.equal(interpretHead(head([["connection", "keep-alive"]], 0)).keepAlive, true);
});

test("Expect: 100-continue is understood, anything else is 417", () => {
  assert.equal(interpretHead(head([["host", "x"], ["expect", "100-Continue"]])).expectContinue, true);
  assert.equal(refused(head([["host", "x"], ["expect", "200-ok"]])), 417);
});
