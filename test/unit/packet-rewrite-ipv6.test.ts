// Translation rewrites of IPv6 packets: every upper-layer checksum carries the
// pseudo-header, ICMPv6 included. Checked against a from-scratch computation
// (helpers/rewrite-oracle.ts) and against the bytes a builder makes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress, wordsToBytes } from '../../src/packet/address.js';
import { buildIcmp, buildIcmpEcho, buildTcp, buildUdp } from '../../src/packet/build.js';
import { rewriteDestination, rewriteSource } from '../../src/packet/rewrite.js';
import {
  assertChecksums,
  assertMetaInStep,
  completePartial,
  layoutOf,
  makePartial,
  parsed,
  partialSum,
  read16,
} from './helpers/rewrite-oracle.js';

const words = (text: string): Uint32Array => parseAddress(text)!.words;

const H = 'fd00::5';
const P = '2001:db8:0:1::1';
const S = '2001:db8:ffff::7';

test('TCP: nat-to the outside address and a new port, then the reply back', () => {
  const syn = { dst: S, dport: 443, seq: 1, flags: 'S', options: { mss: 1440, sackOk: true, wscale: 7 } };
  const pkt = buildTcp({ ...syn, src: H, sport: 51234 });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 54321);
  assert.deepEqual(pkt, buildTcp({ ...syn, src: P, sport: 54321 }));
  assertChecksums(pkt, 'TCP6 out');
  assertMetaInStep(pkt, m);

  const rep = { src: S, sport: 443, seq: 9, ack: 2, flags: 'SA', payload: new Uint8Array(33).fill(0x5a) };
  const r = buildTcp({ ...rep, dst: P, dport: 54321 });
  const mr = parsed(r);
  rewriteDestination(r, mr, words(H), 51234);
  assert.deepEqual(r, buildTcp({ ...rep, dst: H, dport: 51234 }));
  assertChecksums(r, 'TCP6 back');
  assertMetaInStep(r, mr);
});

test('an address that differs in one word only', () => {
  const pkt = buildTcp({ src: H, dst: S, sport: 1, dport: 2 });
  const m = parsed(pkt);
  rewriteDestination(pkt, m, words('2001:db8:ffff::8'), 2);
  assert.deepEqual(pkt, buildTcp({ src: H, dst: '2001:db8:ffff::8', sport: 1, dport: 2 }));
  assertChecksums(pkt, 'one word');
});

test('UDP: source and destination rewritten', () => {
  const base = { sport: 546, dport: 547, payload: new TextEncoder().encode('solicit') };
  const pkt = buildUdp({ ...base, src: H, dst: S });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 50001);
  rewriteDestination(pkt, m, words('2001:db8::53'), 53);
  assert.deepEqual(pkt, buildUdp({ ...base, src: P, dst: '2001:db8::53', sport: 50001, dport: 53 }));
  assertChecksums(pkt, 'UDP6');
  assertMetaInStep(pkt, m);
});

test('UDP over IPv6 with a 0 checksum (invalid, RFC 8200) keeps it, as pf does', () => {
  const pkt = buildUdp({ src: H, dst: S, sport: 1, dport: 2 });
  pkt[46] = 0;
  pkt[47] = 0;
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 3);
  assert.equal(read16(pkt, 46), 0);
});

test('ICMPv6 echo: the id and the pseudo-header change fix the one checksum', () => {
  const req = { dst: S, seq: 1, payload: new TextEncoder().encode('ping6') };
  const pkt = buildIcmpEcho({ ...req, src: H, id: 4660 });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 40000);
  assert.deepEqual(pkt, buildIcmpEcho({ ...req, src: P, id: 40000 }));
  assertChecksums(pkt, 'echo6');
  assertMetaInStep(pkt, m);

  const rep = { src: S, seq: 1, reply: true, payload: new TextEncoder().encode('ping6') };
  const r = buildIcmpEcho({ ...rep, dst: P, id: 40000 });
  const mr = parsed(r);
  rewriteDestination(r, mr, words(H), 4660);
  assert.deepEqual(r, buildIcmpEcho({ ...rep, dst: H, id: 4660 }));
  assertChecksums(r, 'echo6 reply');
});

test('ICMPv6 echo: an address change alone still changes the checksum (pseudo-header)', () => {
  const pkt = buildIcmpEcho({ src: H, dst: S, id: 7 });
  const before = read16(pkt, 42);
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 7);
  assert.notEqual(read16(pkt, 42), before);
  assertChecksums(pkt, 'echo6 address only');
});

test('ICMPv6 without an id (neighbour solicitation): address only, pseudo-header fixed', () => {
  const payload = new Uint8Array(20);
  wordsToBytes(words(S), 6, payload, 4); // reserved, then the target address
  const pkt = buildIcmp({ src: H, dst: S, type: 135, payload });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words(P), 1234);
  assert.deepEqual(pkt, buildIcmp({ src: P, dst: S, type: 135, payload }));
  assertChecksums(pkt, 'NS');
});

test('partial checksums (offload): TCP, UDP and ICMPv6 take the pseudo-header change only', () => {
  const kinds = [
    (src: string, port: number): Uint8Array =>
      buildTcp({ src, dst: S, sport: port, dport: 80, payload: Uint8Array.of(1) }),
    (src: string, port: number): Uint8Array =>
      buildUdp({ src, dst: S, sport: port, dport: 80, payload: Uint8Array.of(1) }),
    (src: string, port: number): Uint8Array => buildIcmpEcho({ src, dst: S, id: port, payload: Uint8Array.of(1) }),
  ];
  for (const mk of kinds) {
    const pkt = makePartial(mk(H, 1111));
    const what = `proto ${layoutOf(pkt).proto}`;
    const m = parsed(pkt);
    m.checksumPartial = true;
    rewriteSource(pkt, m, words(P), 2222);
    assert.equal(read16(pkt, layoutOf(pkt).field), partialSum(pkt), `${what}: the new pseudo-header sum`);
    assert.deepEqual(completePartial(pkt), mk(P, 2222), `${what}: completed, the translated packet`);
  }
});
