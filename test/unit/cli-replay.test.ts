// `tunpf replay`: captures the test builds itself, checked packet by packet.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { PcapngWriter, PcapWriter } from '../../src/packet/capture-file.js';
import { LinkType } from '../../src/packet/link-layer.js';
import { TcpPair } from './helpers/flow.js';
import type { ReplayLine } from './helpers/replay-json.js';

const dir = mkdtempSync(join(tmpdir(), 'tunpf-replay-'));
const rules = join(dir, 'rules.conf');
writeFileSync(
  rules,
  'block all\n' +
    'pass in on lan proto tcp from 192.168.1.0/24 to any port 80 label "web"\n' +
    'pass in on lan proto udp from 192.168.1.0/24 to any port 53\n',
);

function collect(chunks: Uint8Array[]): Uint8Array {
  return Buffer.concat(chunks);
}

async function replay(...args: string[]): Promise<{ code: number; lines: ReplayLine[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['replay', ...args], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, lines: out.map((l) => JSON.parse(l) as ReplayLine) };
}

function conversation(): { pkt: Uint8Array; dir: 'in' | 'out'; ifname: string }[] {
  const c = new TcpPair('192.168.1.10', '203.0.113.5', 40000, 80);
  return [
    { pkt: c.c('S'), dir: 'in', ifname: 'lan' },
    { pkt: c.s('SA'), dir: 'out', ifname: 'wan' },
    { pkt: c.c('A'), dir: 'in', ifname: 'lan' },
    {
      pkt: buildTcp({
        src: c.server,
        dst: c.client,
        sport: 80,
        dport: 40000,
        seq: (c.sseq + 9_000_000) >>> 0,
        flags: 'R',
      }),
      dir: 'out',
      ifname: 'wan',
    },
    { pkt: c.c('PA', 100), dir: 'in', ifname: 'lan' },
    {
      pkt: buildTcp({ src: '198.51.100.9', dst: '192.168.1.10', sport: 5555, dport: 22, flags: 'S' }),
      dir: 'in',
      ifname: 'wan',
    },
    { pkt: buildUdp({ src: '192.168.1.10', dst: '9.9.9.9', sport: 5353, dport: 53 }), dir: 'in', ifname: 'lan' },
    { pkt: new Uint8Array([0x45, 0, 0, 99, 0, 0]), dir: 'in', ifname: 'lan' },
  ];
}

function check(lines: ReplayLine[]) {
  const verdicts = lines.slice(0, 8).map((l) => `${l.verdict}:${l.why}${l.stateCreated ? ':new' : ''}`);
  assert.deepEqual(verdicts, [
    'pass:rule:new',
    'pass:state',
    'pass:state',
    'block:bad-state',
    'pass:state',
    'block:rule',
    'pass:rule:new',
    'block:malformed',
  ]);
  assert.equal(lines[0].rule, 1);
  assert.equal(lines[0].label, 'web');
  assert.match(
    lines[0].ruleText ?? '',
    /^pass in on lan inet proto tcp from 192\.168\.1\.0\/24 to any port = 80 flags S\/SA label "web"$/,
  );
  assert.match(lines[2].state ?? '', /tcp 203\.0\.113\.5:80 <- 192\.168\.1\.10:40000 ESTABLISHED:ESTABLISHED/);
  assert.equal(lines[5].rule, 0);
  assert.deepEqual(lines[8].summary, {
    packets: 8,
    passed: 5,
    blocked: 3,
    blockedBy: { rule: 1, malformed: 1, 'bad-state': 1 },
    skipped: 0,
    statesCreated: 2,
    statesAtEnd: 2,
  });
}

test('pcapng: interfaces and directions come from the capture', async () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const ids = { lan: w.addInterface('lan', LinkType.RAW), wan: w.addInterface('wan', LinkType.RAW) };
  conversation().forEach((p, k) => w.write(ids[p.ifname as 'lan' | 'wan'], 1700000000 + k * 0.01, p.pkt, p.dir));
  const file = join(dir, 'conv.pcapng');
  writeFileSync(file, collect(chunks));
  const r = await replay('-f', rules, '--json', file);
  assert.equal(r.code, 0);
  check(r.lines);
  assert.equal(r.lines[1].interface, 'wan');
  assert.equal(r.lines[1].direction, 'out');
  assert.equal(r.lines[1].time, 0.01);
});

