// CARP and pfsync meet the rules like any packet, as in pf. Two routers with
// CARP on lan and wan and pfsync on their own link: a ruleset that blocks
// `proto carp` in on lan keeps each router from hearing the other there, so
// both become master of the lan group (the wan group is undisturbed), and
// `show carp` and the metrics count the blocked advertisements; the daemon
// warns at start. The same ruleset with `pass on lan proto carp` makes the
// backup step down again. A ruleset that blocks pfsync in on the sync link
// stops the state transfer (counted as `blocked`); passing it restarts it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { ctl, ctlJson } from './helpers/ctl.js';
import type { ShowCarpResult, ShowPfsyncResult, ShowStatesResult } from '../../src/control/results.js';
import { HA_RULES, HaTopology, SERVER, type RouterNode } from './helpers/ha-topology.js';
import { sleep } from './helpers/topology.js';

const skip = netTestsUnavailable();
let t: HaTopology;

const BLOCK_CARP_LAN = `${HA_RULES}block in on lan proto carp\n`;

before(async () => {
  if (skip) return;
  t = await HaTopology.create({
    advbase: 0,
    advskew: [50, 100],
    preempt: true,
    pfsync: (i) => `pfsync { syncdev sync syncpeer 10.9.0.${i === 2 ? 2 : 1} }`,
  });
  for (const r of t.routers) writeFileSync(join(t.dir, `${r.name}.rules`), BLOCK_CARP_LAN);
  await t.start(t.r1);
  await t.start(t.r2, ['--metrics', '127.0.0.1:9180']);
});

after(async () => {
  await t?.destroy();
});

const group = async (r: RouterNode, name: string) =>
  (await ctlJson<ShowCarpResult>(r.ns, 'show', 'carp')).groups.find((g) => g.name === name)!;

async function reload(r: RouterNode, rules: string): Promise<void> {
  const file = join(t.dir, `${r.name}-next.rules`);
  writeFileSync(file, rules);
  const res = await ctl(r.ns, 'reload', '-f', file);
  assert.equal(res.code, 0, res.stderr);
}

async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}\n${await t.diagnose()}`);
    await sleep(200);
  }
}

test(
  'block in on lan proto carp: both routers master of the lan group, the advertisements counted as blocked',
  { skip: skip ?? false },
  async () => {
    await until(
      'both masters of carp-lan, r2 backup of carp-wan',
      async () =>
        (await group(t.r1, 'carp-lan')).state === 'MASTER' &&
        (await group(t.r2, 'carp-lan')).state === 'MASTER' &&
        (await group(t.r1, 'carp-wan')).state === 'MASTER' &&
        (await group(t.r2, 'carp-wan')).state === 'BACKUP',
      15000,
    );
    await sleep(1000);
    for (const r of t.routers) {
      const lan = await group(r, 'carp-lan');
      assert.ok((lan.counters.dropped.blocked ?? 0) >= 3, `${r.name}: ${JSON.stringify(lan.counters)}`);
      assert.equal(lan.counters.accepted, 0, `${r.name} never heard its peer on lan`);
      const log = r.log.join('');
      assert.match(log, /the ruleset blocks CARP in on lan/, `${r.name} warned at start`);
      assert.match(log, new RegExp(`"rule":"[^"]*${r.name}\\.rules:\\d+","add":"pass on lan proto carp no state"`));
    }
    const wan = await group(t.r2, 'carp-wan');
    assert.ok(wan.counters.accepted > 3 && !wan.counters.dropped.blocked, JSON.stringify(wan.counters));
    const metrics = (
      JSON.parse((await runInNetns(t.r2.ns, 'http-get', ['http://127.0.0.1:9180/metrics'])).stdout.trim()) as {
        body: string;
      }
    ).body;
    const m = metrics.match(
      /tunpf_carp_advertisements_dropped_total\{group="carp-lan",vhid="1",carpdev="lan",reason="blocked"\} (\d+)/,
    );
    assert.ok(m && Number(m[1]) >= 3, metrics.slice(0, 3000));
  },
);

test(
  'the same ruleset with pass on lan proto carp: the backup hears the master again and steps down',
  { skip: skip ?? false },
  async () => {
    for (const r of t.routers) await reload(r, `${BLOCK_CARP_LAN}pass on lan proto carp no state\n`);
    await until(
      'r2 backup of carp-lan',
      async () =>
        (await group(t.r2, 'carp-lan')).state === 'BACKUP' && (await group(t.r1, 'carp-lan')).state === 'MASTER',
      10000,
    );
    const before = (await group(t.r2, 'carp-lan')).counters;
    await sleep(1000);
    const now = (await group(t.r2, 'carp-lan')).counters;
    assert.equal(now.dropped.blocked, before.dropped.blocked, 'nothing blocked any more');
    assert.ok(now.accepted > before.accepted, `r2 hears r1: ${JSON.stringify(now)}`);
  },
);

const flowStates = async (r: RouterNode) =>
  (await ctlJson<ShowStatesResult>(r.ns, 'show', 'states', '--address', SERVER)).states.filter(
    (s) => s.proto === 'tcp',
  );

test(
  'block in on sync proto pfsync stops the state transfer; passing it starts it again',
  { skip: skip ?? false },
  async () => {
    await reload(t.r1, HA_RULES);
    await reload(t.r2, `${HA_RULES}block in on sync proto pfsync\n`);
    const f = await t.flows(8, ['tcp', `${SERVER}:7000`]);
    await sleep(2500);
    assert.ok((await flowStates(t.r1)).length >= 1, 'the master has the flow');
    assert.equal((await flowStates(t.r2)).length, 0, 'the backup got none of it');
    const p = await ctlJson<ShowPfsyncResult>(t.r2.ns, 'show', 'pfsync');
    assert.ok((p.dropped.blocked ?? 0) >= 1, JSON.stringify(p.dropped));
    await reload(t.r2, HA_RULES);
    await until('r2 gets the flow state', async () => (await flowStates(t.r2)).length >= 1, 5000);
    await f.done;
  },
);
