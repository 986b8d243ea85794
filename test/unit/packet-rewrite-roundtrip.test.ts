// Randomised: a translation and its reverse restore the packet byte for byte
// (the quoted UDP checksum of an ICMP error excepted: pf zeroes it for good),
// and every intermediate packet carries the checksums a from-scratch
// computation gives (helpers/rewrite-oracle.ts). Replay with TEST_SEED=<n>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAddress } from '../../src/packet/address.js';
import { buildIcmp, buildIcmpEcho, buildIcmpError, buildIpPacket, buildTcp, buildUdp } from '../../src/packet/build.js';
import type { PacketMeta } from '../../src/packet/meta.js';
import {
  rewriteDestination,
  rewriteQuotedDestination,
  rewriteQuotedSource,
  rewriteSource,
} from '../../src/packet/rewrite.js';
import { randomSource } from './helpers/random.js';
import {
  assertChecksums,
  assertIpv4HeaderChecksum,
  assertMetaInStep,
  l4Checksum,
  layoutOf,
  makePartial,
  parsed,
  partialSum,
  read16,
} from './helpers/rewrite-oracle.js';

const ROUNDS = 400;
const rnd = randomSource('packet-rewrite-roundtrip');
const int = (n: number): number => Math.floor(rnd() * n);

function randomWords(af: 4 | 6): Uint32Array {
  const w = new Uint32Array(4);
  for (let i = 0; i < (af === 4 ? 1 : 4); i++) w[i] = Math.floor(rnd() * 0x100000000);
  // keep IPv6 off the multicast and unspecified corners: irrelevant here, and readable in a failure
  if (af === 6) w[0] = (0x20010000 | (w[0]! & 0xffff)) >>> 0;
  return w;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

type Kind = 'tcp' | 'udp' | 'udp-no-checksum' | 'echo' | 'icmp-other' | 'gre';
const KINDS: Kind[] = ['tcp', 'udp', 'udp-no-checksum', 'echo', 'icmp-other', 'gre'];

function build(kind: Kind, af: 4 | 6, src: string, dst: string): Uint8Array {
  const payload = randomBytes(1 + int(40)); // an empty IPv6 payload would read as a jumbogram
  const sport = int(65536);
  const dport = int(65536);
  switch (kind) {
    case 'tcp':
      return buildTcp({ src, dst, sport, dport, seq: int(2 ** 32), flags: int(256), payload });
    case 'udp':
      return buildUdp({ src, dst, sport, dport, payload });
    case 'udp-no-checksum':
      return buildUdp({ src, dst, sport, dport, payload, checksum: af === 6 });
    case 'echo':
      return buildIcmpEcho({ src, dst, id: int(65536), seq: int(65536), reply: rnd() < 0.5, payload });
    case 'icmp-other':
      // router advertisement (IPv4) / neighbour solicitation (IPv6): no id
      return buildIcmp({ src, dst, type: af === 4 ? 9 : 135, rest: int(2 ** 32), payload });
    case 'gre':
      return buildIpPacket({ src, dst, protocol: 47, payload });
  }
}

function portOf(m: PacketMeta, source: boolean): number {
  return source ? m.srcPort : m.dstPort;
}

function checkIntermediate(pkt: Uint8Array, m: PacketMeta, partial: boolean, what: string): void {
  assertMetaInStep(pkt, m);
  if (!partial) {
    assertChecksums(pkt, what, true);
    return;
  }
  if (m.af === 4) assertIpv4HeaderChecksum(pkt, what);
  assert.equal(read16(pkt, layoutOf(pkt).field), partialSum(pkt), `${what}: partial sum`);
}

test('rewrite and rewrite back restore the packet exactly', () => {
  for (let round = 0; round < ROUNDS; round++) {
    const af: 4 | 6 = rnd() < 0.5 ? 4 : 6;
    const kind = KINDS[int(KINDS.length)]!;
    const src = formatAddress(af, randomWords(af));
    const dst = formatAddress(af, randomWords(af));
    let pkt = build(kind, af, src, dst);
    // offload applies to a checksum with a pseudo-header
    const partial = rnd() < 0.3 && (kind === 'tcp' || kind === 'udp' || (kind === 'echo' && af === 6));
    if (partial) pkt = makePartial(pkt);
    const original = pkt.slice();
    const m = parsed(pkt);
    m.checksumPartial = partial;
    const what = `round ${round}: ${kind} IPv${af}${partial ? ' partial' : ''}`;

    const sides = rnd() < 0.3 ? [true, false] : [rnd() < 0.5];
    const undo: Array<[boolean, Uint32Array, number]> = [];
    for (const source of sides) {
      undo.push([source, (source ? m.src : m.dst).slice(), portOf(m, source)]);
      const addr = rnd() < 0.2 ? (source ? m.src : m.dst).slice() : randomWords(af);
      const port = rnd() < 0.2 ? portOf(m, source) : int(65536);
      if (source) rewriteSource(pkt, m, addr, port);
      else rewriteDestination(pkt, m, addr, port);
      checkIntermediate(pkt, m, partial, what);
    }
    for (const [source, addr, port] of undo.reverse()) {
      if (source) rewriteSource(pkt, m, addr, port);
      else rewriteDestination(pkt, m, addr, port);
    }
    assert.deepEqual(pkt, original, what);
  }
});

type QuotedKind = 'tcp' | 'udp' | 'echo';

test('ICMP errors: the quoted rewrite and back restore everything but the zeroed quoted UDP checksum', () => {
  for (let round = 0; round < ROUNDS; round++) {
    const af: 4 | 6 = rnd() < 0.5 ? 4 : 6;
    const kind = (['tcp', 'udp', 'echo'] as QuotedKind[])[int(3)]!;
    const a = formatAddress(af, randomWords(af));
    const b = formatAddress(af, randomWords(af));
    const router = formatAddress(af, randomWords(af));
    const sent = build(kind, af, a, b);
    const headerLength = af === 4 ? 20 : 40;
    const quoted = rnd() < 0.5 ? sent.slice(0, headerLength + 8) : sent;
    const type = af === 4 ? 3 : 1;
    const pkt = buildIcmpError({ src: router, dst: a, type, code: int(4), quoted });
    const m = parsed(pkt);
    assert.ok(m.innerValid);
    const what = `round ${round}: error quoting ${kind} IPv${af}`;

    // what pf leaves for good: a quoted UDP checksum of 0 (compensated in the ICMP checksum)
    const expected = pkt.slice();
    const quotedL4 = (af === 4 ? 28 : 48) + headerLength;
    if (kind === 'udp') {
      expected[quotedL4 + 6] = 0;
      expected[quotedL4 + 7] = 0;
      const field = layoutOf(expected).field;
      const c = l4Checksum(expected);
      expected[field] = c >> 8;
      expected[field + 1] = c & 255;
    }

    const undo: Array<[boolean, Uint32Array, number]> = [];
    const sides = rnd() < 0.5 ? [true, false] : [rnd() < 0.5];
    for (const source of sides) {
      const words = source ? m.innerSrc : m.innerDst;
      const port = source ? m.innerSrcPort : m.innerDstPort;
      undo.push([source, words.slice(), port]);
      // every step changes something (a step that changes nothing leaves the quoted UDP checksum)
      const sameAddress = rnd() < 0.2;
      const newAddr = sameAddress ? words.slice() : randomWords(af);
      const newPort = sameAddress || rnd() < 0.5 ? (port + 1 + int(65535)) % 65536 : port;
      if (source) rewriteQuotedSource(pkt, m, newAddr, newPort);
      else rewriteQuotedDestination(pkt, m, newAddr, newPort);
      assertMetaInStep(pkt, m);
      assertChecksums(pkt, what);
    }
    for (const [source, addr, port] of undo.reverse()) {
      if (source) rewriteQuotedSource(pkt, m, addr, port);
      else rewriteQuotedDestination(pkt, m, addr, port);
    }
    // a quoted destination rewrite moved the outer source (the router's) along: put it back
    if (sides.includes(false)) rewriteSource(pkt, m, parsed(expected).src, 0);
    assert.deepEqual(pkt, expected, what);
  }
});
