// For the rewrite tests: a second, deliberately plain Internet checksum (a
// byte loop and pseudo-headers assembled by hand, sharing nothing with
// src/packet/checksum.ts), and a check that a rewritten PacketMeta says what a
// fresh parse of the bytes says. Packets here carry no IPv6 extension headers.

import assert from 'node:assert/strict';
import { PacketMeta } from '../../../src/packet/meta.js';
import { parsePacket } from '../../../src/packet/parse.js';

const ICMP = 1;
const TCP = 6;
const UDP = 17;
const ICMPV6 = 58;

/** The ones' complement sum of the bytes as big-endian 16-bit words (odd tail padded), folded, not inverted. */
export function onesSum(bytes: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += bytes[i]! * 256 + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

export interface Layout {
  af: 4 | 6;
  proto: number;
  l4: number; // offset of the upper-layer header
  end: number; // end of the IP packet
  field: number; // offset of the upper-layer checksum field, -1 for a protocol without one
}

export function layoutOf(pkt: Uint8Array, l3: number = 0): Layout {
  const v = pkt[l3]! >> 4;
  if (v === 4) {
    const proto = pkt[l3 + 9]!;
    const l4 = l3 + (pkt[l3]! & 15) * 4;
    const end = l3 + pkt[l3 + 2]! * 256 + pkt[l3 + 3]!;
    return { af: 4, proto, l4, end, field: fieldAt(l4, proto) };
  }
  assert.equal(v, 6, 'IP version');
  const proto = pkt[l3 + 6]!;
  const end = l3 + 40 + pkt[l3 + 4]! * 256 + pkt[l3 + 5]!;
  return { af: 6, proto, l4: l3 + 40, end, field: fieldAt(l3 + 40, proto) };
}

function fieldAt(l4: number, proto: number): number {
  if (proto === TCP) return l4 + 16;
  if (proto === UDP) return l4 + 6;
  if (proto === ICMP || proto === ICMPV6) return l4 + 2;
  return -1;
}

function pseudoHeader(pkt: Uint8Array, l3: number, lay: Layout): number[] {
  const len = lay.end - lay.l4;
  if (lay.af === 4) return [...pkt.subarray(l3 + 12, l3 + 20), 0, lay.proto, len >> 8, len & 255];
  return [...pkt.subarray(l3 + 8, l3 + 40), 0, 0, len >> 8, len & 255, 0, 0, 0, lay.proto];
}

export function read16(pkt: Uint8Array, o: number): number {
  return pkt[o]! * 256 + pkt[o + 1]!;
}

/** The IPv4 header checksum computed from scratch. */
export function ipv4HeaderChecksum(pkt: Uint8Array, l3: number = 0): number {
  const hdr = [...pkt.subarray(l3, l3 + (pkt[l3]! & 15) * 4)];
  hdr[10] = 0;
  hdr[11] = 0;
  return 0xffff - onesSum(hdr);
}

/** The upper-layer checksum computed from scratch (a UDP result of 0 as 0xffff). */
export function l4Checksum(pkt: Uint8Array, l3: number = 0): number {
  const lay = layoutOf(pkt, l3);
  const l4 = [...pkt.subarray(lay.l4, lay.end)];
  const fo = lay.field - lay.l4;
  l4[fo] = 0;
  l4[fo + 1] = 0;
  const pseudo = lay.proto === ICMP ? [] : pseudoHeader(pkt, l3, lay);
  const c = 0xffff - onesSum([...pseudo, ...l4]);
  return c === 0 && lay.proto === UDP ? 0xffff : c;
}

/** What a CHECKSUM_PARTIAL field holds: the pseudo-header sum, folded, not inverted. */
export function partialSum(pkt: Uint8Array, l3: number = 0): number {
  return onesSum(pseudoHeader(pkt, l3, layoutOf(pkt, l3)));
}

/** What the device does with a CHECKSUM_PARTIAL packet: sums the L4 bytes (field included) and stores ~sum. */
export function completePartial(pkt: Uint8Array, l3: number = 0): Uint8Array {
  const out = pkt.slice();
  const lay = layoutOf(out, l3);
  const c = 0xffff - onesSum(out.subarray(lay.l4, lay.end));
  out[lay.field] = c >> 8;
  out[lay.field + 1] = c & 255;
  return out;
}

/** Sets the L4 checksum field to the partial (pseudo-header) sum, as a TUN with offload hands it over. */
export function makePartial(pkt: Uint8Array, l3: number = 0): Uint8Array {
  const out = pkt.slice();
  const lay = layoutOf(out, l3);
  const s = partialSum(out, l3);
  out[lay.field] = s >> 8;
  out[lay.field + 1] = s & 255;
  return out;
}

export function assertIpv4HeaderChecksum(pkt: Uint8Array, what: string): void {
  assert.equal(read16(pkt, 10), ipv4HeaderChecksum(pkt), `${what}: IPv4 header checksum`);
}

/**
 * Asserts the IPv4 header checksum and the upper-layer checksum equal the values computed from scratch (an IPv4
 * UDP checksum of 0 stays allowed when zeroUdp).
 */
export function assertChecksums(pkt: Uint8Array, what: string, zeroUdp: boolean = false): void {
  const lay = layoutOf(pkt);
  if (lay.af === 4) assertIpv4HeaderChecksum(pkt, what);
  if (lay.field < 0) return;
  const c = read16(pkt, lay.field);
  if (zeroUdp && lay.proto === UDP && c === 0) return;
  assert.equal(c, l4Checksum(pkt), `${what}: L4 checksum (proto ${lay.proto})`);
}

/** Parses pkt (asserting it parses). */
export function parsed(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), 0, 'parses');
  return m;
}

/** The fields a rewrite changes must equal those of a fresh parse of the rewritten bytes. */
export function assertMetaInStep(pkt: Uint8Array, m: PacketMeta): void {
  const f = parsed(pkt);
  const pick = (x: PacketMeta): unknown => ({
    src: [...x.src],
    dst: [...x.dst],
    srcPort: x.srcPort,
    dstPort: x.dstPort,
    icmpId: x.icmpId,
    innerValid: x.innerValid,
    innerSrc: [...x.innerSrc],
    innerDst: [...x.innerDst],
    innerSrcPort: x.innerSrcPort,
    innerDstPort: x.innerDstPort,
    innerIcmpId: x.innerIcmpId,
  });
  assert.deepEqual(pick(m), pick(f), 'meta in step with the bytes');
}
