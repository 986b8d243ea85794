// ICMP and ICMPv6 parsing (echo ids, errors and the packet they quote) and the ICMP codec.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import * as icmp from '../../src/packet/icmp.js';
import {
  buildIcmp,
  buildIcmpEcho,
  buildIcmpError,
  buildIcmpErrorFor,
  buildIpPacket,
  buildTcp,
  buildUdp,
  fragmentPacket,
  maxIcmpQuote,
} from '../../src/packet/build.js';
import { parseAddress } from '../../src/packet/address.js';
import { encodeOptionsData } from '../../src/packet/ipv6.js';
import { verifyL4Checksum } from '../../src/packet/checksum.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const words = (text: string): number[] => [...parseAddress(text)!.words];

// Vectors, checksums computed with Python:
// 10.1.1.1 > 10.2.2.2 echo request id 7 seq 1 "abcd"
const ECHO4 = hex('45000020 00010000 400163d7 0a010101 0a020202 08003331 00070001 61626364');
// 2001:db8::a > 2001:db8::b echo request id 0x1234 seq 9 "ping"
const ECHO6 = hex(`60000000 000c3a40 20010db8 00000000 00000000 0000000a 20010db8 00000000 00000000 0000000b
  80003324 12340009 70696e67`);
// 10.0.0.2 > 10.0.0.1 port unreachable (TOS 0xc0) quoting the IP header + 8 bytes of 10.0.0.1.40000 > 10.0.0.2.53 UDP
const UNREACH4 = hex(`45c00038 00000000 40016603 0a000002 0a000001 0303607a 00000000
  45000021 004d0000 3f11677d 0a000001 0a000002 9c400035 000d0000`);
// 2001:db8::fe > 2001:db8::1 time exceeded quoting a whole SYN 2001:db8::1.1025 > 2001:db8:ff::9.22 seq 0xdeadbeef
const TIMEX6 = hex(`60000000 00443a40 20010db8 00000000 00000000 000000fe 20010db8 00000000 00000000 00000001
  03003a15 00000000
  60000000 00140601 20010db8 00000000 00000000 00000001 20010db8 00ff0000 00000000 00000009
  04010016 deadbeef 00000000 500203e8 adcb0000`);

function parse(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), m.error);
  return m;
}

test('ICMP echo vector: type, code, id in icmpId and both ports', () => {
  const m = parse(ECHO4);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 1);
  assert.equal(m.icmpType, 8);
  assert.equal(m.icmpCode, 0);
  assert.equal(m.icmpId, 7);
  assert.equal(m.srcPort, 7);
  assert.equal(m.dstPort, 7);
  assert.equal(m.icmpIsError, false);
  assert.equal(m.innerValid, false);
});

test('the builders reproduce the ICMP vectors byte for byte', () => {
  assert.deepEqual(
    buildIcmpEcho({ src: '10.1.1.1', dst: '10.2.2.2', ipId: 1, id: 7, seq: 1, payload: hex('61626364') }),
    ECHO4,
  );
  assert.deepEqual(
    buildIcmpEcho({ src: '2001:db8::a', dst: '2001:db8::b', id: 0x1234, seq: 9, payload: hex('70696e67') }),
    ECHO6,
  );
  assert.deepEqual(
    buildIcmpError({ src: '10.0.0.2', dst: '10.0.0.1', tos: 0xc0, type: 3, code: 3, quoted: UNREACH4.subarray(28) }),
    UNREACH4,
  );
  assert.deepEqual(
    buildIcmpError({ src: '2001:db8::fe', dst: '2001:db8::1', type: 3, code: 0, quoted: TIMEX6.subarray(48) }),
    TIMEX6,
  );
});

test('ICMPv6 echo vector', () => {
  const m = parse(ECHO6);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 58);
  assert.equal(m.icmpType, 128);
  assert.equal(m.icmpId, 0x1234);
  assert.equal(m.srcPort, 0x1234);
  assert.equal(m.dstPort, 0x1234);
  assert.equal(m.icmpIsError, false);
});

test('echo replies and the other id-carrying queries; other informational types carry no id', () => {
  assert.equal(parse(buildIcmpEcho({ src: '10.0.0.1', dst: '10.0.0.2', id: 99, reply: true })).icmpId, 99);
  assert.equal(parse(buildIcmpEcho({ src: '::1', dst: '::2', id: 98, reply: true })).srcPort, 98);
  const ts = parse(
    buildIcmp({ src: '10.0.0.1', dst: '10.0.0.2', type: 13, rest: 0x00420001, payload: new Uint8Array(12) }),
  );
  assert.equal(ts.icmpId, 0x42);
  const ra = parse(
    buildIcmp({ src: 'fe80::1', dst: 'ff02::1', type: 134, rest: 0x40000708, payload: new Uint8Array(8) }),
  );
  assert.equal(ra.error, ParseError.OK);
  assert.equal(ra.icmpType, 134);
  assert.equal(ra.icmpId, 0);
  assert.equal(ra.srcPort, 0);
  assert.equal(ra.icmpIsError, false);
});

