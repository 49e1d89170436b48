import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Frame, FrameReader, FrameType, FrameWriter } from "../mod.ts";

const payload = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 2, arbitrary: fc.integer({ min: 120, max: 70_000 }).map((n) => new Uint8Array(n).fill(n & 255)) },
);
const rsv = fc.record({ rsv1: fc.boolean(), rsv2: fc.boolean(), rsv3: fc.boolean() });

const dataFrame = fc.tuple(
  fc.constantFrom(FrameType.Text, FrameType.Binary, FrameType.Continuation),
  fc.boolean(),
  payload,
  rsv,
)
  .map(([type, fin, data, r]) => Frame.byType(fin, type, data, r.rsv1, r.rsv2, r.rsv3));
const controlFrame = fc.tuple(
  fc.constantFrom(FrameType.Close, FrameType.Ping, FrameType.Pong),
  fc.uint8Array({ maxLength: 125 }),
  rsv,
)
  .map(([type, data, r]) => Frame.byType(true, type, data, r.rsv1, r.rsv2, r.rsv3));
const frames = fc.array(fc.oneof(dataFrame, controlFrame), { minLength: 1, maxLength: 12 });
const cuts = fc.array(fc.nat(), { maxLength: 30 });

function roundTrip(list: Frame[], cutPoints: number[], writer: FrameWriter, reader: FrameReader): Frame[] {
  // Encode copies first: the reader unmasks in place, and a server-role
  // encoding copies the caller's data, so the originals stay intact.
  const parts = list.map((f) => writer.encode(f));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const wire = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    wire.set(p, o);
    o += p.length;
  }
  const points = [...new Set(cutPoints.map((c) => c % (total + 1)))].sort((a, b) => a - b);
  const out: Frame[] = [];
  let prev = 0;
  for (const cut of [...points, total]) {
    reader.push(wire.slice(prev, cut));
    prev = cut;
    for (let f = reader.read(); f !== null; f = reader.read()) out.push(f);
  }
  return out;
}

function sameFrames(actual: Frame[], expected: Frame[]): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    assert.equal(a.constructor, e.constructor);
    assert.deepEqual(
      [a.opcode, a.fin, a.rsv1, a.rsv2, a.rsv3, a.data.length],
      [e.opcode, e.fin, e.rsv1, e.rsv2, e.rsv3, e.data.length],
    );
    assert.deepEqual(a.data, e.data);
  }
}

test("property: masked client frames re-parse identically under any chunking (server reader)", () => {
  fc.assert(
    fc.property(frames, cuts, (list, cutPoints) => {
      sameFrames(
        roundTrip(list, cutPoints, new FrameWriter({ masking: true }), new FrameReader({ allowedRsv: 0x70 })),
        list,
      );
    }),
    { numRuns: 300 },
  );
});

test("property: unmasked server frames re-parse identically under any chunking (client reader)", () => {
  fc.assert(
    fc.property(frames, cuts, (list, cutPoints) => {
      sameFrames(
        roundTrip(list, cutPoints, new FrameWriter(), new FrameReader({ role: "client", allowedRsv: 0x70 })),
        list,
      );
    }),
    { numRuns: 300 },
  );
});

test("property: one byte per push gives the same frames", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(controlFrame, dataFrame.filter((f) => f.data.length < 300)), { maxLength: 5 }),
      (list) => {
        const writer = new FrameWriter({ masking: true });
        const reader = new FrameReader({ allowedRsv: 0x70 });
        const out: Frame[] = [];
        for (const f of list) {
          for (const b of writer.encode(f)) {
            reader.push(new Uint8Array([b]));
            for (let g = reader.read(); g !== null; g = reader.read()) out.push(g);
          }
        }
        sameFrames(out, list);
      },
    ),
    { numRuns: 100 },
  );
});
