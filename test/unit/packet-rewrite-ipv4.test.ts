// Translation rewrites of IPv4 packets: addresses, ports and ICMP ids, with
// every checksum checked against a from-scratch computation (helpers/rewrite-oracle.ts)
// and, where the translated packet can be built directly, against its bytes.
// Vectors: spec pf-nat.md §13.1 (TCP nat-to), §13.3 (ping nat-to), and the
// UDP zero-checksum cases.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress } from '../../src/packet/address.js';
import { buildIcmp, buildIcmpEcho, buildIpPacket, buildTcp, buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { rewriteDestination, rewriteSource } from '../../src/packet/rewrite.js';
import {
  assertChecksums,
  assertIpv4HeaderChecksum,
  assertMetaInStep,
  completePartial,
  l4Checksum,
  layoutOf,
  makePartial,
  onesSum,
  parsed,
  partialSum,
  read16,
} from './helpers/rewrite-oracle.js';

const words = (text: string): Uint32Array => parseAddress(text)!.words;

// spec §13: inside host H, the router's outside address P, server S
const H = '10.0.0.5';
const P = '192.0.2.1';
const S = '198.51.100.7';
const SYN_OPTIONS = { mss: 1460, sackOk: true, ts: [123456, 0] as [number, number], wscale: 7 };

test('§13.1: the SYN H:51234 > S:443 leaves as P:54321, byte for byte what a builder makes', () => {
  const syn = { dst: S, dport: 443, seq: 0x1a2b3c4d, flags: 'S', ipId: 0x4242, df: true, options: SYN_OPTIONS };
  const pkt = buildTcp({ ...syn, src: H, sport: 51234 });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 54321);
  assert.deepEqual(pkt, buildTcp({ ...syn, src: P, sport: 54321 }));
  assertChecksums(pkt, 'SYN');
  assertMetaInStep(pkt, m);
  assert.deepEqual([...m.src], [...words(P)]);
  assert.equal(m.srcPort, 54321);
});

test('§13.1: the reply S:443 > P:54321 is given back to H:51234', () => {
  const reply = { src: S, sport: 443, seq: 77, ack: 0x1a2b3c4e, flags: 'SA', options: SYN_OPTIONS };
  const pkt = buildTcp({ ...reply, dst: P, dport: 54321, payload: Uint8Array.of(1, 2, 3) });
  const m = parsed(pkt);
  rewriteDestination(pkt, m, words(H), 51234);
  assert.deepEqual(pkt, buildTcp({ ...reply, dst: H, dport: 51234, payload: Uint8Array.of(1, 2, 3) }));
  assertChecksums(pkt, 'SYN-ACK');
  assertMetaInStep(pkt, m);
});

test('TCP: an address change alone and a port change alone each fix the checksums', () => {
  const base = { src: H, dst: S, sport: 1000, dport: 2000, payload: Uint8Array.of(9, 8, 7, 6, 5) };
  const a = buildTcp(base);
  const ma = parsed(a);
  rewriteDestination(a, ma, words('203.0.113.77'), 2000);
  assert.deepEqual(a, buildTcp({ ...base, dst: '203.0.113.77' }));
  assertChecksums(a, 'address only');
  const b = buildTcp(base);
  const mb = parsed(b);
  rewriteDestination(b, mb, words(S), 3000);
  assert.deepEqual(b, buildTcp({ ...base, dport: 3000 }));
  assert.equal(read16(b, 10), read16(buildTcp(base), 10), 'IPv4 header checksum untouched by a port change');
  assertChecksums(b, 'port only');
});

test('nothing to change leaves every byte as it was', () => {
  const pkt = buildTcp({ src: H, dst: S, sport: 1, dport: 2 });
  const before = pkt.slice();
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(H), 1);
  rewriteDestination(pkt, m, words(S), 2);
  assert.deepEqual(pkt, before);
});

