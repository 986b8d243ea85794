// The frames a CARP master sends: the advertisement frame of
// shared/spec/carp.md §13.1 byte for byte (virtual MAC, TOS, DF, TTL), the
// IPv6 variant, gratuitous ARP and the unsolicited neighbour advertisement.

import { test } from 'node:test';
import { FRAME_13_1, hex } from './helpers/carp-vectors.js';
import assert from 'node:assert/strict';
import { encode } from '../../src/carp/advertisement.js';
import {
  advertisementFrame,
  encodeGratuitousArp,
  encodeUnsolicitedNa,
  formatMac,
  multicastMac,
  parseMac,
  virtualMac,
  ARP_FRAME_LENGTH,
  NA_FRAME_LENGTH,
} from '../../src/carp/frames.js';
import { carpHmac } from '../../src/carp/hmac.js';
import { verifyL4Checksum } from '../../src/packet/checksum.js';
import * as ipv6 from '../../src/packet/ipv6.js';

function carpHeader(vhid: number, addresses: string[]): Uint8Array {
  const counter = hex('0123456789abcdef');
  const hmac = carpHmac({ vhid, addresses, passphrase: 'tunpf-secret' }, counter);
  return encode({
    version: 2,
    type: 1,
    vhid,
    advskew: 0,
    authlen: 7,
    demote: 0,
    advbase: 1,
    counter: 0x0123456789abcdefn,
    hmac,
  });
}

test('§13.1: the whole 70-byte advertisement frame, from the virtual MAC', () => {
  const frame = advertisementFrame.encode({
    srcMac: virtualMac(1),
    src: '192.0.2.2',
    dst: '224.0.0.18',
    ipId: 0x1c46,
    carp: carpHeader(1, ['192.0.2.1']),
  });
  assert.equal(frame.length, 70);
  assert.equal(advertisementFrame.encodingLength({ dst: '224.0.0.18' }), 70);
  assert.deepEqual(frame, FRAME_13_1);
});

test('IPv6 advertisement: ff02::12 from 33:33:00:00:00:12, hop limit 255, next header 112', () => {
  const carp = carpHeader(5, ['2001:db8::1']);
  const buf = new Uint8Array(200).fill(0xaa);
  advertisementFrame.encode({ srcMac: virtualMac(5), src: 'fe80::1', dst: 'ff02::12', ipId: 0, carp }, buf, 10);
  const frame = buf.subarray(10, 10 + advertisementFrame.encodingLength({ dst: 'ff02::12' }));
  assert.equal(frame.length, 14 + 40 + 36);
  assert.equal(formatMac(frame.subarray(0, 6)), '33:33:00:00:00:12');
  assert.equal(formatMac(frame.subarray(6, 12)), '00:00:5e:00:01:05');
  assert.deepEqual([frame[12], frame[13]], [0x86, 0xdd]);
  const ip = ipv6.decode(frame, 14);
  assert.equal(ip.hopLimit, 255);
  assert.equal(ip.protocol, 112);
  assert.equal(ip.dst, 'ff02::12');
  assert.deepEqual(frame.subarray(54), carp);
  assert.equal(buf[9], 0xaa, 'nothing written before the offset');
});

test('gratuitous ARP request: broadcast, sender = target = the address, target MAC zero', () => {
  const f = encodeGratuitousArp(virtualMac(7), '10.1.0.1');
  assert.equal(f.length, ARP_FRAME_LENGTH);
  assert.equal(
    Buffer.from(f).toString('hex'),
    'ffffffffffff' +
      '00005e000107' +
      '0806' +
      '0001' +
      '0800' +
      '06' +
      '04' +
      '0001' +
      '00005e000107' +
      '0a010001' +
      '000000000000' +
      '0a010001',
  );
  assert.throws(() => encodeGratuitousArp(virtualMac(7), 'fd01::1'), /IPv4/);
});

test('unsolicited neighbour advert: to ff02::1, Override (+ Router), target link-layer option, valid checksum', () => {
  const mac = parseMac('00:00:5e:00:01:03');
  for (const router of [true, false]) {
    const f = encodeUnsolicitedNa(mac, 'fd01::1', router);
    assert.equal(f.length, NA_FRAME_LENGTH);
    assert.deepEqual(f.subarray(0, 6), multicastMac('ff02::1'));
    const ip = ipv6.decode(f, 14);
    assert.equal(ip.src, 'fd01::1');
    assert.equal(ip.dst, 'ff02::1');
    assert.equal(ip.hopLimit, 255);
    assert.equal(ip.protocol, 58);
    const icmp = f.subarray(54);
    assert.equal(icmp[0], 136);
    assert.equal(icmp[4], router ? 0xa0 : 0x20);
    assert.equal(formatMac(icmp.subarray(26, 32)), '00:00:5e:00:01:03');
    assert.equal(verifyL4Checksum(f, 14, 6, 58, 54, 32), true);
  }
});

test('multicast MACs and MAC text', () => {
  assert.equal(formatMac(multicastMac('224.0.0.18')), '01:00:5e:00:00:12');
  assert.equal(formatMac(multicastMac('239.255.1.2')), '01:00:5e:7f:01:02');
  assert.equal(formatMac(multicastMac('ff02::1:ff00:1')), '33:33:ff:00:00:01');
  assert.throws(() => multicastMac('10.0.0.1'), /multicast/);
  assert.throws(() => parseMac('00:00:5e:00:01'), /MAC/);
});
