// Uniform 32-bit random numbers for sequence numbers (modulate state,
// synproxy), drawn from the system's CSPRNG a block at a time: one call per
// 256 numbers and no allocation per number.

import { getRandomValues } from 'node:crypto';

export function cryptoRandom32(): () => number {
  const block = new Uint32Array(256);
  let next = block.length;
  return () => {
    if (next === block.length) {
      getRandomValues(block);
      next = 0;
    }
    return block[next++]!;
  };
}
