// `tunpf replay --route`: router mode. Every arriving packet is checked `in`
// on its interface, then `out` on the interface the routes pick, as the
// datapath forwards it; the output shows both verdicts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import type { CheckView } from '../../src/cli/replay-command.js';
import { buildUdp } from '../../src/packet/build.js';
import { PcapngWriter, readCapture } from '../../src/packet/capture-file.js';
import { decodeLinkLayer, LinkType } from '../../src/packet/link-layer.js';
import * as pflog from '../../src/packet/pflog.js';
import { TcpPair } from './helpers/flow.js';

const dir = mkdtempSync(join(tmpdir(), 'tunpf-replay-router-'));
const rules = join(dir, 'rules.conf');
writeFileSync(
  rules,
  [
    'block log all', // @0
    'pass in log on lan proto tcp from 192.168.1.0/24 to any port 80', // @1
    'pass out log on wan proto tcp to any port 80', // @2
    'pass in on lan proto tcp from 192.168.1.0/24 to any port 25', // @3
    'block out log on wan proto tcp to any port 25', // @4
    'pass in on lan inet6 proto udp to any port 53', // @5
    'pass out on wan6 inet6 proto udp to any port 53', // @6
    'pass in on lan proto udp to any port 123 no state', // @7
    'pass out log on wan proto udp to any port 123', // @8
    '',
  ].join('\n'),
);
const IFS = [
  '--interface',
  'lan=192.168.1.1/24,fd00::1/64',
  '--interface',
  'wan=203.0.113.1/24',
  '--interface',
  'wan6=2001:db8:1::1/64',
];
const ROUTES = [
  '--route',
  '192.168.1.0/24=lan',
  '--route',
  '0.0.0.0/0=wan',
  '--route',
  '2001:db8:99::/48=wan6',
  '--route',
  'fd00::/8=lan',
];

const web = new TcpPair('192.168.1.10', '203.0.113.5', 40000, 80);
const packets: { pkt: Uint8Array; ifname: string; dir?: 'in' | 'out' }[] = [
  { pkt: web.c('S'), ifname: 'lan' }, // 1: in @1, out on wan @2: both make states
  { pkt: web.s('SA'), ifname: 'wan' }, // 2: the states of both sides
  { pkt: new TcpPair('192.168.1.10', '203.0.113.5', 40001, 25).c('S'), ifname: 'lan' }, // 3: in @3, out @4 blocks
  // 4: IPv6, routed to wan6
  { pkt: buildUdp({ src: 'fd00::10', dst: '2001:db8:99::5', sport: 5353, dport: 53 }), ifname: 'lan' },
  { pkt: buildUdp({ src: 'fd00::10', dst: '2001:db8:77::5', sport: 5353, dport: 53 }), ifname: 'lan' }, // 5: no route
  { pkt: new TcpPair('198.51.100.9', '192.168.1.10', 5555, 22).c('S'), ifname: 'wan' }, // 6: blocked in: no out check
  // 7: a state made out only
  { pkt: buildUdp({ src: '192.168.1.10', dst: '203.0.113.7', sport: 1234, dport: 123 }), ifname: 'lan' },
  { pkt: web.c('A'), ifname: 'wan', dir: 'out' }, // 8: the capture saw it leave: skipped
];

function capture(name: string): string {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const ids = { lan: w.addInterface('lan', LinkType.RAW), wan: w.addInterface('wan', LinkType.RAW) };
  packets.forEach((p, k) => w.write(ids[p.ifname as 'lan' | 'wan'], 1700000000 + k, p.pkt, p.dir ?? 'in'));
  const file = join(dir, name);
  writeFileSync(file, Buffer.concat(chunks));
  return file;
}

async function replay(...args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['replay', '-f', rules, ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err: err.join('\n') };
}

const brief = (c: CheckView | null) =>
  c ? `${c.direction} ${c.interface} ${c.verdict}:${c.why}@${c.rule}${c.stateCreated ? ':new' : ''}` : null;

