// The system clock: epoch seconds (so its readings are dates) that never step back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochMs, systemClock } from '../../src/os/clock.js';

test('the system clock reads epoch seconds, never going backwards', () => {
  const clock = systemClock();
  const first = clock();
  assert.ok(Math.abs(first - Date.now() / 1000) < 1, `${first} is the epoch time in seconds`);
  let last = first;
  for (let k = 0; k < 10_000; k++) {
    const t = clock();
    assert.ok(t >= last, 'monotonic');
    last = t;
  }
});

test('epochMs: a reading in whole ms', () => {
  assert.equal(
    epochMs(() => 1700000000.0125),
    1700000000013,
  );
});
