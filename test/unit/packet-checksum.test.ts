// The Internet checksum: full computation, pseudo-headers, verification per
// protocol, RFC 1624 incremental updates, and giving a hop back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checksumAdjust16,
  checksumAdjust32,
  checksumAdjustAddress,
  fold16,
  incrementIpv4Ttl,
  incrementIpv6HopLimit,
  internetChecksum,
  ipv4HeaderChecksum,
  l4Checksum,
  l4ChecksumFieldOffset,
  pseudoHeaderSum,
  pseudoHeaderSumWords,
  sum16,
  verifyIpv4HeaderChecksum,
  verifyL4Checksum,
  writeIpv4HeaderChecksum,
  writeL4Checksum,
} from '../../src/packet/checksum.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../src/packet/build.js';
import { PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { seededRandom, testSeed } from './helpers/random.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// Vectors with checksums computed independently (Python); see the per-protocol tests for their content.
const VECTORS: Array<[string, Uint8Array]> = [
  [
    'tcp4',
    hex(
      '4500003c1c464000 40060a740a000001 0a00000204d20050 000003e800000000 ' +
        'a002faf030020000 020405b40402080a 0000000100000000 01030307',
    ),
  ],
  [
    'tcp6',
    hex(
      '628abcde00250639 20010db800000000 0000000000000001 20010db800000000 0000000000000002 ' +
        '01bbc738fffffff0 80000001801801f5 7b4200000101080a b2d05e000000007b 68656c6c6f',
    ),
  ],
  ['udp4', hex('45000020beef0000 3f11398ac0a80102 c0a8010114e90035 000c543012340100')],
  [
    'udp6',
    hex('60000000000b1101 fe80000000000000 0000000000000001 ff02000000000000 0000000000010002 02220223000bfa09 010203'),
  ],
  ['icmp4', hex('4500002000010000 400163d70a010101 0a02020208003331 0007000161626364')],
  [
    'icmp6',
    hex(
      '60000000000c3a40 20010db800000000 000000000000000a 20010db800000000 000000000000000b 8000332412340009 70696e67',
    ),
  ],
];

function l4Of(pkt: Uint8Array): { af: number; proto: number; l4: number; len: number } {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
  return { af: m.af, proto: m.proto, l4: m.l4Offset, len: m.l4Length };
}

const SEED = testSeed();
const rand = seededRandom(SEED);
const randBytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));

/** The textbook one-word-at-a-time sum, to check the unrolled one against. */
function slowSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i]! << 8) | (i + 1 < len ? b[off + i + 1]! : 0);
  return s;
}

test('RFC 1071 example: words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d', () => {
  const b = hex('0001f203f4f5f6f7');
  assert.equal(fold16(sum16(b, 0, 8)), 0xddf2);
  assert.equal(internetChecksum(b, 0, 8), 0x220d);
});

test('odd lengths pad with a zero byte; any range and offset agree with the textbook sum', () => {
  assert.equal(internetChecksum(hex('0102 03'), 0, 3), ~(0x0102 + 0x0300) & 0xffff);
  const b = randBytes(3000);
  for (let i = 0; i < 300; i++) {
    const off = Math.floor(rand() * 1000);
    const len = Math.floor(rand() * 2000);
    assert.equal(fold16(sum16(b, off, len)), fold16(slowSum(b, off, len)), `seed ${SEED}`);
  }
  assert.equal(internetChecksum(new Uint8Array(0), 0, 0), 0xffff);
});

test('all-zero data has checksum ffff, and 64 KiB of ff folds exactly', () => {
  assert.equal(internetChecksum(new Uint8Array(64), 0, 64), 0xffff);
  const ff = new Uint8Array(65535).fill(0xff);
  assert.equal(fold16(sum16(ff, 0, ff.length)), fold16(slowSum(ff, 0, ff.length)));
});

test('independently computed vectors verify; one flipped bit fails', () => {
  for (const [name, v] of VECTORS) {
    const { af, proto, l4, len } = l4Of(v);
    if (af === 4) assert.ok(verifyIpv4HeaderChecksum(v, 0), `${name} header`);
    assert.ok(verifyL4Checksum(v, 0, af, proto, l4, len), name);
    const fo = l4 + l4ChecksumFieldOffset(proto);
    assert.equal(l4Checksum(v, 0, af, proto, l4, len), (v[fo]! << 8) | v[fo + 1]!, `${name} recomputed`);
    for (let k = 0; k < 10; k++) {
      const bad = v.slice();
      const at = l4 + Math.floor(rand() * len);
      bad[at]! ^= 1 << Math.floor(rand() * 8);
      assert.equal(verifyL4Checksum(bad, 0, af, proto, l4, len), false, `${name}, seed ${SEED}, byte ${at}`);
    }
    if (af === 4) {
      const bad = v.slice();
      bad[8]! ^= 0x10;
      assert.equal(verifyIpv4HeaderChecksum(bad, 0), false);
      assert.equal(ipv4HeaderChecksum(v, 0), (v[10]! << 8) | v[11]!);
    }
  }
});