test('router mode: the in check on the arrival interface, the out check on the routed one, both in JSON', async () => {
  const r = await replay(...IFS, ...ROUTES, '--json', capture('router.pcapng'));
  assert.equal(r.code, 0, r.err);
  const lines = r.out.map((l) => JSON.parse(l));
  const got = lines.slice(0, 7).map((l) => [l.verdict, brief(l.in), brief(l.out), l.route, l.noRoute]);
  assert.deepEqual(got, [
    ['pass', 'in lan pass:rule@1:new', 'out wan pass:rule@2:new', 'wan', false],
    ['pass', 'in wan pass:state@2', 'out lan pass:state@1', 'lan', false],
    ['block', 'in lan pass:rule@3:new', 'out wan block:rule@4', 'wan', false],
    ['pass', 'in lan pass:rule@5:new', 'out wan6 pass:rule@6:new', 'wan6', false],
    ['pass', 'in lan pass:rule@5:new', null, null, true],
    ['block', 'in wan block:rule@0', null, null, false],
    ['pass', 'in lan pass:rule@7', 'out wan pass:rule@8:new', 'wan', false],
  ]);
  assert.deepEqual(lines[0].in.logged, ['@1 pass/match']);
  assert.deepEqual(lines[0].out.logged, ['@2 pass/match']);
  assert.match(lines[0].out.ruleText, /^pass out log on wan proto tcp from any to any port = 80 flags S\/SA$/);
  assert.match(
    lines[1].out.state,
    /192\.168\.1\.10:40000 -> 203\.0\.113\.5:80|203\.0\.113\.5:80 <- 192\.168\.1\.10:40000/,
  );
  assert.deepEqual(lines[2].out.logged, ['@4 block/match']);
  assert.equal(lines[0].interface, 'lan');
  assert.match(lines[7].skipped, /left the router on wan/);
  assert.deepEqual(lines[8].summary, {
    packets: 8,
    passed: 5,
    blocked: 2,
    blockedBy: { rule: 2 },
    skipped: 1,
    statesCreated: 7,
    statesAtEnd: 7,
    noRoute: 1,
  });
});

test('router mode in words: both verdicts per packet', async () => {
  const r = await replay(...IFS, ...ROUTES, capture('router-text.pcapng'));
  assert.equal(r.code, 0, r.err);
  const text = r.out.join('\n');
  assert.match(
    text,
    /in {2}on lan {4}PASS {2}rule @1: pass in log on lan .*; state created; logged \(@1 pass\/match\)\n {8}out on wan/,
  );
  assert.match(text, /out on wan {4}PASS {2}rule @2: pass out log on wan .*; state created; logged \(@2 pass\/match\)/);
  assert.match(text, /out on wan {4}BLOCK rule @4: block drop out log on wan/);
  assert.match(text, /out on - {6}no route: the kernel answers/);
  assert.match(
    text,
    /8 packets: 5 passed, 2 blocked \(2 by rules\), 1 skipped, 1 without a route; 7 states created, 7 at the end/,
  );
});

test('router mode --pflog: what both checks log, with their direction and interface', async () => {
  const file = join(dir, 'router.pflog');
  const r = await replay(...IFS, ...ROUTES, '--pflog', file, capture('router-pflog.pcapng'));
  assert.equal(r.code, 0, r.err);
  const recs = readCapture(readFileSync(file)).map((rec) => {
    const h = pflog.decode(rec.data);
    const link = decodeLinkLayer(rec.linkType, rec.data, 0, rec.data.length);
    const n = rec.time - 1700000000;
    assert.deepEqual(
      new Uint8Array(rec.data.subarray(link.ipOffset)),
      packets[n]!.pkt,
      'the logged bytes are the packet',
    );
    return `${n + 1} ${pflog.PfDirectionName[h.dir]} ${h.ifname} @${h.rulenr} ${pflog.PfActionName[h.action]}`;
  });
  assert.deepEqual(recs, [
    '1 in lan @1 pass',
    '1 out wan @2 pass',
    '3 out wan @4 block',
    '6 in wan @0 block',
    '7 out wan @8 pass',
  ]);
});

test('default=IF routes both families', async () => {
  const r = await replay(
    ...IFS,
    '--route',
    '192.168.1.0/24=lan',
    '--route',
    'fd00::/8=lan',
    '--route',
    'default=wan6',
    '--json',
    capture('default.pcapng'),
  );
  assert.equal(r.code, 0, r.err);
  const lines = r.out.map((l) => JSON.parse(l));
  assert.equal(lines[0].route, 'wan6');
  assert.equal(lines[4].route, 'wan6', 'IPv6 too');
  assert.equal(lines[4].out.verdict, 'pass');
});

test('wrong --route flags are clear errors', async () => {
  const file = capture('bad.pcapng');
  for (const [flag, message] of [
    ['10.0.0.0/8', /--route needs PREFIX=IF \(e\.g\. 10\.0\.0\.0\/8=wan or default=wan\), not '10\.0\.0\.0\/8'/],
    ['10.0.0.0/33=wan', /invalid prefix '10\.0\.0\.0\/33' in --route/],
    ['wan=10.0.0.0/8', /invalid prefix 'wan' in --route/],
    ['10.1.2.3/8=wan', /'10\.1\.2\.3\/8' in --route 10\.1\.2\.3\/8=wan has host bits set beyond \/8/],
    ['default=', /invalid interface name '' in --route default=/],
    ['fd00::/8=bad name', /invalid interface name 'bad name'/],
  ] as const) {
    const r = await replay('--route', flag, file);
    assert.equal(r.code, 2, flag);
    assert.match(r.err, message, flag);
  }
});
