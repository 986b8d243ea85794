// Interoperability with ucarp (Debian's package) in one group, both ways
// round: ucarp master with tunpf backup (tunpf accepts ucarp's HMAC and
// stays backup; takes over when ucarp dies), then tunpf master with ucarp
// backup (ucarp accepts tunpf's advertisements and stays backup; takes over
// when tunpf stops).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netTestsUnavailable, type Netns } from './helpers/netns.js';
import { HaTopology, LAN_VIP, SERVER } from './helpers/ha-topology.js';
import { sleep } from './helpers/topology.js';

const ucarpMissing = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v ucarp'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'ucarp is not installed';
  }
})();
const skip = netTestsUnavailable() ?? ucarpMissing;
let t: HaTopology;
let u: Netns;
let ucarp: ChildProcess | null = null;
let stateFile: string;

before(async () => {
  if (skip) return;
  // tunpf's LAN group is ucarp-compatible: one IPv4 address, a passphrase
  t = await HaTopology.create({ advbase: 1, advskew: [100, 200], preempt: false });
  u = t.addHost();
  t.plug(t.lanSw, u, 'eth0');
  u.exec('ip', 'link', 'set', 'lo', 'up');
  u.exec('ip', 'addr', 'add', '10.1.0.4/24', 'dev', 'eth0');
  u.exec('ip', 'link', 'set', 'eth0', 'up');
  stateFile = join(t.dir, 'ucarp.state');
  const up = join(t.dir, 'up.sh');
  const down = join(t.dir, 'down.sh');
  writeFileSync(up, `#!/bin/sh\nip addr add "$2"/24 dev "$1"\necho MASTER >> ${stateFile}\n`);
  writeFileSync(down, `#!/bin/sh\nip addr del "$2"/24 dev "$1" 2>/dev/null\necho BACKUP >> ${stateFile}\n`);
  chmodSync(up, 0o755);
  chmodSync(down, 0o755);
});

after(async () => {
  ucarp?.kill('SIGKILL');
  await t?.destroy();
});

function startUcarp(advskew: number): void {
  ucarp = t.spawnIn(u, 'ucarp', [
    '-i',
    'eth0',
    '-s',
    '10.1.0.4',
    '-v',
    '1',
    '-p',
    'lan-secret',
    '-a',
    LAN_VIP,
    '-b',
    '1',
    '-k',
    String(advskew),
    '-u',
    join(t.dir, 'up.sh'),
    '-d',
    join(t.dir, 'down.sh'),
    '-z',
  ]);
}
const ucarpState = () => (existsSync(stateFile) ? readFileSync(stateFile, 'utf8').trim().split('\n').pop() : undefined);
const ucarpOwns = () => u.exec('ip', '-o', 'addr', 'show', 'dev', 'eth0').includes(` ${LAN_VIP}/`);
const lanGroup = async () => (await t.counters(t.r1)).carp!.groups.find((g) => g.name === 'carp-lan')!;

test(
  "ucarp master, tunpf backup: tunpf accepts ucarp's advertisements and stays backup; takes over when ucarp dies",
  { skip: skip ?? false },
  async () => {
    startUcarp(0);
    await t.until('ucarp master', () => ucarpState() === 'MASTER' && ucarpOwns(), 8000);
    await t.start(t.r1);
    await sleep(4500); // longer than tunpf's master-down time of 3 × 1.39 s
    assert.equal(t.lastState(t.r1, 'carp-lan'), 'BACKUP');
    assert.equal(t.owns(t.r1, LAN_VIP), false);
    assert.equal(ucarpState(), 'MASTER');
    const g = await lanGroup();
    assert.ok(g.counters.accepted >= 3, `tunpf verified ucarp's HMAC: ${JSON.stringify(g.counters)}`);
    assert.equal(g.counters.dropped['bad-auth'] ?? 0, 0);
    ucarp!.kill('SIGKILL');
    const took = await t.until(
      'tunpf master',
      () => t.owns(t.r1, LAN_VIP) && t.lastState(t.r1, 'carp-lan') === 'MASTER',
      8000,
    );
    console.log(`# tunpf took over ${took} ms after ucarp was killed`);
    // a killed ucarp leaves its address, as a killed tunpf does
    u.exec('ip', 'addr', 'flush', 'dev', 'eth0', 'to', `${LAN_VIP}/32`);
    const f = await t.flows(1, ['udp', `${SERVER}:7000`]);
    assert.ok((await f.done)[0]!.ok, 'the client reaches the server through tunpf');
  },
);

test(
  "tunpf master, ucarp backup: ucarp accepts tunpf's advertisements and stays backup; takes over when tunpf stops",
  { skip: skip ?? false },
  async () => {
    writeFileSync(stateFile, '');
    startUcarp(200); // slower than tunpf (advskew 100)
    await sleep(5000); // longer than ucarp's master-down time (3 s + 200/256, plus up to an interval)
    assert.notEqual(ucarpState(), 'MASTER', `ucarp stayed backup: ${readFileSync(stateFile, 'utf8')}`);
    assert.equal(ucarpOwns(), false);
    assert.ok(t.owns(t.r1, LAN_VIP));
    assert.equal(t.lastState(t.r1, 'carp-lan'), 'MASTER');
    const g = await lanGroup();
    assert.equal(g.counters.dropped['bad-auth'] ?? 0, 0, "and tunpf verified ucarp's");
    const t0 = Date.now();
    await t.stop(t.r1, 'SIGTERM'); // tunpf bows out: advbase 255, which ucarp's dead-ratio rule takes over at once
    await t.until('ucarp master', () => ucarpState() === 'MASTER' && ucarpOwns(), 8000);
    console.log(`# ucarp took over ${Date.now() - t0} ms after tunpf was stopped`);
    assert.equal(t.owns(t.r1, LAN_VIP), false);
  },
);
