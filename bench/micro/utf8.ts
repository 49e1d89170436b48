/**
 * UTF-8 validation (`Utf8Validator`, the streaming validator a text message
 * goes through) of 1 MiB of ASCII and of 1 MiB of multi-byte text (2-, 3-
 * and 4-byte characters in equal shares, no ASCII), fed whole and in
 * 1,500-byte pieces (views cut where a network read would cut, so most
 * pieces of the multi-byte text end inside a character).
 * Reference: `new TextDecoder("utf-8", { fatal: true }).decode` of the whole
 * 1 MiB, also for the pieces cases: the same check done natively, which also
 * builds a string the validator does not.
 */
import { Utf8Validator } from "../../mod.ts";
import { check, formatBytes, type MicroCase, type Reference, seededBytes } from "./case.ts";

const SIZE = 1024 * 1024;
const MTU_CHUNK = 1500;

/** `SIZE` bytes of ASCII text: printable characters, spaces and newlines. */
function asciiText(): Uint8Array {
  const out = seededBytes(SIZE, 7);
  for (let i = 0; i < SIZE; i++) {
    const r = out[i];
    out[i] = r < 24 ? 0x20 : r < 26 ? 0x0a : 0x21 + (r % 94);
  }
  return out;
}

/**
 * `SIZE` bytes of UTF-8 with 2-byte (Greek, Cyrillic), 3-byte (CJK) and
 * 4-byte (emoji) characters in seeded order; the last few bytes are filled
 * with shorter characters so the text ends on a character boundary.
 */
function multiByteText(): Uint8Array {
  const random = seededBytes(SIZE, 11);
  const out = new Uint8Array(SIZE);
  let p = 0;
  let r = 0;
  while (p < SIZE) {
    const left = SIZE - p;
    const pick = random[r++ % SIZE];
    const width = Math.min(left, 2 + (pick % 3));
    let codePoint: number;
    if (width === 1) codePoint = 0x61;
    else if (width === 2) codePoint = 0x391 + ((pick * 7 + r) % 0x1bf); // U+0391..U+054F
    else if (width === 3) codePoint = 0x4e00 + ((pick * 131 + r) % 0x5200); // CJK unified ideographs
    else codePoint = 0x1f300 + ((pick * 17 + r) % 0x300); // pictographs and emoji
    p += encodeCodePoint(codePoint, out, p);
  }
  return out;
}

function encodeCodePoint(c: number, out: Uint8Array, p: number): number {
  if (c < 0x80) {
    out[p] = c;
    return 1;
  }
  if (c < 0x800) {
    out[p] = 0xc0 | (c >> 6);
    out[p + 1] = 0x80 | (c & 0x3f);
    return 2;
  }
  if (c < 0x10000) {
    out[p] = 0xe0 | (c >> 12);
    out[p + 1] = 0x80 | ((c >> 6) & 0x3f);
    out[p + 2] = 0x80 | (c & 0x3f);
    return 3;
  }
  out[p] = 0xf0 | (c >> 18);
  out[p + 1] = 0x80 | ((c >> 12) & 0x3f);
  out[p + 2] = 0x80 | ((c >> 6) & 0x3f);
  out[p + 3] = 0x80 | (c & 0x3f);
  return 4;
}

/** Views of `bytes` of at most `size` bytes each. */
function cut(bytes: Uint8Array, size: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) pieces.push(bytes.subarray(i, Math.min(i + size, bytes.length)));
  return pieces;
}

/** Whether `pieces`, pushed in order, are complete valid UTF-8. */
function pushAll(validator: Utf8Validator, pieces: Uint8Array[]): boolean {
  validator.reset();
  for (let i = 0; i < pieces.length; i++) if (!validator.push(pieces[i])) return false;
  return validator.complete;
}

/** A timed call that rejects the valid text throws, so a broken validator cannot look fast. */
function mustPass(valid: boolean): boolean {
  if (!valid) throw new Error("valid text rejected");
  return valid;
}

function decoderReference(text: Uint8Array): Reference {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return {
    name: `TextDecoder fatal ${formatBytes(text.length)}`,
    bytes: text.length,
    run: () => decoder.decode(text).length,
  };
}

function validatorCases(kind: string, text: Uint8Array): MicroCase[] {
  const reference = decoderReference(text);
  const validator = new Utf8Validator();
  const whole = [text];
  const pieces = cut(text, MTU_CHUNK);
  const verify = (): void => {
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(text);
    check(decoded.length > 0, "the text does not decode");
    check(
      kind === "ASCII" ? decoded.length === text.length : decoded.length < text.length,
      `${kind} text is not ${kind}`,
    );
    const fresh = new Utf8Validator();
    check(pushAll(fresh, whole), "valid text rejected whole");
    check(pushAll(fresh, pieces), "valid text rejected in pieces");
    if (kind !== "ASCII") {
      // Cut just after a lead byte: every byte valid so far, but the text is not complete.
      let lead = SIZE / 2;
      while (text[lead] < 0xc0) lead++;
      fresh.reset();
      check(fresh.push(text, 0, lead + 1) && !fresh.complete, "text cut inside a character judged complete");
    }
    // Invalid sequences in the middle of the text and near a piece boundary.
    const invalid: [string, number[]][] = [
      ["lone continuation byte", [0x80]],
      ["overlong NUL", [0xc0, 0x80]],
      ["UTF-16 surrogate", [0xed, 0xa0, 0x80]],
      ["code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
      ["byte 0xFF", [0xff]],
    ];
    for (const [what, sequence] of invalid) {
      for (const at of [SIZE / 2, 3 * MTU_CHUNK - 1]) {
        const bad = text.slice();
        // Start the bad sequence on a character boundary so only it is wrong.
        let start = at;
        while ((bad[start] & 0xc0) === 0x80) start++;
        bad.set(sequence, start);
        let end = start + sequence.length;
        while ((bad[end] & 0xc0) === 0x80) bad[end++] = 0x61;
        check(!pushAll(fresh, [bad]), `${what} accepted whole`);
        check(!pushAll(fresh, cut(bad, MTU_CHUNK)), `${what} accepted in pieces`);
        let decoderThrew = false;
        try {
          new TextDecoder("utf-8", { fatal: true }).decode(bad);
        } catch {
          decoderThrew = true;
        }
        check(decoderThrew, `TextDecoder accepts the ${what} test input (the test input is wrong)`);
      }
    }
  };
  return [
    {
      name: `${formatBytes(text.length)} ${kind}, whole`,
      bytes: text.length,
      run: () => mustPass(pushAll(validator, whole)),
      reference,
      verify,
    },
    {
      name: `${formatBytes(text.length)} ${kind}, ${MTU_CHUNK} B pieces`,
      bytes: text.length,
      run: () => mustPass(pushAll(validator, pieces)),
      reference,
      verify,
    },
  ];
}

export const cases: MicroCase[] = [
  ...validatorCases("ASCII", asciiText()),
  ...validatorCases("multi-byte", multiByteText()),
];
