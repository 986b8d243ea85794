// Zero-copy parse of one raw IP packet (a TUN frame: no link header) into a
// reusable PacketMeta. Per-packet code: no allocation, no throw, byte reads
// only. Fields are trustworthy when the returned code is ParseError.OK; on an
// error the fields read so far stay filled (af, addresses, ...) for logging.
//
// Choices, where the RFCs leave room (mostly as OpenBSD pf does):
// - Trailing bytes beyond the IP length are ignored, as the kernel does.
// - The IPv4 header checksum is not verified: the kernel did before routing
//   the packet into the TUN. checksum.ts verifies when a caller wants it.
// - An IPv4 total length (or IPv6 payload length) of 0 is BAD_TOTAL_LENGTH,
//   even from a GSO-capable TUN: "BIG TCP" super-packets beyond 64 KiB are not
//   supported, so the datapath keeps the TUN's gso_max_size at 64 KiB.
// - A fragment whose offset + length passes 65535 (ping of death) is
//   BAD_TOTAL_LENGTH. A first fragment must hold the whole L4 header
//   (SHORT_L4 otherwise) and, for IPv6, the whole extension chain (RFC 7112).
//   Later fragments carry no L4 header: proto is the protocol they belong to.
// - An IPv6 fragment header with offset 0 and M clear (an atomic fragment,
//   RFC 6946) is not a fragment: isFragment stays false, fragmentId is set.
// - IPv6 extension chains pf refuses are EXTENSION_CHAIN: more than 8
//   headers, truncated, hop-by-hop not first, two fragment or two routing
//   headers, routing type 0. Malformed option TLVs in hop-by-hop or
//   destination options (or a jumbo option: no jumbograms) are BAD_OPTIONS.
// - IPv4 AH headers are walked to the upper layer too, as pf does.
// - hasIpOptions follows pf's allow-opts: any IPv4 option (padding alone
//   counts), IPv6 routing / destination options / hop-by-hop headers, except a
//   router alert alone on IGMP or MLD, which need it.
// - ICMP is parsed for IPv4 only and ICMPv6 for IPv6 only; the other pairing is
//   an opaque protocol. Echo (and the other id-carrying queries) put the id in
//   icmpId, srcPort and dstPort.
// - ICMP errors: a quote that does not hold a whole IP header of the outer
//   family is SHORT_ICMP_INNER (it refers to no packet; the kernel drops such
//   errors too). A whole header followed by fewer than 8 bytes of the L4
//   header, a truncated IPv6 chain or a later fragment leaves innerValid false
//   with the outer packet OK: the state layer decides.

import { ParseError, type PacketMeta } from './meta.js';

const OK = ParseError.OK;
const E_SHORT = ParseError.SHORT;
const E_VERSION = ParseError.BAD_VERSION;
const E_HLEN = ParseError.BAD_HEADER_LENGTH;
const E_TOTLEN = ParseError.BAD_TOTAL_LENGTH;
const E_OPTIONS = ParseError.BAD_OPTIONS;
const E_CHAIN = ParseError.EXTENSION_CHAIN;
const E_SHORT_L4 = ParseError.SHORT_L4;
const E_TCP_OFF = ParseError.BAD_TCP_OFFSET;
const E_TCP_OPT = ParseError.BAD_TCP_OPTIONS;
const E_UDP_LEN = ParseError.BAD_UDP_LENGTH;
const E_ICMP_INNER = ParseError.SHORT_ICMP_INNER;

const P_HOPOPTS = 0;
const P_ICMP = 1;
const P_IGMP = 2;
const P_TCP = 6;
const P_UDP = 17;
const P_ROUTING = 43;
const P_FRAGMENT = 44;
const P_AH = 51;
const P_ICMPV6 = 58;
const P_DSTOPTS = 60;

/** Most IPv6 extension headers (or IPv4 AH headers) walked before giving up. */
export const MAX_EXTENSION_HEADERS = 8;

// option walk results (bit mask); -1 = malformed
const OPT_OTHER = 1;
const OPT_RA = 2;
const OPT_JUMBO = 4;

const WSCALE_MAX = 14; // RFC 7323 2.3

/**
 * Parses the IP packet at buf[offset, offset+length) into meta and returns the ParseError code (also in
 * meta.error). Never throws on packet bytes and never allocates.
 */
