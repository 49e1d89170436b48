/**
 * The project's own conformance suite, after the categories of the
 * Autobahn|Testsuite (1 framing, 2 ping/pong, 3 reserved bits, 4 opcodes,
 * 5 fragmentation, 6 UTF-8, 7 close, 9 limits, 10 auto-fragmentation), run by
 * a raw-socket client with its own framing code against `examples/echo.ts`
 * on the runtime the tests run in. Strict: where RFC 6455 says "fail the
 * WebSocket connection", the server must send a close frame with the right
 * code and then close the TCP connection — never just drop it.
 *
 * It runs once per way into the server (`examples/echo.ts --api …`), each
 * against its own echo process:
 *
 * - `handlers` (the handler object) and `session` (the `for await` default
 *   session): every category.
 * - `raw` (a RAW session: the example answers pings, echoes data frames as
 *   they come and echoes the peer's close; nothing reassembled, no UTF-8
 *   check, no extension): what a RAW session itself is responsible for,
 *   its frames and the frame reader's checks. Covered: 1 framing
 *   (unfragmented echoes of every size); 2 ping/pong; 3 reserved bits and
 *   4 reserved opcodes, 5.1/5.2 fragmented control frames and 7.3.6 an
 *   over-long close frame (all failed with 1002 by the frame reader);
 *   7.1.1 an echo, then the clean close; 9 limits (frames up to 16 MiB,
 *   chopped writes, round trips). The fragmented cases of 5, 9.3/9.4, 10
 *   and the property run as "fragments echoed as they came", checked frame
 *   by frame (opcode, FIN, payload). Left out: 5.9–5.18 (continuation
 *   sequencing is the message assembler's rule), 6 UTF-8 and the rest of
 *   7 (close payload and code rules, nothing after a close): a RAW session
 *   leaves these to its application, and the example's echo enforces none.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeClientFrame, nextMessage, RawClient, type SendOptions, type WireFrame } from "./_helpers/raw_client.ts";
import { echoApis, type EchoServer, startEcho } from "./_helpers/echo_server.ts";

const TEXT = 1, BINARY = 2, CLOSE = 8, PING = 9, PONG = 10, CONT = 0;
type F = Parameters<typeof encodeClientFrame>[0];
const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (s: string) => new Uint8Array(s.split(/\s+/).filter(Boolean).map((x) => parseInt(x, 16)));
const bytes = (n: number, seed = 1) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 255;
  return b;
};
const text = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = 0x20 + (i % 90);
  return b;
};
const closePayload = (code: number, reason: Uint8Array | string = "") => {
  const r = typeof reason === "string" ? utf8(reason) : reason;
  const p = new Uint8Array(2 + r.length);
  p[0] = code >> 8;
  p[1] = code & 255;
  p.set(r, 2);
  return p;
};
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads until a close frame; checks its code, that the server then closes TCP, and returns what came before. */
async function expectClose(c: RawClient, code: number | null): Promise<WireFrame[]> {
  const before: WireFrame[] = [];
  for (;;) {
    const f = await c.next();
    assert.ok(
      f !== null,
      `expected a close frame${code === null ? "" : ` with ${code}`}, the server just dropped the connection`,
    );
    if (f.opcode !== CLOSE) {
      before.push(f);
      continue;
    }
    const got = f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : null;
    if (code !== null) {
      assert.equal(got, code, `close code (reason: ${new TextDecoder().decode(f.payload.subarray(2))})`);
    }
    assert.equal(await c.next(), null, "after its close frame the server must close the TCP connection");
    return before;
  }
}

/** Client-initiated clean close: our close, the server's echo, then TCP close by the server. */
async function closeCleanly(c: RawClient): Promise<void> {
  await c.send([{ opcode: CLOSE, payload: closePayload(1000) }]);
  await expectClose(c, 1000);
  c.close();
}

