// In-place address / port / ICMP id rewriting for translation (pf's
// pf_translate and pf_test_state_icmp, spec pf-nat.md §4 and §6), with every
// checksum updated incrementally (RFC 1624). Per-packet code: no allocation.
//
// Preconditions: `m` describes `buf` as parsePacket left it (error 0) or as
// an earlier rewrite here left it; each call keeps `m` in step with the bytes.
// Addresses are words as in PacketMeta (IPv4: word 0). A field is written,
// and checksums touched, only when its value differs.
//
// Checksums:
// - The IPv4 header checksum follows every IPv4 address change (pf leaves it
//   to OpenBSD's output path; a TUN hands the packet to the kernel as it is).
// - TCP, UDP and ICMPv6 follow the pseudo-header address change; TCP and UDP
//   the port change; ICMP and ICMPv6 the id change. ICMPv4 has no pseudo-header.
// - A UDP checksum of 0 (none sent) stays 0, in both families as pf does; an
//   updated UDP checksum that comes out 0 is stored as 0xffff.
// - m.checksumPartial (the device finishes the checksum): the field holds the
//   non-inverted pseudo-header sum and the device sums the L4 bytes later. As
//   Linux's inet_proto_csum_replace{4,16} do under CHECKSUM_PARTIAL, only
//   pseudo-header changes are applied, S' = S + ~old + new (not inverted);
//   changes to ports, ids and quoted bytes are not (the device sums them). A
//   partial UDP field is updated even when it reads 0, as Linux's UDP NAT does.
// - ICMP errors: the ICMP/ICMPv6 checksum follows every changed quoted byte
//   (and, for ICMPv6, the outer pseudo-header); a quoted UDP checksum is set
//   to 0; the quoted IPv4 header and TCP/ICMP checksums are left stale (pf:
//   "doesn't trouble to fixup quoted checksums").

import { checksumApplyDelta, partialChecksumApplyDelta, wordDelta16, wordDelta32 } from './checksum.js';
import type { PacketMeta } from './meta.js';
import { icmpHasId } from './parse.js';

const P_ICMP = 1;
const P_TCP = 6;
const P_UDP = 17;
const P_ICMPV6 = 58;

function read16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}

function write16(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v >>> 8;
  buf[o + 1] = v & 0xff;
}

function sameAddress(words: Uint32Array, addr: ArrayLike<number>, n: number): boolean {
  for (let i = 0; i < n; i++) if (words[i] !== addr[i]! >>> 0) return false;
  return true;
}

/** Writes addr's n words at off and into words; returns the checksum delta of the change. */
function replaceAddress(buf: Uint8Array, off: number, n: number, words: Uint32Array, addr: ArrayLike<number>): number {
  let delta = 0;
  for (let i = 0; i < n; i++) {
    const w = addr[i]! >>> 0;
    delta += wordDelta32(words[i]!, w);
    words[i] = w;
    const o = off + 4 * i;
    buf[o] = w >>> 24;
    buf[o + 1] = (w >>> 16) & 0xff;
    buf[o + 2] = (w >>> 8) & 0xff;
    buf[o + 3] = w & 0xff;
  }
  return delta;
}

function applyDelta(buf: Uint8Array, fieldOffset: number, delta: number): void {
  write16(buf, fieldOffset, checksumApplyDelta(read16(buf, fieldOffset), delta));
}

function applyPartialDelta(buf: Uint8Array, fieldOffset: number, delta: number): void {
  write16(buf, fieldOffset, partialChecksumApplyDelta(read16(buf, fieldOffset), delta));
}

/** The ICMP of the packet's own family (ICMP in IPv4, ICMPv6 in IPv6), which parse.ts reads. */
function isFamilyIcmp(af: number, proto: number): boolean {
  return af === 4 ? proto === P_ICMP : proto === P_ICMPV6;
}

/**
 * Sets the source address and, for TCP/UDP, the source port or, for an ICMP/ICMPv6 query (echo and the other
 * types with an id), the id (port is the id then; m.srcPort, m.dstPort and m.icmpId all take it). Other protocols
 * and later fragments: the address only.
 */
export function rewriteSource(buf: Uint8Array, m: PacketMeta, addr: ArrayLike<number>, port: number): void {
  rewriteEndpoint(buf, m, addr, port, true);
}

/** As rewriteSource for the destination address and port (or ICMP query id). */
export function rewriteDestination(buf: Uint8Array, m: PacketMeta, addr: ArrayLike<number>, port: number): void {
  rewriteEndpoint(buf, m, addr, port, false);
}

