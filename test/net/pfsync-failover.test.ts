// pfsync end to end: client — LAN switch — two tunpf routers (CARP on both
// sides, pfsync on their own link) — WAN switch — server. With a long TCP
// transfer, a UDP stream and an idle interactive TCP session running through
// the master, the master is killed: the backup takes over already holding
// every state, and all three flows go on with no reset. The old master
// comes back, fetches the table (bulk update) before it preempts, and takes
// over again without breaking the flows; a link going down moves the flows
// too; a backup restarted under load ends with the same table.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { ctlJson } from './helpers/ctl.js';
import type { ShowPfsyncResult, ShowStatesResult } from '../../src/control/results.js';
import { HaTopology, LAN_VIP, SERVER, WAN_VIP, type FlowSummary, type RouterNode } from './helpers/ha-topology.js';
import { sleep } from './helpers/topology.js';

const skip = netTestsUnavailable();
let t: HaTopology;
const FLOWS = ['tcp', `${SERVER}:7000`, 'udp', `${SERVER}:7000`, 'idle', `${SERVER}:7000`];

before(async () => {
  if (skip) return;
  t = await HaTopology.create({
    advbase: 0,
    advskew: [50, 100],
    preempt: true,
    pfsync: (i) => `pfsync { syncdev sync syncpeer 10.9.0.${i === 2 ? 2 : 1} }`,
  });
  await t.start(t.r1);
  await t.start(t.r2);
  await settled(t.r1, t.r2);
});

after(async () => {
  await t?.destroy();
});

const holdsAll = (r: RouterNode) => t.owns(r, LAN_VIP) && t.owns(r, WAN_VIP);

/** `master` holds the gateway, the other has its table, nothing is being fetched. */
async function settled(master: RouterNode, backup: RouterNode): Promise<void> {
  await t.until(
    `${master.name} master`,
    () => holdsAll(master) && !t.owns(backup, LAN_VIP) && !t.owns(backup, WAN_VIP),
    40000,
  );
  for (const r of [master, backup]) {
    const start = Date.now();
    while ((await ctlJson<ShowPfsyncResult>(r.ns, 'show', 'pfsync')).bulk.state !== 'done') {
      if (Date.now() - start > 40000) throw new Error(`${r.name}'s bulk update did not end`);
      await sleep(200);
    }
  }
}

const ids = async (r: RouterNode) =>
  new Set((await ctlJson<ShowStatesResult>(r.ns, 'show', 'states')).states.map((s) => `${s.creator}/${s.id}`));

function assertFlowsSurvived(results: FlowSummary[], what: string): number {
  for (const r of results) {
    assert.ok(r.ok, `${what}: the ${r.kind} flow survived: ${JSON.stringify(r)}`);
    assert.equal(r.error, undefined, `${what}: no reset of the ${r.kind} flow`);
  }
  const tcp = results.find((r) => r.kind === 'tcp')!;
  assert.ok(
    tcp.received > 1e6 && tcp.received >= tcp.sent - 4 * 16384,
    `${what}: the transfer went on: ${tcp.received} of ${tcp.sent} bytes echoed`,
  );
  return Math.max(...results.map((r) => r.maxGapMs));
}

test(
  'the backup holds a copy of every state of the master (inserts and updates replicated)',
  { skip: skip ?? false },
  async () => {
    const f = await t.flows(4, FLOWS);
    await sleep(2500);
    const a = await ids(t.r1);
    const b = await ids(t.r2);
    assert.ok(a.size >= 3, `the master has the flows' states: ${[...a]}`);
    assert.deepEqual(b, a, 'the backup has the same states, by creator and id');
    const s = (await ctlJson<ShowStatesResult>(t.r2.ns, 'show', 'states', '--address', SERVER)).states;
    assert.ok(s.some((x) => x.proto === 'tcp' && x.dst.port === 7000));
    assertFlowsSurvived(await f.done, 'no takeover');
  },
);

test(
  'SIGKILL of the master: the backup takes over and the TCP transfer, the UDP stream and the idle session go on',
  { skip: skip ?? false },
  async () => {
    const f = await t.flows(10, FLOWS);
    await sleep(3000);
    await t.stop(t.r1, 'SIGKILL');
    await t.until('r2 takes over', () => holdsAll(t.r2), 5000);
    const gap = assertFlowsSurvived(await f.done, 'master killed');
    console.log(`# takeover gap with pfsync (SIGKILL, advbase 0 advskew 50/100): ${gap} ms`);
    assert.ok(gap < 3000, `the flows resumed within 3 s: ${gap} ms`);
  },
);

test(
  'the old master returns: it fetches the table before preempting, and takes over without breaking the flows',
  { skip: skip ?? false },
  async () => {
    const f = await t.flows(14, FLOWS);
    await sleep(1500);
    const mark = t.r1.log.join('').length;
    await t.start(t.r1);
    await settled(t.r1, t.r2);
    const log = t.r1.log.join('').slice(mark);
    const bulkAt = log.indexOf('pfsync: bulk update received');
    const masterAt = log.search(/"msg":"carp carp-(lan|wan) is MASTER"/);
    assert.ok(bulkAt > 0 && masterAt > bulkAt, 'the table came first, the gateway after it');
    const results = await f.done;
    const gap = assertFlowsSurvived(results, 'old master returns');
    console.log(
      `# preemption by the returning master: longest gap ${gap} ms ` +
        JSON.stringify(results.map((r) => [r.kind, r.gaps])),
    );
    await sleep(1500);
    const [x, y] = [await ids(t.r1), await ids(t.r2)];
    if (JSON.stringify([...x].sort()) !== JSON.stringify([...y].sort())) {
      console.log('# r1', JSON.stringify((await ctlJson<ShowStatesResult>(t.r1.ns, 'show', 'states')).states));
      console.log('# r2', JSON.stringify((await ctlJson<ShowStatesResult>(t.r2.ns, 'show', 'states')).states));
    }
    assert.deepEqual(y, x);
  },
);

test('a link going down moves every group, and the flows with them', { skip: skip ?? false }, async () => {
  const f = await t.flows(10, FLOWS);
  await sleep(2500);
  t.r1.ns.exec('ip', 'link', 'set', 'lan', 'down');
  await t.until('r2 takes both groups', () => holdsAll(t.r2), 5000);
  const gap = assertFlowsSurvived(await f.done, 'link down');
  console.log(`# takeover on link loss: longest gap ${gap} ms`);
  t.r1.ns.exec('ip', 'link', 'set', 'lan', 'up');
  await settled(t.r1, t.r2);
});

test('the backup restarted under load ends with the same table as the master', { skip: skip ?? false }, async () => {
  const f = await t.flows(12, FLOWS);
  // new connections while the backup is away and while it fetches the table
  const churn = await t.flows(10, ['udp', `${SERVER}:7000`, 'udp', `${SERVER}:7000`, 'udp', `${SERVER}:7000`]);
  await sleep(1000);
  await t.stop(t.r2, 'SIGTERM');
  await sleep(1500);
  await t.start(t.r2);
  await settled(t.r1, t.r2);
  await sleep(1500); // the last inserts' timer
  assert.deepEqual(await ids(t.r2), await ids(t.r1));
  assertFlowsSurvived(await f.done, 'backup restarted');
  await churn.done;
});