export function parsePacket(buf: Uint8Array, offset: number, length: number, meta: PacketMeta): number {
  meta.reset();
  meta.l3Offset = offset;
  let end = offset + length;
  if (end > buf.length) end = buf.length;
  if (offset < 0 || end - offset < 1) return fail(meta, E_SHORT);
  const v = buf[offset]! >> 4;
  if (v === 4) return parseIpv4(buf, offset, end, meta);
  if (v === 6) return parseIpv6(buf, offset, end, meta);
  return fail(meta, E_VERSION);
}

function fail(meta: PacketMeta, code: number): number {
  meta.error = code;
  return code;
}

function read32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

function read16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}

// -- IPv4 --------------------------------------------------------------------------

function parseIpv4(buf: Uint8Array, o: number, end: number, meta: PacketMeta): number {
  if (end - o < 20) return fail(meta, E_SHORT);
  meta.af = 4;
  const hl = (buf[o]! & 0x0f) << 2;
  if (hl < 20 || o + hl > end) return fail(meta, E_HLEN);
  meta.l3HeaderLength = hl;
  meta.tos = buf[o + 1]!;
  const tot = read16(buf, o + 2);
  meta.totalLength = tot;
  meta.ttl = buf[o + 8]!;
  const proto = buf[o + 9]!;
  meta.proto = proto;
  meta.src[0] = read32(buf, o + 12);
  meta.dst[0] = read32(buf, o + 16);
  if (tot < hl || o + tot > end) return fail(meta, E_TOTLEN);

  meta.fragmentId = read16(buf, o + 4);
  const fo = read16(buf, o + 6);
  const fragOff = (fo & 0x1fff) << 3;
  if ((fo & 0x3fff) !== 0) {
    // MF or an offset: a fragment (reset() left the fields for a whole packet)
    meta.isFragment = true;
    meta.moreFragments = (fo & 0x2000) !== 0;
    meta.fragmentOffset = fragOff;
    meta.isLaterFragment = fragOff !== 0;
    if (fragOff + tot > 65535) return fail(meta, E_TOTLEN);
  }

  if (hl > 20) {
    const opts = walkIpv4Options(buf, o + 20, o + hl);
    if (opts < 0) return fail(meta, E_OPTIONS);
    // a router alert alone is what IGMP needs; padding alone is suspect (pf)
    meta.hasIpOptions = !(opts === OPT_RA && proto === P_IGMP);
  }

  let l4 = o + hl;
  const l4End = o + tot;
  meta.l4Offset = l4;
  meta.l4Length = l4End - l4;
  if (fragOff !== 0) return OK;

  let p = proto;
  for (let n = 0; p === P_AH; n++) {
    if (n >= MAX_EXTENSION_HEADERS || l4 + 8 > l4End) return fail(meta, E_CHAIN);
    const len = (buf[l4 + 1]! + 2) << 2;
    if (l4 + len > l4End) return fail(meta, E_CHAIN);
    p = buf[l4]!;
    l4 += len;
  }
  if (l4 !== o + hl) {
    // walked past AH
    meta.proto = p;
    meta.l4Offset = l4;
    meta.l4Length = l4End - l4;
  }
  return parseL4(buf, meta, p, l4, l4End);
}

/** Validates IPv4 option TLVs in [p, end); returns an OPT_* mask or -1. */
function walkIpv4Options(buf: Uint8Array, p: number, end: number): number {
  let mask = 0;
  while (p < end) {
    const type = buf[p]!;
    if (type === 0) break; // end of options
    if (type === 1) {
      p++;
      continue;
    } // no-op
    if (p + 2 > end) return -1;
    const len = buf[p + 1]!;
    if (len < 2 || p + len > end) return -1;
    mask |= type === 148 ? OPT_RA : OPT_OTHER;
    p += len;
  }
  return mask;
}

// -- IPv6 --------------------------------------------------------------------------

