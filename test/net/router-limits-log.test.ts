// Limits reached are an operator's event: when `set limit states` (or a
// rule's max) refuses new states, the daemon says so in its log, once a
// second at most, with how many were refused and why.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { sleep, Topology } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  await topo.startDaemon(topo.writeRules('set limit states 6\nblock all\npass in on lan proto udp\npass out on wan\n'));
});

after(async () => {
  await topo?.destroy();
});

test('refused states are logged with their reason', { skip: skip ?? false }, async () => {
  const results = [];
  for (let k = 0; k < 6; k++) results.push((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000')).ok);
  assert.deepEqual(
    results.filter(Boolean).length,
    3,
    `three flows fit the limit (a state in on lan and one out on wan each): ${results}`,
  );
  await sleep(1500);
  const lines = topo.daemonLog
    .join('')
    .split('\n')
    .filter((l) => l.includes('state limits reached'));
  assert.ok(lines.length > 0, `the limit is logged:\n${topo.daemonLog.join('').slice(-2000)}`);
  const logged = lines.map((l) => JSON.parse(l) as { level: number; refused: Record<string, number>; limit: number });
  const j = logged[0]!;
  assert.equal(j.level, 40, 'a warning');
  assert.ok(logged.reduce((n, x) => n + (x.refused['state-limit'] ?? 0), 0) >= 3, JSON.stringify(logged));
  assert.equal(j.limit, 6);
});
