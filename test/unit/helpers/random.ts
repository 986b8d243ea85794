// A seeded PRNG for randomised tests: the seed is printed, and TEST_SEED=<n>
// replays a failure.

export function randomSource(name: string): () => number {
  let seed = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 0x7fffffff)) >>> 0;
  console.log(`# ${name}: TEST_SEED=${seed}`);
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
