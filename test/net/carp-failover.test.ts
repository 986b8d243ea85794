// Two tunpf routers share the gateway addresses with CARP: the one with the
// lower advskew is master; killing it, stopping it, and taking its link down
// each move the addresses to the other while a client keeps reaching a
// server through them; with preempt the old master takes them back; a split
// brain (advertisements cut between the two, links up) ends with one master.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { HaTopology, LAN_VIP, SERVER, WAN_VIP, type RouterNode } from './helpers/ha-topology.js';
import { sleep } from './helpers/topology.js';

const skip = netTestsUnavailable();
let t: HaTopology;

// advbase 0: r1 advertises every 50/256 s, r2 every 100/256 s (master-down 1.17 s; r1's
// master-down, 0.59 s, stays above r2's interval, so a demoted r1 listens without flapping)
before(async () => {
  if (skip) return;
  t = await HaTopology.create({ advbase: 0, advskew: [50, 100], preempt: true, ipv6: true });
  await t.start(t.r1);
  await t.start(t.r2);
});

after(async () => {
  await t?.destroy();
});

const holdsAll = (r: RouterNode) =>
  t.owns(r, LAN_VIP) && t.owns(r, WAN_VIP) && t.owns(r, 'fd01::1') && t.owns(r, 'fd02::1');
const holdsNone = (r: RouterNode) =>
  !t.owns(r, LAN_VIP) && !t.owns(r, WAN_VIP) && !t.owns(r, 'fd01::1') && !t.owns(r, 'fd02::1');

async function clientReachesServer(): Promise<void> {
  for (const target of [`${SERVER}:7000`, '[fd02::10]:7000']) {
    const f = await t.flows(1, ['udp', target]);
    const [r] = await f.done;
    if (!(r!.ok && r!.received > 50))
      assert.fail(
        `the client does not reach the server at ${target} through the virtual addresses: ${JSON.stringify(r)}\n` +
          (await t.diagnose()),
      );
  }
}

test(
  'the node with the lower advskew becomes master and owns the addresses; the other holds none',
  { skip: skip ?? false },
  async () => {
    await t.until('r1 owns the addresses', () => holdsAll(t.r1));
    await t.until(
      'r2 backup',
      () => t.lastState(t.r2, 'carp-lan') === 'BACKUP' && t.lastState(t.r2, 'carp-wan') === 'BACKUP',
    );
    await sleep(1000);
    assert.ok(holdsNone(t.r2));
    assert.equal(t.lastState(t.r1, 'carp-lan'), 'MASTER');
    await clientReachesServer();
  },
);

test(
  'SIGKILL of the master: the backup takes over and the client keeps reaching the server',
  { skip: skip ?? false },
  async () => {
    const f = await t.flows(6, ['udp', `${SERVER}:7000`]);
    await sleep(1500);
    await t.stop(t.r1, 'SIGKILL');
    const took = await t.until('r2 owns the addresses', () => holdsAll(t.r2), 5000);
    const [r] = await f.done;
    assert.ok(r!.ok, JSON.stringify(r));
    assert.ok(
      r!.maxGapMs < 3000,
      `the UDP stream resumed after the takeover (longest gap ${r!.maxGapMs} ms, takeover seen after ${took} ms)`,
    );
    assert.equal(t.lastState(t.r2, 'carp-lan'), 'MASTER');
    await clientReachesServer();
  },
);

test(
  'the killed master returns: its leftovers are cleared and, preempting, it takes the addresses back',
  { skip: skip ?? false },
  async () => {
    // SIGKILL left the macvlans and their addresses in r1's namespace
    assert.ok(t.owns(t.r1, LAN_VIP), 'a killed tunpf leaves its addresses behind');
    await t.start(t.r1);
    await t.until(
      'r1 master again',
      () => holdsAll(t.r1) && t.lastState(t.r1, 'carp-lan') === 'MASTER' && t.lastState(t.r1, 'carp-wan') === 'MASTER',
    );
    await t.until('r2 steps down', () => holdsNone(t.r2));
    assert.match(t.r1.log.join(''), /preempting a slower master/);
    assert.equal(
      (t.r1.ns.exec('ip', '-o', 'link', 'show').match(/carp-lan@/g) ?? []).length,
      1,
      'one macvlan, not two',
    );
    await clientReachesServer();
  },
);

test(
  'the master loses a link: all its groups move to the backup (demotion); with the link back it takes them again',
  { skip: skip ?? false },
  async () => {
    t.r1.ns.exec('ip', 'link', 'set', 'lan', 'down');
    await t.until('r2 owns both groups', () => holdsAll(t.r2));
    assert.equal(t.lastState(t.r1, 'carp-lan'), 'INIT');
    await t.until('r1 wan steps down', () => t.lastState(t.r1, 'carp-wan') === 'BACKUP');
    assert.match(
      t.r1.log.join(''),
      /"carp":"carp-wan".*"state":"BACKUP".*"demote":1/,
      'the wan group stepped down because the node is demoted',
    );
    await clientReachesServer();
    t.r1.ns.exec('ip', 'link', 'set', 'lan', 'up');
    await t.until('r1 master of both again', () => holdsAll(t.r1) && holdsNone(t.r2), 10000);
    await clientReachesServer();
  },
);

test(
  'SIGTERM: the master bows out (advbase 255) and the backup takes over at once',
  { skip: skip ?? false },
  async () => {
    const t0 = Date.now();
    await t.stop(t.r1, 'SIGTERM');
    await t.until('r2 owns the addresses', () => holdsAll(t.r2), 3000);
    const took = Date.now() - t0;
    assert.ok(holdsNone(t.r1), 'a clean stop removes every address');
    // with preempt the slower bow-out advertisement (255/255) is preempted; without, it "will time out"
    assert.match(t.r2.log.join(''), /preempting a slower master \(255\.996 s|the master will time out/);
    assert.ok(took < 1000, `faster than r2's master-down time of 1.17 s: ${took} ms`);
    await t.start(t.r1);
    await t.until('r1 master again', () => holdsAll(t.r1) && holdsNone(t.r2));
  },
);

test(
  'split brain: advertisements cut between the routers make two masters; restored, one remains',
  { skip: skip ?? false },
  async () => {
    // r2 hears nothing of r1 while every link stays up
    const restore = t.cutCarpFrom(t.r1);
    try {
      await t.until('two masters', () => holdsAll(t.r1) && holdsAll(t.r2), 5000);
    } finally {
      restore();
    }
    await t.until('one master', () => holdsAll(t.r1) && holdsNone(t.r2), 5000);
    await sleep(1500);
    assert.ok(holdsAll(t.r1) && holdsNone(t.r2), 'the election stays settled');
    await clientReachesServer();
  },
);
