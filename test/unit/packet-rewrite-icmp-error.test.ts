// ICMP errors about translated packets (spec pf-nat.md §6.2, §13.2): the
// quoted header is translated back, the outer address follows it, the
// ICMP/ICMPv6 checksum is fixed for every changed byte, a quoted UDP checksum
// becomes 0, and the quoted IPv4 header and TCP/ICMP checksums stay as they
// were. The expected packets are built from the original quote patched by hand.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress, wordsToBytes } from '../../src/packet/address.js';
import { buildIcmpEcho, buildIcmpError, buildTcp, buildUdp } from '../../src/packet/build.js';
import { rewriteQuotedDestination, rewriteQuotedSource, rewriteSource } from '../../src/packet/rewrite.js';
import {
  assertChecksums,
  assertMetaInStep,
  completePartial,
  makePartial,
  parsed,
  partialSum,
  read16,
} from './helpers/rewrite-oracle.js';

const words = (text: string): Uint32Array => parseAddress(text)!.words;

function patchAddress(quote: Uint8Array, offset: number, addr: string): void {
  const a = parseAddress(addr)!;
  wordsToBytes(a.words, a.af, quote, offset);
}

function patch16(quote: Uint8Array, offset: number, v: number): void {
  quote[offset] = v >> 8;
  quote[offset + 1] = v & 255;
}

// quoted field offsets inside a quote without options / extension headers
const Q4 = { src: 12, dst: 16, sport: 20, dport: 22, udpSum: 26, id: 24 };
const Q6 = { src: 8, dst: 24, sport: 40, dport: 42, udpSum: 46, id: 44 };

// spec §13: H inside, P the router's outside address, S the server, X a router on the path
const H = '10.0.0.5';
const P = '192.0.2.1';
const S = '198.51.100.7';
const X = '203.0.113.254';

const FRAG_NEEDED = { type: 3, code: 4, rest: 1400 };

test('§13.2: fragmentation needed about P:54321 > S:443 goes in to H, quoting H:51234', () => {
  const sent = buildTcp({ src: P, dst: S, sport: 54321, dport: 443, seq: 0x01020304, flags: 'S', df: true });
  for (const quote of [sent.slice(0, 28), sent.slice()]) {
    const pkt = buildIcmpError({ src: X, dst: P, ...FRAG_NEEDED, quoted: quote });
    const m = parsed(pkt);
    assert.ok(m.icmpIsError && m.innerValid);
    rewriteQuotedSource(pkt, m, words(H), 51234);
    rewriteQuotedDestination(pkt, m, words(S), 443);
    const want = quote.slice();
    patchAddress(want, Q4.src, H);
    patch16(want, Q4.sport, 51234);
    assert.deepEqual(pkt, buildIcmpError({ src: X, dst: H, ...FRAG_NEEDED, quoted: want }), `quote ${quote.length}`);
    assertChecksums(pkt, '§13.2');
    assert.equal(read16(pkt, 28 + 10), read16(quote, 10), 'quoted IPv4 header checksum left stale');
    if (quote.length > 28) assert.equal(read16(pkt, 48 + 16), read16(quote, 20 + 16), 'quoted TCP checksum left stale');
    assertMetaInStep(pkt, m);
    assert.equal(m.innerSrcPort, 51234);
    assert.deepEqual([...m.dst], [...words(H)]);
  }
});

test('IPv4, quoted UDP: its checksum becomes 0, compensated in the ICMP checksum', () => {
  const sent = buildUdp({ src: P, dst: S, sport: 50001, dport: 53, payload: new TextEncoder().encode('query') });
  assert.notEqual(read16(sent, Q4.udpSum), 0);
  const err = { src: S, type: 3, code: 3 };
  const pkt = buildIcmpError({ ...err, dst: P, quoted: sent });
  const m = parsed(pkt);
  rewriteQuotedSource(pkt, m, words(H), 5353);
  const want = sent.slice();
  patchAddress(want, Q4.src, H);
  patch16(want, Q4.sport, 5353);
  patch16(want, Q4.udpSum, 0);
  assert.deepEqual(pkt, buildIcmpError({ ...err, dst: H, quoted: want }));
  assertChecksums(pkt, 'quoted UDP');
  assertMetaInStep(pkt, m);
});

