// The datapath and `tunpf replay` in router mode give the same two verdicts
// per packet: traffic goes through `tunpf run --pflog` with rules that all
// log, tcpdump on the router records what arrives on lan and on wan, that
// capture is replayed with the router's interfaces and routes, and the two
// pflog files must hold the same records (direction, interface, rule,
// action, reason, and the packet).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { formatAddress } from '../../src/packet/address.js';
import { PcapngWriter, readCapture } from '../../src/packet/capture-file.js';
import { decodeLinkLayer, LinkType } from '../../src/packet/link-layer.js';
import { PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import * as pflog from '../../src/packet/pflog.js';
import { netTestsUnavailable } from './helpers/netns.js';
import { sleep, Topology, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable() ?? (spawnSync('tcpdump', ['--version']).error ? 'tcpdump is not installed' : null);

const RULES = `
block log all
block log quick inet6 from fe80::/10 to ff02::/16
pass in log on lan proto tcp from 10.1.0.0/24 to any port 7000
pass out log on wan proto tcp to any port 7000
pass in log (all) on lan proto udp from 10.1.0.0/24 to any port 7000
pass out log (all) on wan proto udp to any port 7000
pass in log on lan inet6 proto tcp from fd01::/64 to any port 7000
pass in log on lan inet6 proto udp from fd01::/64 to any port 7000
pass out log on wan inet6 proto udp to any port 7000
pass in log on lan proto tcp from 10.1.0.0/24 to any port 7002 keep state (if-bound)
pass out log on wan proto tcp to any port 7002
pass in log on lan proto udp from 10.1.0.0/24 to any port 7001
block out log on wan proto udp to any port 7001
block return in log on lan proto tcp to any port 7003
pass in log on lan inet proto icmp from 10.1.0.0/24
pass out log on wan inet proto icmp
pass in log on lan inet6 proto icmp6 from fd01::/64 to fd02::/64
pass out log on wan inet6 proto icmp6 to fd02::/64
`;
const HOSTS = new Set(['10.1.0.2', '10.2.0.2', 'fd01::2', 'fd02::2']);
const BETWEEN_HOSTS = '(host 10.1.0.2 and host 10.2.0.2) or (host fd01::2 and host fd02::2)';

let topo: Topology;
const tcpdumps: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  topo = await Topology.create();
});

after(async () => {
  for (const p of tcpdumps) await stop(p);
  await topo?.destroy();
});

/**
 * tcpdump in the router namespace: what arrives on `dev` between the client
 * and the server. Immediate mode: otherwise packets wait in libpcap's ring
 * for a block timeout, and the last ones are lost when tcpdump is stopped.
 */
