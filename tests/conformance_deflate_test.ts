/**
 * The conformance suite's compression cases, after the Autobahn|Testsuite's
 * categories 12 (permessage-deflate, messages of growing size) and 13
 * (the offers: no context takeover either way, window sizes 9–15 either
 * way, combinations, several offers), plus failures a compressing server
 * must answer. A raw-socket client with its own framing and its own
 * node:zlib codec (tests/_helpers/raw_client.ts, raw_deflate.ts), not
 * hybi's, runs them against `examples/echo.ts` on the runtime the tests run
 * in. Every echo is checked strictly: the answer's parameters, RSV1 on the
 * first frame of each compressed message only, no RSV on control frames,
 * and the echo decoding, with the window and context the server agreed to,
 * to exactly the bytes sent.
 *
 * It runs once per way into the server that negotiates extensions:
 * `examples/echo.ts --api handlers` (the handler object) and `--api session`
 * (the `for await` default session), each against its own echo process.
 * Not `--api raw`: a RAW session negotiates no extension.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as zlib from "node:zlib";
import { RawClient, type ReceivedMessage } from "./_helpers/raw_client.ts";
import { echoApis, type EchoServer, startEcho } from "./_helpers/echo_server.ts";
import { repeatedBlock, seededBytes, wordText } from "./_helpers/seeded_bytes.ts";

const TEXT = 1, BINARY = 2, CLOSE = 8, PONG = 10;

const WORDS = ["permessage", "deflate", "window", "context", "takeover", "héllo", "wörld", "✓", "🙂", " ", ", "]
  .map((w) => new TextEncoder().encode(w));

/** Valid UTF-8 text of exactly `n` bytes, compressible like prose. */
function text(n: number, seed: number): Uint8Array {
  return wordText(n, seed, WORDS);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function closePayload(code: number): Uint8Array {
  return new Uint8Array([code >> 8, code & 255]);
}

/** The next message, skipping pongs. */
async function nextData(c: RawClient): Promise<ReceivedMessage> {
  for (;;) {
    const m = await c.receiveMessage();
    assert.ok(m !== null, "the server closed instead of echoing");
    if (m.opcode !== PONG) return m;
  }
}

interface Sent {
  opcode: number;
  payload: Uint8Array;
  compress?: boolean;
  fragments?: number;
  ping?: Uint8Array;
}

/** Sends one message, waits for its echo and checks it; returns the echo. */
async function roundTrip(c: RawClient, m: Sent, label: string): Promise<ReceivedMessage> {
  await c.sendMessage(m.opcode, m.payload, m);
  if (m.ping !== undefined) {
    const pong = await c.receiveMessage();
    assert.equal(pong?.opcode, PONG, `${label}: the pong for the ping between fragments`);
  }
  const echo = await nextData(c);
  assert.equal(echo.opcode, m.opcode, `${label}: opcode`);
  // examples/echo.ts compresses every non-empty message (compressIfBiggerThan 0).
  assert.equal(echo.rsv, m.payload.length > 0 ? 4 : 0, `${label}: RSV1 on the echo`);
  assert.ok(equal(echo.payload, m.payload), `${label}: echo of ${m.payload.length} bytes is byte-exact`);
  return echo;
}

/** Our close, the server's close (no RSV bits), then the server ends TCP. */
async function closeCleanly(c: RawClient): Promise<void> {
  await c.sendMessage(CLOSE, closePayload(1000), { compress: false });
  for (;;) {
    const m = await c.receiveMessage();
    assert.ok(m !== null, "expected the server's close frame");
    if (m.opcode === PONG) continue;
    assert.equal(m.opcode, CLOSE);
    assert.equal((m.payload[0] << 8) | m.payload[1], 1000);
    break;
  }
  assert.equal(await c.receiveMessage(), null, "after its close frame the server closes the TCP connection");
  c.close();
}

/** Opens with `offer` and checks the answer's parameters (in any order) against `expected`. */
async function openAt(port: number, offer: string, expected: string[]): Promise<RawClient> {
  const c = await RawClient.open(port, { deflate: offer });
  assert.ok(c.deflate !== null, `no permessage-deflate answer to ${offer}`);
  assert.deepEqual([...c.deflate.agreement.params].sort(), [...expected].sort(), `the answer to ${offer}`);
  return c;
}

/** Runs the 13.x message set on a connection whose answer agreed to `serverBits` / no takeover. */
async function messageSet(c: RawClient): Promise<void> {
  const { serverMaxWindowBits: bits, serverNoContextTakeover } = c.deflate!.agreement;
  const sentence = text(4096, 99);
  await roundTrip(c, { opcode: TEXT, payload: text(16, 1) }, "16 B text");
  await roundTrip(c, { opcode: BINARY, payload: seededBytes(1024, 2) }, "1 KiB random binary");
  const first = await roundTrip(c, { opcode: TEXT, payload: sentence }, "4 KiB text");
  const second = await roundTrip(c, { opcode: TEXT, payload: sentence }, "the same 4 KiB text again");
  if (!serverNoContextTakeover && bits >= 13) {
    // The server reaches back into the previous message: context takeover in action.
    assert.ok(second.wireLength * 4 < first.wireLength, `${first.wireLength} → ${second.wireLength} bytes`);
  } else if (serverNoContextTakeover) {
    assert.equal(second.wireLength, first.wireLength, "without context takeover the same message compresses alike");
  }
  // Repeats just beyond the agreed window: a server using a larger one fails to decode here.
  if (bits < 15) await roundTrip(c, { opcode: BINARY, payload: repeatedBlock(65536, (1 << bits) + 100, 3) }, "window");
  await roundTrip(c, { opcode: BINARY, payload: repeatedBlock(65536, 3000, 4) }, "64 KiB repeated binary");
  await roundTrip(c, { opcode: TEXT, payload: text(262144, 5) }, "256 KiB text");
  await roundTrip(
    c,
    { opcode: TEXT, payload: text(20000, 6), fragments: 5, ping: new TextEncoder().encode("between") },
    "text in 5 compressed fragments with a ping after the first",
  );
  await roundTrip(c, { opcode: BINARY, payload: seededBytes(300, 7), compress: false }, "an uncompressed message");
  await roundTrip(c, { opcode: TEXT, payload: sentence }, "4 KiB text after the uncompressed message");
  await roundTrip(c, { opcode: BINARY, payload: new Uint8Array(0) }, "an empty message");
}

/** Expects the server to fail the connection with a close frame carrying `code`, then close TCP. */
async function expectClose(c: RawClient, code: number): Promise<void> {
  for (;;) {
    const f = await c.next();
    assert.ok(f !== null, `expected a close frame with ${code}, the server just dropped the connection`);
    if (f.opcode !== CLOSE) continue;
    assert.equal(f.rsv, 0, "no RSV bits on the close frame");
    const reason = new TextDecoder().decode(f.payload.subarray(2));
    assert.equal((f.payload[0] << 8) | f.payload[1], code, `close code (reason: ${reason})`);
    assert.equal(await c.next(), null, "after its close frame the server closes the TCP connection");
    return;
  }
}

for (const api of echoApis(["handlers", "session"] as const)) describe(`--api ${api}`, () => compression(api));

// A RAW session sees frames as they are sent: the example's RAW echo negotiates nothing, and RSV1 stays reserved.
for (const api of echoApis(["raw"] as const)) {
  describe(`--api ${api}`, () => {
    let server: EchoServer;
    before(async () => {
      server = await startEcho(["--api", api]);
    });
    after(async () => {
      await server?.stop();
    });
    test("an offer of permessage-deflate gets no answer, and RSV1 then fails with 1002", async () => {
      const c = await RawClient.open(server.port, { deflate: "permessage-deflate; client_max_window_bits" });
      try {
        assert.equal(c.deflate, null);
        assert.equal(c.headers.get("sec-websocket-extensions"), undefined);
        await c.send([{ opcode: TEXT, rsv: 4, payload: new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]) }]);
        await expectClose(c, 1002);
      } finally {
        c.close();
      }
    });
  });
}