test('UDP: source and destination rewritten, checksums fixed', () => {
  const base = { sport: 5353, dport: 53, payload: new TextEncoder().encode('query') };
  const pkt = buildUdp({ ...base, src: H, dst: S });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 50001);
  rewriteDestination(pkt, m, words('203.0.113.53'), 5300);
  assert.deepEqual(pkt, buildUdp({ ...base, src: P, dst: '203.0.113.53', sport: 50001, dport: 5300 }));
  assertChecksums(pkt, 'UDP');
  assertMetaInStep(pkt, m);
});

test('UDP over IPv4 without a checksum (0) keeps 0 through the rewrite', () => {
  const pkt = buildUdp({ src: H, dst: S, sport: 5000, dport: 6000, checksum: false, payload: Uint8Array.of(1) });
  assert.equal(read16(pkt, 26), 0);
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 60000);
  assert.equal(read16(pkt, 26), 0);
  assert.deepEqual(
    pkt,
    buildUdp({ src: P, dst: S, sport: 60000, dport: 6000, checksum: false, payload: Uint8Array.of(1) }),
  );
  assertChecksums(pkt, 'UDP no checksum', true);
});

test('UDP: an updated checksum that comes out 0 is stored as 0xffff', () => {
  // choose the payload word so that the translated datagram sums to 0xffff (checksum 0)
  const after = buildUdp({ src: P, dst: S, sport: 50002, dport: 53, payload: Uint8Array.of(0, 0) });
  const lay = layoutOf(after);
  const pseudo = [...after.subarray(12, 20), 0, 17, 0, lay.end - lay.l4];
  const l4 = [...after.subarray(lay.l4, lay.end)];
  l4[6] = 0;
  l4[7] = 0;
  const w = 0xffff - onesSum([...pseudo, ...l4]);
  const payload = Uint8Array.of(w >> 8, w & 255);
  const pkt = buildUdp({ src: H, dst: S, sport: 40000, dport: 53, payload });
  assert.notEqual(read16(pkt, 26), 0xffff, 'the original checksum is an ordinary one');
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 50002);
  assert.equal(read16(pkt, 26), 0xffff);
  assert.equal(l4Checksum(pkt), 0xffff, 'the oracle agrees the sum is zero');
  assertChecksums(pkt, 'UDP to 0xffff');
  // and back: 0xffff (a computed 0) is updated like any other value
  rewriteSource(pkt, m, words(H), 40000);
  assert.deepEqual(pkt, buildUdp({ src: H, dst: S, sport: 40000, dport: 53, payload }));
});

test('§13.3: ping H > S id 4660 leaves as P id 40000; the reply gets H and 4660 back', () => {
  const req = { dst: S, seq: 3, payload: new TextEncoder().encode('abcdefgh') };
  const pkt = buildIcmpEcho({ ...req, src: H, id: 4660 });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 40000);
  assert.deepEqual(pkt, buildIcmpEcho({ ...req, src: P, id: 40000 }));
  assertChecksums(pkt, 'echo request');
  assertMetaInStep(pkt, m);
  assert.equal(m.icmpId, 40000);

  const rep = { src: S, seq: 3, reply: true, payload: new TextEncoder().encode('abcdefgh') };
  const r = buildIcmpEcho({ ...rep, dst: P, id: 40000 });
  const mr = parsed(r);
  rewriteDestination(r, mr, words(H), 4660);
  assert.deepEqual(r, buildIcmpEcho({ ...rep, dst: H, id: 4660 }));
  assertChecksums(r, 'echo reply');
  assertMetaInStep(r, mr);
});

test('ICMP: an address change alone leaves the ICMP checksum (no pseudo-header in IPv4)', () => {
  const pkt = buildIcmpEcho({ src: H, dst: S, id: 7 });
  const icmpSum = read16(pkt, 22);
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 7);
  assert.equal(read16(pkt, 22), icmpSum);
  assertChecksums(pkt, 'echo address only');
});