test('pcap with Ethernet frames: interfaces and directions from --in-on / --out-on by source network', async () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((b) => chunks.push(b), LinkType.ETHERNET);
  for (const [k, p] of conversation().entries()) {
    const eth = new Uint8Array(14 + p.pkt.length);
    eth.set([0, 0, 0x5e, 0, 1, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    eth.set(p.pkt, 14);
    w.write(1700000000 + k * 0.01, eth);
  }
  const file = join(dir, 'conv.pcap');
  writeFileSync(file, collect(chunks));
  // a capture on lan: LAN sources arrive on it, everything else leaves by it
  // (replies meet the state made on the way in)
  const r = await replay('-f', rules, '--json', '--in-on', 'lan=192.168.1.0/24', '--out-on', 'lan', file);
  assert.equal(r.code, 0);
  check(r.lines);
});

test('Linux cooked captures (SLL) give the direction', async () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((b) => chunks.push(b), LinkType.LINUX_SLL);
  for (const [k, p] of conversation().entries()) {
    const sll = new Uint8Array(16 + p.pkt.length);
    sll[1] = p.dir === 'out' ? 4 : 0;
    sll[14] = 0x08;
    sll.set(p.pkt, 16);
    w.write(1700000000 + k, sll);
  }
  const file = join(dir, 'conv-sll.pcap');
  writeFileSync(file, collect(chunks));
  const r = await replay('-f', rules, '--json', '--in-on', 'lan=192.168.1.0/24', '--in-on', 'wan', file);
  assert.equal(r.lines[1].direction, 'out');
  assert.equal(r.lines[0].direction, 'in');
});

test('the human output says why each packet passed or not', async () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const ids = { lan: w.addInterface('lan', LinkType.RAW), wan: w.addInterface('wan', LinkType.RAW) };
  conversation().forEach((p, k) => w.write(ids[p.ifname as 'lan' | 'wan'], 1700000000 + k, p.pkt, p.dir));
  const file = join(dir, 'human.pcapng');
  writeFileSync(file, collect(chunks));
  const out: string[] = [];
  assert.equal(await main(['replay', '-f', rules, file], { out: (t) => out.push(t), err: () => {} }), 0);
  const text = out.join('\n');
  assert.match(text, /PASS {2}rule @1: pass in on lan .* label "web"; state created/);
  assert.match(text, /BLOCK bad-state: outside the TCP window/);
  assert.match(text, /BLOCK rule @0: block drop all/);
  assert.match(
    text,
    /8 packets: 5 passed, 3 blocked \(1 by a rule, 1 malformed, 1 bad-state\); 2 states created, 2 at the end/,
  );
});

test('a damaged capture is one clear error', async () => {
  const file = join(dir, 'bad.pcap');
  writeFileSync(
    file,
    Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000' + '00000000000000000010000000100000', 'hex'),
  );
  const err: string[] = [];
  const code = await main(['replay', '-f', rules, file], { out: () => {}, err: (t) => err.push(t) });
  assert.equal(code, 1);
  assert.match(err.join('\n'), /truncated record \(4096 bytes announced\) at byte 24/);
});

test('a capture cut short: the complete packets are replayed, then a warning (exit 1, as tcpdump)', async () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const ids = { lan: w.addInterface('lan', LinkType.RAW), wan: w.addInterface('wan', LinkType.RAW) };
  conversation().forEach((p, k) => w.write(ids[p.ifname as 'lan' | 'wan'], 1700000000 + k, p.pkt, p.dir));
  const whole = collect(chunks);
  const file = join(dir, 'cut.pcapng');
  writeFileSync(file, whole.subarray(0, whole.length - 10));
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['replay', '-f', rules, file], { out: (t) => out.push(t), err: (t) => err.push(t) });
  assert.equal(code, 1);
  assert.match(out.join('\n'), /^7 packets: /m);
  assert.match(err.join('\n'), /cut short \(truncated block .*\); 7 complete packets replayed/);
});

test('packets that record no interface, without --in-on/--out-on: said once', async () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((b) => chunks.push(b), LinkType.RAW);
  conversation().forEach((p, k) => w.write(1700000000 + k, p.pkt));
  const file = join(dir, 'bare.pcap');
  writeFileSync(file, collect(chunks));
  const err: string[] = [];
  assert.equal(await main(['replay', '-f', rules, file], { out: () => {}, err: (t) => err.push(t) }), 0);
  assert.equal(err.length, 1, err.join('\n'));
  assert.match(err[0]!, /packet 1 records no interface or direction; .* --in-on IF\[=NET\]/);
});
