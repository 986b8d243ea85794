// The lab's plan: every command it runs stays inside its own namespaces, the
// hosts route through the CARP addresses, and the HA files it writes are
// valid, consistent between the routers, and the ones shipped in rules/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseHaConfig } from '../../src/daemon/ha-config.js';
import {
  advertInterval,
  buildCommands,
  CARP_GROUPS,
  commandNamespace,
  LAB,
  LAB_PREFIX,
  labHaConfig,
  masterDown,
  netnsOf,
  NODES,
  ROUTERS,
  TIMINGS,
} from '../../src/lab/lab-plan.js';

const root = fileURLToPath(new URL(import.meta.url.endsWith('.js') ? '../../../' : '../../', import.meta.url));

test('every command acts inside a lab namespace, and a veth peer goes into one too', () => {
  const cmds = buildCommands();
  assert.ok(cmds.length > 40);
  for (const c of cmds) {
    assert.equal(c[0], 'ip', c.join(' '));
    const ns = commandNamespace(c);
    assert.ok(ns && ns.startsWith(LAB_PREFIX), `runs outside the lab: ${c.join(' ')}`);
    const peer = c.indexOf('netns', 2);
    if (c.includes('veth'))
      assert.ok(peer > 0 && c[peer + 1]!.startsWith(LAB_PREFIX), `a veth end outside the lab: ${c.join(' ')}`);
  }
});

test('the namespaces are made first, one per node, before anything uses them', () => {
  const cmds = buildCommands();
  const adds = cmds.filter((c) => c[1] === 'netns' && c[2] === 'add').map((c) => c[3]);
  assert.deepEqual(adds, NODES.map(netnsOf));
  const firstUse = cmds.findIndex((c) => !(c[1] === 'netns' && c[2] === 'add'));
  assert.equal(firstUse, NODES.length);
});

test('the client routes through the gateway (CARP) addresses, the server in IPv6 only (the LAN is NATed)', () => {
  const cmds = buildCommands().map((c) => c.join(' '));
  for (const [node, side] of [
    ['client', 'lan'],
    ['server', 'wan'],
  ] as const)
    assert.ok(cmds.includes(`ip -n ${netnsOf(node)} -6 route add default via ${LAB[side].vip6}`));
  assert.ok(cmds.includes(`ip -n ${netnsOf('client')} route add default via ${LAB.lan.vip4}`));
  // the office's IPv4 network is private: only the gateway's translation lets the server answer
  assert.ok(!cmds.some((c) => c.startsWith(`ip -n ${netnsOf('server')} route add`)), 'no IPv4 route on the server');
  for (const side of ['lan', 'wan'] as const) {
    for (const vip of [LAB[side].vip4, LAB[side].vip6])
      assert.ok(!cmds.some((c) => c.includes(`addr add ${vip}/`)), `${vip} is CARP's to install`);
  }
});

test('routers keep their IPv6 addresses across a link flap (keep_addr_on_down)', () => {
  const cmds = buildCommands().map((c) => c.join(' '));
  for (const r of ROUTERS)
    for (const dev of ['lan', 'wan'])
      assert.ok(cmds.some((c) => c.includes(netnsOf(r)) && c.includes(`net/ipv6/conf/${dev}/keep_addr_on_down`)));
});

for (const [name, t] of Object.entries(TIMINGS)) {
  test(`HA files (${name} timing): valid, both groups on both routers, pfsync to each other over sync`, () => {
    const parsed = ROUTERS.map((r) => parseHaConfig(labHaConfig(r, t), `${r}.ha`));
    for (const p of parsed) {
      assert.deepEqual(p.diagnostics, []);
      assert.ok(p.config);
    }
    const [c1, c2] = parsed.map((p) => p.config!);
    for (const g of CARP_GROUPS) {
      const [g1, g2] = [c1!, c2!].map((c) => c.carp.find((x) => x.name === g.name)!);
      assert.equal(g1.vhid, g2.vhid);
      assert.equal(g1.carpdev, g.carpdev);
      assert.equal(g1.pass.reveal(), g2.pass.reveal(), 'the same passphrase, or the HMACs differ');
      assert.deepEqual(
        g1.addresses.map((a) => a.address),
        [LAB[g.side].vip4, LAB[g.side].vip6],
      );
      assert.deepEqual(g1.addresses, g2.addresses);
      assert.ok(g1.preempt && g2.preempt);
      assert.ok(g1.advskew < g2.advskew, 'r1 is the preferred master');
    }
    assert.equal(c1!.pfsync!.syncdev, 'sync');
    assert.equal(c1!.pfsync!.syncpeer, LAB.sync.r2);
    assert.equal(c2!.pfsync!.syncpeer, LAB.sync.r1);
    // a demoted or slow r1 must not flap: its master-down outlasts r2's interval
    assert.ok(masterDown(t, 'r1') > advertInterval(t, 'r2'));
  });
}

test('the shipped rules/lab-r1.ha and lab-r2.ha are what the lab writes (normal timing)', () => {
  for (const r of ROUTERS)
    assert.equal(
      readFileSync(`${root}rules/lab-${r}.ha`, 'utf8'),
      labHaConfig(r, TIMINGS.normal),
      `rules/lab-${r}.ha is stale`,
    );
});