test('a changed source address breaks TCP/UDP/ICMPv6 checksums (pseudo-header), not ICMP', () => {
  for (const [name, v] of VECTORS) {
    const { af, proto, l4, len } = l4Of(v);
    const moved = v.slice();
    moved[af === 4 ? 15 : 23]! ^= 0x01; // last byte of the source address
    if (af === 4) writeIpv4HeaderChecksum(moved, 0);
    assert.equal(verifyL4Checksum(moved, 0, af, proto, l4, len), proto === 1, name);
  }
});

test('pseudo-header sums: from the buffer and from words agree', () => {
  const m = new PacketMeta();
  for (const [, v] of VECTORS) {
    parsePacket(v, 0, v.length, m);
    assert.equal(
      fold16(pseudoHeaderSum(v, 0, m.af, m.proto, m.l4Length)),
      fold16(pseudoHeaderSumWords(m.af, m.src, m.dst, m.proto, m.l4Length)),
    );
  }
  // a length above 65535 (IPv6 pseudo-header has 32 bits for it)
  const w = new Uint32Array(4);
  assert.equal(pseudoHeaderSumWords(6, w, w, 6, 0x12345), 6 + 0x1 + 0x2345);
});

test('writeL4Checksum computes what the vectors carry', () => {
  for (const [name, v] of VECTORS) {
    const { af, proto, l4, len } = l4Of(v);
    const z = v.slice();
    const fo = l4 + l4ChecksumFieldOffset(proto);
    z[fo] = 0x5a;
    z[fo + 1] = 0xa5;
    assert.ok(writeL4Checksum(z, 0, af, proto, l4, len));
    assert.deepEqual(z, v, name);
  }
  assert.equal(writeL4Checksum(new Uint8Array(40), 0, 4, 47, 20, 20), false, 'GRE: no checksum we handle');
  assert.equal(l4Checksum(new Uint8Array(40), 0, 4, 47, 20, 20), -1);
  assert.equal(verifyL4Checksum(new Uint8Array(40), 0, 4, 47, 20, 20), false);
});

test('UDP: 0 means no checksum on IPv4, is invalid on IPv6, and a computed 0 is sent as ffff', () => {
  const v4 = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: hex('0000'), checksum: false });
  assert.ok(verifyL4Checksum(v4, 0, 4, 17, 20, 10));
  const v6 = buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2, payload: hex('0000') });
  v6[46] = 0;
  v6[47] = 0;
  assert.equal(verifyL4Checksum(v6, 0, 6, 17, 40, 10), false);

  // choose the payload word so that the ones' complement sum of everything is ffff: the checksum computes to 0
  const p = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: hex('0000') });
  p[26] = 0;
  p[27] = 0;
  const rest = fold16(pseudoHeaderSum(p, 0, 4, 17, 10) + sum16(p, 20, 10));
  const word = 0xffff - rest;
  p[28] = word >>> 8;
  p[29] = word & 0xff;
  assert.equal(fold16(pseudoHeaderSum(p, 0, 4, 17, 10) + sum16(p, 20, 10)), 0xffff);
  assert.equal(l4Checksum(p, 0, 4, 17, 20, 10), 0xffff, 'UDP sends ffff for a computed 0');
  writeL4Checksum(p, 0, 4, 17, 20, 10);
  assert.ok(verifyL4Checksum(p, 0, 4, 17, 20, 10));
  // TCP keeps a computed 0 as 0
  const t = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: hex('0000') });
  t[36] = 0;
  t[37] = 0;
  const trest = fold16(pseudoHeaderSum(t, 0, 4, 6, 22) + sum16(t, 20, 22));
  const tw = 0xffff - trest;
  t[40] = tw >>> 8;
  t[41] = tw & 0xff;
  assert.equal(l4Checksum(t, 0, 4, 6, 20, 22), 0);
});

test('UDP checksum covers the UDP length, not trailing bytes', () => {
  const p = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: hex('01020304') });
  const withTrailer = new Uint8Array(p.length + 3);
  withTrailer.set(p);
  withTrailer.set(hex('abcdef'), p.length);
  assert.ok(verifyL4Checksum(withTrailer, 0, 4, 17, 20, 15));
});

test('RFC 1624 section 4 example: eqn. 3 gives 0000, the recomputed value, not the -0 of eqn. 1', () => {
  // other header words sum to cd7a; a field changes from 5555 to 3285
  assert.equal(~fold16(0xcd7a + 0x5555) & 0xffff, 0xdd2f);
  assert.equal(checksumAdjust16(0xdd2f, 0x5555, 0x3285), 0x0000);
  const recomputed = ~fold16(0xcd7a + 0x3285) & 0xffff;
  assert.equal(recomputed, 0x0000);
});

