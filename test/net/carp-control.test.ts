// CARP through the control socket: `tunpf ctl show carp` reports each
// group's role, timers, addresses and counters (never the passphrase);
// `carp demote` makes a master hand every group to its peer at once, and
// `carp promote` (with preempt) takes them back; the metrics show the roles.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { ctl, ctlJson } from './helpers/ctl.js';
import type { CarpDemoteResult, ShowCarpResult } from '../../src/control/results.js';
import { HaTopology, LAN_VIP, WAN_VIP, type RouterNode } from './helpers/ha-topology.js';
import { sleep } from './helpers/topology.js';

const skip = netTestsUnavailable();
let t: HaTopology;

before(async () => {
  if (skip) return;
  t = await HaTopology.create({ advbase: 0, advskew: [50, 100], preempt: true });
  await t.start(t.r1, ['--metrics', '127.0.0.1:9180']);
  await t.start(t.r2);
  await t.until('r1 master', () => t.owns(t.r1, LAN_VIP) && t.owns(t.r1, WAN_VIP));
});

after(async () => {
  await t?.destroy();
});

const roles = async (r: RouterNode) =>
  Object.fromEntries((await ctlJson<ShowCarpResult>(r.ns, 'show', 'carp')).groups.map((g) => [g.name, g.state]));

test(
  'show carp: roles, timers, addresses and counters, in a table and as JSON, without the passphrase',
  { skip: skip ?? false },
  async () => {
    await sleep(1500); // a few advertisements each way
    const s = await ctlJson<ShowCarpResult>(t.r1.ns, 'show', 'carp');
    assert.equal(s.demote, 0);
    const lan = s.groups.find((g) => g.name === 'carp-lan')!;
    assert.deepEqual(
      {
        state: lan.state,
        vhid: lan.vhid,
        carpdev: lan.carpdev,
        advbase: lan.advbase,
        advskew: lan.advskew,
        preempt: lan.preempt,
        addresses: lan.addresses,
      },
      { state: 'MASTER', vhid: 1, carpdev: 'lan', advbase: 0, advskew: 50, preempt: true, addresses: ['10.1.0.1/24'] },
    );
    assert.ok(lan.counters.sent > 5, JSON.stringify(lan.counters));
    const backupLan = (await ctlJson<ShowCarpResult>(t.r2.ns, 'show', 'carp')).groups.find(
      (g) => g.name === 'carp-lan',
    )!;
    assert.ok(backupLan.counters.accepted > 5, `the backup hears the master: ${JSON.stringify(backupLan.counters)}`);
    assert.deepEqual(await roles(t.r2), { 'carp-lan': 'BACKUP', 'carp-wan': 'BACKUP' });
    const human = await ctl(t.r1.ns, 'show', 'carp');
    assert.equal(human.code, 0);
    assert.match(human.stdout, /carp-lan/);
    assert.match(human.stdout, /MASTER/);
    for (const out of [human.stdout, JSON.stringify(s)]) assert.doesNotMatch(out, /lan-secret/);
  },
);

test(
  'carp demote hands every group to the peer at once; carp promote takes them back',
  { skip: skip ?? false },
  async () => {
    const d = await ctlJson<CarpDemoteResult>(t.r1.ns, 'carp', 'demote');
    assert.equal(d.demote, 1);
    await t.until(
      'r2 takes both groups',
      () => t.owns(t.r2, LAN_VIP) && t.owns(t.r2, WAN_VIP) && !t.owns(t.r1, LAN_VIP) && !t.owns(t.r1, WAN_VIP),
      3000,
    );
    assert.deepEqual(await roles(t.r1), { 'carp-lan': 'BACKUP', 'carp-wan': 'BACKUP' });
    assert.deepEqual((await ctlJson<ShowCarpResult>(t.r1.ns, 'show', 'carp')).demoteReasons, { admin: 1 });
    const p = await ctlJson<CarpDemoteResult>(t.r1.ns, 'carp', 'promote');
    assert.equal(p.demote, 0);
    await t.until(
      'r1 takes them back',
      () => t.owns(t.r1, LAN_VIP) && t.owns(t.r1, WAN_VIP) && !t.owns(t.r2, LAN_VIP),
      3000,
    );
    assert.deepEqual(await roles(t.r1), { 'carp-lan': 'MASTER', 'carp-wan': 'MASTER' });
    const bad = await ctl(t.r1.ns, 'carp', 'demote', '300');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /1\.\.255/);
  },
);

test('metrics: the role of each group and the advertisement counters', { skip: skip ?? false }, async () => {
  const body = (
    JSON.parse((await runInNetns(t.r1.ns, 'http-get', ['http://127.0.0.1:9180/metrics'])).stdout.trim()) as {
      body: string;
    }
  ).body;
  assert.match(body, /tunpf_carp_state\{group="carp-lan",vhid="1",carpdev="lan",state="MASTER"\} 1/);
  assert.match(body, /tunpf_carp_state\{group="carp-lan",vhid="1",carpdev="lan",state="BACKUP"\} 0/);
  assert.match(body, /tunpf_carp_advertisements_sent_total\{group="carp-wan",vhid="2",carpdev="wan"\} \d+/);
  assert.match(body, /tunpf_carp_demote 0/);
});
