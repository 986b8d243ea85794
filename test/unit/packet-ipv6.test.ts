// IPv6 parsing (fixed header, extension header walk, fragments) and the IPv6
// codec, against hand-written byte vectors checksummed independently (Python).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError } from '../../src/packet/meta.js';
import { MAX_EXTENSION_HEADERS, parsePacket } from '../../src/packet/parse.js';
import * as ipv6 from '../../src/packet/ipv6.js';
import { buildIpPacket, buildTcp, buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { parseAddress } from '../../src/packet/address.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// 2001:db8::1.443 > 2001:db8::2.51000 PA seq 0xfffffff0 ack 0x80000001 win 501, nop nop TS 3000000000/123,
// "hello"; traffic class 0x28, flow label 0xabcde, hop limit 57
const TCP6 = hex(`628abcde 00250639 20010db8 00000000 00000000 00000001 20010db8 00000000 00000000 00000002
  01bbc738 fffffff0 80000001 801801f5 7b420000 0101080a b2d05e00 0000007b 68656c6c 6f`);
// MLDv2 report fe80::1 > ff02::16, hop-by-hop with a router alert, hop limit 1
const MLD = hex(`60000000 00100001 fe800000 00000000 00000000 00000001 ff020000 00000000 00000000 00000016
  3a000502 00000100 8f007322 00000000`);

function parse(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), m.error);
  return m;
}

const words = (text: string): number[] => [...parseAddress(text)!.words];
const SRC = '2001:db8::1';
const DST = '2001:db8::2';
const padOnly = (): ipv6.Ipv6Extension => ({ type: 0, data: ipv6.encodeOptionsData([]) });
const dstOpts = (): ipv6.Ipv6Extension => ({
  type: 60,
  data: ipv6.encodeOptionsData([{ type: 0x1e, value: new Uint8Array(3) }]),
});

test('the fixed header fields of a TCP vector', () => {
  const m = parse(TCP6);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.af, 6);
  assert.equal(m.l3HeaderLength, 40);
  assert.equal(m.totalLength, 40 + 37);
  assert.equal(m.tos, 0x28);
  assert.equal(m.ttl, 57);
  assert.equal(m.proto, 6);
  assert.deepEqual([...m.src], words(SRC));
  assert.deepEqual([...m.dst], words(DST));
  assert.equal(m.l4Offset, 40);
  assert.equal(m.l4Length, 37);
  assert.equal(m.hasIpOptions, false);
  assert.equal(m.isFragment, false);
  assert.equal(m.srcPort, 443);
  assert.equal(m.seq, 0xfffffff0);
  assert.equal(m.ack, 0x80000001);
  assert.equal(m.tsVal, 3000000000);
  assert.equal(m.payloadLength, 5);
});

test('the builder reproduces the IPv6 vector byte for byte', () => {
  const built = buildTcp({
    src: SRC,
    dst: DST,
    sport: 443,
    dport: 51000,
    seq: 0xfffffff0,
    ack: 0x80000001,
    flags: 'PA',
    window: 501,
    ttl: 57,
    tos: 0x28,
    flowLabel: 0xabcde,
    options: { ts: [3000000000, 123] },
    payload: new TextEncoder().encode('hello'),
  });
  assert.deepEqual(built, TCP6);
});

test('a long extension chain is walked to TCP', () => {
  const pkt = buildTcp({
    src: SRC,
    dst: DST,
    sport: 1,
    dport: 2,
    seq: 99,
    extensions: [
      padOnly(),
      dstOpts(),
      { type: 43, data: hex('02 01 00000000 20010db8000000000000000000000009') }, // type 2 routing header
      { type: 44, fragmentOffset: 0, more: false, id: 0xcafe }, // atomic fragment
      { type: 51, data: new Uint8Array(14) }, // AH with a 4-byte ICV: 16 bytes
    ],
  });
  const m = parse(pkt);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 6);
  assert.equal(m.l4Offset, 40 + 8 + 8 + 24 + 8 + 16);
  assert.equal(m.seq, 99);
  assert.equal(m.hasIpOptions, true);
  assert.equal(m.isFragment, false, 'an atomic fragment is not a fragment (RFC 6946)');
  assert.equal(m.fragmentId, 0xcafe);
});

