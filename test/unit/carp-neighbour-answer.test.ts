// The master's own answers to ARP requests and neighbour solicitations for
// its virtual addresses (the macvlan is NOARP): who gets an answer, what it
// says, and what is left unanswered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeGratuitousArp, formatMac, parseMac, virtualMac } from '../../src/carp/frames.js';
import { ANSWER_MAX_LENGTH, answerNeighbour, neighbourOwner } from '../../src/carp/neighbour-answer.js';
import { verifyL4Checksum, writeL4Checksum } from '../../src/packet/checksum.js';
import * as ipv6 from '../../src/packet/ipv6.js';

const HOST_MAC = parseMac('02:00:00:00:00:0a');
const owner = neighbourOwner(virtualMac(1), [
  { address: '10.1.0.1' },
  { address: 'fd01::1' },
  { address: '10.1.0.100' },
]);

function arpRequest(sender: string, target: string, senderMac = HOST_MAC): Uint8Array {
  const ip = (a: string) => a.split('.').map(Number);
  return Uint8Array.from([
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ...senderMac,
    0x08,
    0x06,
    ...[0, 1, 8, 0, 6, 4, 0, 1],
    ...senderMac,
    ...ip(sender),
    ...[0, 0, 0, 0, 0, 0],
    ...ip(target),
  ]);
}

function frameAround(
  src: string,
  target: string,
  icmp: Uint8Array,
  opts: { hopLimit?: number; corrupt?: boolean },
): Uint8Array {
  // the target's bytes, through the IPv6 codec
  const t = ipv6.encode({ src: target, dst: target, protocol: 58, hopLimit: 1 }).subarray(8, 24);
  icmp.set(t, 8);
  icmp[24] = 1; // source link-layer address option
  icmp[25] = 1;
  icmp.set(HOST_MAC, 26);
  const frame = new Uint8Array(14 + 40 + icmp.length);
  frame.set([0x33, 0x33, 0xff, t[13]!, t[14]!, t[15]!], 0);
  frame.set(HOST_MAC, 6);
  frame.set([0x86, 0xdd], 12);
  ipv6.encode({ src, dst: 'ff02::1:ff00:1', protocol: 58, hopLimit: opts.hopLimit ?? 255, payload: icmp }, frame, 14);
  writeL4Checksum(frame, 14, 6, 58, 54, icmp.length);
  if (opts.corrupt) frame[frame.length - 1]! ^= 1;
  return frame;
}

const nsFrame = (src: string, target: string, opts: { hopLimit?: number; corrupt?: boolean } = {}) => {
  const icmp = new Uint8Array(32);
  icmp[0] = 135;
  return frameAround(src, target, icmp, opts);
};

test('a master answers an ARP request for its address with the virtual MAC, to the asker', () => {
  const out = new Uint8Array(ANSWER_MAX_LENGTH);
  const req = arpRequest('10.1.0.10', '10.1.0.1');
  const n = answerNeighbour(req, req.length, owner, true, true, out);
  assert.equal(n, 42);
  assert.equal(
    Buffer.from(out.subarray(0, n)).toString('hex'),
    [
      '02000000000a',
      '00005e000101',
      '0806',
      '0001080006040002',
      '00005e000101',
      '0a010001',
      '02000000000a',
      '0a01000a',
    ].join(''),
  );
  const second = arpRequest('10.1.0.10', '10.1.0.100');
  assert.equal(answerNeighbour(second, second.length, owner, true, true, out), 42);
  assert.equal(formatMac(out.subarray(22, 28)), '00:00:5e:00:01:01');
  assert.deepEqual([...out.subarray(28, 32)], [10, 1, 0, 100]);
});

test('no ARP answer from a backup, for another address, to a gratuitous request, a reply or a short frame', () => {
  const out = new Uint8Array(ANSWER_MAX_LENGTH);
  const req = arpRequest('10.1.0.10', '10.1.0.1');
  assert.equal(answerNeighbour(req, req.length, owner, false, true, out), 0, 'backup');
  const other = arpRequest('10.1.0.10', '10.1.0.2');
  assert.equal(answerNeighbour(other, other.length, owner, true, true, out), 0, 'not ours');
  const gratuitous = encodeGratuitousArp(parseMac('02:00:00:00:00:0b'), '10.1.0.1');
  assert.equal(answerNeighbour(gratuitous, gratuitous.length, owner, true, true, out), 0, 'the other master');
  const reply = arpRequest('10.1.0.10', '10.1.0.1');
  reply[21] = 2;
  assert.equal(answerNeighbour(reply, reply.length, owner, true, true, out), 0, 'a reply');
  assert.equal(answerNeighbour(req, 41, owner, true, true, out), 0, 'cut short');
});

test('a master answers a neighbour solicitation: solicited NA to the asker, Router and Override, our MAC', () => {
  const out = new Uint8Array(ANSWER_MAX_LENGTH);
  const ns = nsFrame('fd01::10', 'fd01::1');
  for (const router of [true, false]) {
    const n = answerNeighbour(ns, ns.length, owner, true, router, out);
    assert.equal(n, 14 + 40 + 32);
    const f = out.subarray(0, n);
    assert.equal(formatMac(f.subarray(0, 6)), formatMac(HOST_MAC));
    assert.equal(formatMac(f.subarray(6, 12)), '00:00:5e:00:01:01');
    const ip = ipv6.decode(f, 14);
    assert.equal(ip.src, 'fd01::1');
    assert.equal(ip.dst, 'fd01::10');
    assert.equal(ip.hopLimit, 255);
    assert.equal(f[54], 136);
    assert.equal(f[58], router ? 0xe0 : 0x60, 'Router, Solicited, Override');
    assert.deepEqual(f.subarray(62, 78), ns.subarray(62, 78), 'the target');
    assert.deepEqual([f[78], f[79]], [2, 1]);
    assert.equal(formatMac(f.subarray(80, 86)), '00:00:5e:00:01:01');
    assert.ok(verifyL4Checksum(f, 14, 6, 58, 54, 32));
  }
});

test('duplicate address detection from :: is answered to all nodes, not solicited', () => {
  const out = new Uint8Array(ANSWER_MAX_LENGTH);
  const ns = nsFrame('::', 'fd01::1');
  const n = answerNeighbour(ns, ns.length, owner, true, true, out);
  assert.equal(formatMac(out.subarray(0, 6)), '33:33:00:00:00:01');
  assert.equal(ipv6.decode(out.subarray(0, n), 14).dst, 'ff02::1');
  assert.equal(out[58], 0xa0);
});

test('no NA from a backup, for another target, with a hop limit below 255 or a bad checksum', () => {
  const out = new Uint8Array(ANSWER_MAX_LENGTH);
  const cases: [string, Uint8Array, boolean][] = [
    ['backup', nsFrame('fd01::10', 'fd01::1'), false],
    ['not ours', nsFrame('fd01::10', 'fd01::2'), true],
    ['routed, not from the link', nsFrame('fd01::10', 'fd01::1', { hopLimit: 254 }), true],
    ['bad checksum', nsFrame('fd01::10', 'fd01::1', { corrupt: true }), true],
  ];
  for (const [what, f, master] of cases) assert.equal(answerNeighbour(f, f.length, owner, master, true, out), 0, what);
  const ns = nsFrame('fd01::10', 'fd01::1');
  assert.equal(answerNeighbour(ns, ns.length - 1, owner, true, true, out), 0, 'cut short');
});
