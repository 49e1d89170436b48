/**
 * MessageAssembler alone (src/session/message_assembler.ts), as the message
 * core feeds it: whole frames, fragments, frames whose payload arrived in
 * pieces or inside a larger read, the part of a frame received so far
 * (`partial`, for UTF-8 fail-fast before the frame completes), messages an
 * extension decodes (`startDecoded` / `append` / `end`), `maxMessageSize`,
 * and the continuation rules.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { CloseCode, ErrorCode, Frame, WebSocketError } from "../mod.ts";
import { frameInChunk, frameInParts, OP_BINARY, OP_CONTINUATION, OP_TEXT } from "../src/frame/frame.ts";
import { DEFAULT_MAX_MESSAGE_SIZE, MessageAssembler } from "../src/session/message_assembler.ts";
import { hex } from "./_helpers/client.ts";
import { seededBytes } from "./_helpers/seeded_bytes.ts";

const encoder = new TextEncoder();
const utf8 = (s: string): Uint8Array => encoder.encode(s);
const text = (data: string | Uint8Array, fin = true): Frame => new Frame.Text(data, fin);
const binary = (data: Uint8Array, fin = true): Frame => new Frame.Binary(data, fin);
const more = (data: string | Uint8Array, fin = true): Frame =>
  new Frame.Continuation(typeof data === "string" ? utf8(data) : data, fin);

/** A frame whose payload is `bytes`, kept as the pieces of `sizes` (as the reader keeps a frame across reads). */
function inParts(opcode: number, fin: boolean, bytes: Uint8Array, sizes: number[]): Frame {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const n of sizes) {
    parts.push(bytes.subarray(at, at + n));
    at += n;
  }
  if (at < bytes.length) parts.push(bytes.subarray(at));
  return frameInParts(opcode, fin, parts, bytes.length, false, false, false);
}

/** A frame whose payload sits inside a larger read, between other bytes. */
function inChunk(opcode: number, fin: boolean, bytes: Uint8Array): Frame {
  const chunk = new Uint8Array(bytes.length + 7).fill(0xff);
  chunk.set(bytes, 3);
  return frameInChunk(opcode, fin, chunk, 3, bytes.length, false, false, false);
}

/** Asserts `run` throws the WebSocketError `code` with close code `closeCode`. */
function throwsWs(run: () => unknown, code: string, closeCode: number): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof WebSocketError, `a WebSocketError, not ${e}`);
    assert.equal(e.code, code);
    assert.equal(e.closeCode, closeCode);
    return true;
  });
}

const invalidUtf8 = (run: () => unknown) => throwsWs(run, ErrorCode.InvalidUtf8, CloseCode.NotConsistent);
const tooBig = (run: () => unknown) => throwsWs(run, ErrorCode.MessageTooBig, CloseCode.MessageTooBig);

function readText(f: Frame | null): string {
  assert.ok(f !== null, "a whole message");
  assert.equal(f.opcode, OP_TEXT);
  assert.ok(f.fin);
  return new TextDecoder("utf-8", { fatal: true }).decode(f.data);
}

test("a whole frame is the message, text or binary; the default limit is 64 MiB", () => {
  const a = new MessageAssembler();
  assert.equal(a.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE);
  assert.equal(DEFAULT_MAX_MESSAGE_SIZE, 64 * 1024 * 1024);
  assert.equal(readText(a.frame(text("héllo ✓ 🙂"))), "héllo ✓ 🙂");
  assert.equal(readText(a.frame(text(""))), "");
  const bytes = seededBytes(1000, 1);
  const m = a.frame(binary(bytes));
  assert.ok(m !== null && m.opcode === OP_BINARY && m.fin);
  assert.deepEqual(m.data, bytes);
  assert.equal(a.opcode, 0);
  // Binary is not UTF-8 checked.
  assert.deepEqual(a.frame(binary(hex("ff fe c0")))?.data, hex("ff fe c0"));
});