async function expectEcho(c: RawClient, opcode: number, payload: Uint8Array): Promise<void> {
  const m = await nextMessage(c);
  assert.ok(m !== null, "the server closed instead of echoing");
  assert.equal(m.opcode, opcode, "echo opcode");
  assert.equal(m.payload.length, payload.length, "echo length");
  assert.ok(equalBytes(m.payload, payload), "echo payload");
}

/** What the RAW echo sends back for `frames`: data frames as they came, a pong for each ping, nothing for pongs. */
function echoedAsTheyCame(frames: F[]): F[] {
  return frames.filter((f) => f.opcode !== PONG).map((f) => f.opcode === PING ? { ...f, opcode: PONG } : f);
}

/** Reads `expected.length` frames and checks each exactly: opcode, FIN, no RSV bits, payload. */
async function expectFrames(c: RawClient, expected: F[]): Promise<void> {
  for (const [i, e] of expected.entries()) {
    const f = await c.next();
    assert.ok(f !== null, `the server closed instead of echoing frame ${i} of ${expected.length}`);
    assert.equal(f.opcode, e.opcode, `frame ${i}: opcode`);
    assert.equal(f.fin, e.fin ?? true, `frame ${i}: FIN`);
    assert.equal(f.rsv, 0, `frame ${i}: RSV bits`);
    const p = typeof e.payload === "string" ? utf8(e.payload) : (e.payload ?? new Uint8Array(0));
    assert.equal(f.payload.length, p.length, `frame ${i}: payload length`);
    assert.ok(equalBytes(f.payload, p), `frame ${i}: payload`);
  }
}

const APIS = ["handlers", "session", "raw"] as const;
type Api = typeof APIS[number];

for (const api of echoApis(APIS)) describe(`--api ${api}`, () => conformance(api));