test('incremental 16-bit updates equal recomputation (randomised)', () => {
  for (let i = 0; i < 2000; i++) {
    const hdr = randBytes(20);
    hdr[0] = 0x45;
    writeIpv4HeaderChecksum(hdr, 0);
    const old = (hdr[10]! << 8) | hdr[11]!;
    // any word but the first (it holds the header length) and the checksum itself
    const w = [2, 4, 6, 8, 12, 14, 16, 18][Math.floor(rand() * 8)]!;
    const oldWord = (hdr[w]! << 8) | hdr[w + 1]!;
    const newWord = rand() < 0.1 ? oldWord ^ 0xffff : Math.floor(rand() * 0x10000);
    hdr[w] = newWord >>> 8;
    hdr[w + 1] = newWord & 0xff;
    const adjusted = checksumAdjust16(old, oldWord, newWord);
    assert.equal(adjusted, ipv4HeaderChecksum(hdr, 0), `seed ${SEED}, case ${i}`);
    hdr[10] = adjusted >>> 8;
    hdr[11] = adjusted & 0xff;
    assert.ok(verifyIpv4HeaderChecksum(hdr, 0));
  }
});

test('incremental 32-bit and address updates equal recomputation (TCP sequence numbers, NAT)', () => {
  for (let i = 0; i < 500; i++) {
    const v6 = rand() < 0.5;
    const pkt = buildTcp({
      src: v6 ? '2001:db8::1' : '10.0.0.1',
      dst: v6 ? '2001:db8::2' : '10.0.0.2',
      sport: 1,
      dport: 2,
      seq: Math.floor(rand() * 2 ** 32),
      payload: randBytes(Math.floor(rand() * 40)),
    });
    const m = new PacketMeta();
    parsePacket(pkt, 0, pkt.length, m);
    const csAt = m.l4Offset + 16;
    const oldCs = (pkt[csAt]! << 8) | pkt[csAt + 1]!;
    const newSeq = Math.floor(rand() * 2 ** 32);
    const viaSeq = checksumAdjust32(oldCs, m.seq, newSeq);
    const s = m.l4Offset + 4;
    pkt[s] = newSeq >>> 24;
    pkt[s + 1] = (newSeq >>> 16) & 0xff;
    pkt[s + 2] = (newSeq >>> 8) & 0xff;
    pkt[s + 3] = newSeq & 0xff;
    assert.equal(viaSeq, l4Checksum(pkt, 0, m.af, 6, m.l4Offset, m.l4Length), `seed ${SEED}, case ${i}`);
    pkt[csAt] = viaSeq >>> 8;
    pkt[csAt + 1] = viaSeq & 0xff;

    // rewrite the source address (the pseudo-header moves with it)
    const newSrc = Uint32Array.from({ length: 4 }, () => Math.floor(rand() * 2 ** 32));
    if (!v6) newSrc.fill(0, 1);
    const viaAddr = checksumAdjustAddress(viaSeq, m.af, m.src, newSrc);
    const at = m.af === 4 ? 12 : 8;
    for (let k = 0; k < (m.af === 4 ? 1 : 4); k++) {
      pkt[at + 4 * k] = newSrc[k]! >>> 24;
      pkt[at + 4 * k + 1] = (newSrc[k]! >>> 16) & 0xff;
      pkt[at + 4 * k + 2] = (newSrc[k]! >>> 8) & 0xff;
      pkt[at + 4 * k + 3] = newSrc[k]! & 0xff;
    }
    pkt[csAt] = viaAddr >>> 8;
    pkt[csAt + 1] = viaAddr & 0xff;
    assert.ok(verifyL4Checksum(pkt, 0, m.af, 6, m.l4Offset, m.l4Length), `seed ${SEED}, case ${i}`);
  }
});

test('giving a hop back: IPv4 TTL + 1 with a valid header checksum, IPv6 hop limit + 1', () => {
  for (let ttl = 0; ttl < 255; ttl++) {
    const p = buildUdp({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      sport: 1,
      dport: 2,
      ttl,
      tos: Math.floor(rand() * 256),
      ipId: Math.floor(rand() * 65536),
    });
    assert.equal(incrementIpv4Ttl(p, 0), true);
    assert.equal(p[8], ttl + 1);
    assert.ok(verifyIpv4HeaderChecksum(p, 0), `ttl ${ttl}`);
    assert.equal((p[10]! << 8) | p[11]!, ipv4HeaderChecksum(p, 0));
  }
  const max = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, ttl: 255 });
  const before = max.slice();
  assert.equal(incrementIpv4Ttl(max, 0), false);
  assert.deepEqual(max, before);

  const six = buildIcmpEcho({ src: '2001:db8::1', dst: '2001:db8::2', id: 1, ttl: 63 });
  const l4Before = six.slice(40);
  assert.equal(incrementIpv6HopLimit(six, 0), true);
  assert.equal(six[7], 64);
  assert.deepEqual(six.slice(40), l4Before, 'the hop limit is not in any checksum');
  six[7] = 255;
  assert.equal(incrementIpv6HopLimit(six, 0), false);
  assert.equal(six[7], 255);
});

test('giving a hop back works at an offset inside a batch buffer', () => {
  const p = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, ttl: 62, ipOptions: hex('01010101') });
  const buf = new Uint8Array(p.length + 100);
  buf.set(p, 33);
  assert.ok(incrementIpv4Ttl(buf, 33));
  assert.equal(buf[33 + 8], 63);
  assert.ok(verifyIpv4HeaderChecksum(buf, 33));
});
