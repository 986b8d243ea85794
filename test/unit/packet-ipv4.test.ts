// IPv4 header parsing (parsePacket) and the IPv4 codec, against hand-written
// byte vectors whose checksums were computed independently (Python).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import * as ipv4 from '../../src/packet/ipv4.js';
import { buildIpPacket, buildTcp, buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { verifyIpv4HeaderChecksum } from '../../src/packet/checksum.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// 10.0.0.1:1234 > 10.0.0.2:80 SYN, id 0x1c46, DF, TTL 64: mss 1460, sackOK, TS 1/0, nop, wscale 7
const TCP4_SYN = hex(`4500003c 1c464000 40060a74 0a000001 0a000002
  04d20050 000003e8 00000000 a002faf0 30020000 020405b4 0402080a 00000001 00000000 01030307`);
// 10.0.0.1 > 10.0.0.2 UDP 1 > 2, with an 8-byte option area: record route (len 7), end of list
const IP4_OPTS = hex('47000024 00000000 401159c0 0a000001 0a000002 07070400 00000000 00010002 0008ebd8');

function parse(pkt: Uint8Array, offset = 0, length = pkt.length - offset): PacketMeta {
  const m = new PacketMeta();
  const rc = parsePacket(pkt, offset, length, m);
  assert.equal(rc, m.error);
  return m;
}

test('the IPv4 header fields of a TCP SYN vector', () => {
  const m = parse(TCP4_SYN);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.af, 4);
  assert.equal(m.l3Offset, 0);
  assert.equal(m.l3HeaderLength, 20);
  assert.equal(m.totalLength, 60);
  assert.equal(m.ttl, 64);
  assert.equal(m.tos, 0);
  assert.equal(m.proto, 6);
  assert.deepEqual([...m.src], [0x0a000001, 0, 0, 0]);
  assert.deepEqual([...m.dst], [0x0a000002, 0, 0, 0]);
  assert.equal(m.fragmentId, 0x1c46);
  assert.equal(m.isFragment, false, 'DF alone is not a fragment');
  assert.equal(m.isLaterFragment, false);
  assert.equal(m.hasIpOptions, false);
  assert.equal(m.l4Offset, 20);
  assert.equal(m.l4Length, 40);
});

test('the builder reproduces the independently computed vector byte for byte', () => {
  const built = buildTcp({
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 1234,
    dport: 80,
    seq: 1000,
    flags: 'S',
    window: 64240,
    ipId: 0x1c46,
    df: true,
    options: { mss: 1460, sackOk: true, ts: [1, 0], wscale: 7 },
  });
  assert.deepEqual(built, TCP4_SYN);
});

test('a packet inside a larger buffer: offsets are absolute, bytes after the IP length are ignored', () => {
  const buf = new Uint8Array(7 + TCP4_SYN.length + 13).fill(0xee);
  buf.set(TCP4_SYN, 7);
  const m = parse(buf, 7, TCP4_SYN.length + 13); // trailing bytes within the frame, as Ethernet padding
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.l3Offset, 7);
  assert.equal(m.l4Offset, 27);
  assert.equal(m.totalLength, 60);
  assert.equal(m.l4Length, 40);
  assert.equal(m.payloadLength, 0);
  assert.equal(m.srcPort, 1234);
});

test('TOS and TTL are read as they are', () => {
  const p = buildUdp({ src: '1.2.3.4', dst: '5.6.7.8', sport: 1, dport: 2, tos: 0xb8, ttl: 1 });
  const m = parse(p);
  assert.equal(m.tos, 0xb8);
  assert.equal(m.ttl, 1);
});

test('IP options: validated, hasIpOptions set (padding alone counts, as in pf)', () => {
  const m = parse(IP4_OPTS);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.l3HeaderLength, 28);
  assert.equal(m.hasIpOptions, true);
  assert.equal(m.l4Offset, 28);
  assert.equal(m.proto, 17);
  assert.equal(m.dstPort, 2);
  assert.ok(verifyIpv4HeaderChecksum(IP4_OPTS, 0));

  const nops = buildUdp({ src: '1.1.1.1', dst: '2.2.2.2', sport: 1, dport: 2, ipOptions: hex('01010101') });
  assert.equal(parse(nops).hasIpOptions, true);
});

test('a router alert alone is allowed for IGMP, not for other protocols', () => {
  const ra = hex('94040000'); // router alert, length 4
  const igmp = buildIpPacket({
    src: '10.0.0.1',
    dst: '224.0.0.22',
    protocol: 2,
    payload: new Uint8Array(8),
    ipOptions: ra,
    ttl: 1,
  });
  const m = parse(igmp);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 2);
  assert.equal(m.hasIpOptions, false);
  const udp = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, ipOptions: ra });
  assert.equal(parse(udp).hasIpOptions, true);
  // router alert plus another option: not only a router alert
  const both = buildIpPacket({
    src: '10.0.0.1',
    dst: '224.0.0.22',
    protocol: 2,
    payload: new Uint8Array(8),
    ipOptions: hex('94040000 07030400'),
  });
  assert.equal(parse(both).hasIpOptions, true);
});

