// The byte work of fragment reassembly (pf_reassemble, pf_reassemble6) and
// of IPv6 refragmentation (pf_refragment6): finding an IPv6 packet's
// fragment header, fixing up the header of a joined datagram, and cutting a
// reassembled IPv6 datagram back into fragments no larger than the largest
// one it came in. Pure functions over bytes; the fragment cache
// (state/fragment-cache.ts) decides what to join.

import { writeIpv4HeaderChecksum } from './checksum.js';

const HOPOPTS = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const AH = 51;
const DSTOPTS = 60;
const MAX_CHAIN = 16;

/**
 * Where an IPv6 packet's fragment header is: writes into `at` its offset
 * (at[0]) and the offset of the next-header byte that names it (at[1]: byte 6
 * of the IPv6 header, or the first byte of the extension header before it).
 * Returns false when the packet has none (or its chain cannot be walked).
 */
export function findIpv6FragmentHeader(buf: Uint8Array, start: number, end: number, at: Int32Array): boolean {
  let nxtAt = start + 6;
  let p = start + 40;
  for (let n = 0; n < MAX_CHAIN && p + 8 <= end; n++) {
    const nh = buf[nxtAt]!;
    if (nh === FRAGMENT) {
      at[0] = p;
      at[1] = nxtAt;
      return true;
    }
    if (nh !== HOPOPTS && nh !== ROUTING && nh !== DSTOPTS && nh !== AH) return false;
    const len = nh === AH ? (buf[p + 1]! + 2) << 2 : (buf[p + 1]! + 1) << 3;
    nxtAt = p;
    p += len;
  }
  return false;
}

/**
 * A joined IPv4 datagram at `at` (its first fragment's header of `hl` bytes,
 * then `total` bytes of data): the total length, no offset, no MF, and
 * (pf_normalize_ip) nothing but DF left in the fragment field; a new header
 * checksum.
 */
export function finishIpv4Datagram(buf: Uint8Array, at: number, hl: number, total: number): void {
  const len = hl + total;
  buf[at + 2] = len >>> 8;
  buf[at + 3] = len & 0xff;
  buf[at + 6]! &= 0x40;
  buf[at + 7] = 0;
  writeIpv4HeaderChecksum(buf, at);
}

/**
 * A joined IPv6 datagram at `at`: its first fragment's headers up to the
 * fragment header (`hdrlen` bytes, the fragment header dropped), then `total`
 * bytes of data. The payload length covers them and the next-header byte
 * that named the fragment header (offset `nxtAt` from `at`) names `proto`.
 */
export function finishIpv6Datagram(
  buf: Uint8Array,
  at: number,
  hdrlen: number,
  nxtAt: number,
  proto: number,
  total: number,
): void {
  const plen = hdrlen - 40 + total;
  buf[at + 4] = plen >>> 8;
  buf[at + 5] = plen & 0xff;
  buf[at + nxtAt] = proto;
}

/** How many fragments refragmentIpv6 cuts a datagram of `len` bytes into; -1 when `maxlen` is below 8. */
export function ipv6FragmentCount(len: number, hdrlen: number, maxlen: number): number {
  const size = maxlen & ~7;
  return size < 8 ? -1 : Math.max(1, Math.ceil((len - hdrlen) / size));
}

/**
 * pf_refragment6: cuts the IPv6 datagram pkt[start, start + len) (its
 * unfragmentable headers `hdrlen` bytes, the next-header byte naming the
 * payload at offset `nxtAt`) into fragments carrying at most `maxlen` bytes
 * of data each (rounded down to 8), with fragment id `id`. Fragment k is
 * written at offsets[k] + headroom in `out` (offsets[k] and lengths[k] count
 * the headroom, which is left as it was); `out` must hold
 * count * (headroom + hdrlen + 8) + len - hdrlen bytes and offsets/lengths
 * count entries (count: ipv6FragmentCount). Returns the number of fragments, or -1 when `maxlen` is below 8
 * (pf drops the datagram). A datagram that came as one fragment leaves as
 * one, with a fragment header, as pf does.
 */
export function refragmentIpv6(
  pkt: Uint8Array,
  start: number,
  len: number,
  hdrlen: number,
  nxtAt: number,
  maxlen: number,
  id: number,
  out: Uint8Array,
  headroom: number,
  offsets: Uint32Array,
  lengths: Uint32Array,
): number {
  const size = maxlen & ~7;
  if (size < 8) return -1;
  const proto = pkt[start + nxtAt]!;
  const data = len - hdrlen;
  let o = 0;
  let k = 0;
  for (let off = 0; k === 0 || off < data; off += size, k++) {
    const chunk = Math.min(size, data - off);
    const more = off + chunk < data;
    const ip = o + headroom;
    out.set(pkt.subarray(start, start + hdrlen), ip);
    out[ip + nxtAt] = FRAGMENT;
    const plen = hdrlen - 40 + 8 + chunk;
    out[ip + 4] = plen >>> 8;
    out[ip + 5] = plen & 0xff;
    const fh = ip + hdrlen;
    out[fh] = proto;
    out[fh + 1] = 0;
    const offlg = off | (more ? 1 : 0);
    out[fh + 2] = offlg >>> 8;
    out[fh + 3] = offlg & 0xff;
    out[fh + 4] = id >>> 24;
    out[fh + 5] = (id >>> 16) & 0xff;
    out[fh + 6] = (id >>> 8) & 0xff;
    out[fh + 7] = id & 0xff;
    out.set(pkt.subarray(start + hdrlen + off, start + hdrlen + off + chunk), fh + 8);
    offsets[k] = o;
    lengths[k] = headroom + hdrlen + 8 + chunk;
    o += lengths[k]!;
  }
  return k;
}