function parseIpv6(buf: Uint8Array, o: number, end: number, meta: PacketMeta): number {
  if (end - o < 40) return fail(meta, E_SHORT);
  meta.af = 6;
  meta.l3HeaderLength = 40;
  meta.tos = ((buf[o]! & 0x0f) << 4) | (buf[o + 1]! >> 4);
  meta.ttl = buf[o + 7]!;
  const src = meta.src;
  const dst = meta.dst;
  src[0] = read32(buf, o + 8);
  src[1] = read32(buf, o + 12);
  src[2] = read32(buf, o + 16);
  src[3] = read32(buf, o + 20);
  dst[0] = read32(buf, o + 24);
  dst[1] = read32(buf, o + 28);
  dst[2] = read32(buf, o + 32);
  dst[3] = read32(buf, o + 36);
  const plen = read16(buf, o + 4);
  meta.totalLength = 40 + plen;
  let nh = buf[o + 6]!;
  meta.proto = nh;
  // payload length 0 announces a jumbogram: not supported
  if (plen === 0 || o + 40 + plen > end) return fail(meta, E_TOTLEN);

  const pend = o + 40 + plen;
  let p = o + 40;
  let opts = 0;
  let sawFrag = false;
  let sawRouting = false;
  for (let n = 0; ; n++) {
    if (nh !== P_HOPOPTS && nh !== P_ROUTING && nh !== P_FRAGMENT && nh !== P_DSTOPTS && nh !== P_AH) break;
    if (n >= MAX_EXTENSION_HEADERS || p + 8 > pend) return fail(meta, E_CHAIN);
    let len = (buf[p + 1]! + 1) << 3;
    if (nh === P_HOPOPTS) {
      if (n !== 0) return fail(meta, E_CHAIN);
      if (p + len > pend) return fail(meta, E_CHAIN);
      const m = walkIpv6Options(buf, p + 2, p + len);
      if (m < 0 || (m & OPT_JUMBO) !== 0) return fail(meta, E_OPTIONS);
      opts |= m === 0 ? OPT_OTHER : m; // padding alone is suspect (pf)
    } else if (nh === P_DSTOPTS) {
      if (p + len > pend) return fail(meta, E_CHAIN);
      if (walkIpv6Options(buf, p + 2, p + len) < 0) return fail(meta, E_OPTIONS);
      opts |= OPT_OTHER;
    } else if (nh === P_ROUTING) {
      if (sawRouting || buf[p + 2] === 0 || p + len > pend) return fail(meta, E_CHAIN);
      sawRouting = true;
      opts |= OPT_OTHER;
    } else if (nh === P_AH) {
      len = (buf[p + 1]! + 2) << 2;
      if (p + len > pend) return fail(meta, E_CHAIN);
    } else {
      // fragment header: fixed 8 bytes
      if (sawFrag) return fail(meta, E_CHAIN);
      sawFrag = true;
      len = 8;
      const offlg = read16(buf, p + 2);
      const fragOff = offlg & 0xfff8;
      const more = (offlg & 1) !== 0;
      meta.fragmentOffset = fragOff;
      meta.moreFragments = more;
      meta.fragmentId = read32(buf, p + 4);
      meta.isFragment = more || fragOff !== 0;
      // the reassembled payload: unfragmentable headers + offset + this fragment's data (RFC 8200 4.5)
      if (p - o - 40 + fragOff + (pend - p - 8) > 65535) return fail(meta, E_TOTLEN);
      if (fragOff !== 0) {
        // a later fragment: what follows is data, not a header
        meta.isLaterFragment = true;
        meta.hasIpOptions = opts !== 0;
        meta.proto = buf[p]!;
        meta.l4Offset = p + 8;
        meta.l4Length = pend - p - 8;
        return OK;
      }
    }
    nh = buf[p]!;
    p += len;
  }
  meta.proto = nh;
  meta.l4Offset = p;
  meta.l4Length = pend - p;
  meta.hasIpOptions = opts !== 0;
  const rc = parseL4(buf, meta, nh, p, pend);
  // MLD needs a router alert (pf lets it through without allow-opts)
  if (opts === OPT_RA && nh === P_ICMPV6 && isMld(meta.icmpType)) meta.hasIpOptions = false;
  return rc;
}

