/**
 * mulberry32: a tiny seeded PRNG (32-bit state), the same generator the demo dataset uses.
 * Returns floats in [0, 1); the same seed gives the same sequence on every platform.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** k distinct indices from [0, n) (partial Fisher-Yates), in draw order. */
export function sampleIndices(n: number, k: number, random: () => number, exclude?: number): number[] {
  const pool = [...Array(n).keys()].filter((index) => index !== exclude);
  const count = Math.min(k, pool.length);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count);
}
