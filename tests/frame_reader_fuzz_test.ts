import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ErrorCode, Frame, FrameReader, FrameType, FrameWriter, WebSocketError } from "../mod.ts";
import { cutPoints, fuzzParameters, mutate, mutation } from "./_helpers/fuzz.ts";

const codes = new Set<string>(Object.values(ErrorCode));

const frame = fc.tuple(
  fc.constantFrom(
    FrameType.Text,
    FrameType.Binary,
    FrameType.Continuation,
    FrameType.Ping,
    FrameType.Pong,
    FrameType.Close,
  ),
  fc.boolean(),
  fc.oneof(fc.uint8Array({ maxLength: 130 }), fc.integer({ min: 126, max: 70_000 }).map((n) => new Uint8Array(n))),
).map(([type, fin, data]) =>
  Frame.byType(type.controlFrame ? true : fin, type, type.controlFrame ? data.subarray(0, 125) : data)
);

/** Feeds bytes in the given chunking; every outcome must be a frame or a WebSocketError with a known code. */
function feed(reader: FrameReader, wire: Uint8Array, cuts: number[]): void {
  const points = cutPoints(cuts, wire.length);
  let prev = 0;
  try {
    for (const cut of [...points, wire.length]) {
      reader.push(wire.slice(prev, cut));
      prev = cut;
      for (let f = reader.read(); f !== null; f = reader.read()) {
        assert.ok(f instanceof Frame);
        assert.ok(f.data.length <= reader.maxFrameSize);
        if (f.frameType.controlFrame) assert.ok(f.fin && f.data.length <= 125);
      }
    }
  } catch (e) {
    assert.ok(e instanceof WebSocketError, `a non-protocol exception escaped: ${e}`);
    assert.ok(codes.has(e.code), `unknown error code ${e.code}`);
    assert.ok(e.closeCode === 1002 || e.closeCode === 1009, `close code ${e.closeCode}`);
  }
}

test("fuzz: mutated masked frame streams under arbitrary chunking give frames or coded protocol errors", () => {
  fc.assert(
    fc.property(
      fc.array(frame, { minLength: 1, maxLength: 6 }),
      fc.array(mutation, { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.integer({ min: 0, max: 7 }),
      (frames, mutations, cuts, rsv) => {
        const writer = new FrameWriter({ masking: true });
        const parts = frames.map((f) => writer.encode(f));
        const wire = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          wire.set(p, o);
          o += p.length;
        }
        feed(new FrameReader({ maxFrameSize: 65_536, allowedRsv: rsv << 4 }), mutate(wire, mutations), cuts);
      },
    ),
    fuzzParameters(300),
  );
});

test("fuzz: arbitrary bytes in either role give frames or coded protocol errors", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 2000 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.boolean(),
      (wire, cuts, client) => {
        feed(new FrameReader({ role: client ? "client" : "server", maxFrameSize: 1024 }), wire, cuts);
      },
    ),
    fuzzParameters(500),
  );
});