/** Validates IPv6 option TLVs in [p, end); returns an OPT_* mask (0: padding only) or -1. */
function walkIpv6Options(buf: Uint8Array, p: number, end: number): number {
  let mask = 0;
  while (p < end) {
    const type = buf[p]!;
    if (type === 0) {
      p++;
      continue;
    } // Pad1
    if (p + 2 > end) return -1;
    const next = p + 2 + buf[p + 1]!;
    if (next > end) return -1;
    if (type === 0xc2) mask |= OPT_JUMBO;
    else if (type === 0x05) mask |= OPT_RA;
    else if (type !== 1) mask |= OPT_OTHER; // 1 = PadN
    p = next;
  }
  return mask;
}

function isMld(type: number): boolean {
  return type === 130 || type === 131 || type === 132 || type === 143;
}

// -- upper layer -----------------------------------------------------------------------

function parseL4(buf: Uint8Array, meta: PacketMeta, proto: number, l4: number, l4End: number): number {
  if (proto === P_TCP) return parseTcp(buf, meta, l4, l4End);
  if (proto === P_UDP) return parseUdp(buf, meta, l4, l4End);
  if (proto === P_ICMP) return meta.af === 4 ? parseIcmp(buf, meta, l4, l4End) : OK;
  if (proto === P_ICMPV6) return meta.af === 6 ? parseIcmp(buf, meta, l4, l4End) : OK;
  return OK;
}

function parseTcp(buf: Uint8Array, meta: PacketMeta, l4: number, l4End: number): number {
  const len = l4End - l4;
  if (len < 20) return fail(meta, E_SHORT_L4);
  meta.srcPort = read16(buf, l4);
  meta.dstPort = read16(buf, l4 + 2);
  meta.seq = read32(buf, l4 + 4);
  meta.ack = read32(buf, l4 + 8);
  const thl = (buf[l4 + 12]! >> 4) << 2;
  meta.tcpFlags = buf[l4 + 13]!;
  meta.window = read16(buf, l4 + 14);
  if (thl < 20 || thl > len) return fail(meta, E_TCP_OFF);
  meta.tcpHeaderLength = thl;
  meta.payloadLength = len - thl;
  if (thl === 20) return OK;

  // fast path: the layout Linux puts on every established segment (NOP, NOP, timestamps)
  if (thl === 32 && read32(buf, l4 + 20) === 0x0101080a) {
    meta.hasTimestamp = true;
    meta.tsVal = read32(buf, l4 + 24);
    meta.tsEcr = read32(buf, l4 + 28);
    return OK;
  }
  const oend = l4 + thl;
  let p = l4 + 20;
  while (p < oend) {
    const kind = buf[p]!;
    if (kind === 0) break; // end of option list
    if (kind === 1) {
      p++;
      continue;
    } // no-op
    if (p + 2 > oend) return fail(meta, E_TCP_OPT);
    const olen = buf[p + 1]!;
    if (olen < 2 || p + olen > oend) return fail(meta, E_TCP_OPT);
    // a known option with the wrong length is skipped, as Linux does
    if (kind === 8) {
      if (olen === 10) {
        meta.hasTimestamp = true;
        meta.tsVal = read32(buf, p + 2);
        meta.tsEcr = read32(buf, p + 6);
      }
    } else if (kind === 2) {
      if (olen === 4) meta.mss = read16(buf, p + 2);
    } else if (kind === 3) {
      if (olen === 3) {
        const ws = buf[p + 2]!;
        meta.wscaleRaw = ws;
        meta.wscale = ws > WSCALE_MAX ? WSCALE_MAX : ws;
      }
    } else if (kind === 4) {
      if (olen === 2) meta.sackPermitted = true;
    }
    p += olen;
  }
  return OK;
}

function parseUdp(buf: Uint8Array, meta: PacketMeta, l4: number, l4End: number): number {
  const len = l4End - l4;
  if (len < 8) return fail(meta, E_SHORT_L4);
  meta.srcPort = read16(buf, l4);
  meta.dstPort = read16(buf, l4 + 2);
  const ulen = read16(buf, l4 + 4);
  // a first fragment holds only part of the datagram its length describes
  if (ulen < 8 || (ulen > len && !meta.isFragment)) return fail(meta, E_UDP_LEN);
  meta.payloadLength = ulen - 8;
  return OK;
}

/** ICMP types whose rest-of-header starts with an identifier (pf's "query" types). */
export function icmpHasId(af: number, type: number): boolean {
  if (af === 4) return type === 8 || type === 0 || (type >= 13 && type <= 18);
  return type === 128 || type === 129;
}