test('hasIpOptions: which extension headers count (pf allow-opts)', () => {
  const udp = (extensions: ipv6.Ipv6Extension[]): PacketMeta =>
    parse(buildUdp({ src: SRC, dst: DST, sport: 1, dport: 2, extensions }));
  assert.equal(udp([]).hasIpOptions, false);
  assert.equal(udp([padOnly()]).hasIpOptions, true, 'hop-by-hop with padding only is suspect');
  assert.equal(udp([dstOpts()]).hasIpOptions, true);
  assert.equal(udp([{ type: 43, data: hex('02 01 00000000 20010db8000000000000000000000009') }]).hasIpOptions, true);
  assert.equal(udp([{ type: 44, fragmentOffset: 0, more: false, id: 1 }]).hasIpOptions, false);
  assert.equal(udp([{ type: 51, data: new Uint8Array(14) }]).hasIpOptions, false);
  const ra = { type: 0 as const, data: ipv6.encodeOptionsData([{ type: 5, value: new Uint8Array(2) }]) };
  assert.equal(udp([ra]).hasIpOptions, true, 'router alert outside MLD');
});

test('MLD with a hop-by-hop router alert passes without allow-opts (vector)', () => {
  const m = parse(MLD);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 58);
  assert.equal(m.icmpType, 143);
  assert.equal(m.l4Offset, 48);
  assert.equal(m.hasIpOptions, false);
  assert.equal(m.ttl, 1);
});

test('at most 8 extension headers', () => {
  const chain = (n: number): ipv6.Ipv6Extension[] => Array.from({ length: n }, dstOpts);
  assert.equal(MAX_EXTENSION_HEADERS, 8);
  const ok = parse(buildUdp({ src: SRC, dst: DST, sport: 1, dport: 2, extensions: chain(8) }));
  assert.equal(ok.error, ParseError.OK);
  assert.equal(ok.l4Offset, 40 + 8 * 8);
  const tooMany = parse(buildUdp({ src: SRC, dst: DST, sport: 1, dport: 2, extensions: chain(9) }));
  assert.equal(tooMany.error, ParseError.EXTENSION_CHAIN);
});

test('ESP and No Next Header stop the walk with that protocol', () => {
  const esp = parse(
    buildIpPacket({ src: SRC, dst: DST, protocol: 50, payload: new Uint8Array(24), extensions: [padOnly()] }),
  );
  assert.equal(esp.error, ParseError.OK);
  assert.equal(esp.proto, 50);
  assert.equal(esp.l4Offset, 48);
  assert.equal(esp.l4Length, 24);
  const none = parse(
    buildIpPacket({ src: SRC, dst: DST, protocol: 59, payload: new Uint8Array(0), extensions: [dstOpts()] }),
  );
  assert.equal(none.error, ParseError.OK);
  assert.equal(none.proto, 59);
  assert.equal(none.l4Length, 0);
});

test('fragments: first parsed to L4, later ones stop at the fragment header', () => {
  const whole = buildUdp({
    src: SRC,
    dst: DST,
    sport: 7,
    dport: 9,
    payload: new Uint8Array(200),
    extensions: [padOnly()],
  });
  const frags = fragmentPacket(whole, 104, 0x89abcdef);
  assert.equal(frags.length, 2);
  const first = parse(frags[0]!);
  assert.equal(first.error, ParseError.OK);
  assert.equal(first.isFragment, true);
  assert.equal(first.isLaterFragment, false);
  assert.equal(first.moreFragments, true);
  assert.equal(first.fragmentId, 0x89abcdef);
  assert.equal(first.proto, 17);
  assert.equal(first.l4Offset, 40 + 8 + 8, 'hop-by-hop stays before the fragment header');
  assert.equal(first.dstPort, 9);
  assert.equal(first.hasIpOptions, true);
  const later = parse(frags[1]!);
  assert.equal(later.error, ParseError.OK);
  assert.equal(later.isFragment, true);
  assert.equal(later.isLaterFragment, true);
  assert.equal(later.moreFragments, false);
  assert.equal(later.fragmentOffset, 104);
  assert.equal(later.proto, 17);
  assert.equal(later.l4Offset, 56);
  assert.equal(later.l4Length, 208 - 104);
  assert.equal(later.dstPort, 0);
});

