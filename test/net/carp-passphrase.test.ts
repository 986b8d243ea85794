// A node with the wrong passphrase never takes part: its advertisements fail
// the HMAC check and are dropped and counted, so even with a better advskew
// and preempt it cannot take the group over, and the master stays master.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { HaTopology, LAN_VIP } from './helpers/ha-topology.js';
import { sleep } from './helpers/topology.js';

const skip = netTestsUnavailable();
let t: HaTopology;

before(async () => {
  if (skip) return;
  // r2 would win (lower advskew, preempt) if its advertisements counted
  t = await HaTopology.create({
    advbase: 0,
    advskew: [100, 10],
    preempt: true,
    pass: ['right-secret', 'wrong-secret'],
  });
  await t.start(t.r1);
  await t.until('r1 master', () => t.owns(t.r1, LAN_VIP));
  await t.start(t.r2);
});

after(async () => {
  await t?.destroy();
});

test(
  'the master ignores a peer with the wrong passphrase, and counts its advertisements as bad-auth',
  { skip: skip ?? false },
  async () => {
    await sleep(3000);
    const log = t.r1.log.join('');
    assert.equal((log.match(/"msg":"carp carp-lan is MASTER"/g) ?? []).length, 1, 'r1 became master once');
    assert.equal(
      (log.match(/"msg":"carp carp-lan is BACKUP"/g) ?? []).length,
      1,
      'and was backup only at its start, never stepped down',
    );
    assert.equal(t.lastState(t.r1, 'carp-lan'), 'MASTER');
    assert.ok(t.owns(t.r1, LAN_VIP));
    const c = await t.counters(t.r1);
    const lan = c.carp!.groups.find((g) => g.name === 'carp-lan')!;
    assert.ok(
      lan.counters.dropped['bad-auth'] >= 5,
      `r2's advertisements are dropped as bad-auth: ${JSON.stringify(lan.counters)}`,
    );
    assert.equal(lan.counters.accepted, 0, 'none of them was acted on');
    // and r2 likewise drops r1's
    const c2 = await t.counters(t.r2);
    assert.ok(c2.carp!.groups[0].counters.dropped['bad-auth'] >= 5);
  },
);
