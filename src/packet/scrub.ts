// pf's per-packet scrub rewrites (pf_scrub, pf_normalize_mss): TCP MSS
// clamping, clearing IPv4 DF, raising the TTL / hop limit, a new IPv4 id and
// a new TOS / traffic class. Each works in place on the packet `m` describes,
// keeps `m` in step, updates checksums incrementally (RFC 1624) and returns
// whether it changed anything. Per-packet code: no allocation.
//
// Checksums: the IPv4 header checksum follows every IPv4 header change; the
// TCP checksum follows the MSS option, except under m.checksumPartial (the
// device sums the TCP bytes later, as it would the new option). TTL, DF, id
// and TOS are not in the pseudo-header.

import { checksumAdjust16 } from './checksum.js';
import type { PacketMeta } from './meta.js';

const TCP = 6;
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const IPV4_DF = 0x40; // in the flags byte (offset 6)
const ECN_MASK = 0x03;

function read16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}

/** Sets the IPv4 header's 16-bit word at `o` (even offset from the header) and follows it in the header checksum. */
function setIpv4Word(buf: Uint8Array, l3: number, o: number, word: number): void {
  const old = read16(buf, o);
  if (old === word) return;
  const c = checksumAdjust16(read16(buf, l3 + 10), old, word);
  buf[o] = word >>> 8;
  buf[o + 1] = word & 0xff;
  buf[l3 + 10] = c >>> 8;
  buf[l3 + 11] = c & 0xff;
}

/**
 * Lowers the TCP MSS option to `mss` when it is larger (pf_normalize_mss, on
 * any segment that carries the option: in practice SYN and SYN-ACK). A
 * missing option is left missing.
 */
export function clampMss(buf: Uint8Array, m: PacketMeta, mss: number): boolean {
  if (m.proto !== TCP || m.isLaterFragment || m.tcpHeaderLength <= 20) return false;
  const l4 = m.l4Offset;
  const end = l4 + m.tcpHeaderLength;
  let o = l4 + 20;
  while (o < end) {
    const kind = buf[o]!;
    if (kind === OPT_EOL) return false;
    if (kind === OPT_NOP) {
      o++;
      continue;
    }
    if (o + 1 >= end) return false;
    const len = buf[o + 1]!;
    if (len < 2 || o + len > end) return false;
    if (kind === OPT_MSS && len === 4) {
      const v = o + 2;
      const old = read16(buf, v);
      if (old <= mss) return false;
      setL4Bytes16(buf, m, v, mss);
      m.mss = mss;
      return true;
    }
    o += len;
  }
  return false;
}

/** Writes a 16-bit value at `v` inside the TCP header, with the checksum following it at either byte alignment. */
function setL4Bytes16(buf: Uint8Array, m: PacketMeta, v: number, value: number): void {
  const l4 = m.l4Offset;
  const field = l4 + 16;
  let csum = read16(buf, field);
  const aligned = ((v - l4) & 1) === 0;
  if (aligned) {
    if (!m.checksumPartial) csum = checksumAdjust16(csum, read16(buf, v), value);
    buf[v] = value >>> 8;
    buf[v + 1] = value & 0xff;
  } else {
    // the value straddles two checksum words: [v-1, v] and [v+1, v+2]
    const oldA = read16(buf, v - 1);
    const oldB = read16(buf, v + 1);
    buf[v] = value >>> 8;
    buf[v + 1] = value & 0xff;
    if (!m.checksumPartial)
      csum = checksumAdjust16(checksumAdjust16(csum, oldA, read16(buf, v - 1)), oldB, read16(buf, v + 1));
  }
  buf[field] = csum >>> 8;
  buf[field + 1] = csum & 0xff;
}

/** Clears IPv4's don't-fragment bit (`scrub (no-df)`); IPv6 has none. */
export function clearDf(buf: Uint8Array, m: PacketMeta): boolean {
  if (m.af !== 4) return false;
  const l3 = m.l3Offset;
  const flags = buf[l3 + 6]!;
  if ((flags & IPV4_DF) === 0) return false;
  setIpv4Word(buf, l3, l3 + 6, ((flags & ~IPV4_DF) << 8) | buf[l3 + 7]!);
  return true;
}

/** Raises the IPv4 TTL or the IPv6 hop limit to `ttl` when it is lower (`scrub (min-ttl N)`). */
export function setMinTtl(buf: Uint8Array, m: PacketMeta, ttl: number): boolean {
  const l3 = m.l3Offset;
  if (m.af === 4) {
    const old = buf[l3 + 8]!;
    if (old >= ttl) return false;
    setIpv4Word(buf, l3, l3 + 8, (ttl << 8) | buf[l3 + 9]!);
  } else {
    if (buf[l3 + 7]! >= ttl) return false;
    buf[l3 + 7] = ttl;
  }
  m.ttl = ttl;
  return true;
}

/** Sets the IPv4 identification (`scrub (random-id)`; the caller picks the id and skips fragments). */
export function setIpId(buf: Uint8Array, m: PacketMeta, id: number): boolean {
  if (m.af !== 4) return false;
  const l3 = m.l3Offset;
  if (read16(buf, l3 + 4) === id) return false;
  setIpv4Word(buf, l3, l3 + 4, id & 0xffff);
  m.fragmentId = id & 0xffff;
  return true;
}

/** Sets the IPv4 TOS or IPv6 traffic class to `tos`, keeping the packet's ECN bits (`set tos`, pf_scrub). */
export function setTos(buf: Uint8Array, m: PacketMeta, tos: number): boolean {
  const l3 = m.l3Offset;
  if (m.af === 4) {
    const old = buf[l3 + 1]!;
    const now = (tos & ~ECN_MASK & 0xff) | (old & ECN_MASK);
    if (now === old) return false;
    setIpv4Word(buf, l3, l3, (buf[l3]! << 8) | now);
    m.tos = now;
    return true;
  }
  // the traffic class spans bytes 0-1: version(4) class(8) flow label(20)
  const old = ((buf[l3]! & 0x0f) << 4) | (buf[l3 + 1]! >>> 4);
  const now = (tos & ~ECN_MASK & 0xff) | (old & ECN_MASK);
  if (now === old) return false;
  buf[l3] = (buf[l3]! & 0xf0) | (now >>> 4);
  buf[l3 + 1] = ((now & 0x0f) << 4) | (buf[l3 + 1]! & 0x0f);
  m.tos = now;
  return true;
}