async function captureArrivals(dev: string, file: string): Promise<ChildProcess> {
  const args = ['-i', dev, '-Q', 'in', '--immediate-mode', '-U', '-n', '-w', file, BETWEEN_HOSTS];
  const p = spawn('ip', ['netns', 'exec', topo.router.name, 'tcpdump', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await waitForOutput(p, 'listening on');
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGINT');
  await exited;
}

/** One capture of both interfaces, in arrival order, each packet named with its interface (pcapng). */
function mergeCaptures(files: Record<string, string>, into: string): void {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const all: { id: number; time: number; data: Uint8Array }[] = [];
  for (const [ifname, file] of Object.entries(files)) {
    const recs = readCapture(readFileSync(file));
    const id = w.addInterface(ifname, recs[0]?.linkType ?? LinkType.ETHERNET);
    for (const r of recs) all.push({ id, time: r.time, data: r.data });
  }
  all.sort((a, b) => a.time - b.time);
  for (const r of all) w.write(r.id, r.time, r.data, 'in');
  writeFileSync(into, Buffer.concat(chunks));
}

/**
 * A pflog file's records between the two hosts, one line each. The datapath
 * sees a packet after the kernel took a hop; the hop limit (and the IPv4
 * header checksum that covers it) is left out of the comparison.
 */
function pflogRecords(file: string): string[] {
  const meta = new PacketMeta();
  const out: string[] = [];
  for (const rec of readCapture(readFileSync(file))) {
    const h = pflog.decode(rec.data);
    const link = decodeLinkLayer(rec.linkType, rec.data, 0, rec.data.length);
    const ip = Buffer.from(rec.data.subarray(link.ipOffset));
    parsePacket(ip, 0, ip.length, meta);
    const [src, dst] = [formatAddress(meta.af, meta.src), formatAddress(meta.af, meta.dst)];
    if (!HOSTS.has(src) || !HOSTS.has(dst)) continue;
    if (meta.af === 4) ip.fill(0, 8, 9).fill(0, 10, 12);
    else ip[7] = 0;
    const verdict = `${pflog.PfActionName[h.action]}/${pflog.PfReasonName[h.reason]}`;
    const what = `${pflog.PfDirectionName[h.dir]} ${h.ifname} @${h.rulenr} ${verdict}`;
    out.push(`${what} ${src} > ${dst} ${meta.proto} ${ip.toString('hex')}`);
  }
  return out;
}

test('replay in router mode logs what the datapath logs, packet for packet', { skip: skip ?? false }, async () => {
  const dir = topo.dir;
  const captures = { lan: join(dir, 'lan.pcap'), wan: join(dir, 'wan.pcap') };
  tcpdumps.push(await captureArrivals('lan', captures.lan), await captureArrivals('wan', captures.wan));
  const rules = topo.writeRules(RULES);
  const datapathLog = join(dir, 'datapath.pflog');
  await topo.startDaemon(rules, ['--pflog', datapathLog]);
  const c = topo.client;
  assert.deepEqual(await topo.probe(c, 'tcp', '10.2.0.2', '7000', '1000'), { ok: true, received: 1000 });
  assert.equal((await topo.probe(c, 'udp', '10.2.0.2', '7000')).ok, true);
  assert.deepEqual(await topo.probe(c, 'tcp', 'fd02::2', '7000', '1000'), { ok: true, received: 1000 });
  assert.equal((await topo.probe(c, 'udp', 'fd02::2', '7000')).ok, true);
  assert.deepEqual(await topo.probe(c, 'tcp', '10.2.0.2', '7002', '1000'), { ok: true, received: 1000 });
  assert.equal((await topo.probe(c, 'udp', '10.2.0.2', '7001')).ok, false, 'blocked out on wan');
  assert.equal(
    (await topo.probe(c, 'tcp', '10.2.0.2', '7003', '10')).ok,
    false,
    'blocked in on lan, answered with a RST',
  );
  c.exec('ping', '-c', '2', '-i', '0.2', '-W', '1', '10.2.0.2');
  c.exec('ping', '-6', '-c', '2', '-i', '0.2', '-W', '1', 'fd02::2');
  await sleep(300);
  assert.equal(await topo.stopDaemon('SIGTERM'), 0, topo.daemonLog.join(''));
  for (const p of tcpdumps) await stop(p);

  const capture = join(dir, 'router.pcapng');
  mergeCaptures(captures, capture);
  const replayLog = join(dir, 'replay.pflog');
  const err: string[] = [];
  const code = await main(
    [
      'replay',
      '-f',
      rules,
      '--interface',
      'lan=10.1.0.1/24,fd01::1/64',
      '--interface',
      'wan=10.2.0.1/24,fd02::1/64',
      '--route',
      '10.1.0.0/24=lan',
      '--route',
      'fd01::/64=lan',
      '--route',
      '10.2.0.0/24=wan',
      '--route',
      'fd02::/64=wan',
      '--pflog',
      replayLog,
      capture,
    ],
    { out: () => {}, err: (t) => err.push(t) },
  );
  assert.equal(code, 0, err.join('\n'));

  const datapath = pflogRecords(datapathLog);
  const replayed = pflogRecords(replayLog);
  // what both must show, so that an empty or one-sided log cannot pass
  const kinds = (lines: string[]) => new Set(lines.map((l) => l.split(' ').slice(0, 4).join(' ')));
  const expected = [
    'in lan @2 pass/match',
    'out wan @3 pass/match',
    'in lan @4 pass/match',
    'in wan @5 pass/match',
    'out lan @4 pass/match',
    'in lan @6 pass/match',
    'in lan @9 pass/match',
    'out wan @10 pass/match',
    'out wan @12 block/match',
    'in lan @13 block/match',
    'in lan @14 pass/match',
    'out wan @15 pass/match',
    'in lan @16 pass/match',
    'out wan @17 pass/match',
  ];
  for (const k of expected) assert.ok(kinds(datapath).has(k), `datapath logged ${k}:\n${datapath.join('\n')}`);
  // the same records, each packet with the same direction, interface, rule, action and reason
  assert.deepEqual([...replayed].sort(), [...datapath].sort());
});