test('IPv4, quoted echo (time exceeded about a ping): the quoted id goes back too', () => {
  const sent = buildIcmpEcho({ src: P, dst: S, id: 40000, seq: 5, ttl: 1, payload: new Uint8Array(16).fill(1) });
  const err = { src: X, type: 11, code: 0 };
  const pkt = buildIcmpError({ ...err, dst: P, quoted: sent });
  const m = parsed(pkt);
  rewriteQuotedSource(pkt, m, words(H), 4660);
  const want = sent.slice();
  patchAddress(want, Q4.src, H);
  patch16(want, Q4.id, 4660);
  assert.deepEqual(pkt, buildIcmpError({ ...err, dst: H, quoted: want }));
  assertChecksums(pkt, 'quoted echo');
  assertMetaInStep(pkt, m);
  assert.equal(m.innerIcmpId, 4660);
});

test('rdr-to: an error about C > 10.0.0.10:8080 leaves quoting P:80 and from P', () => {
  const C = '203.0.113.9';
  const sent = buildTcp({ src: C, dst: '10.0.0.10', sport: 40000, dport: 8080, seq: 42, flags: 'S' });
  const err = { dst: C, type: 3, code: 1 };
  const pkt = buildIcmpError({ ...err, src: '10.0.0.1', quoted: sent.slice(0, 28) });
  const m = parsed(pkt);
  rewriteQuotedSource(pkt, m, words(C), 40000);
  rewriteQuotedDestination(pkt, m, words(P), 80);
  const want = sent.slice(0, 28);
  patchAddress(want, Q4.dst, P);
  patch16(want, Q4.dport, 80);
  assert.deepEqual(pkt, buildIcmpError({ ...err, src: P, quoted: want }));
  assertChecksums(pkt, 'rdr error');
  assertMetaInStep(pkt, m);
});

test('IPv4 partial: the ICMP field is left to the device (no pseudo-header)', () => {
  const sent = buildTcp({ src: P, dst: S, sport: 54321, dport: 443, flags: 'S' });
  const pkt = buildIcmpError({ src: X, dst: P, ...FRAG_NEEDED, quoted: sent.slice(0, 28) });
  const m = parsed(pkt);
  m.checksumPartial = true;
  const field = read16(pkt, 22);
  rewriteQuotedSource(pkt, m, words(H), 51234);
  assert.equal(read16(pkt, 22), field);
  assert.equal(read16(pkt, 48), 51234);
});

test('not an error, or a quote too short for the ports: nothing changes', () => {
  const echo = buildIcmpEcho({ src: S, dst: P, id: 1 });
  const e = echo.slice();
  rewriteQuotedSource(e, parsed(e), words(H), 2);
  assert.deepEqual(e, echo);
  const sent = buildTcp({ src: P, dst: S, sport: 54321, dport: 443 });
  const short = buildIcmpError({ src: X, dst: P, ...FRAG_NEEDED, quoted: sent.slice(0, 24) });
  const s = short.slice();
  const m = parsed(s);
  assert.ok(m.icmpIsError && !m.innerValid);
  rewriteQuotedSource(s, m, words(H), 51234);
  assert.deepEqual(s, short);
});

// -- IPv6 ---------------------------------------------------------------------------

const H6 = 'fd00::5';
const P6 = '2001:db8:0:1::1';
const S6 = '2001:db8:ffff::7';
const X6 = '2001:db8:0:2::fe';

test('IPv6, quoted TCP (packet too big): quoted source, outer destination, pseudo-header in the checksum', () => {
  const sent = buildTcp({ src: P6, dst: S6, sport: 54321, dport: 443, seq: 7, flags: 'S' });
  const err = { src: X6, type: 2, code: 0, rest: 1280 };
  const pkt = buildIcmpError({ ...err, dst: P6, quoted: sent });
  const m = parsed(pkt);
  rewriteQuotedSource(pkt, m, words(H6), 51234);
  const want = sent.slice();
  patchAddress(want, Q6.src, H6);
  patch16(want, Q6.sport, 51234);
  assert.deepEqual(pkt, buildIcmpError({ ...err, dst: H6, quoted: want }));
  assert.equal(read16(pkt, 88 + 16), read16(sent, 56), 'quoted TCP checksum left stale');
  assertChecksums(pkt, 'ICMPv6 quoting TCP');
  assertMetaInStep(pkt, m);
});