test("fragments are joined in order; opcode tells the message under way; empty fragments count for nothing", () => {
  const a = new MessageAssembler();
  assert.equal(a.frame(text("Hel", false)), null);
  assert.equal(a.opcode, OP_TEXT);
  assert.equal(a.frame(more("", false)), null);
  assert.equal(a.frame(more("lo, ", false)), null);
  assert.equal(readText(a.frame(more("wörld"))), "Hello, wörld");
  assert.equal(a.opcode, 0);

  const bytes = seededBytes(10_000, 2);
  assert.equal(a.frame(binary(bytes.subarray(0, 1), false)), null);
  assert.equal(a.opcode, OP_BINARY);
  for (let at = 1; at < 9_000; at += 1000) assert.equal(a.frame(more(bytes.subarray(at, at + 1000), false)), null);
  const m = a.frame(more(bytes.subarray(9_001)));
  assert.ok(m !== null && m.opcode === OP_BINARY && m.fin);
  assert.deepEqual(m.data, bytes);

  // A message of empty fragments only.
  assert.equal(a.frame(binary(new Uint8Array(0), false)), null);
  assert.equal(a.frame(more(new Uint8Array(0), false)), null);
  assert.equal(a.frame(more(new Uint8Array(0)))?.data.length, 0);
});

test("a message stays intact after the next one is assembled", () => {
  const a = new MessageAssembler();
  a.frame(binary(hex("01 02"), false));
  const first = a.frame(more(hex("03 04")))!;
  a.frame(binary(hex("05 06"), false));
  const second = a.frame(more(hex("07 08")))!;
  assert.deepEqual(first.data, hex("01 02 03 04"));
  assert.deepEqual(second.data, hex("05 06 07 08"));
  a.frame(text("ab", false));
  const third = a.frame(more("cd"));
  assert.equal(readText(third), "abcd");
  assert.deepEqual(first.data, hex("01 02 03 04"));
});

test("a character split across fragments (every split point of 2-, 3- and 4-byte characters) is accepted", () => {
  const bytes = utf8("aé€𝄞z");
  for (let cut = 0; cut <= bytes.length; cut++) {
    for (let cut2 = cut; cut2 <= bytes.length; cut2++) {
      const a = new MessageAssembler();
      assert.equal(a.frame(text(bytes.subarray(0, cut), false)), null);
      assert.equal(a.frame(more(bytes.subarray(cut, cut2), false)), null);
      assert.equal(readText(a.frame(more(bytes.subarray(cut2)))), "aé€𝄞z", `cuts ${cut}, ${cut2}`);
    }
  }
});

test("invalid UTF-8 fails at the fragment that carries it, not at the message's end", () => {
  const a = new MessageAssembler();
  assert.equal(a.frame(text("valid so far ", false)), null);
  // A surrogate (ed a0 80) can never become valid: the fragment fails although more are to come.
  invalidUtf8(() => a.frame(more(hex("ed a0"), false)));

  const b = new MessageAssembler();
  invalidUtf8(() => b.frame(text(hex("ce ba ff"), false)));

  // An overlong start (c0) in the first byte of a continuation.
  const c = new MessageAssembler();
  c.frame(text("x", false));
  invalidUtf8(() => c.frame(more(hex("c0 80"), false)));

  // Invalid in one whole frame.
  invalidUtf8(() => new MessageAssembler().frame(text(hex("ce ba ed a0 80"))));
  // Above U+10FFFF.
  invalidUtf8(() => new MessageAssembler().frame(text(hex("f4 90 80 80"))));
});

test("a text message ending inside a character fails with 1007, whole or fragmented", () => {
  invalidUtf8(() => new MessageAssembler().frame(text(hex("61 e2 82"))));
  const a = new MessageAssembler();
  a.frame(text(hex("61 e2"), false));
  assert.equal(a.frame(more(hex("82"), false)), null);
  invalidUtf8(() => a.frame(more(new Uint8Array(0))));
});

