/**
 * Settings of the fuzz tests: a few hundred runs in `npm test`, many more in
 * `npm run fuzz` (HYBI_FUZZ_RUNS), always with a seed that is printed so a
 * failure can be replayed with HYBI_FUZZ_SEED.
 */
import process from "node:process";

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
