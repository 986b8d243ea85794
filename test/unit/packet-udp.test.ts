// UDP parsing and the UDP codec.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import * as udp from '../../src/packet/udp.js';
import { buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { verifyL4Checksum } from '../../src/packet/checksum.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// 192.168.1.2.5353 > 192.168.1.1.53, payload 12 34 01 00, TTL 63, id 0xbeef (checksums by Python)
const UDP4 = hex('45000020 beef0000 3f11398a c0a80102 c0a80101 14e90035 000c5430 12340100');
// fe80::1.546 > ff02::1:2.547, payload 01 02 03, hop limit 1
const UDP6 = hex(`60000000 000b1101 fe800000 00000000 00000000 00000001 ff020000 00000000 00000000 00010002
  02220223 000bfa09 010203`);

function parse(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), m.error);
  return m;
}

test('IPv4 UDP vector', () => {
  const m = parse(UDP4);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 17);
  assert.equal(m.srcPort, 5353);
  assert.equal(m.dstPort, 53);
  assert.equal(m.payloadLength, 4);
  assert.equal(m.l4Offset, 20);
  assert.equal(m.l4Length, 12);
  assert.equal(m.ttl, 63);
  assert.equal(m.fragmentId, 0xbeef);
  assert.deepEqual(
    buildUdp({
      src: '192.168.1.2',
      dst: '192.168.1.1',
      sport: 5353,
      dport: 53,
      ttl: 63,
      ipId: 0xbeef,
      payload: hex('12340100'),
    }),
    UDP4,
  );
});

test('IPv6 UDP vector', () => {
  const m = parse(UDP6);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.proto, 17);
  assert.equal(m.srcPort, 546);
  assert.equal(m.dstPort, 547);
  assert.equal(m.payloadLength, 3);
  assert.deepEqual(
    buildUdp({ src: 'fe80::1', dst: 'ff02::1:2', sport: 546, dport: 547, ttl: 1, payload: hex('010203') }),
    UDP6,
  );
});

test('a UDP length shorter than the IP payload: the rest is not datagram', () => {
  const pkt = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(10) });
  pkt[20 + 5] = 12; // UDP length 12: 4 bytes of payload, 6 trailing
  const m = parse(pkt);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.payloadLength, 4);
  assert.equal(m.l4Length, 18);
});

test('a first fragment may announce more datagram than it holds', () => {
  const whole = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(500) });
  const m = parse(fragmentPacket(whole, 200)[0]!);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.l4Length, 200);
  assert.equal(m.payloadLength, 500);
});

test('a zero-length payload and the largest one', () => {
  assert.equal(parse(buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 })).payloadLength, 0);
  const big = parse(
    buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2, payload: new Uint8Array(65535 - 8) }),
  );
  assert.equal(big.error, ParseError.OK);
  assert.equal(big.payloadLength, 65535 - 8);
  assert.equal(big.totalLength, 40 + 65535);
});

test('an IPv4 datagram may go without a checksum; IPv6 always gets one', () => {
  const none = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, checksum: false, payload: hex('01') });
  assert.equal(none[26], 0);
  assert.equal(none[27], 0);
  assert.ok(verifyL4Checksum(none, 0, 4, 17, 20, none.length - 20));
  const v6 = buildUdp({ src: '::1', dst: '::2', sport: 1, dport: 2, checksum: false });
  assert.notEqual((v6[46]! << 8) | v6[47]!, 0);
  assert.ok(verifyL4Checksum(v6, 0, 6, 17, 40, 8));
});

test('codec: decode, and encode(decode(x)) is x', () => {
  const d = udp.decode(UDP4, 20);
  assert.equal(udp.decode.bytes, 12);
  assert.deepEqual(
    { ...d, payload: [...d.payload] },
    { srcPort: 5353, dstPort: 53, length: 12, checksum: 0x5430, payload: [0x12, 0x34, 1, 0] },
  );
  assert.deepEqual(udp.encode(d), UDP4.subarray(20));
  assert.deepEqual(udp.encode(udp.decode(UDP6, 40)), UDP6.subarray(40));
  const out = new Uint8Array(20);
  udp.encode({ srcPort: 9, dstPort: 10, payload: hex('ff') }, out, 3);
  assert.equal(udp.encode.bytes, 9);
  assert.deepEqual(out.subarray(3, 12), hex('0009000a 00090000 ff'));
});

test('codec: malformed input throws RangeError', () => {
  assert.throws(() => udp.decode(UDP4.subarray(20, 27)), RangeError);
  const short = UDP4.slice(20);
  short[5] = 7;
  assert.throws(() => udp.decode(short), RangeError);
  const long = UDP4.slice(20);
  long[5] = 13;
  assert.throws(() => udp.decode(long), RangeError);
});