test("frames whose payload arrived in pieces or inside a larger read are assembled and checked alike", () => {
  const message = utf8("κόσμε 𝄞 and some ASCII after it");
  // Every way to cut the payload into three pieces, as one whole frame.
  for (let i = 0; i <= message.length; i += 3) {
    for (let j = i; j <= message.length; j += 5) {
      const a = new MessageAssembler();
      assert.equal(readText(a.frame(inParts(OP_TEXT, true, message, [i, j - i]))), "κόσμε 𝄞 and some ASCII after it");
    }
  }
  const a = new MessageAssembler();
  assert.equal(readText(a.frame(inChunk(OP_TEXT, true, message))), "κόσμε 𝄞 and some ASCII after it");
  // Fragments in pieces.
  assert.equal(a.frame(inParts(OP_TEXT, false, message.subarray(0, 10), [1, 4])), null);
  assert.equal(a.frame(inChunk(OP_CONTINUATION, false, message.subarray(10, 12))), null);
  assert.equal(
    readText(a.frame(inParts(OP_CONTINUATION, true, message.subarray(12), [3, 3]))),
    "κόσμε 𝄞 and some ASCII after it",
  );
  // Invalid bytes in a later piece.
  const bad = new Uint8Array([...utf8("abc"), 0xc3, 0x28, ...utf8("def")]);
  invalidUtf8(() => new MessageAssembler().frame(inParts(OP_TEXT, true, bad, [4])));
  invalidUtf8(() => new MessageAssembler().frame(inChunk(OP_TEXT, true, bad)));
  const binaryBytes = seededBytes(5000, 3);
  const m = new MessageAssembler().frame(inParts(OP_BINARY, true, binaryBytes, [1, 2000, 999]));
  assert.deepEqual(m?.data, binaryBytes);
});

test("partial(): invalid UTF-8 in the part of a frame received so far fails before the frame completes", () => {
  const a = new MessageAssembler();
  a.partial(OP_TEXT, [utf8("abc")]);
  a.partial(OP_TEXT, [utf8("abc"), utf8("dé")]);
  invalidUtf8(() => a.partial(OP_TEXT, [utf8("abc"), utf8("dé"), hex("ff")]));

  // In a continuation frame of a text message.
  const b = new MessageAssembler();
  b.frame(text("start ", false));
  b.partial(OP_CONTINUATION, [utf8("still fine ")]);
  invalidUtf8(() => b.partial(OP_CONTINUATION, [utf8("still fine "), hex("ed bf bf")]));

  // A binary message's parts are not checked.
  const c = new MessageAssembler();
  c.partial(OP_BINARY, [hex("ff ff ff")]);
  c.frame(binary(hex("ff"), false));
  c.partial(OP_CONTINUATION, [hex("c0 c1")]);
  assert.deepEqual(c.frame(more(hex("c0 c1")))?.data, hex("ff c0 c1"));
});

