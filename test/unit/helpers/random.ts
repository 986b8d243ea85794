// Seeded PRNGs for randomised tests: the seed comes from TEST_SEED or is
// drawn and printed, so a failure can be replayed with TEST_SEED=<n>.

export function testSeed(): number {
  return Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 0x7fffffff)) >>> 0;
}

/** A deterministic generator of floats in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator seeded from TEST_SEED (or at random), announcing its seed. */
export function randomSource(name: string): () => number {
  const seed = testSeed();
  console.log(`# ${name}: TEST_SEED=${seed}`);
  return seededRandom(seed);
}
