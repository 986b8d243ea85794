// A killed CARP master stays quiet: its macvlan (left up, with the virtual
// addresses) answers no ARP or neighbour solicitation, so a client that
// renews its neighbour entries keeps reaching the server through the new
// master; with no tunpf running nothing answers for the virtual addresses.
// `tunpf cleanup` refuses while an instance runs, and removes what the
// killed instances left.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { netTestsUnavailable, type Netns } from './helpers/netns.js';
import { HaTopology, LAN_VIP, SERVER, SERVER6, type RouterNode } from './helpers/ha-topology.js';
import { mainPath, sleep } from './helpers/topology.js';

const skip = netTestsUnavailable();
let t: HaTopology;

/** What tunpf changes and must put back. */
const SYSCTLS = [
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.lan.arp_ignore',
  'net.ipv4.conf.lan.arp_announce',
  'net.ipv4.conf.all.rp_filter',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_early_demux',
];
const sysctls = (ns: Netns) => SYSCTLS.map((s) => `${s}=${ns.exec('sysctl', '-n', s).trim()}`);
const rules = (ns: Netns) => ['-4', '-6'].map((fam) => ns.exec('ip', fam, 'rule', 'show'));
const untouched = new Map<string, string[]>();
const rulesBefore = new Map<string, string[]>();

before(async () => {
  if (skip) return;
  // no preempt: the killed master never comes back to take the addresses
  t = await HaTopology.create({ advbase: 0, advskew: [50, 100], preempt: false, ipv6: true });
  for (const r of t.routers) {
    untouched.set(r.name, sysctls(r.ns));
    rulesBefore.set(r.name, rules(r.ns));
  }
  await t.start(t.r1);
  await t.start(t.r2);
  await t.until('r1 master', () => t.owns(t.r1, LAN_VIP) && t.lastState(t.r1, 'carp-wan') === 'MASTER');
  await t.until('r2 backup', () => t.lastState(t.r2, 'carp-lan') === 'BACKUP');
});

after(async () => {
  await t?.destroy();
});

function flushNeighbours(ns: Netns): void {
  ns.exec('ip', '-4', 'neigh', 'flush', 'dev', 'c0');
  ns.exec('ip', '-6', 'neigh', 'flush', 'dev', 'c0');
}

/** Pings sent and lost (ping exits non-zero on loss: its summary is what counts). */
function ping(ns: Netns, target: string, count: number, waitSeconds = 1): { sent: number; lost: number } {
  const args = ['-n', '-q', '-c', String(count), '-i', '0.05', '-W', String(waitSeconds), target];
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'ping', ...args], { encoding: 'utf8' });
  const m = r.stdout.match(/(\d+) packets transmitted, (\d+) received/);
  if (!m) throw new Error(`ping ${target}: ${r.stdout}${r.stderr}`);
  return { sent: Number(m[1]), lost: Number(m[1]) - Number(m[2]) };
}

function cleanup(r: RouterNode): { code: number; out: string } {
  const node = [...(mainPath.endsWith('.ts') ? ['--import', 'tsx'] : []), mainPath];
  const p = spawnSync('ip', ['netns', 'exec', r.ns.name, process.execPath, ...node, 'cleanup'], { encoding: 'utf8' });
  return { code: p.status ?? -1, out: p.stdout + p.stderr };
}

test(
  'SIGKILL of the master: the client renews its neighbours again and again and loses no ping through r2',
  { skip: skip ?? false },
  async () => {
    await t.stop(t.r1, 'SIGKILL');
    await t.until('r2 owns the addresses', () => t.owns(t.r2, LAN_VIP) && t.owns(t.r2, 'fd01::1'), 5000);
    assert.ok(t.owns(t.r1, LAN_VIP), "the killed master's macvlan still holds the addresses (the case at hand)");
    await sleep(500); // the takeover's own announcements are out
    const lost = { v4: 0, v6: 0 };
    let sent = 0;
    for (let round = 0; round < 15; round++) {
      flushNeighbours(t.client);
      const v4 = ping(t.client, SERVER, 20);
      flushNeighbours(t.client);
      const v6 = ping(t.client, SERVER6, 20);
      lost.v4 += v4.lost;
      lost.v6 += v6.lost;
      sent += v4.sent;
    }
    const why = `lost ${lost.v4} of ${sent} IPv4 and ${lost.v6} of ${sent} IPv6 pings`;
    if (lost.v4 > 3 || lost.v6 > 3) assert.fail(`${why}\n${await t.diagnose()}`);
    const fdb = t.lanSw.exec('bridge', 'fdb', 'show', 'br', 'br0');
    assert.equal(fdb.split('\n').filter((l) => l.startsWith('00:00:5e:00:01:01 ')).length, 1, fdb);
  },
);

test('tunpf cleanup refuses while an instance runs, and changes nothing', { skip: skip ?? false }, () => {
  const r = cleanup(t.r2);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /a tunpf instance is running here \(pid \d+ filters lan, wan\)/);
  assert.ok(t.owns(t.r2, LAN_VIP) && t.r2.ns.exec('ip', '-o', 'link', 'show').includes('carp-lan@lan'));
  assert.equal(t.lastState(t.r2, 'carp-lan'), 'MASTER');
});

test('with no tunpf running, nothing answers for the virtual addresses', { skip: skip ?? false }, async () => {
  await t.stop(t.r2, 'SIGKILL');
  for (const vip of [LAN_VIP, 'fd01::1']) {
    flushNeighbours(t.client);
    assert.equal(ping(t.client, vip, 3).lost, 3, `a ping to ${vip} is answered`);
    const entry = t.client.exec('ip', 'neigh', 'show', vip).trim();
    assert.match(entry, /INCOMPLETE|FAILED/, `the client resolved ${vip}: ${entry}`);
  }
});

test('tunpf cleanup after SIGKILL: says what it removed, and nothing is left', { skip: skip ?? false }, async () => {
  for (const r of t.routers) {
    const res = cleanup(r);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /ran ip link del carp-lan/);
    assert.match(res.out, /ran ip link del carp-wan/);
    assert.match(res.out, /removed \d+ routing rules/);
    assert.match(res.out, /put back \d+ sysctls/);
    assert.match(res.out, /control\.sock/);
    const links = r.ns.exec('ip', '-o', 'link', 'show');
    assert.doesNotMatch(links, /carp-|tpf-/, links);
    assert.deepEqual(rules(r.ns), rulesBefore.get(r.name));
    assert.deepEqual(sysctls(r.ns), untouched.get(r.name));
    assert.ok(!r.ns.exec('ip', '-o', 'addr', 'show').includes(` ${LAN_VIP}/`));
    const nsId = r.ns.exec('readlink', '/proc/self/ns/net').replace(/\D/g, '');
    const runDir = r.ns.exec('sh', '-c', `ls -A /run/tunpf/net-${nsId} 2>/dev/null || true`).trim();
    assert.equal(runDir, '', 'the run folder is gone');
    assert.equal(cleanup(r).out.trim(), 'nothing to clean up');
  }
});