test("partial() then the whole frame: the checked prefix is not checked twice, the rest is", () => {
  const message = utf8("ab€cd𝄞");
  // Every prefix (including ones ending inside a character), then the frame, whole and fragmented.
  for (let n = 0; n <= message.length; n++) {
    const whole = new MessageAssembler();
    whole.partial(OP_TEXT, [message.subarray(0, n)]);
    assert.equal(readText(whole.frame(text(message))), "ab€cd𝄞", `whole frame after a partial of ${n}`);

    const parts = new MessageAssembler();
    parts.partial(OP_TEXT, [message.subarray(0, Math.min(n, 2)), message.subarray(Math.min(n, 2), n)]);
    assert.equal(
      readText(parts.frame(inParts(OP_TEXT, true, message, [Math.min(n, 2)]))),
      "ab€cd𝄞",
      `frame in parts after a partial of ${n}`,
    );

    const first = new MessageAssembler();
    first.partial(OP_TEXT, [message.subarray(0, n)]);
    assert.equal(first.frame(text(message, false)), null);
    assert.equal(readText(first.frame(more("!"))), "ab€cd𝄞!", `first fragment after a partial of ${n}`);

    const fragment = new MessageAssembler();
    fragment.frame(text("x", false));
    fragment.partial(OP_CONTINUATION, [message.subarray(0, n)]);
    assert.equal(readText(fragment.frame(more(message))), "xab€cd𝄞", `continuation after a partial of ${n}`);
  }
  // The unchecked rest of the frame is still checked, and so is the message's end.
  const a = new MessageAssembler();
  a.partial(OP_TEXT, [utf8("abc")]);
  invalidUtf8(() => a.frame(text(new Uint8Array([...utf8("abc"), 0xff]))));
  const b = new MessageAssembler();
  b.partial(OP_TEXT, [utf8("abc")]);
  invalidUtf8(() => b.frame(text(new Uint8Array([...utf8("abc"), 0xe2, 0x82]))));
  const c = new MessageAssembler();
  c.frame(text("x", false));
  c.partial(OP_CONTINUATION, [utf8("y")]);
  invalidUtf8(() => c.frame(more(new Uint8Array([0x79, 0xc3]))));
  // A partial of one message leaves nothing behind for the next.
  const d = new MessageAssembler();
  d.partial(OP_TEXT, [hex("e2 82")]);
  assert.equal(readText(d.frame(text(hex("e2 82 ac")))), "€");
  assert.equal(readText(d.frame(text("next"))), "next");
  d.partial(OP_TEXT, [hex("e2")]);
  assert.equal(d.frame(text(hex("e2 82 ac"), false)), null);
  assert.equal(readText(d.frame(more(""))), "€");
});

test("maxMessageSize: a frame, the joined fragments, a partial or decoded bytes beyond it fail with 1009", () => {
  const max = 100;
  // Exactly the limit passes.
  assert.equal(new MessageAssembler(max).frame(binary(new Uint8Array(max)))?.data.length, max);
  const exact = new MessageAssembler(max);
  exact.frame(text("a".repeat(60), false));
  assert.equal(readText(exact.frame(more("b".repeat(40)))).length, max);
  tooBig(() => new MessageAssembler(max).frame(binary(new Uint8Array(max + 1))));
  tooBig(() => new MessageAssembler(max).frame(text("a".repeat(max + 1))));
  const joined = new MessageAssembler(max);
  joined.frame(binary(new Uint8Array(60), false));
  tooBig(() => joined.frame(more(new Uint8Array(41), false)));
  // A text frame still arriving fails as soon as what arrived is over the limit.
  const partial = new MessageAssembler(max);
  partial.frame(text("a".repeat(50), false));
  partial.partial(OP_CONTINUATION, [utf8("b".repeat(50))]);
  tooBig(() => partial.partial(OP_CONTINUATION, [utf8("b".repeat(50)), utf8("c")]));
  tooBig(() => new MessageAssembler(max).partial(OP_TEXT, [new Uint8Array(max + 1).fill(0x61)]));
  const decoded = new MessageAssembler(max);
  decoded.startDecoded(OP_BINARY);
  decoded.append(new Uint8Array(max));
  tooBig(() => decoded.append(new Uint8Array(1)));
  // The error names both sizes.
  assert.throws(() => new MessageAssembler(10).frame(binary(new Uint8Array(11))), /11 bytes exceeds maxMessageSize 10/);
});

