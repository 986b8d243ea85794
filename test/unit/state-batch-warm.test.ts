// Warming a batch changes no result: lookups after warm() find exactly what they find without it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildUdp } from '../../src/packet/build.js';
import { ANY_DIRECTION, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { Flow } from './helpers/flow.js';

test('warm() then lookup() finds the same states', () => {
  const f = new Flow('pass all');
  for (let k = 0; k < 500; k++) f.send(buildUdp({ src: '10.0.0.1', dst: '10.0.1.1', sport: 1000 + k, dport: 53 }));
  const batch = Array.from({ length: 64 }, (_, k) => {
    const m = new PacketMeta();
    const p = buildUdp({ src: '10.0.1.1', dst: '10.0.0.1', sport: 53, dport: 1000 + k * 9 });
    parsePacket(p, 0, p.length, m);
    return m;
  });
  const s = f.states;
  const cold = batch.map((m) => s.lookup(m, ANY_DIRECTION, -1, f.now));
  s.warm(batch, batch.length);
  const warm = batch.map((m) => s.lookup(m, ANY_DIRECTION, -1, f.now));
  assert.deepEqual(warm, cold);
  assert.equal(cold.filter((i) => i >= 0).length, 56, 'ports 1000..1495 exist, the rest do not');
});