/** The suite against `examples/echo.ts --api <api>` (the categories for `raw` as listed at the top). */
function conformance(api: Api): void {
  const raw = api === "raw";
  let server: EchoServer;
  before(async () => {
    server = await startEcho(["--api", api]);
  });
  after(async () => {
    await server?.stop();
  });
  const open = (): Promise<RawClient> => RawClient.open(server.port);

  /** Sends frames and expects the connection to be failed with `code` (after any echoes listed). */
  async function failCase(frames: F[], code: number, options: SendOptions = {}, echoes: [number, Uint8Array][] = []) {
    const c = await open();
    try {
      await c.send(frames, options).catch(() => {}); // the server may close while we write
      const before = await expectClose(c, code);
      const got = before.filter((f) => f.opcode !== PONG);
      assert.equal(got.length, echoes.length, `frames before the close: ${got.map((f) => f.opcode)}`);
      echoes.forEach(([op, p], i) => {
        assert.equal(got[i].opcode, op);
        assert.ok(equalBytes(got[i].payload, p));
      });
    } finally {
      c.close();
    }
  }

  /**
   * Sends frames and expects `expected` (whole messages, pongs), then closes
   * cleanly. On `raw` the echo must be the frames as they came instead
   * (`echoedAsTheyCame`), checked frame by frame.
   */
  async function echoCase(frames: F[], expected: [number, Uint8Array][], options: SendOptions = {}) {
    const c = await open();
    try {
      await c.send(frames, options);
      if (raw) await expectFrames(c, echoedAsTheyCame(frames));
      else {
        for (const [op, p] of expected) {
          if (op === PONG) {
            const f = await c.next();
            assert.equal(f?.opcode, PONG, "expected a pong");
            assert.ok(equalBytes(f!.payload, p), "pong payload");
          } else {
            await expectEcho(c, op, p);
          }
        }
      }
      await closeCleanly(c);
    } finally {
      c.close();
    }
  }

  describe("1 framing", () => {
    for (const n of [0, 125, 126, 127, 128, 65535, 65536]) {
      test(`1.1 text of ${n} bytes`, () => echoCase([{ opcode: TEXT, payload: text(n) }], [[TEXT, text(n)]]));
      test(`1.2 binary of ${n} bytes`, () => echoCase([{ opcode: BINARY, payload: bytes(n) }], [[BINARY, bytes(n)]]));
    }
    test("1.1.8 text of 65536 bytes delivered in 997-byte chops", () =>
      echoCase([{ opcode: TEXT, payload: text(65536) }], [[TEXT, text(65536)]], { chop: 997 }));
    test("1.2.8 binary of 65536 bytes delivered in 997-byte chops", () =>
      echoCase([{ opcode: BINARY, payload: bytes(65536) }], [[BINARY, bytes(65536)]], { chop: 997 }));
    test("one byte per write, with pauses", () =>
      echoCase([{ opcode: TEXT, payload: utf8("slowly") }], [[TEXT, utf8("slowly")]], { chop: 1, delay: 2 }));
  });

  describe("2 ping/pong", () => {
    test("2.1 ping without payload", () => echoCase([{ opcode: PING }], [[PONG, new Uint8Array(0)]]));
    test("2.2 ping with text payload", () =>
      echoCase([{ opcode: PING, payload: "Hello, world!" }], [[PONG, utf8("Hello, world!")]]));
    test("2.3 ping with binary payload", () =>
      echoCase([{ opcode: PING, payload: hex("00 ff fe fd fc fb 00 ff") }], [[PONG, hex("00 ff fe fd fc fb 00 ff")]]));
    test("2.4 ping with a 125-byte payload", () =>
      echoCase([{ opcode: PING, payload: bytes(125) }], [[PONG, bytes(125)]]));
    test("2.5 ping with a 126-byte payload fails with 1002", () =>
      failCase([{ opcode: PING, payload: bytes(126) }], 1002));
    test("2.6 ping with a 125-byte payload, chopped", () =>
      echoCase([{ opcode: PING, payload: bytes(125) }], [[PONG, bytes(125)]], { chop: 1, delay: 1 }));
    test("2.7 unsolicited pong without payload is ignored", async () => {
      await echoCase([{ opcode: PONG }, { opcode: TEXT, payload: "x" }], [[TEXT, utf8("x")]]);
    });
    test("2.8 unsolicited pong with payload is ignored", async () => {
      await echoCase([{ opcode: PONG, payload: "unsolicited" }, { opcode: TEXT, payload: "x" }], [[TEXT, utf8("x")]]);
    });
    test("2.9 unsolicited pong, then ping: one pong back", () =>
      echoCase([{ opcode: PONG, payload: "unsolicited" }, { opcode: PING, payload: "ping" }], [[PONG, utf8("ping")]]));
    test("2.10 ten pings: ten pongs in order", () =>
      echoCase(
        Array.from({ length: 10 }, (_, i) => ({ opcode: PING, payload: `payload-${i}` })),
        Array.from({ length: 10 }, (_, i) => [PONG, utf8(`payload-${i}`)] as [number, Uint8Array]),
      ));
    test("2.11 ten pings, chopped", () =>
      echoCase(
        Array.from({ length: 10 }, (_, i) => ({ opcode: PING, payload: `payload-${i}` })),
        Array.from({ length: 10 }, (_, i) => [PONG, utf8(`payload-${i}`)] as [number, Uint8Array]),
        { chop: 1, delay: 0 },
      ));
  });

  describe("3 reserved bits", () => {
    test("3.1 text with RSV1 fails with 1002", () => failCase([{ opcode: TEXT, rsv: 4, payload: "Hello" }], 1002));
    test("3.2 text, text with RSV2, ping: the first echoes, then 1002, no pong", () =>
      failCase(
        [
          { opcode: TEXT, payload: "Hello" },
          { opcode: TEXT, rsv: 2, payload: "Hello" },
          { opcode: PING, payload: "x" },
        ],
        1002,
        {},
        [[TEXT, utf8("Hello")]],
      ));
    test("3.3 the same, chopped", () =>
      failCase(
        [{ opcode: TEXT, payload: "Hello" }, { opcode: TEXT, rsv: 3, payload: "Hello" }, { opcode: PING }],
        1002,
        { chop: 1 },
        [[TEXT, utf8("Hello")]],
      ));
    test("3.5 binary with RSV1+RSV3", () => failCase([{ opcode: BINARY, rsv: 5, payload: bytes(8) }], 1002));
    test("3.6 ping with RSV2+RSV3", () => failCase([{ opcode: PING, rsv: 6, payload: "Hello" }], 1002));
    test("3.7 close with all RSV bits", () => failCase([{ opcode: CLOSE, rsv: 7, payload: closePayload(1000) }], 1002));
  });

  describe("4 opcodes", () => {
    for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
      test(`4 reserved opcode ${op} fails with 1002`, () => failCase([{ opcode: op }], 1002));
      test(`4 text, reserved opcode ${op} with payload, ping: echo, then 1002`, () =>
        failCase(
          [{ opcode: TEXT, payload: "Hello" }, { opcode: op, payload: "reserved" }, { opcode: PING }],
          1002,
          {},
          [[TEXT, utf8("Hello")]],
        ));
    }
  });

  describe(raw ? "5 fragmentation: fragments echoed as they came" : "5 fragmentation", () => {
    const frag = (s: string, parts: number) => {
      const b = utf8(s);
      const size = Math.ceil(b.length / parts);
      return Array.from({ length: parts }, (_, i) => b.subarray(i * size, (i + 1) * size));
    };
    test("5.1 a fragmented ping fails with 1002", () =>
      failCase([{ opcode: PING, fin: false, payload: "frag1" }, { opcode: CONT, payload: "frag2" }], 1002));
    test("5.2 a fragmented pong fails with 1002", () =>
      failCase([{ opcode: PONG, fin: false, payload: "frag1" }, { opcode: CONT, payload: "frag2" }], 1002));
    for (
      const [name, options] of [["", {}], [", chopped", { chop: 1 }], [", slowly", { chop: 3, delay: 1 }]] as const
    ) {
      test(`5.3 text in two fragments${name}`, () =>
        echoCase([{ opcode: TEXT, fin: false, payload: "fragment1" }, { opcode: CONT, payload: "fragment2" }], [[
          TEXT,
          utf8("fragment1fragment2"),
        ]], options));
      test(`5.6 text in two fragments with a ping between${name}`, () =>
        echoCase(
          [{ opcode: TEXT, fin: false, payload: "fragment1" }, { opcode: PING, payload: "pongme!" }, {
            opcode: CONT,
            payload: "fragment2",
          }],
          [[PONG, utf8("pongme!")], [TEXT, utf8("fragment1fragment2")]],
          options,
        ));
      if (raw) continue; // continuation sequencing is the message assembler's rule
      test(`5.9 a final continuation with nothing to continue fails with 1002${name}`, () =>
        failCase(
          [{ opcode: CONT, payload: "non-continuation payload" }, { opcode: TEXT, payload: "Hello, world!" }],
          1002,
          options,
        ));
      test(`5.12 a non-final continuation with nothing to continue fails with 1002${name}`, () =>
        failCase(
          [{ opcode: CONT, fin: false, payload: "non-continuation payload" }, { opcode: TEXT, payload: "Hello" }],
          1002,
          options,
        ));
    }
    if (!raw) {
      test("5.15 a continuation after a finished fragmented message fails with 1002 (after the echo)", () =>
        failCase(
          [
            { opcode: TEXT, fin: false, payload: "fragment1" },
            { opcode: CONT, payload: "fragment2" },
            { opcode: CONT, fin: false, payload: "fragment3" },
            { opcode: TEXT, payload: "fragment4" },
          ],
          1002,
          {},
          [[TEXT, utf8("fragment1fragment2")]],
        ));
      test("5.18 a new text frame inside a fragmented message fails with 1002", () =>
        failCase([{ opcode: TEXT, fin: false, payload: "fragment1" }, { opcode: TEXT, payload: "fragment2" }], 1002));
    }
    test(`5.19 five fragments with pings between: ${raw ? "each frame back as it came" : "pongs first, then the whole message"}`, () => {
      const parts = frag("fragment1fragment2fragment3fragment4fragment5", 5);
      return echoCase(
        [
          { opcode: TEXT, fin: false, payload: parts[0] },
          { opcode: CONT, fin: false, payload: parts[1] },
          { opcode: PING, payload: "pongme 1!" },
          { opcode: CONT, fin: false, payload: parts[2] },
          { opcode: CONT, fin: false, payload: parts[3] },
          { opcode: PING, payload: "pongme 2!" },
          { opcode: CONT, payload: parts[4] },
        ],
        [[PONG, utf8("pongme 1!")], [PONG, utf8("pongme 2!")], [
          TEXT,
          utf8("fragment1fragment2fragment3fragment4fragment5"),
        ]],
      );
    });
    test("5.20 the same with pauses: each pong comes as soon as its ping arrives", async () => {
      const c = await open();
      try {
        if (raw) {
          // Each fragment and each pong comes back as soon as it arrives, before the next is sent.
          const steps: F[][] = [
            [{ opcode: TEXT, fin: false, payload: "fragment1" }, { opcode: PING, payload: "pongme 1!" }],
            [{ opcode: CONT, fin: false, payload: "fragment2" }, { opcode: PING, payload: "pongme 2!" }],
            [{ opcode: CONT, payload: "fragment3" }],
          ];
          for (const [i, sent] of steps.entries()) {
            if (i > 0) await sleep(20); // the pause between steps the case is about
            await c.send(sent);
            await expectFrames(c, echoedAsTheyCame(sent));
          }
          return await closeCleanly(c);
        }
        await c.send([{ opcode: TEXT, fin: false, payload: "fragment1" }, { opcode: PING, payload: "pongme 1!" }]);
        assert.deepEqual((await c.next())?.opcode, PONG);
        await sleep(20);
        await c.send([{ opcode: CONT, fin: false, payload: "fragment2" }, { opcode: PING, payload: "pongme 2!" }]);
        assert.deepEqual((await c.next())?.opcode, PONG);
        await sleep(20);
        await c.send([{ opcode: CONT, payload: "fragment3" }]);
        await expectEcho(c, TEXT, utf8("fragment1fragment2fragment3"));
        await closeCleanly(c);
      } finally {
        c.close();
      }
    });
    test("empty fragments", () =>
      echoCase([{ opcode: TEXT, fin: false }, { opcode: CONT, fin: false, payload: "middle" }, { opcode: CONT }], [[
        TEXT,
        utf8("middle"),
      ]]));
  });

  // A RAW session checks no UTF-8: the example echoes text frames as they come.
  if (!raw) {
    describe("6 UTF-8", () => {
      const valid = [
        ["6.2 Hello-µ@ßöäüàá-UTF-8!!", utf8("Hello-µ@ßöäüàá-UTF-8!!")],
        ["6.5 κόσμε", hex("ce ba e1 bd b9 cf 83 ce bc ce b5")],
        ["6.7 first 1-byte", hex("00")],
        ["6.7 first 2-byte", hex("c2 80")],
        ["6.7 first 3-byte", hex("e0 a0 80")],
        ["6.7 first 4-byte", hex("f0 90 80 80")],
        ["6.9 last 1-byte", hex("7f")],
        ["6.9 last 2-byte", hex("df bf")],
        ["6.9 last 3-byte", hex("ef bf bf")],
        ["6.10 U+D7FF", hex("ed 9f bf")],
        ["6.10 U+E000", hex("ee 80 80")],
        ["6.10 U+FFFD", hex("ef bf bd")],
        ["6.10 U+10FFFF", hex("f4 8f bf bf")],
        ["6.19 noncharacter U+FFFE", hex("ef bf be")],
        ["6.19 noncharacter U+FDD0", hex("ef b7 90")],
        ["6.19 noncharacter U+10FFFE", hex("f4 8f bf be")],
      ] as const;
      for (const [name, payload] of valid) {
        test(`${name}: valid, one frame`, () => echoCase([{ opcode: TEXT, payload }], [[TEXT, payload]]));
      }
      test("6.2.3/6.2.4 valid text fragmented at every byte", () => {
        const b = hex("ce ba e1 bd b9 cf 83 ce bc ce b5");
        const frames: F[] = Array.from(
          b,
          (x, i) => ({ opcode: i === 0 ? TEXT : CONT, fin: i === b.length - 1, payload: new Uint8Array([x]) }),
        );
        return echoCase(frames, [[TEXT, b]]);
      });
      const invalid = [
        ["6.3 surrogate inside text", hex("ce ba e1 bd b9 ce bc ce b5 ed a0 80 65 64 69 74 65 64")],
        ["6.8 5-byte sequence", hex("f8 88 80 80 80")],
        ["6.8 6-byte sequence", hex("fc 84 80 80 80 80")],
        ["6.9 U+1FFFFF", hex("f7 bf bf bf")],
        ["6.10 U+110000", hex("f4 90 80 80")],
        ["6.11 lone continuation 80", hex("80")],
        ["6.11 lone continuation bf", hex("bf")],
        ["6.11 continuations 80 bf 80", hex("80 bf 80")],
        ["6.12 lonely start c0 then space", hex("c0 20")],
        ["6.12 lonely start e0 then space", hex("e0 20")],
        ["6.12 lonely start f0 then space", hex("f0 20")],
        ["6.13 2-byte sequence missing its last byte", hex("c2")],
        ["6.13 3-byte sequence missing its last byte", hex("e0 a0")],
        ["6.13 4-byte sequence missing its last byte", hex("f0 90 80")],
        ["6.14 impossible byte fe", hex("fe")],
        ["6.14 impossible byte ff", hex("ff")],
        ["6.14 impossible bytes fe fe ff ff", hex("fe fe ff ff")],
        ["6.15 overlong slash c0 af", hex("c0 af")],
        ["6.15 overlong slash e0 80 af", hex("e0 80 af")],
        ["6.15 overlong slash f0 80 80 af", hex("f0 80 80 af")],
        ["6.16 maximum overlong c1 bf", hex("c1 bf")],
        ["6.16 maximum overlong e0 9f bf", hex("e0 9f bf")],
        ["6.16 maximum overlong f0 8f bf bf", hex("f0 8f bf bf")],
        ["6.16 overlong NUL c0 80", hex("c0 80")],
        ["6.17 single surrogate U+D800", hex("ed a0 80")],
        ["6.17 single surrogate U+DFFF", hex("ed bf bf")],
        ["6.18 paired surrogates", hex("ed a0 80 ed b0 80")],
      ] as const;
      for (const [name, payload] of invalid) {
        test(`${name}: 1007 in one frame`, () => failCase([{ opcode: TEXT, payload }], 1007));
        test(`${name}: 1007 fragmented at every byte`, () =>
          failCase(
            Array.from(
              payload,
              (x, i) => ({
                opcode: i === 0 ? TEXT : CONT,
                fin: i === payload.length - 1,
                payload: new Uint8Array([x]),
              }),
            ),
            1007,
          ));
      }
      test("6.4.1 fail-fast: 1007 arrives before the message's last fragment is sent", async () => {
        const c = await open();
        try {
          await c.send([{ opcode: TEXT, fin: false, payload: hex("ce ba e1 bd b9 ce bc ce b5") }]);
          await sleep(20);
          await c.send([{ opcode: CONT, fin: false, payload: hex("f4 90 80 80") }]);
          await expectClose(c, 1007);
        } finally {
          c.close();
        }
      });
      test("6.4.3 fail-fast within a frame still arriving: 1007 before the frame is complete", async () => {
        const c = await open();
        try {
          const frame = encodeClientFrame({
            opcode: TEXT,
            payload: hex("ce ba e1 bd b9 ce bc ce b5 f4 90 80 80 65 64 69 74 65 64"),
          });
          // Everything up to and including the invalid byte 0x90 (a 6-byte header, then 11 payload bytes), then wait.
          await c.write(frame.subarray(0, 17));
          await expectClose(c, 1007);
        } finally {
          c.close();
        }
      });
    });
  }

  describe("7 close", () => {
    test("7.1.1 echo, then a clean close", () =>
      echoCase([{ opcode: TEXT, payload: "Hello" }], [[TEXT, utf8("Hello")]]));
    // The rest of the close rules are the application's on a RAW session (the example just echoes the close).
    if (!raw) {
      test("7.1.2 close twice: one close back", async () => {
        const c = await open();
        await c.send([{ opcode: CLOSE, payload: closePayload(1000) }, { opcode: CLOSE, payload: closePayload(1000) }]);
        await expectClose(c, 1000);
        c.close();
      });
      test("7.1.3 ping after close: no pong", async () => {
        const c = await open();
        await c.send([{ opcode: CLOSE, payload: closePayload(1000) }, { opcode: PING, payload: "x" }]);
        assert.deepEqual(await expectClose(c, 1000), []);
        c.close();
      });
      test("7.1.4 text after close: no echo", async () => {
        const c = await open();
        await c.send([{ opcode: CLOSE, payload: closePayload(1000) }, { opcode: TEXT, payload: "x" }]);
        assert.deepEqual(await expectClose(c, 1000), []);
        c.close();
      });
      test("7.1.5 close inside a fragmented message: close back, no echo", async () => {
        const c = await open();
        await c.send([
          { opcode: TEXT, fin: false, payload: "fragment1" },
          { opcode: CLOSE, payload: closePayload(1000) },
          { opcode: CONT, payload: "fragment2" },
        ]);
        assert.deepEqual(await expectClose(c, 1000), []);
        c.close();
      });
      test("7.1.6 a large message, a ping and a close sent at once: the pong and the echo (either first), then the close", async () => {
        const c = await open();
        const big = text(256 * 1024);
        await c.send([{ opcode: TEXT, payload: big }, { opcode: PING, payload: "ping" }, {
          opcode: CLOSE,
          payload: closePayload(1000),
        }]);
        // The session answers the ping as soon as it reads it; the handler path has echoed the message by then.
        const before = await expectClose(c, 1000);
        assert.deepEqual(before.map((f) => f.opcode).sort(), [TEXT, PONG]);
        const echo = before.find((f) => f.opcode === TEXT)!;
        assert.ok(equalBytes(echo.payload, big), "echo payload");
        c.close();
      });
      test("7.3.1 empty close: answered with 1000", () => failCase([{ opcode: CLOSE }], 1000));
      test("7.3.2 a 1-byte close payload fails with 1002", () =>
        failCase([{ opcode: CLOSE, payload: hex("03") }], 1002));
      test("7.3.3 close with a code only", () => failCase([{ opcode: CLOSE, payload: closePayload(1000) }], 1000));
      test("7.3.4 close with a code and a reason", () =>
        failCase([{ opcode: CLOSE, payload: closePayload(1000, "Hello World!") }], 1000));
      test("7.3.5 close with a 123-byte reason", () =>
        failCase([{ opcode: CLOSE, payload: closePayload(1000, "*".repeat(123)) }], 1000));
    }
    test("7.3.6 close with a 124-byte reason (a 126-byte control frame) fails with 1002", () =>
      failCase([{ opcode: CLOSE, payload: closePayload(1000, "*".repeat(124)) }], 1002));
    if (!raw) {
      test("7.5.1 close reason that is not UTF-8 fails with 1007", () =>
        failCase([{
          opcode: CLOSE,
          payload: closePayload(1000, hex("ce ba e1 bd b9 ce bc ce b5 ed a0 80 65 64 69 74 65 64")),
        }], 1007));
      for (
        const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]
      ) {
        test(`7.7 valid close code ${code} is echoed`, () =>
          failCase([{ opcode: CLOSE, payload: closePayload(code) }], code));
      }
      for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
        test(`7.9/7.13 invalid close code ${code} fails with 1002`, () =>
          failCase([{ opcode: CLOSE, payload: closePayload(code) }], 1002));
      }
    }
  });

  describe("9 limits and performance", () => {
    for (const n of [64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024, 16 * 1024 * 1024]) {
      test(`9.1 text message of ${n} bytes in one frame`, () =>
        echoCase([{ opcode: TEXT, payload: text(n) }], [[TEXT, text(n)]]));
      test(`9.2 binary message of ${n} bytes in one frame`, () =>
        echoCase([{ opcode: BINARY, payload: bytes(n) }], [[BINARY, bytes(n)]]));
    }
    for (const size of [64, 256, 4096, 65536, 1024 * 1024, 4 * 1024 * 1024]) {
      const total = 4 * 1024 * 1024;
      const fragments = (op: number, payload: Uint8Array): F[] => {
        const out: F[] = [];
        for (let i = 0; i < total; i += size) {
          out.push({ opcode: i === 0 ? op : CONT, fin: i + size >= total, payload: payload.subarray(i, i + size) });
        }
        return out;
      };
      test(`9.3 4 MiB text in fragments of ${size}`, () =>
        echoCase(fragments(TEXT, text(total)), [[TEXT, text(total)]]));
      test(`9.4 4 MiB binary in fragments of ${size}`, () =>
        echoCase(fragments(BINARY, bytes(total)), [[BINARY, bytes(total)]]));
    }
    for (const chop of [64, 4096, 65536]) {
      test(`9.5/9.6 1 MiB message delivered in writes of ${chop} bytes`, () =>
        echoCase([{ opcode: BINARY, payload: bytes(1024 * 1024) }], [[BINARY, bytes(1024 * 1024)]], { chop }));
    }
    for (const size of [0, 16, 64, 256, 1024, 4096]) {
      test(`9.7/9.8 1000 round trips of ${size}-byte text and binary messages`, async () => {
        const c = await open();
        try {
          for (let i = 0; i < 1000; i++) {
            const op = i % 2 === 0 ? TEXT : BINARY;
            const p = op === TEXT ? text(size) : bytes(size, i);
            await c.send([{ opcode: op, payload: p }]);
            await expectEcho(c, op, p);
          }
          await closeCleanly(c);
        } finally {
          c.close();
        }
      });
    }
  });

  describe("10 auto-fragmentation", () => {
    test("10.1.1 64 KiB text in 1300-byte fragments", () => {
      const payload = text(65536);
      const frames: F[] = [];
      for (let i = 0; i < payload.length; i += 1300) {
        frames.push({
          opcode: i === 0 ? TEXT : CONT,
          fin: i + 1300 >= payload.length,
          payload: payload.subarray(i, i + 1300),
        });
      }
      return echoCase(frames, [[TEXT, payload]]);
    });
  });

  describe("arbitrary fragmentation", () => {
    test("property: any message, any fragment sizes, any write chopping echoes intact", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ unit: "grapheme", maxLength: 300 }).map((s) => ({ op: TEXT, p: utf8(s) })),
            fc.uint8Array({ maxLength: 3000 }).map((p) => ({ op: BINARY, p })),
          ),
          fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 12 }),
          fc.integer({ min: 1, max: 2000 }),
          async ({ op, p }, sizes, chop) => {
            const frames: F[] = [];
            let at = 0;
            for (let i = 0; at < p.length || frames.length === 0; i++) {
              const n = sizes[i % sizes.length];
              frames.push({ opcode: frames.length === 0 ? op : CONT, fin: false, payload: p.subarray(at, at + n) });
              at += n;
              if (i > 10_000) break;
            }
            // Fragment sizes that are all 0 never reach the end: the rest goes in a last fragment.
            if (at < p.length) frames.push({ opcode: CONT, fin: false, payload: p.subarray(at) });
            frames[frames.length - 1].fin = true;
            await echoCase(frames, [[op, p]], { chop });
          },
        ),
        { numRuns: 40 },
      );
    });
  });
}