test("continuation without a message to continue, and a new message inside a fragmented one: 1002", () => {
  const protocol = (run: () => unknown, code: string) => throwsWs(run, code, CloseCode.ProtocolError);
  protocol(() => new MessageAssembler().frame(more("x")), ErrorCode.UnexpectedContinuation);
  protocol(() => new MessageAssembler().frame(more("x", false)), ErrorCode.UnexpectedContinuation);
  protocol(() => new MessageAssembler().partial(OP_CONTINUATION, [utf8("x")]), ErrorCode.UnexpectedContinuation);
  const a = new MessageAssembler();
  a.frame(text("a", false));
  protocol(() => a.frame(text("b")), ErrorCode.ExpectedContinuation);
  const b = new MessageAssembler();
  b.frame(binary(hex("01"), false));
  protocol(() => b.frame(binary(hex("02"), false)), ErrorCode.ExpectedContinuation);
  const c = new MessageAssembler();
  c.frame(binary(hex("01"), false));
  protocol(() => c.partial(OP_TEXT, [utf8("x")]), ErrorCode.ExpectedContinuation);
  protocol(() => c.partial(OP_BINARY, [hex("02")]), ErrorCode.ExpectedContinuation);
  protocol(() => c.startDecoded(OP_TEXT), ErrorCode.ExpectedContinuation);
  // After the last fragment, a continuation has nothing to continue again.
  const d = new MessageAssembler();
  d.frame(text("a", false));
  d.frame(more("b"));
  protocol(() => d.frame(more("c")), ErrorCode.UnexpectedContinuation);
});

test("reset() forgets the message under way (and what partial() checked)", () => {
  const a = new MessageAssembler();
  a.frame(text(hex("e2 82"), false));
  a.reset();
  assert.equal(a.opcode, 0);
  assert.equal(readText(a.frame(text("fresh"))), "fresh");
  a.partial(OP_TEXT, [hex("e2")]);
  a.reset();
  // Were the checked prefix remembered, "ok" would be taken as the rest of a character.
  assert.equal(readText(a.frame(text("ok"))), "ok");
  a.frame(binary(hex("01"), false));
  a.reset();
  assert.throws(() => a.frame(more("x")), (e: unknown) => e instanceof WebSocketError);
});

test("a decoded message: bytes appended as an extension inflates them, UTF-8 checked as they come", () => {
  const a = new MessageAssembler();
  a.startDecoded(OP_TEXT);
  assert.equal(a.opcode, OP_TEXT);
  const bytes = utf8("déc€dé 𝄞");
  for (const b of bytes) a.append(new Uint8Array([b]));
  assert.equal(readText(a.end()), "déc€dé 𝄞");
  assert.equal(a.opcode, 0);

  // The chunk is copied: the extension may reuse its buffer.
  const chunk = hex("01 02 03");
  a.startDecoded(OP_BINARY);
  a.append(chunk);
  chunk.fill(0);
  a.append(new Uint8Array(0));
  assert.deepEqual(a.end().data, hex("01 02 03"));

  const bad = new MessageAssembler();
  bad.startDecoded(OP_TEXT);
  bad.append(utf8("fine "));
  invalidUtf8(() => bad.append(hex("f8")));
  const cut = new MessageAssembler();
  cut.startDecoded(OP_TEXT);
  cut.append(hex("f0 9d 84"));
  invalidUtf8(() => cut.end());
  // An empty decoded message.
  const empty = new MessageAssembler();
  empty.startDecoded(OP_TEXT);
  assert.equal(readText(empty.end()), "");
});

test("a long fragmented message grows its buffer and comes out whole (4 MiB in 4,096 fragments)", () => {
  const bytes = seededBytes(4 * 1024 * 1024, 7);
  const a = new MessageAssembler();
  const size = 1024;
  assert.equal(a.frame(binary(bytes.subarray(0, size), false)), null);
  let m: Frame | null = null;
  for (let at = size; at < bytes.length; at += size) {
    m = a.frame(more(bytes.subarray(at, at + size), at + size >= bytes.length));
  }
  assert.ok(m !== null);
  assert.equal(m.data.length, bytes.length);
  assert.deepEqual(m.data, bytes);
});
