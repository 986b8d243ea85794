// `tunpf replay --route` with translation: each check says what it rewrote
// (text and JSON), the packet line shows the packet as it arrived, and
// --pflog writes the translated packet, as pf logs it (pflog_packet runs at
// the end of pf_test, after the rewrite).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { buildTcp } from '../../src/packet/build.js';
import { formatAddress } from '../../src/packet/address.js';
import { PcapngWriter, readCapture } from '../../src/packet/capture-file.js';
import { decodeLinkLayer, LinkType } from '../../src/packet/link-layer.js';
import { PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import * as pflog from '../../src/packet/pflog.js';

const dir = mkdtempSync(join(tmpdir(), 'tunpf-replay-nat-'));
const rules = join(dir, 'rules.conf');
writeFileSync(
  rules,
  [
    'block all', // @0
    'pass in on lan', // @1
    'pass out log on wan', // @2
    'match out on wan inet from 192.168.1.0/24 nat-to 198.51.100.2 port 50123', // @3
    'pass in log on wan proto tcp to 198.51.100.2 port 2222 rdr-to 192.168.1.20 port 22', // @4
    'pass out on lan', // @5
    '',
  ].join('\n'),
);
const ARGS = [
  '--interface',
  'lan=192.168.1.1/24',
  '--interface',
  'wan=198.51.100.2/30',
  '--route',
  '192.168.1.0/24=lan',
  '--route',
  'default=wan',
];
const packets = [
  { ifname: 'lan', pkt: buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' }) },
  {
    ifname: 'wan',
    pkt: buildTcp({ src: '203.0.113.5', dst: '198.51.100.2', sport: 443, dport: 50123, flags: 'SA', ack: 1 }),
  },
  { ifname: 'wan', pkt: buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: 2222, flags: 'S' }) },
];

function capture(name: string): string {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const ids = { lan: w.addInterface('lan', LinkType.RAW), wan: w.addInterface('wan', LinkType.RAW) };
  packets.forEach((p, k) => w.write(ids[p.ifname as 'lan' | 'wan'], 1700000000 + k, p.pkt, 'in'));
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

test('replay JSON: each check carries what it rewrote; the packet is shown as it arrived', async () => {
  const r = await replay(...ARGS, '--json', capture('nat.pcapng'));
  assert.equal(r.code, 0, r.err);
  const lines = r.out.map((l) => JSON.parse(l));
  assert.match(lines[0].packet, /192\.168\.1\.10.*40000.*203\.0\.113\.5.*443/);
  assert.deepEqual(lines[0].in.translation, []);
  assert.deepEqual(lines[0].out.translation, [
    { kind: 'nat', field: 'src', from: '192.168.1.10:40000', to: '198.51.100.2:50123', quoted: false },
  ]);
  // the reply, translated back on its way in
  assert.deepEqual(lines[1].in.translation, [
    { kind: 'nat', field: 'dst', from: '198.51.100.2:50123', to: '192.168.1.10:40000', quoted: false },
  ]);
  assert.equal(lines[1].route, 'lan');
  assert.deepEqual(lines[1].out.translation, []);
  assert.deepEqual(lines[2].in.translation, [
    { kind: 'rdr', field: 'dst', from: '198.51.100.2:2222', to: '192.168.1.20:22', quoted: false },
  ]);
  assert.equal(lines[2].route, 'lan');
});

test('replay in words: the translation next to the verdict', async () => {
  const r = await replay(...ARGS, capture('nat-text.pcapng'));
  assert.equal(r.code, 0, r.err);
  const text = r.out.join('\n');
  assert.match(
    text,
    /out on wan {4}PASS {2}rule @2: .*; state created; nat 192\.168\.1\.10:40000 -> 198\.51\.100\.2:50123/,
  );
  assert.match(text, /in {2}on wan {4}PASS {2}state .*; nat 198\.51\.100\.2:50123 -> 192\.168\.1\.10:40000/);
  assert.match(
    text,
    /in {2}on wan {4}PASS {2}rule @4: .*; state created; rdr 198\.51\.100\.2:2222 -> 192\.168\.1\.20:22/,
  );
});

test('replay --pflog: the logged packet is the translated one', async () => {
  const file = join(dir, 'nat.pflog');
  const r = await replay(...ARGS, '--pflog', file, capture('nat-pflog.pcapng'));
  assert.equal(r.code, 0, r.err);
  const recs = readCapture(readFileSync(file)).map((rec) => {
    const h = pflog.decode(rec.data);
    const link = decodeLinkLayer(rec.linkType, rec.data, 0, rec.data.length);
    const m = new PacketMeta();
    parsePacket(rec.data, link.ipOffset, rec.data.length - link.ipOffset, m);
    const ep = (a: Uint32Array, p: number) => `${formatAddress(4, a)}:${p}`;
    return `${pflog.PfDirectionName[h.dir]} ${h.ifname} @${h.rulenr} ${ep(m.src, m.srcPort)} > ${ep(m.dst, m.dstPort)}`;
  });
  assert.deepEqual(recs, [
    'out wan @2 198.51.100.2:50123 > 203.0.113.5:443',
    'in wan @4 203.0.113.9:40000 > 192.168.1.20:22',
  ]);
});
