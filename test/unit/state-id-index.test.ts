// The state table's second index: states found by their pfsync identity
// (creator, 64-bit id) in O(1), kept right through insert, remove and clear.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StateTable } from '../../src/state/state-table.js';
import { randomSource } from './helpers/random.js';

const SEEDS = Uint32Array.of(11, 22, 33);
/** When the tables start, in the tests' time. */
const START = 0x6744d0a1;
const w = (x: number) => Uint32Array.of(x >>> 0, 0, 0, 0);
const key = (c: number, hi: number, lo: number) => (BigInt(c) << 64n) | (BigInt(hi) << 32n) | BigInt(lo);

test('local states get ids start-seconds:counter under our hostid, and are found by them', () => {
  const t = new StateTable({ capacity: 100, hostid: 0xabcdef01, startSeconds: 0x6744d0a1, seeds: SEEDS });
  const idx: number[] = [];
  for (let k = 0; k < 50; k++) idx.push(t.insert(4, 6, w(0x0a000000 + k), 1000 + k, w(0xc0000250), 443));
  idx.forEach((i, k) => {
    assert.equal(t.creator[i], 0xabcdef01);
    assert.equal(t.idHi[i], 0x6744d0a1);
    assert.equal(t.idLo[i], k + 1);
    assert.equal(t.findById(0xabcdef01, 0x6744d0a1, k + 1), i);
  });
  assert.equal(t.findById(0xabcdef01, 0x6744d0a1, 51), -1);
  assert.equal(t.findById(0xabcdef02, 0x6744d0a1, 1), -1, 'another creator');
  assert.equal(t.findById(0xabcdef01, 0x6744d0a2, 1), -1, 'another high word');
});

test('insertWithId keeps the identity, refuses a taken identity, a known flow and a full table', () => {
  const t = new StateTable({ capacity: 2, startSeconds: START, hostid: 1, seeds: SEEDS });
  const a = t.insertWithId(4, 17, w(1), 53, w(2), 53, 0xff, 0x1d2c3b4a, 0x6744d0a1, 7);
  assert.ok(a >= 0);
  assert.deepEqual([t.creator[a], t.idHi[a], t.idLo[a]], [0x1d2c3b4a, 0x6744d0a1, 7]);
  assert.equal(t.findById(0x1d2c3b4a, 0x6744d0a1, 7), a);
  assert.equal(t.insertWithId(4, 17, w(3), 53, w(4), 53, 0xff, 0x1d2c3b4a, 0x6744d0a1, 7), -3, 'identity taken');
  assert.equal(
    t.insertWithId(4, 17, w(2), 53, w(1), 53, 0xff, 0x1d2c3b4a, 0x6744d0a1, 8),
    -2,
    'flow known (reverse direction)',
  );
  assert.equal(t.count, 1, 'refusals leave nothing behind');
  assert.ok(t.insertWithId(4, 17, w(3), 53, w(4), 53, 0xff, 0x1d2c3b4a, 0x6744d0a1, 8) >= 0);
  assert.equal(t.insertWithId(4, 17, w(5), 53, w(6), 53, 0xff, 0x1d2c3b4a, 0x6744d0a1, 9), -1, 'full');
  // signed and unsigned spellings of the same words find the same state
  assert.ok(t.findById(0x1d2c3b4a, 0x6744d0a1, 8) >= 0);
  assert.equal(t.findById(0x1d2c3b4a | 0, 0x6744d0a1 | 0, 8), t.findById(0x1d2c3b4a, 0x6744d0a1, 8));
});

test('remove and clear keep the id index exact', () => {
  const t = new StateTable({ capacity: 64, startSeconds: START, hostid: 5, seeds: SEEDS });
  const ids: number[] = [];
  for (let k = 0; k < 64; k++) ids.push(t.insertWithId(4, 6, w(k), 1, w(1000), 2, 0xff, 9, 0, k * 7919));
  for (let k = 0; k < 64; k += 2) t.remove(ids[k]!);
  for (let k = 0; k < 64; k++) assert.equal(t.findById(9, 0, k * 7919), k % 2 ? ids[k] : -1, `id ${k}`);
  // a freed slot is reused under a new identity; the old identity stays gone
  const again = t.insertWithId(4, 6, w(5000), 1, w(1000), 2, 0xff, 9, 1, 1);
  assert.equal(t.findById(9, 1, 1), again);
  assert.equal(t.findById(9, 0, t.idLo[again]!), -1);
  assert.equal(t.clear(), 33);
  for (let k = 0; k < 64; k++) assert.equal(t.findById(9, 0, k * 7919), -1);
  assert.equal(t.findById(9, 1, 1), -1);
  const i = t.insert(4, 6, w(1), 1, w(2), 2);
  assert.equal(t.findById(5, t.idHi[i]!, t.idLo[i]!), i);
});