test('which types are errors', () => {
  const isErr = (src: string, dst: string, type: number): boolean =>
    parse(buildIcmp({ src, dst, type, payload: buildUdp({ src: dst, dst: src, sport: 1, dport: 2 }) })).icmpIsError;
  for (const t of [3, 4, 5, 11, 12]) assert.equal(isErr('10.0.0.1', '10.0.0.2', t), true, `ICMP ${t}`);
  for (const t of [0, 8, 9, 10, 13, 14]) assert.equal(isErr('10.0.0.1', '10.0.0.2', t), false, `ICMP ${t}`);
  for (const t of [1, 2, 3, 4]) assert.equal(isErr('2001:db8::1', '2001:db8::2', t), true, `ICMPv6 ${t}`);
  for (const t of [128, 129, 133, 135, 136]) assert.equal(isErr('2001:db8::1', '2001:db8::2', t), false, `ICMPv6 ${t}`);
});

test('port unreachable vector: the quoted UDP packet', () => {
  const m = parse(UNREACH4);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.tos, 0xc0);
  assert.equal(m.icmpType, 3);
  assert.equal(m.icmpCode, 3);
  assert.equal(m.icmpIsError, true);
  assert.equal(m.srcPort, 0);
  assert.equal(m.icmpId, 0);
  assert.equal(m.innerValid, true);
  assert.equal(m.innerL3Offset, 28);
  assert.equal(m.innerProto, 17);
  assert.deepEqual([...m.innerSrc], words('10.0.0.1'));
  assert.deepEqual([...m.innerDst], words('10.0.0.2'));
  assert.equal(m.innerSrcPort, 40000);
  assert.equal(m.innerDstPort, 53);
  assert.ok(verifyL4Checksum(UNREACH4, 0, 4, 1, 20, UNREACH4.length - 20));
});

test('time exceeded vector: the quoted TCP SYN, its sequence number included', () => {
  const m = parse(TIMEX6);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.icmpType, 3);
  assert.equal(m.icmpIsError, true);
  assert.equal(m.innerValid, true);
  assert.equal(m.innerL3Offset, 48);
  assert.equal(m.innerProto, 6);
  assert.deepEqual([...m.innerSrc], words('2001:db8::1'));
  assert.deepEqual([...m.innerDst], words('2001:db8:ff::9'));
  assert.equal(m.innerSrcPort, 1025);
  assert.equal(m.innerDstPort, 22);
  assert.equal(m.innerSeq, 0xdeadbeef);
});

test('an error about an echo: the quoted ICMP type and id', () => {
  const echo = buildIcmpEcho({ src: '10.0.0.1', dst: '10.9.9.9', id: 4321, seq: 5 });
  const m = parse(buildIcmpErrorFor(echo, { type: 11, code: 0, src: '10.0.0.254' }));
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.innerValid, true);
  assert.equal(m.innerProto, 1);
  assert.equal(m.innerIcmpType, 8);
  assert.equal(m.innerIcmpId, 4321);
  assert.equal(m.innerSrcPort, 4321);
  assert.equal(m.innerDstPort, 4321);
  const echo6 = buildIcmpEcho({ src: '2001:db8::1', dst: '2001:db8::9', id: 77 });
  const m6 = parse(buildIcmpErrorFor(echo6, { type: 1, code: 3, src: '2001:db8::fe' }));
  assert.equal(m6.innerProto, 58);
  assert.equal(m6.innerIcmpType, 128);
  assert.equal(m6.innerIcmpId, 77);
});

test("ICMPv6 error: the quoted packet's extension headers are walked", () => {
  const offending = buildUdp({
    src: '2001:db8::1',
    dst: '2001:db8::2',
    sport: 3000,
    dport: 4000,
    extensions: [
      { type: 0, data: encodeOptionsData([]) },
      { type: 44, fragmentOffset: 0, more: true, id: 1 },
    ],
  });
  const m = parse(buildIcmpErrorFor(offending, { type: 2, code: 0, src: '2001:db8::fe', rest: 1280 }));
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.innerValid, true);
  assert.equal(m.innerProto, 17);
  assert.equal(m.innerSrcPort, 3000);
  assert.equal(m.innerDstPort, 4000);
});

