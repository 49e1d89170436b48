/**
 * Deterministic pseudo-random bytes (xorshift32), so every runtime and every
 * run sees the same input. Shared by the tests and the micro benchmarks.
 */
export function seededBytes(n: number, seed: number = 0x9e3779b9): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Valid UTF-8 text of exactly `n` bytes made of `vocabulary` (encoded words),
 * chosen by `picks` seeded bytes in turn; the tail that no word fits is `.`s.
 * Compresses like prose.
 */
export function wordText(
  n: number,
  seed: number,
  vocabulary: readonly Uint8Array[],
  picks: number = n,
): Uint8Array<ArrayBuffer> {
  const pick = seededBytes(picks, seed);
  const out = new Uint8Array(n);
  let at = 0;
  for (let i = 0; at < n; i++) {
    const w = vocabulary[pick[i % picks] % vocabulary.length];
    if (at + w.length > n) {
      out.fill(0x2e, at);
      break;
    }
    out.set(w, at);
    at += w.length;
  }
  return out;
}

/** A seeded random block of `block` bytes repeated to `n` bytes: compresses only with a window larger than the block. */
export function repeatedBlock(n: number, block: number, seed: number): Uint8Array<ArrayBuffer> {
  const b = seededBytes(block, seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += block) out.set(b.subarray(0, Math.min(block, n - i)), i);
  return out;
}