test('identities that share a home slot (and wrap round the end) stay findable through removals', () => {
  const t = new StateTable({ capacity: 12, startSeconds: START, hostid: 5, seeds: SEEDS }); // 16 slots
  const home = (c: number, hi: number, lo: number) => Math.floor((t.idHash(c, hi, lo) / 4294967296) * t.idSlots);
  // ids whose home is the last slot, so their chain runs round to slot 0
  const last: number[] = [];
  for (let lo = 0; last.length < 6; lo++) if (home(77, 0, lo) === t.idSlots - 1) last.push(lo);
  const states = last.map((lo, k) => t.insertWithId(4, 6, w(k), 1, w(100), 2, 0xff, 77, 0, lo));
  assert.ok(states.every((i) => i >= 0));
  for (const [k, lo] of last.entries()) assert.equal(t.findById(77, 0, lo), states[k]);
  assert.ok(t.lastIdProbes >= 6, 'the last one sits at the end of a six-long chain');
  // removing from the front and middle of the chain must not cut the rest off
  t.remove(states[0]!);
  t.remove(states[3]!);
  for (const [k, lo] of last.entries()) assert.equal(t.findById(77, 0, lo), k === 0 || k === 3 ? -1 : states[k]);
  t.remove(states[5]!);
  t.remove(states[1]!);
  assert.equal(t.findById(77, 0, last[2]!), states[2]);
  assert.equal(t.findById(77, 0, last[4]!), states[4]);
  assert.ok(t.lastIdProbes <= 2, 'the chain shrank back');
});

test('random churn: the id index agrees with a reference map', () => {
  const rnd = randomSource('state-id-index churn');
  const cap = 2000;
  const t = new StateTable({
    capacity: cap,
    startSeconds: START,
    hostid: 0x42,
    seeds: Uint32Array.of(rnd() * 2 ** 32, rnd() * 2 ** 32, rnd() * 2 ** 32),
  });
  const model = new Map<bigint, number>();
  let flow = 0;
  for (let step = 0; step < 30000; step++) {
    const r = rnd();
    if (r < 0.45 && t.count < cap) {
      // a peer's state with a random identity, or one of ours
      const i =
        rnd() < 0.5
          ? t.insertWithId(
              4,
              6,
              w(flow),
              1,
              w(0xffff),
              2,
              0xff,
              (rnd() * 4) >>> 0 || 1,
              (rnd() * 3) >>> 0,
              (rnd() * 2 ** 32) >>> 0,
            )
          : t.insert(4, 6, w(flow), 1, w(0xffff), 2);
      flow++;
      if (i >= 0) model.set(key(t.creator[i]!, t.idHi[i]!, t.idLo[i]!), i);
    } else if (r < 0.9 && model.size > 0) {
      const entries = [...model.entries()];
      const [k, i] = entries[(rnd() * entries.length) | 0]!;
      t.remove(i);
      model.delete(k);
    } else if (r < 0.9005) {
      t.clear();
      model.clear();
    }
  }
  assert.equal(t.count, model.size);
  for (const [k, i] of model) {
    const c = Number(k >> 64n);
    const hi = Number((k >> 32n) & 0xffffffffn);
    const lo = Number(k & 0xffffffffn);
    assert.equal(t.findById(c, hi, lo), i);
  }
  // and nothing else is found
  for (let k = 0; k < 2000; k++) {
    const c = (k % 4) + 1;
    const lo = (k * 2654435761) >>> 0;
    if (!model.has(key(c, 0, lo))) assert.equal(t.findById(c, 0, lo), -1);
  }
});

test('lookups by id stay short at full load', () => {
  const n = 100_000;
  const t = new StateTable({ capacity: n, startSeconds: START, hostid: 3 });
  for (let k = 0; k < n; k++) t.insert(4, 6, w(k), 1, w(0xffffff), 2);
  let probes = 0;
  for (let k = 1; k <= n; k++) {
    assert.ok(t.findById(3, t.startSeconds, k) >= 0);
    probes += t.lastIdProbes;
  }
  assert.ok(probes / n < 3, `${(probes / n).toFixed(2)} probes per lookup`);
});
