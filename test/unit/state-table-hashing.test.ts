// The table's index: randomised inserts and deletes against a Map, and hash
// flooding: keys built to collide under a plain hash still spread.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateTable } from '../../src/state/state-table.js';
import { randomSource } from './helpers/random.js';

const w = (a: number) => Uint32Array.of(a >>> 0, 0, 0, 0);
/** When the tables start, in the tests' time. */
const START = 0x6744d0a1;

test('randomised insert / find / remove agrees with a Map (backward-shift deletion keeps chains whole)', () => {
  const rnd = randomSource('state-table');
  const t = new StateTable({ capacity: 3000, startSeconds: START, seeds: Uint32Array.of(rnd() * 2 ** 32, 7, 9) });
  const ref = new Map<string, number>();
  const key = (a: number, b: number, sp: number, dp: number) => `${a}/${b}/${sp}/${dp}`;
  for (let step = 0; step < 60000; step++) {
    const a = 0x0a000000 + Math.floor(rnd() * 64);
    const b = 0x0a000100 + Math.floor(rnd() * 64);
    const sp = Math.floor(rnd() * 16);
    const dp = 80;
    const k = key(a, b, sp, dp);
    const op = rnd();
    if (op < 0.45) {
      const i = t.insert(4, 6, w(a), sp, w(b), dp);
      if (ref.size >= 3000) assert.equal(i, -1);
      else if (ref.has(k) || ref.has(key(b, a, dp, sp))) assert.equal(i, -2);
      else {
        assert.ok(i >= 0);
        ref.set(k, i);
      }
    } else if (op < 0.75) {
      const i = ref.get(k);
      if (i !== undefined) {
        t.remove(i);
        ref.delete(k);
      }
    } else {
      const i = t.find(4, 6, w(b), dp, w(a), sp); // the reverse direction finds it too
      assert.equal(i, ref.get(k) ?? -1);
      if (i >= 0) assert.equal(t.forward, false);
    }
    assert.equal(t.count, ref.size);
  }
  for (const [k, i] of ref) {
    const [a, b, sp, dp] = k.split('/').map(Number) as [number, number, number, number];
    assert.equal(t.find(4, 6, w(a), sp, w(b), dp), i);
    assert.equal(t.forward, true);
  }
});

test('hash flooding: keys that collide under an unseeded hash still spread under the seeded one', () => {
  // An attacker who knows a fixed hash (here: the sum of address words and ports, the
  // kind of symmetric hash a naive table uses) picks flows that all land in one bucket.
  const naive = (a: number, b: number, sp: number, dp: number) => (a + b + sp + dp) >>> 0;
  const flows: [number, number, number, number][] = [];
  for (let k = 0; k < 20000; k++) {
    const sp = 1024 + k;
    flows.push([0xc0000201, (0x0a000000 + 20000 - k) >>> 0, sp, 80]); // a + b + sp constant
  }
  const buckets = new Set(flows.map(([a, b, sp, dp]) => naive(a, b, sp, dp)));
  assert.equal(buckets.size, 1, 'every flow collides under the naive hash');
  const t = new StateTable({ capacity: 20000, startSeconds: START });
  for (const [a, b, sp, dp] of flows) assert.ok(t.insert(4, 6, w(a), sp, w(b), dp) >= 0);
  let probes = 0;
  let worst = 0;
  for (const [a, b, sp, dp] of flows) {
    assert.ok(t.find(4, 6, w(b), dp, w(a), sp) >= 0);
    probes += t.lastProbes;
    worst = Math.max(worst, t.lastProbes);
  }
  const mean = probes / flows.length;
  assert.ok(mean < 3, `mean probes ${mean.toFixed(2)} stays near 1 (a flooded table would need ~10,000)`);
  assert.ok(worst < 1000, `worst probe chain ${worst} (a flooded chain would be 20,000 long)`);
});

test('two tables hash the same flows differently (the seed is random)', () => {
  const a = new StateTable({ capacity: 16, startSeconds: START });
  const b = new StateTable({ capacity: 16, startSeconds: START });
  let same = 0;
  for (let k = 0; k < 64; k++)
    if (a.hash(4, 6, w(k), 0, 1, w(k + 1), 0, 2) === b.hash(4, 6, w(k), 0, 1, w(k + 1), 0, 2)) same++;
  assert.ok(same < 2);
});

// 125 bytes of state and flow index, 36 of stack key and 5.3 of flow index for it, 5.3 for the pfsync id index,
// 2 of route (route-to) and 2 of scrub profile
test('memory per state stays within 180 bytes at a million states', () => {
  const t = new StateTable({ capacity: 1_000_000, startSeconds: START });
  const perState = t.memoryBytes / t.capacity;
  assert.ok(perState <= 180, `${perState.toFixed(1)} bytes per state`);
});