/** The compression cases against `examples/echo.ts --api <api>`. */
function compression(api: "handlers" | "session"): void {
  let server: EchoServer;
  before(async () => {
    server = await startEcho(["--api", api]);
  });
  after(async () => {
    await server?.stop();
  });
  const openWith = (offer: string, expected: string[]) => openAt(server.port, offer, expected);

  describe("12 compression: messages of growing size, context takeover both ways", () => {
    const sizes = [16, 64, 256, 1024, 4096, 16384, 65536, 131072, 262144];
    for (
      const [name, offer] of [["12.1", "permessage-deflate"], ["12.x", "permessage-deflate; client_max_window_bits"]]
    ) {
      test(`${name} ${offer}: text and binary of ${sizes[0]} B … 256 KiB, many per connection`, async () => {
        const c = await openWith(offer, []);
        try {
          for (const size of sizes) {
            const count = size <= 4096 ? 8 : 2;
            for (let i = 0; i < count; i++) {
              await roundTrip(c, { opcode: TEXT, payload: text(size, size + i) }, `text ${size} #${i}`);
              // Alternately random (stored blocks) and repeated (long matches) binary.
              const binary = i % 2 === 0
                ? seededBytes(size, size * 7 + i)
                : repeatedBlock(size, Math.min(size, 1000), i);
              await roundTrip(c, { opcode: BINARY, payload: binary }, `binary ${size} #${i}`);
            }
          }
          await closeCleanly(c);
        } finally {
          c.close();
        }
      });
    }
  });

  describe("13 compression: parameters offered", () => {
    const cases: [string, string[]][] = [
      ["permessage-deflate", []],
      ["permessage-deflate; client_no_context_takeover", ["client_no_context_takeover"]],
      ["permessage-deflate; server_no_context_takeover", ["server_no_context_takeover"]],
      ["permessage-deflate; client_max_window_bits", []],
    ];
    for (let bits = 9; bits <= 15; bits++) {
      cases.push([`permessage-deflate; client_max_window_bits=${bits}`, [`client_max_window_bits=${bits}`]]);
      cases.push([`permessage-deflate; server_max_window_bits=${bits}`, [`server_max_window_bits=${bits}`]]);
    }
    // Autobahn 13.3–13.6: accepting no takeover and any client window, asking for a server window (and no takeover).
    for (const bits of [9, 15]) {
      cases.push([
        `permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=${bits}`,
        ["client_no_context_takeover", `server_max_window_bits=${bits}`],
      ]);
      cases.push([
        `permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=${bits}`,
        ["client_no_context_takeover", "server_no_context_takeover", `server_max_window_bits=${bits}`],
      ]);
    }
    cases.push([
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12",
      [
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits=10",
        "client_max_window_bits=12",
      ],
    ]);
    cases.push([
      'permessage-deflate; client_max_window_bits="11"; server_max_window_bits="12"',
      ["client_max_window_bits=11", "server_max_window_bits=12"],
    ]);
    // Autobahn 13.7: several offers, the first acceptable one wins.
    cases.push([
      "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9, permessage-deflate; client_no_context_takeover; client_max_window_bits, permessage-deflate",
      ["client_no_context_takeover", "server_no_context_takeover", "server_max_window_bits=9"],
    ]);
    cases.push(["permessage-deflate; x-unknown, permessage-deflate; server_max_window_bits=10", [
      "server_max_window_bits=10",
    ]]);
    cases.push(["permessage-deflate; server_max_window_bits=16, permessage-deflate", []]);
    cases.push(["x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10", [
      "client_max_window_bits=10",
    ]]);

    for (const [offer, expected] of cases) {
      test(`13 ${offer}`, async () => {
        const c = await openWith(offer, expected);
        try {
          await messageSet(c);
          await closeCleanly(c);
        } finally {
          c.close();
        }
      });
    }
  });

  describe("compression failures", () => {
    const open = () => openWith("permessage-deflate; client_max_window_bits=9", ["client_max_window_bits=9"]);
    test("RSV1 on a continuation frame fails with 1002", async () => {
      const c = await open();
      try {
        const data = await c.deflate!.compress(text(100, 1));
        await c.send([{ opcode: TEXT, fin: false, rsv: 4, payload: data.subarray(0, 10) }, {
          opcode: 0,
          rsv: 4,
          payload: data.subarray(10),
        }]);
        await expectClose(c, 1002);
      } finally {
        c.close();
      }
    });
    test("RSV1 on a ping fails with 1002", async () => {
      const c = await open();
      try {
        await c.send([{ opcode: 9, rsv: 4, payload: new Uint8Array([0x4a, 0x04, 0x00]) }]);
        await expectClose(c, 1002);
      } finally {
        c.close();
      }
    });
    test("RSV2 beside RSV1 fails with 1002", async () => {
      const c = await open();
      try {
        await c.send([{ opcode: BINARY, rsv: 6, payload: await c.deflate!.compress(seededBytes(10, 1)) }]);
        await expectClose(c, 1002);
      } finally {
        c.close();
      }
    });
    test("data that is not DEFLATE fails with 1007", async () => {
      const c = await open();
      try {
        await c.send([{ opcode: BINARY, rsv: 4, payload: new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x00]) }]);
        await expectClose(c, 1007);
      } finally {
        c.close();
      }
    });
    test("compressed text that inflates to invalid UTF-8 fails with 1007", async () => {
      const c = await open();
      try {
        const bad = new Uint8Array([0x68, 0x69, 0xed, 0xa0, 0x80, 0x21]);
        await c.send([{ opcode: TEXT, rsv: 4, payload: await c.deflate!.compress(bad) }]);
        await expectClose(c, 1007);
      } finally {
        c.close();
      }
    });
    test("data compressed with a larger window than the agreed client_max_window_bits=9 fails with 1007", async () => {
      const c = await open();
      try {
        // 3000-byte repeats need a window of at least 12 bits; a 9-bit inflater finds them too far back.
        const out = zlib.deflateRawSync(repeatedBlock(30000, 3000, 5), { windowBits: 15 });
        await c.send([{ opcode: BINARY, rsv: 4, payload: new Uint8Array(out) }]);
        await expectClose(c, 1007);
      } finally {
        c.close();
      }
    });
    test("a message inflating to 65 MiB, past the echo's 64 MiB limit, fails with 1009", async () => {
      const c = await open();
      try {
        const bomb = zlib.deflateRawSync(new Uint8Array(65 * 1024 * 1024));
        assert.ok(bomb.length < 100 * 1024, `${bomb.length} bytes on the wire`);
        await c.send([{ opcode: BINARY, rsv: 4, payload: new Uint8Array(bomb) }]);
        await expectClose(c, 1009);
      } finally {
        c.close();
      }
    });
    test("RSV1 without permessage-deflate negotiated fails with 1002", async () => {
      const c = await RawClient.open(server.port);
      try {
        assert.equal(c.deflate, null);
        await c.send([{ opcode: TEXT, rsv: 4, payload: new Uint8Array([0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]) }]);
        await expectClose(c, 1002);
      } finally {
        c.close();
      }
    });
  });
}
