// `tunpf replay --pflog FILE`: the packets the rules log land in a pflog
// file, and `tcpdump -n -e -r` shows each with its rule number, action,
// direction and interface. Needs tcpdump for the second half (no root).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { buildUdp } from '../../src/packet/build.js';
import { PcapngWriter, readCapture } from '../../src/packet/capture-file.js';
import { decodeLinkLayer, LinkType } from '../../src/packet/link-layer.js';
import * as pflog from '../../src/packet/pflog.js';
import { TcpPair } from './helpers/flow.js';
import type { ReplayLine } from './helpers/replay-json.js';

const dir = mkdtempSync(join(tmpdir(), 'tunpf-replay-pflog-'));
const rules = join(dir, 'rules.conf');
writeFileSync(
  rules,
  [
    'block log all', // @0
    'pass in log on lan proto tcp from 192.168.1.0/24 to any port 80', // @1: logs the packet that makes the state
    'pass in log (all) on lan proto udp from 192.168.1.0/24 to any port 53', // @2: logs every packet of its states
    'match in log on wan proto tcp to port 22', // @3: logs when it matches, decides nothing
    'pass out on wan all', // @4: no log
    '',
  ].join('\n'),
);

const web = new TcpPair('192.168.1.10', '203.0.113.5', 40000, 80);
const dnsQuery = buildUdp({ src: '192.168.1.10', dst: '9.9.9.9', sport: 5353, dport: 53 });
const dnsReply = buildUdp({ src: '9.9.9.9', dst: '192.168.1.10', sport: 53, dport: 5353 });
const packets: { pkt: Uint8Array; dir: 'in' | 'out'; ifname: string }[] = [
  { pkt: web.c('S'), dir: 'in', ifname: 'lan' }, // @1 pass in on lan
  { pkt: web.c('S'), dir: 'out', ifname: 'wan' }, // @4 pass: not logged
  { pkt: web.s('SA'), dir: 'in', ifname: 'wan' }, // state: not logged
  { pkt: web.c('A'), dir: 'in', ifname: 'lan' }, // state: not logged
  // @3 match, then @0 block
  { pkt: new TcpPair('198.51.100.9', '192.168.1.10', 5555, 22).c('S'), dir: 'in', ifname: 'wan' },
  { pkt: dnsQuery, dir: 'in', ifname: 'lan' }, // @2 pass in on lan
  { pkt: dnsQuery, dir: 'out', ifname: 'wan' }, // @4 pass: not logged
  { pkt: dnsReply, dir: 'in', ifname: 'wan' }, // the state @4 made: not logged
  { pkt: dnsReply, dir: 'out', ifname: 'lan' }, // the state @2 made (log (all)): logged
  { pkt: new Uint8Array([0x45, 0, 0, 99, 0, 0]), dir: 'in', ifname: 'lan' }, // malformed: never logged
];

async function replayToPflog(): Promise<{ file: string; lines: ReplayLine[] }> {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const ids = { lan: w.addInterface('lan', LinkType.RAW), wan: w.addInterface('wan', LinkType.RAW) };
  packets.forEach((p, k) => w.write(ids[p.ifname as 'lan' | 'wan'], 1700000000 + k, p.pkt, p.dir));
  const capture = join(dir, 'conv.pcapng');
  writeFileSync(capture, Buffer.concat(chunks));
  const file = join(dir, 'out.pflog');
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['replay', '-f', rules, '--json', '--pflog', file, capture], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  assert.equal(code, 0, err.join('\n'));
  return { file, lines: out.map((l) => JSON.parse(l) as ReplayLine) };
}

// [time offset, rule, action, direction, interface]
const EXPECTED: [number, number, string, string, string][] = [
  [0, 1, 'pass', 'in', 'lan'],
  [4, 3, 'match', 'in', 'wan'],
  [4, 0, 'block', 'in', 'wan'],
  [5, 2, 'pass', 'in', 'lan'],
  [8, 2, 'pass', 'out', 'lan'],
];

test('replay writes one pflog record per logging rule, read back with our own decoder', async () => {
  const { file, lines } = await replayToPflog();
  assert.deepEqual(lines[4].logged, ['@3 match/match', '@0 block/match']);
  assert.deepEqual(lines[9].logged, [], 'the malformed packet is not logged');
  const recs = readCapture(new Uint8Array(readFileSync(file)));
  assert.equal(recs[0]!.linkType, LinkType.PFLOG);
  const got = recs.map((r) => {
    const h = pflog.decode(r.data);
    const link = decodeLinkLayer(r.linkType, r.data, 0, r.data.length);
    assert.deepEqual(
      r.data.subarray(link.ipOffset),
      packets[r.time - 1700000000]!.pkt,
      'the logged bytes are the packet',
    );
    return [r.time - 1700000000, h.rulenr, pflog.PfActionName[h.action], pflog.PfDirectionName[h.dir], h.ifname];
  });
  assert.deepEqual(got, EXPECTED);
});

test('tcpdump -n -e -r shows rule number, action, direction and interface of every logged packet', async (t) => {
  if (spawnSync('tcpdump', ['--version']).error) return t.skip('tcpdump is not installed');
  const { file } = await replayToPflog();
  const r = spawnSync('tcpdump', ['-n', '-e', '-tt', '-r', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, EXPECTED.length, r.stdout);
  lines.forEach((line, k) => {
    // e.g. "1700000000.000000 rule 1/0(match): pass in on lan: 192.168.1.10.40000 > 203.0.113.5.80: Flags [S], ..."
    const m = /^(\d+)\.000000 rule (\d+)\/0\(match\): (\S+) (in|out) on (\S+): (\S+) > (\S+):/.exec(line);
    assert.ok(m, line);
    const [time, rule, action, direction, ifname] = EXPECTED[k]!;
    // Debian's tcpdump 4.99 names only the actions every pf shares; OpenBSD's match (12) shows as unkn(12) there
    const actionText = action === 'match' ? /^(match|unkn\(12\))$/ : new RegExp(`^${action}$`);
    assert.deepEqual([Number(m[1]) - 1700000000, Number(m[2]), m[4], m[5]], [time, rule, direction, ifname], line);
    assert.match(m[3]!, actionText, line);
  });
  assert.match(lines[0]!, /192\.168\.1\.10\.40000 > 203\.0\.113\.5\.80: Flags \[S\]/);
  assert.match(lines[4]!, /9\.9\.9\.9\.53 > 192\.168\.1\.10\.5353/);
});
