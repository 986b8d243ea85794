// The reader-thread wakeup (`tunpf run --wakeup thread`), the alternative to
// the default libuv poll that bench:net measures against it: it forwards
// what the rules pass, both families, drops what they block, and stops
// cleanly (its thread joined, no TUN left).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { Topology } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  await topo.startDaemon(topo.writeRules('block all\npass proto tcp to port 7000\npass proto udp to port 7000\n'), [
    '--wakeup',
    'thread',
  ]);
});

after(async () => {
  await topo?.destroy();
});

test(
  'with the reader thread, passed flows arrive (TCP 1 MB, UDP, IPv6) and blocked ones do not',
  { skip: skip ?? false },
  async () => {
    assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '1000000'), {
      ok: true,
      received: 1000000,
    });
    assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000')).ok, true);
    assert.deepEqual(await topo.probe(topo.client, 'tcp', 'fd02::2', '7000', '100000'), { ok: true, received: 100000 });
    assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7001', '10'), { ok: false, reason: 'timeout' });
  },
);

test('with the reader thread, SIGTERM stops the daemon and removes its TUNs', { skip: skip ?? false }, async () => {
  const code = await topo.stopDaemon('SIGTERM');
  assert.equal(code, 0);
  assert.doesNotMatch(topo.router.exec('ip', '-o', 'link', 'show'), /tpf-/);
});