function rewriteEndpoint(buf: Uint8Array, m: PacketMeta, addr: ArrayLike<number>, port: number, source: boolean): void {
  const af = m.af;
  const l3 = m.l3Offset;
  const words = source ? m.src : m.dst;
  const n = af === 4 ? 1 : 4;
  // pseudo-header delta; for IPv4 also the header checksum's
  let addrDelta = 0;
  if (!sameAddress(words, addr, n)) {
    const off = af === 4 ? (source ? l3 + 12 : l3 + 16) : source ? l3 + 8 : l3 + 24;
    addrDelta = replaceAddress(buf, off, n, words, addr);
    if (af === 4) applyDelta(buf, l3 + 10, addrDelta);
  }
  if (m.isLaterFragment) return;
  const proto = m.proto;
  const l4 = m.l4Offset;
  const p = port & 0xffff;
  if (proto === P_TCP || proto === P_UDP) {
    const old = source ? m.srcPort : m.dstPort;
    let portDelta = 0;
    if (p !== old) {
      write16(buf, source ? l4 : l4 + 2, p);
      portDelta = wordDelta16(old, p);
      if (source) m.srcPort = p;
      else m.dstPort = p;
    }
    const field = l4 + (proto === P_TCP ? 16 : 6);
    if (m.checksumPartial) {
      if (addrDelta !== 0) applyPartialDelta(buf, field, addrDelta);
      return;
    }
    const delta = addrDelta + portDelta;
    if (delta === 0) return;
    if (proto === P_TCP) {
      applyDelta(buf, field, delta);
      return;
    }
    const c = read16(buf, field);
    if (c === 0) return; // no checksum sent
    const nc = checksumApplyDelta(c, delta);
    write16(buf, field, nc === 0 ? 0xffff : nc);
    return;
  }
  if (!isFamilyIcmp(af, proto)) return;
  let idDelta = 0;
  if (icmpHasId(af, m.icmpType) && p !== m.icmpId) {
    write16(buf, l4 + 4, p);
    idDelta = wordDelta16(m.icmpId, p);
    m.icmpId = p;
    m.srcPort = p;
    m.dstPort = p;
  }
  const pseudoDelta = af === 6 ? addrDelta : 0;
  if (m.checksumPartial) {
    if (pseudoDelta !== 0) applyPartialDelta(buf, l4 + 2, pseudoDelta);
    return;
  }
  if (pseudoDelta + idDelta !== 0) applyDelta(buf, l4 + 2, pseudoDelta + idDelta);
}

/**
 * For an ICMP error quoting a packet (m.icmpIsError and m.innerValid; otherwise nothing is done): sets the quoted
 * packet's source address and its TCP/UDP source port or quoted ICMP query id (port) and, when any of these
 * changed, the outer destination address to the same address, as pf_test_state_icmp does. m's inner and outer
 * fields follow.
 */
export function rewriteQuotedSource(buf: Uint8Array, m: PacketMeta, addr: ArrayLike<number>, port: number): void {
  rewriteQuotedEndpoint(buf, m, addr, port, true);
}

/** As rewriteQuotedSource for the quoted destination address and port (or query id), and the outer source. */
export function rewriteQuotedDestination(buf: Uint8Array, m: PacketMeta, addr: ArrayLike<number>, port: number): void {
  rewriteQuotedEndpoint(buf, m, addr, port, false);
}

function rewriteQuotedEndpoint(
  buf: Uint8Array,
  m: PacketMeta,
  addr: ArrayLike<number>,
  port: number,
  source: boolean,
): void {
  if (!m.icmpIsError || !m.innerValid) return;
  const af = m.af;
  const n = af === 4 ? 1 : 4;
  const p = port & 0xffff;
  // sum of the changes inside the ICMP message (the quoted bytes)
  let quotedDelta = 0;
  let quotedChanged = false;
  const innerWords = source ? m.innerSrc : m.innerDst;
  if (!sameAddress(innerWords, addr, n)) {
    const q = m.innerL3Offset;
    const off = af === 4 ? (source ? q + 12 : q + 16) : source ? q + 8 : q + 24;
    quotedDelta = replaceAddress(buf, off, n, innerWords, addr);
    quotedChanged = true;
  }
  const ip = m.innerProto;
  const ql4 = m.innerL4Offset;
  if (ip === P_TCP || ip === P_UDP) {
    const old = source ? m.innerSrcPort : m.innerDstPort;
    if (p !== old) {
      write16(buf, source ? ql4 : ql4 + 2, p);
      quotedDelta += wordDelta16(old, p);
      quotedChanged = true;
      if (source) m.innerSrcPort = p;
      else m.innerDstPort = p;
    }
    if (ip === P_UDP && quotedChanged) {
      // pf zeroes it rather than recompute it over a datagram the error may not hold whole
      const c = read16(buf, ql4 + 6);
      if (c !== 0) {
        write16(buf, ql4 + 6, 0);
        quotedDelta += wordDelta16(c, 0);
      }
    }
  } else if (isFamilyIcmp(af, ip) && icmpHasId(af, m.innerIcmpType) && p !== m.innerIcmpId) {
    write16(buf, ql4 + 4, p);
    quotedDelta += wordDelta16(m.innerIcmpId, p);
    m.innerIcmpId = p;
    m.innerSrcPort = p;
    m.innerDstPort = p;
    quotedChanged = true;
  }
  // pf moves the outer address only with the quoted one (spec §13.2: the router's own source stays)
  if (!quotedChanged) return;

  // the quoted source travelled back as the outer destination, and the other way round
  const outerWords = source ? m.dst : m.src;
  const l3 = m.l3Offset;
  let outerDelta = 0;
  if (!sameAddress(outerWords, addr, n)) {
    const off = af === 4 ? (source ? l3 + 16 : l3 + 12) : source ? l3 + 24 : l3 + 8;
    outerDelta = replaceAddress(buf, off, n, outerWords, addr);
    if (af === 4) applyDelta(buf, l3 + 10, outerDelta);
  }
  const pseudoDelta = af === 6 ? outerDelta : 0;
  const field = m.l4Offset + 2;
  if (m.checksumPartial) {
    if (pseudoDelta !== 0) applyPartialDelta(buf, field, pseudoDelta);
    return;
  }
  if (quotedDelta + pseudoDelta !== 0) applyDelta(buf, field, quotedDelta + pseudoDelta);
}
