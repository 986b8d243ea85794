import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceTracker } from '../../src/state/source-tracker.js';
import { randomSource } from './helpers/random.js';

test('source tracker: random acquires and releases agree with a Map of the same sources', () => {
  const rnd = randomSource('source tracker');
  const capacity = 64;
  const t = new SourceTracker(capacity, 7);
  const model = new Map<string, number>(); // source -> node id
  const pool = Array.from({ length: 100 }, (_, k) => {
    const af = k % 3 === 0 ? 6 : 4;
    return { af, words: af === 4 ? Uint32Array.of(0x0a000000 + k, 0, 0, 0) : Uint32Array.of(0x20010db8, 0, k, 1) };
  });
  for (let step = 0; step < 20000; step++) {
    const k = Math.floor(rnd() * pool.length);
    const { af, words } = pool[k]!;
    const key = `${af}/${k}`;
    if (rnd() < 0.55) {
      const id = t.acquire(af, words);
      if (model.has(key)) assert.equal(id, model.get(key), 'the same source finds its node');
      else if (model.size === capacity) assert.equal(id, -1, 'no node when all are taken');
      else {
        assert.ok(id >= 0 && ![...model.values()].includes(id), 'a fresh node id');
        model.set(key, id);
      }
      if (id >= 0) t.states[id]!++;
    } else if (model.has(key)) {
      const id = model.get(key)!;
      if (--t.states[id]! === 0) {
        t.release(id);
        model.delete(key);
      } else t.release(id); // still referenced: stays
    }
    assert.equal(t.size, model.size);
  }
  for (const [key, id] of model) {
    const k = Number(key.split('/')[1]);
    assert.deepEqual([...t.address(id)], [...pool[k]!.words]);
    assert.equal(t.af[id], pool[k]!.af);
  }
});

test('source tracker: a node that still holds states is not released', () => {
  const t = new SourceTracker(4, 1);
  const id = t.acquire(4, [0x0a000001, 0, 0, 0]);
  t.states[id] = 1;
  t.release(id);
  assert.equal(t.acquire(4, [0x0a000001, 0, 0, 0]), id);
  assert.equal(t.size, 1);
});
