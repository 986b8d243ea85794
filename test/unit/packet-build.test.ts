// Builders: family detection, the RST pf answers with, fragmenting, argument checks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError, TCPFlag } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import {
  buildIcmpEcho,
  buildTcp,
  buildTcpResetFor,
  buildUdp,
  familyOf,
  fragmentPacket,
  tcpFlags,
} from '../../src/packet/build.js';
import { verifyL4Checksum } from '../../src/packet/checksum.js';

function parse(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), ParseError.OK);
  return m;
}

test('the family comes from the addresses; mixed or bad ones throw', () => {
  assert.equal(familyOf('10.0.0.1', '10.0.0.2'), 4);
  assert.equal(familyOf('::1', 'fe80::2'), 6);
  assert.throws(() => familyOf('10.0.0.1', '::1'), RangeError);
  assert.throws(() => familyOf('10.0.0.300', '10.0.0.1'), RangeError);
  assert.throws(() => buildUdp({ src: 'host', dst: '10.0.0.1', sport: 1, dport: 2 }), RangeError);
});

test('TCP flags from letters or bits; ACK by default', () => {
  assert.equal(tcpFlags(undefined), TCPFlag.ACK);
  assert.equal(tcpFlags('FA'), TCPFlag.FIN | TCPFlag.ACK);
  assert.equal(tcpFlags(0x1ff), 0xff);
  assert.throws(() => tcpFlags('SX'), RangeError);
  assert.equal(parse(buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 })).tcpFlags, TCPFlag.ACK);
});

test('RST for a segment with ACK: seq = its ack, no ACK of ours (pf_send_tcp for return-rst)', () => {
  const seg = parse(
    buildTcp({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      sport: 40000,
      dport: 23,
      seq: 500,
      ack: 9000,
      flags: 'PA',
      payload: new Uint8Array(10),
    }),
  );
  const rst = buildTcpResetFor(seg, { ttl: 128 })!;
  const m = parse(rst);
  assert.equal(m.tcpFlags, TCPFlag.RST);
  assert.equal(m.seq, 9000);
  assert.equal(m.ack, 0);
  assert.deepEqual([m.srcPort, m.dstPort], [23, 40000]);
  assert.deepEqual([...m.src], [...seg.dst]);
  assert.deepEqual([...m.dst], [...seg.src]);
  assert.equal(m.ttl, 128);
  assert.ok(verifyL4Checksum(rst, 0, 4, 6, m.l4Offset, m.l4Length));
});

test('RST for a SYN: seq 0, ack = seq + length + SYN + FIN', () => {
  const syn = parse(
    buildTcp({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      sport: 1,
      dport: 2,
      seq: 0xffffffff,
      flags: 'SF',
      payload: new Uint8Array(3),
    }),
  );
  const m = parse(buildTcpResetFor(syn)!);
  assert.equal(m.tcpFlags, TCPFlag.RST | TCPFlag.ACK);
  assert.equal(m.seq, 0);
  assert.equal(m.ack, (0xffffffff + 3 + 2) >>> 0, 'wraps around 2^32');
  assert.equal(m.af, 6);
});

test('no RST for a RST, a non-TCP packet or a later fragment', () => {
  assert.equal(
    buildTcpResetFor(parse(buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, flags: 'R' }))),
    null,
  );
  assert.equal(buildTcpResetFor(parse(buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 }))), null);
  const frags = fragmentPacket(
    buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(64) }),
    32,
  );
  assert.equal(buildTcpResetFor(parse(frags[1]!)), null);
});

test('fragmenting: sizes round down to 8, a fragment fragments again, bad input throws', () => {
  const whole = buildIcmpEcho({ src: '10.0.0.1', dst: '10.0.0.2', id: 1, payload: new Uint8Array(92), ipId: 77 });
  const frags = fragmentPacket(whole, 30); // 24 bytes per fragment
  assert.equal(frags.length, 5);
  assert.deepEqual(
    frags.map((f) => parse(f).fragmentOffset),
    [0, 24, 48, 72, 96],
  );
  // split the middle fragment again: the last piece keeps MF
  const again = fragmentPacket(frags[1]!, 16);
  assert.deepEqual(
    again.map((f) => [parse(f).fragmentOffset, parse(f).moreFragments]),
    [
      [24, true],
      [40, true],
    ],
  );
  assert.throws(() => fragmentPacket(whole, 7), RangeError);
  assert.throws(() => fragmentPacket(Uint8Array.from([0x50, 0, 0, 0]), 8), RangeError);
  // a packet that fits makes one "fragment": an IPv4 packet with no MF and offset 0, i.e. whole
  const one = fragmentPacket(whole, 2000);
  assert.equal(one.length, 1);
  assert.deepEqual(one[0], whole);
});