test('a quote too short for the L4 header leaves innerValid false, the packet OK', () => {
  const offending = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, seq: 9 });
  const m = parse(
    buildIcmpError({ src: '10.0.0.2', dst: '10.0.0.1', type: 3, code: 1, quoted: offending.subarray(0, 24) }),
  );
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.icmpIsError, true);
  assert.equal(m.innerValid, false);
  assert.equal(m.innerProto, 6, 'what the header says is still there');
  assert.deepEqual([...m.innerSrc], words('10.0.0.1'));
  assert.equal(m.innerSrcPort, 0);

  const offending6 = buildUdp({
    src: '2001:db8::1',
    dst: '2001:db8::2',
    sport: 1,
    dport: 2,
    extensions: [{ type: 60, data: encodeOptionsData([]) }],
  });
  const m6 = parse(
    buildIcmpError({ src: '2001:db8::2', dst: '2001:db8::1', type: 1, code: 0, quoted: offending6.subarray(0, 44) }),
  );
  assert.equal(m6.error, ParseError.OK);
  assert.equal(m6.innerValid, false, 'extension chain cut short');
});

test('an error about a later fragment quotes no L4 header: innerValid false', () => {
  const frags = fragmentPacket(
    buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(64) }),
    32,
  );
  const m = parse(buildIcmpErrorFor(frags[1]!, { type: 11, code: 1, src: '10.0.0.2' }));
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.innerProto, 17);
  assert.equal(m.innerValid, false);
  const frags6 = fragmentPacket(
    buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2, payload: new Uint8Array(64) }),
    32,
  );
  const m6 = parse(buildIcmpErrorFor(frags6[1]!, { type: 3, code: 1, src: '2001:db8::2' }));
  assert.equal(m6.error, ParseError.OK);
  assert.equal(m6.innerProto, 17);
  assert.equal(m6.innerValid, false);
});

test('a quoted protocol without ports needs only the IP header', () => {
  const gre = buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 47, payload: new Uint8Array(4) });
  const m = parse(buildIcmpError({ src: '10.0.0.2', dst: '10.0.0.1', type: 3, code: 2, quoted: gre.subarray(0, 20) }));
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.innerValid, true);
  assert.equal(m.innerProto, 47);
});

test('ICMP in IPv6 and ICMPv6 in IPv4 are opaque protocols', () => {
  const m = parse(
    buildIpPacket({ src: '2001:db8::1', dst: '2001:db8::2', protocol: 1, payload: hex('0800000000010001') }),
  );
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 1);
  assert.equal(m.icmpType, -1);
  const m4 = parse(buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 58, payload: hex('8000000000010001') }));
  assert.equal(m4.icmpType, -1);
});

test('buildIcmpErrorFor quotes at most what fits 576 (IPv4) / 1280 (IPv6) bytes', () => {
  const big4 = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(1400) });
  const e4 = buildIcmpErrorFor(big4, { type: 3, code: 4, src: '10.0.0.254', rest: 1400 });
  assert.equal(e4.length, 576);
  assert.equal(maxIcmpQuote(4), 548);
  const m = parse(e4);
  assert.deepEqual([...m.dst], words('10.0.0.1'));
  assert.deepEqual([...m.src], words('10.0.0.254'));
  assert.equal(m.innerValid, true);
  const big6 = buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2, payload: new Uint8Array(1400) });
  assert.equal(buildIcmpErrorFor(big6, { type: 2, code: 0, src: '2001:db8::fe', rest: 1280 }).length, 1280);
  const small = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  const padded = new Uint8Array(small.length + 6);
  padded.set(small);
  assert.equal(
    buildIcmpErrorFor(padded, { type: 3, code: 3, src: '10.0.0.2' }).length,
    28 + small.length,
    'trailing bytes are not quoted',
  );
});

test('codec: decode the vectors, and encode(decode(x)) is x', () => {
  const e = icmp.decode(ECHO4, 20);
  assert.equal(icmp.decode.bytes, 12);
  assert.equal(e.type, icmp.ICMP_ECHO);
  assert.equal(e.code, 0);
  assert.equal(e.checksum, 0x3331);
  assert.equal(e.id, 7);
  assert.equal(e.sequence, 1);
  assert.equal(e.rest, 0x00070001);
  assert.deepEqual([...e.payload], [0x61, 0x62, 0x63, 0x64]);
  for (const [v, off] of [
    [ECHO4, 20],
    [ECHO6, 40],
    [UNREACH4, 20],
    [TIMEX6, 40],
  ] as const) {
    assert.deepEqual(icmp.encode(icmp.decode(v, off)), v.subarray(off));
  }
  assert.deepEqual(icmp.encode({ type: 0, id: 0x0102, sequence: 0x0304 }), hex('00000000 01020304'));
  assert.throws(() => icmp.decode(ECHO4, 20, 7), RangeError);
});
