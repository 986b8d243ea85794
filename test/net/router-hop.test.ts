// The router counts as one hop: the kernel decrements the TTL on the way into
// the TUN and again on the way out, and tunpf gives one back.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { Topology } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  await topo.startDaemon(topo.writeRules('pass all\n'));
});

after(async () => {
  await topo?.destroy();
});

test(
  'a packet with TTL 2 crosses the router, one with TTL 1 does not (as with a plain router)',
  { skip: skip ?? false },
  async () => {
    assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000', '2')).ok, true);
    assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000', '1')).ok, false);
    assert.equal((await topo.probe(topo.client, 'udp', 'fd02::2', '7000', '2')).ok, true, 'IPv6 hop limit too');
    assert.equal((await topo.probe(topo.client, 'udp', 'fd02::2', '7000', '1')).ok, false);
  },
);
