import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildUdp } from '../../src/packet/build.js';
import { CaptureFormatError, PcapngWriter, PcapWriter, readCapture } from '../../src/packet/capture-file.js';
import { decodeLinkLayer, LinkType } from '../../src/packet/link-layer.js';
import { randomSource } from './helpers/random.js';

const concat = (c: Uint8Array[]) => new Uint8Array(Buffer.concat(c));

test('randomised round trip: pcap and pcapng writers, then the reader', () => {
  const rnd = randomSource('capture');
  for (let round = 0; round < 20; round++) {
    const pkts = Array.from({ length: 1 + Math.floor(rnd() * 30) }, () =>
      Uint8Array.from({ length: 1 + Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)),
    );
    const times = pkts.map((_, k) => 1600000000 + k * 0.25 + Math.floor(rnd() * 1000) / 1e6);
    const a: Uint8Array[] = [];
    const pw = new PcapWriter((b) => a.push(b), LinkType.RAW);
    pkts.forEach((p, k) => pw.write(times[k]!, p));
    const ra = readCapture(concat(a));
    assert.equal(ra.length, pkts.length);
    ra.forEach((r, k) => {
      assert.deepEqual(r.data, pkts[k]);
      assert.ok(Math.abs(r.time - times[k]!) < 1e-6);
      assert.equal(r.linkType, LinkType.RAW);
    });
    const b: Uint8Array[] = [];
    const nw = new PcapngWriter((x) => b.push(x));
    const i0 = nw.addInterface('lan0', LinkType.RAW);
    const i1 = nw.addInterface('a-much-longer-name', LinkType.ETHERNET);
    const dirs = pkts.map(() => (['in', 'out', null] as const)[Math.floor(rnd() * 3)]!);
    pkts.forEach((p, k) => nw.write(k % 2 ? i1 : i0, times[k]!, p, dirs[k]));
    const rb = readCapture(concat(b));
    rb.forEach((r, k) => {
      assert.deepEqual(r.data, pkts[k]);
      assert.equal(r.interfaceName, k % 2 ? 'a-much-longer-name' : 'lan0');
      assert.equal(r.linkType, k % 2 ? LinkType.ETHERNET : LinkType.RAW);
      assert.equal(r.direction, dirs[k]);
      assert.ok(Math.abs(r.time - times[k]!) < 1e-6);
    });
  }
});

test('big-endian, nanosecond pcap from a hand-built vector', () => {
  const hex =
    'a1b23c4d' +
    '0002' +
    '0004' +
    '00000000' +
    '00000000' +
    '0000ffff' +
    '00000065' + // header, LINKTYPE_RAW
    '00000064' +
    '1dcd6500' +
    '00000004' +
    '00000004' +
    'deadbeef'; // 100.5 s, 4 bytes
  const [r] = readCapture(Uint8Array.from(Buffer.from(hex, 'hex')));
  assert.equal(r!.time, 100.5);
  assert.deepEqual([...r!.data], [0xde, 0xad, 0xbe, 0xef]);
});

test('damaged files give an error with the byte offset', () => {
  assert.throws(
    () => readCapture(Uint8Array.from([1, 2, 3, 4, 5])),
    (e) => e instanceof CaptureFormatError && /bad magic\) at byte 0/.test(e.message),
  );
  const a: Uint8Array[] = [];
  new PcapWriter((b) => a.push(b), LinkType.RAW).write(1, new Uint8Array(40));
  const cut = concat(a).subarray(0, 50);
  assert.throws(() => readCapture(cut), /truncated record \(40 bytes announced\) at byte 24/);
});

test('link layers: Ethernet with VLAN tags, SLL, SLL2, loopback', () => {
  const ip = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  const qinq = new Uint8Array([...new Uint8Array(12), 0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00, ...ip]);
  assert.equal(decodeLinkLayer(LinkType.ETHERNET, qinq, 0, qinq.length).ipOffset, 22);
  const arp = new Uint8Array([...new Uint8Array(12), 0x08, 0x06, ...new Uint8Array(28)]);
  assert.match(decodeLinkLayer(LinkType.ETHERNET, arp, 0, arp.length).reason, /not IP \(ethertype 0x0806\)/);
  const sll2 = new Uint8Array(20 + ip.length);
  sll2.set([0x08, 0x00, 0, 0, 0, 0, 0, 7, 0, 1, 4], 0);
  sll2.set(ip, 20);
  const s2 = decodeLinkLayer(LinkType.LINUX_SLL2, sll2, 0, sll2.length);
  assert.deepEqual([s2.ipOffset, s2.ifindex, s2.direction], [20, 7, 'out']);
  const lo = new Uint8Array([2, 0, 0, 0, ...ip]);
  assert.equal(decodeLinkLayer(LinkType.NULL, lo, 0, lo.length).ipOffset, 4);
  assert.equal(decodeLinkLayer(LinkType.ETHERNET, new Uint8Array(10), 0, 10).ipOffset, -1);
});

test('tcpdump reads the pcap and pcapng files tunpf writes', (t) => {
  if (spawnSync('tcpdump', ['--version']).error) return t.skip('tcpdump is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-cap-'));
  const ip = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 53, payload: new Uint8Array(12) });
  const a: Uint8Array[] = [];
  new PcapWriter((b) => a.push(b), LinkType.RAW).write(1700000000.5, ip);
  writeFileSync(join(dir, 'a.pcap'), concat(a));
  const b: Uint8Array[] = [];
  const w = new PcapngWriter((x) => b.push(x));
  w.write(w.addInterface('lan', LinkType.RAW), 1700000000.5, ip, 'in');
  writeFileSync(join(dir, 'b.pcapng'), concat(b));
  for (const f of ['a.pcap', 'b.pcapng']) {
    const r = spawnSync('tcpdump', ['-n', '-r', join(dir, f)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /10\.0\.0\.1\.1234 > 10\.0\.0\.2\.53/);
  }
});