test('IPv6, quoted UDP: zeroed quoted checksum, compensated', () => {
  const sent = buildUdp({ src: P6, dst: S6, sport: 50001, dport: 53, payload: Uint8Array.of(1, 2, 3) });
  const err = { src: S6, type: 1, code: 4 };
  const pkt = buildIcmpError({ ...err, dst: P6, quoted: sent });
  const m = parsed(pkt);
  rewriteQuotedSource(pkt, m, words(H6), 5353);
  const want = sent.slice();
  patchAddress(want, Q6.src, H6);
  patch16(want, Q6.sport, 5353);
  patch16(want, Q6.udpSum, 0);
  assert.deepEqual(pkt, buildIcmpError({ ...err, dst: H6, quoted: want }));
  assertChecksums(pkt, 'ICMPv6 quoting UDP');
  assertMetaInStep(pkt, m);
});

test('IPv6, quoted echo and the rdr direction (quoted destination, outer source)', () => {
  const sent = buildIcmpEcho({ src: S6, dst: 'fd00::10', id: 99, seq: 1 });
  const err = { dst: S6, type: 3, code: 0 };
  const pkt = buildIcmpError({ ...err, src: 'fd00::1', quoted: sent });
  const m = parsed(pkt);
  rewriteQuotedDestination(pkt, m, words(P6), 99);
  const want = sent.slice();
  patchAddress(want, Q6.dst, P6);
  assert.deepEqual(pkt, buildIcmpError({ ...err, src: P6, quoted: want }));
  assertChecksums(pkt, 'ICMPv6 quoting echo');
  assertMetaInStep(pkt, m);

  const out = buildIcmpEcho({ src: P6, dst: S6, id: 40000, seq: 2 });
  const te = buildIcmpError({ src: X6, dst: P6, type: 3, code: 0, quoted: out });
  const mt = parsed(te);
  rewriteQuotedSource(te, mt, words(H6), 4660);
  const want2 = out.slice();
  patchAddress(want2, Q6.src, H6);
  patch16(want2, Q6.id, 4660);
  assert.deepEqual(te, buildIcmpError({ src: X6, dst: H6, type: 3, code: 0, quoted: want2 }));
  assertChecksums(te, 'ICMPv6 quoting echo, id');
});

test('IPv6 partial: only the outer pseudo-header change goes into the field', () => {
  const sent = buildUdp({ src: P6, dst: S6, sport: 50001, dport: 53 });
  const err = { src: S6, type: 1, code: 4 };
  const pkt = makePartial(buildIcmpError({ ...err, dst: P6, quoted: sent }));
  const m = parsed(pkt);
  m.checksumPartial = true;
  rewriteQuotedSource(pkt, m, words(H6), 5353);
  assert.equal(read16(pkt, 42), partialSum(pkt));
  const want = sent.slice();
  patchAddress(want, Q6.src, H6);
  patch16(want, Q6.sport, 5353);
  patch16(want, Q6.udpSum, 0);
  assert.deepEqual(completePartial(pkt), buildIcmpError({ ...err, dst: H6, quoted: want }));
});

test('the outer rewrite of an ICMPv6 error (address only) keeps its checksum right', () => {
  const sent = buildTcp({ src: P6, dst: S6, sport: 1, dport: 2 });
  const pkt = buildIcmpError({ src: X6, dst: P6, type: 1, code: 0, quoted: sent });
  const m = parsed(pkt);
  rewriteSource(pkt, m, words('2001:db8::99'), 7);
  assert.deepEqual(pkt, buildIcmpError({ src: '2001:db8::99', dst: P6, type: 1, code: 0, quoted: sent }));
  assertChecksums(pkt, 'ICMPv6 error, outer source');
});
