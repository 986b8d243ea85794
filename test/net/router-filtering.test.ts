// tunpf run as a router between two namespaces: traffic passes or is blocked
// exactly as the ruleset says, checked by what arrives at the far end; replies
// pass through state; stopping leaves the router's rules and routes as they were.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { Topology } from './helpers/topology.js';

const skip = netTestsUnavailable();

const RULES = `
block all
pass in on lan proto tcp from 10.1.0.0/24 to any port { 7000 7001 }
pass in on lan proto udp from 10.1.0.0/24 to any port 7000
pass in on lan inet6 proto tcp from fd01::/64 to any port 7000
block return in on lan proto tcp from 10.1.0.0/24 to any port 7002
pass in on lan inet proto icmp icmp-type echoreq
pass in on lan inet6 proto icmp6 icmp6-type echoreq
pass out on wan all
`;

let topo: Topology;
let before_: ReturnType<Topology['routerSnapshot']>;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  before_ = topo.routerSnapshot();
  await topo.startDaemon(topo.writeRules(RULES));
});

after(async () => {
  await topo?.destroy();
});

test('TCP to an allowed port passes both ways (the replies through state)', { skip: skip ?? false }, async () => {
  assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '100000'), { ok: true, received: 100000 });
  assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7001', '1000'), { ok: true, received: 1000 });
});

test(
  'TCP to a port the rules do not allow is blocked; block return answers with a RST',
  { skip: skip ?? false },
  async () => {
    // the server listens on 7002, so a refusal can only come from tunpf's RST
    assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7002', '10'), {
      ok: false,
      reason: 'ECONNREFUSED',
    });
    assert.deepEqual(
      await topo.probe(topo.client, 'tcp', '10.2.0.2', '7010', '10'),
      { ok: false, reason: 'timeout' },
      'block all drops quietly',
    );
  },
);

test('UDP passes where allowed', { skip: skip ?? false }, async () => {
  assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000')).ok, true);
  assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7001')).ok, false);
});

test('IPv6 TCP passes where allowed', { skip: skip ?? false }, async () => {
  assert.deepEqual(await topo.probe(topo.client, 'tcp', 'fd02::2', '7000', '5000'), { ok: true, received: 5000 });
  assert.equal((await topo.probe(topo.client, 'tcp', 'fd02::2', '7001', '10')).ok, false);
});

function pings(from: Topology['client'], host: string): boolean {
  try {
    from.exec('ping', '-c', '1', '-W', '1', host);
    return true;
  } catch {
    return false;
  }
}

test(
  'ICMP echo passes out and its replies come back through state; echo from outside is blocked',
  { skip: skip ?? false },
  () => {
    assert.equal(pings(topo.client, '10.2.0.2'), true);
    assert.equal(pings(topo.client, 'fd02::2'), true);
    assert.equal(pings(topo.server, '10.1.0.2'), false);
    assert.equal(pings(topo.server, 'fd01::2'), false);
  },
);

test('an unsolicited connection from outside is blocked', { skip: skip ?? false }, async () => {
  assert.equal((await topo.probe(topo.server, 'tcp', '10.1.0.2', '7000', '10')).ok, false);
});

test('stop (SIGTERM) removes every rule, route and link tunpf added', { skip: skip ?? false }, async () => {
  assert.equal(await topo.stopDaemon('SIGTERM'), 0, topo.daemonLog.join(''));
  assert.deepEqual(topo.routerSnapshot(), before_);
});