test('trailing bytes beyond the payload length are ignored', () => {
  const padded = new Uint8Array(TCP6.length + 9);
  padded.set(TCP6);
  const m = parse(padded);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.l4Length, 37);
  assert.equal(m.payloadLength, 5);
});

test('codec: decode the vector and the extension chain', () => {
  const d = ipv6.decode(TCP6);
  assert.equal(ipv6.decode.bytes, TCP6.length);
  assert.equal(d.trafficClass, 0x28);
  assert.equal(d.flowLabel, 0xabcde);
  assert.equal(d.payloadLength, 37);
  assert.equal(d.hopLimit, 57);
  assert.equal(d.src, SRC);
  assert.equal(d.dst, DST);
  assert.equal(d.protocol, 6);
  assert.deepEqual(d.extensions, []);
  assert.equal(d.payload.length, 37);
  const m = ipv6.decode(MLD);
  assert.equal(m.protocol, 58);
  assert.equal(m.extensions.length, 1);
  assert.equal(m.extensions[0]!.type, 0);
  assert.deepEqual([...(m.extensions[0] as ipv6.Ipv6GenericExtension).data], [5, 2, 0, 0, 1, 0]);
});

test('codec: encode(decode(x)) is x', () => {
  for (const v of [TCP6, MLD]) assert.deepEqual(ipv6.encode(ipv6.decode(v)), v);
  const chained = buildTcp({
    src: SRC,
    dst: DST,
    sport: 1,
    dport: 2,
    extensions: [
      padOnly(),
      dstOpts(),
      { type: 44, fragmentOffset: 0, more: true, id: 5 },
      { type: 51, data: new Uint8Array(10) },
    ],
  });
  const d = ipv6.decode(chained);
  assert.deepEqual(
    d.extensions.map((e) => e.type),
    [0, 60, 44, 51],
  );
  assert.deepEqual(ipv6.encode(d), chained);
  assert.equal(ipv6.encodingLength(d), chained.length);
});

test('codec: a later fragment decodes with its data as payload', () => {
  const frags = fragmentPacket(
    buildUdp({ src: SRC, dst: DST, sport: 1, dport: 2, payload: new Uint8Array(40) }),
    16,
    3,
  );
  const d = ipv6.decode(frags[1]!);
  assert.deepEqual(d.extensions, [{ type: 44, fragmentOffset: 16, more: true, id: 3 }]);
  assert.equal(d.protocol, 17);
  assert.equal(d.payload.length, 16);
  assert.deepEqual(ipv6.encode(d), frags[1]);
});

test('encodeOptionsData pads to a multiple of 8 with Pad1 / PadN', () => {
  assert.deepEqual([...ipv6.encodeOptionsData([])], [1, 4, 0, 0, 0, 0]);
  assert.deepEqual([...ipv6.encodeOptionsData([{ type: 5, value: hex('0000') }])], [5, 2, 0, 0, 1, 0]);
  assert.deepEqual([...ipv6.encodeOptionsData([{ type: 0x1e, value: hex('010203') }])], [0x1e, 3, 1, 2, 3, 0]);
  for (let n = 0; n < 20; n++) {
    const data = ipv6.encodeOptionsData([{ type: 0x1e, value: new Uint8Array(n) }]);
    assert.equal((2 + data.length) % 8, 0);
  }
});

test('codec: malformed input throws RangeError', () => {
  assert.throws(() => ipv6.decode(TCP6.subarray(0, 39)), RangeError);
  assert.throws(() => ipv6.decode(TCP6.subarray(0, 60)), RangeError);
  assert.throws(() => ipv6.encode({ src: '10.0.0.1', dst: DST, protocol: 6 }), RangeError);
  assert.throws(
    () => ipv6.encode({ src: SRC, dst: DST, protocol: 6, extensions: [{ type: 0, data: new Uint8Array(5) }] }),
    RangeError,
  );
});
