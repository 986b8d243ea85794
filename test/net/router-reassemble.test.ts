// set reassemble through the router: a UDP datagram larger than the MTU
// (fragmented by its sender) crosses `block all` + `pass proto udp to port
// 7000` whole, both ways (the echo comes back fragmented by the server, and
// its later fragments follow the state), IPv4 and IPv6; with `set reassemble
// no` later fragments match no rule with a port, as in pf, and the datagram
// is lost.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tunpfIn } from './helpers/ctl.js';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { topologyWithRules } from './helpers/topology.js';

const skip = netTestsUnavailable();

const RULES = `
block all
pass proto udp to port 7000
pass inet6 proto icmp6
`;

const topo = topologyWithRules(RULES, skip ?? null);

async function bigUdp(host: string, bytes: number): Promise<{ ok: boolean; received?: number; same?: boolean }> {
  const r = await runInNetns(topo().client, 'big-udp', [host, '7000', String(bytes)]);
  return JSON.parse(r.stdout.trim().split('\n').pop() || '{"ok":false}');
}

for (const host of ['10.2.0.2', 'fd02::2']) {
  test(
    `set reassemble yes (default): a ${host} datagram of 4000 bytes arrives whole`,
    { skip: skip ?? false },
    async () => {
      assert.deepEqual(await bigUdp(host, 4000), { ok: true, received: 4000, same: true });
      // 21 fragments and more: the joined IPv4 datagram is far above the TUN's MTU
      assert.deepEqual(await bigUdp(host, 30000), { ok: true, received: 30000, same: true });
    },
  );
}

test('ctl show info counts the reassembled datagrams; nothing stays held', { skip: skip ?? false }, async () => {
  const r = await tunpfIn(topo().router, ['ctl', '--json', 'show', 'info']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  // two datagrams each way per family
  assert.ok(info.fragments.reassembled >= 8, r.stdout);
  assert.equal(info.fragments.held, 0);
});

test(
  'set reassemble no: the later fragments match no rule with a port, the datagram is lost',
  { skip: skip ?? false },
  async () => {
    await topo().stopDaemon();
    await topo().startDaemon(topo().writeRules(`set reassemble no\n${RULES}`, 'no-reassemble.conf'));
    assert.equal((await bigUdp('10.2.0.2', 4000)).ok, false);
    assert.equal((await bigUdp('fd02::2', 4000)).ok, false);
    // a datagram that needs no fragments still passes
    assert.deepEqual(await bigUdp('10.2.0.2', 1000), { ok: true, received: 1000, same: true });
  },
);