test('ICMP timestamp request (a query with an id) gets its id translated', () => {
  const pkt = buildIcmp({ src: H, dst: S, type: 13, rest: (0x1111 << 16) | 1, payload: new Uint8Array(12) });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 0x2222);
  assert.equal(read16(pkt, 24), 0x2222);
  assertChecksums(pkt, 'timestamp');
  assertMetaInStep(pkt, m);
});

test('ICMP without an id (router advertisement): the address only', () => {
  const pkt = buildIcmp({ src: H, dst: S, type: 9, rest: 0x01020304, payload: new Uint8Array(8).fill(5) });
  const before = pkt.slice(20);
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 999);
  assert.deepEqual(pkt.slice(20), before);
  assertChecksums(pkt, 'no id');
});

test('another protocol (GRE): the address only, header checksum fixed', () => {
  const payload = Uint8Array.of(0, 0, 8, 0, 1, 2, 3, 4);
  const pkt = buildIpPacket({ src: H, dst: S, protocol: 47, payload });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 1234);
  assert.deepEqual(pkt, buildIpPacket({ src: P, dst: S, protocol: 47, payload }));
  assertChecksums(pkt, 'GRE');
});

test('a later fragment: the address only, its data untouched', () => {
  const whole = buildUdp({ src: H, dst: S, sport: 1, dport: 2, payload: new Uint8Array(64).fill(0xab) });
  const [first, later] = fragmentPacket(whole, 32);
  const pkt = later!.slice();
  const m = parsed(pkt);
  assert.ok(m.isLaterFragment);
  rewriteSource(pkt, m, words(P), 50000);
  assert.deepEqual(pkt.slice(20), later!.slice(20));
  assertIpv4HeaderChecksum(pkt, 'later fragment');
  // the first fragment carries the header: its checksum covers the whole datagram, updated incrementally
  const f = first!.slice();
  rewriteSource(f, parsed(f), words(P), 50000);
  const reassembled = buildUdp({ src: P, dst: S, sport: 50000, dport: 2, payload: new Uint8Array(64).fill(0xab) });
  assert.equal(read16(f, 26), read16(reassembled, 26));
});

test('partial checksum (offload): only the pseudo-header address change is applied, not the port', () => {
  for (const proto of ['tcp', 'udp'] as const) {
    const mk = (src: string, sport: number): Uint8Array =>
      proto === 'tcp'
        ? buildTcp({ src, dst: S, sport, dport: 443, payload: Uint8Array.of(1, 2, 3) })
        : buildUdp({ src, dst: S, sport, dport: 443, payload: Uint8Array.of(1, 2, 3) });
    const pkt = makePartial(mk(H, 51234));
    const m = parsed(pkt);
    m.checksumPartial = true;
    rewriteSource(pkt, m, words(P), 54321);
    const field = layoutOf(pkt).field;
    assert.equal(read16(pkt, field), partialSum(pkt), `${proto}: the field holds the new pseudo-header sum`);
    assert.deepEqual(completePartial(pkt), mk(P, 54321), `${proto}: completed by the device, the right packet`);
    assert.equal(read16(pkt, 10), read16(mk(P, 54321), 10), 'the IPv4 header checksum is a full one');
    // a port change alone does not touch a partial field
    const before = read16(pkt, field);
    rewriteSource(pkt, m, words(P), 1);
    assert.equal(read16(pkt, field), before);
  }
});

test('partial ICMP echo: the id change leaves the field (ICMPv4 has no pseudo-header)', () => {
  const pkt = buildIcmpEcho({ src: H, dst: S, id: 4660 });
  const m = parsed(pkt);
  m.checksumPartial = true;
  const field = read16(pkt, 22);
  rewriteSource(pkt, m, words(P), 40000);
  assert.equal(read16(pkt, 22), field);
  assert.equal(read16(pkt, 24), 40000);
});