function icmpIsError(af: number, type: number): boolean {
  if (af === 4) return type === 3 || type === 11 || type === 12 || type === 4 || type === 5;
  return type >= 1 && type <= 4;
}

function parseIcmp(buf: Uint8Array, meta: PacketMeta, l4: number, l4End: number): number {
  if (l4End - l4 < 8) return fail(meta, E_SHORT_L4);
  const af = meta.af;
  const type = buf[l4]!;
  meta.icmpType = type;
  meta.icmpCode = buf[l4 + 1]!;
  if (icmpHasId(af, type)) {
    const id = read16(buf, l4 + 4);
    meta.icmpId = id;
    meta.srcPort = id;
    meta.dstPort = id;
    return OK;
  }
  if (!icmpIsError(af, type)) return OK;
  meta.icmpIsError = true;
  return parseInner(buf, meta, l4 + 8, l4End);
}

/** The packet quoted by an ICMP error, in [q, qend). */
function parseInner(buf: Uint8Array, meta: PacketMeta, q: number, qend: number): number {
  meta.innerL3Offset = q;
  const af = meta.af;
  let l4: number;
  let proto: number;
  if (af === 4) {
    if (qend - q < 20 || buf[q]! >> 4 !== 4) return fail(meta, E_ICMP_INNER);
    const hl = (buf[q]! & 0x0f) << 2;
    if (hl < 20 || q + hl > qend) return fail(meta, E_ICMP_INNER);
    proto = buf[q + 9]!;
    meta.innerProto = proto;
    meta.innerSrc[0] = read32(buf, q + 12);
    meta.innerDst[0] = read32(buf, q + 16);
    // errors about later fragments quote no L4 header
    if ((read16(buf, q + 6) & 0x1fff) !== 0) return OK;
    l4 = q + hl;
  } else {
    if (qend - q < 40 || buf[q]! >> 4 !== 6) return fail(meta, E_ICMP_INNER);
    const s = meta.innerSrc;
    const d = meta.innerDst;
    s[0] = read32(buf, q + 8);
    s[1] = read32(buf, q + 12);
    s[2] = read32(buf, q + 16);
    s[3] = read32(buf, q + 20);
    d[0] = read32(buf, q + 24);
    d[1] = read32(buf, q + 28);
    d[2] = read32(buf, q + 32);
    d[3] = read32(buf, q + 36);
    proto = buf[q + 6]!;
    let p = q + 40;
    for (let n = 0; ; n++) {
      if (proto !== P_HOPOPTS && proto !== P_ROUTING && proto !== P_FRAGMENT && proto !== P_DSTOPTS && proto !== P_AH)
        break;
      meta.innerProto = proto;
      if (n >= MAX_EXTENSION_HEADERS || p + 8 > qend) return OK;
      let len = (buf[p + 1]! + 1) << 3;
      if (proto === P_AH) len = (buf[p + 1]! + 2) << 2;
      else if (proto === P_FRAGMENT) {
        len = 8;
        if ((read16(buf, p + 2) & 0xfff8) !== 0) {
          meta.innerProto = buf[p]!;
          return OK;
        }
      }
      proto = buf[p]!;
      p += len;
    }
    meta.innerProto = proto;
    l4 = p;
  }
  meta.innerL4Offset = l4;
  if (proto === P_TCP || proto === P_UDP) {
    // RFC 792 promises 8 bytes: both ports, and the TCP sequence number
    if (l4 + 8 > qend) return OK;
    meta.innerSrcPort = read16(buf, l4);
    meta.innerDstPort = read16(buf, l4 + 2);
    if (proto === P_TCP) meta.innerSeq = read32(buf, l4 + 4);
  } else if ((proto === P_ICMP && af === 4) || (proto === P_ICMPV6 && af === 6)) {
    if (l4 + 8 > qend) return OK;
    const type = buf[l4]!;
    meta.innerIcmpType = type;
    if (icmpHasId(af, type)) {
      const id = read16(buf, l4 + 4);
      meta.innerIcmpId = id;
      meta.innerSrcPort = id;
      meta.innerDstPort = id;
    }
  }
  meta.innerValid = true;
  return OK;
}