test('fragments: the first is parsed to L4, later ones are not', () => {
  const whole = buildUdp({
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 4000,
    dport: 53,
    payload: new Uint8Array(100).fill(7),
    ipId: 0x4242,
  });
  const frags = fragmentPacket(whole, 48);
  assert.equal(frags.length, 3); // 108 bytes of UDP: 48 + 48 + 12
  const first = parse(frags[0]!);
  assert.equal(first.error, ParseError.OK);
  assert.equal(first.isFragment, true);
  assert.equal(first.isLaterFragment, false);
  assert.equal(first.moreFragments, true);
  assert.equal(first.fragmentOffset, 0);
  assert.equal(first.fragmentId, 0x4242);
  assert.equal(first.srcPort, 4000);
  assert.equal(first.payloadLength, 100, 'UDP length describes the whole datagram');

  const second = parse(frags[1]!);
  assert.equal(second.error, ParseError.OK);
  assert.equal(second.isFragment, true);
  assert.equal(second.isLaterFragment, true);
  assert.equal(second.moreFragments, true);
  assert.equal(second.fragmentOffset, 48);
  assert.equal(second.proto, 17);
  assert.equal(second.srcPort, 0, 'no L4 parse in a later fragment');
  assert.equal(second.l4Offset, 20);
  assert.equal(second.l4Length, 48);

  const last = parse(frags[2]!);
  assert.equal(last.isLaterFragment, true);
  assert.equal(last.moreFragments, false);
  assert.equal(last.fragmentOffset, 96);
  assert.equal(last.l4Length, 12);
});

test('AH is walked to the upper-layer protocol, as pf does for IPv4', () => {
  const tcpSeg = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 5, dport: 6, seq: 77 }).subarray(20);
  const ah = new Uint8Array(16); // next header, length ((16 / 4) - 2 = 2), reserved, SPI, sequence, 4-byte ICV
  ah[0] = 6;
  ah[1] = 2;
  const payload = new Uint8Array(ah.length + tcpSeg.length);
  payload.set(ah);
  payload.set(tcpSeg, ah.length);
  const m = parse(buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 51, payload, fixChecksum: false }));
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 6);
  assert.equal(m.l4Offset, 36);
  assert.equal(m.seq, 77);
  assert.equal(m.dstPort, 6);
});

test('codec: decode the vector', () => {
  const d = ipv4.decode(TCP4_SYN);
  assert.equal(ipv4.decode.bytes, 60);
  assert.equal(d.headerLength, 20);
  assert.equal(d.totalLength, 60);
  assert.equal(d.id, 0x1c46);
  assert.equal(d.flags, ipv4.IPV4_FLAG_DF);
  assert.equal(d.fragmentOffset, 0);
  assert.equal(d.ttl, 64);
  assert.equal(d.protocol, 6);
  assert.equal(d.checksum, 0x0a74);
  assert.equal(d.src, '10.0.0.1');
  assert.equal(d.dst, '10.0.0.2');
  assert.equal(d.options.length, 0);
  assert.equal(d.payload.length, 40);
  const o = ipv4.decode(IP4_OPTS);
  assert.deepEqual([...o.options], [7, 7, 4, 0, 0, 0, 0, 0]);
});

test('codec: encode(decode(x)) is x, and encode computes the header checksum', () => {
  for (const v of [TCP4_SYN, IP4_OPTS]) {
    const d = ipv4.decode(v);
    assert.deepEqual(ipv4.encode(d), v);
    assert.equal(ipv4.encodingLength(d), v.length);
    const { checksum: _drop, ...noSum } = d;
    assert.deepEqual(ipv4.encode(noSum), v, 'computed checksum equals the vector');
  }
  const buf = new Uint8Array(100);
  ipv4.encode(ipv4.decode(TCP4_SYN), buf, 10);
  assert.equal(ipv4.encode.bytes, 60);
  assert.deepEqual(buf.subarray(10, 70), TCP4_SYN);
});

test('codec: malformed input throws RangeError', () => {
  assert.throws(() => ipv4.decode(TCP4_SYN.subarray(0, 19)), RangeError);
  assert.throws(() => ipv4.decode(TCP4_SYN.subarray(0, 59)), RangeError);
  const v6 = TCP4_SYN.slice();
  v6[0] = 0x65;
  assert.throws(() => ipv4.decode(v6), RangeError);
  assert.throws(() => ipv4.encode({ src: '::1', dst: '10.0.0.1', protocol: 6 }), RangeError);
  assert.throws(() => ipv4.encode({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, fragmentOffset: 3 }), RangeError);
});
