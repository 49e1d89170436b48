/**
 * Settings of the fuzz tests: a few hundred runs in `npm test`, many more in
 * `npm run fuzz` (HYBI_FUZZ_RUNS), always with a seed that is printed so a
 * failure can be replayed with HYBI_FUZZ_SEED.
 */
import process from "node:process";
import fc from "fast-check";

const seed = Number(process.env.HYBI_FUZZ_SEED ?? Date.now() % 2 ** 31);
const scale = Number(process.env.HYBI_FUZZ_RUNS ?? 1);
let printed = false;

export function fuzzParameters(runs: number): { seed: number; numRuns: number; endOnFailure: boolean } {
  if (!printed) {
    printed = true;
    console.log(`fuzz seed ${seed} (replay with HYBI_FUZZ_SEED=${seed})`);
  }
  return { seed, numRuns: Math.max(1, Math.round(runs * scale)), endOnFailure: true };
}

/** A byte-level mutation: a bit flip, an overwrite, an insertion, a deletion or a truncation. */
export const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
);

export type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** Applies byte-level mutations in order (positions wrap around the current length). */
export function mutate(wire: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = wire;
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case "flip":
        b = b.slice();
        b[at] ^= 1 << m.bit;
        break;
      case "set":
        b = b.slice();
        b[at] = m.value;
        break;
      case "insert": {
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, at));
        out.set(m.bytes, at);
        out.set(b.subarray(at), at + m.bytes.length);
        b = out;
        break;
      }
      case "delete": {
        const end = Math.min(b.length, at + m.count);
        const out = new Uint8Array(b.length - (end - at));
        out.set(b.subarray(0, at));
        out.set(b.subarray(end), at);
        b = out;
        break;
      }
      case "truncate":
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** Cut points (any naturals, wrapped to the input) as sorted, distinct offsets inside `length`. */
export function cutPoints(cuts: number[], length: number): number[] {
  return [...new Set(cuts.map((c) => c % (length + 1)))].sort((a, b) => a - b);
}
