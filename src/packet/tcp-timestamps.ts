// The TCP timestamp option in place (RFC 7323), for `scrub (reassemble tcp)`:
// finding it, and shifting its value and echo by offsets (pf's timestamp
// modulation), with the TCP checksum following incrementally (RFC 1624).
// Per-packet code: no allocation.

import { checksumAdjust16 } from './checksum.js';
import type { PacketMeta } from './meta.js';

const TCP = 6;
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_TIMESTAMP = 8;
const TIMESTAMP_LENGTH = 10;

function read16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}

function read32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

/**
 * Offset in `buf` of the TCP timestamp option's kind byte (the value follows
 * at +2, the echo at +6), -1 when the segment has none. The first well-formed
 * one counts, as the parser reads it.
 */
export function timestampOptionOffset(buf: Uint8Array, m: PacketMeta): number {
  if (m.proto !== TCP || m.isLaterFragment || !m.hasTimestamp) return -1;
  const l4 = m.l4Offset;
  const end = l4 + m.tcpHeaderLength;
  // Linux's layout on established segments: NOP, NOP, timestamps
  if (
    m.tcpHeaderLength === 32 &&
    buf[l4 + 20] === OPT_NOP &&
    buf[l4 + 21] === OPT_NOP &&
    buf[l4 + 22] === OPT_TIMESTAMP &&
    buf[l4 + 23] === TIMESTAMP_LENGTH
  )
    return l4 + 22;
  let o = l4 + 20;
  while (o < end) {
    const kind = buf[o]!;
    if (kind === OPT_EOL) return -1;
    if (kind === OPT_NOP) {
      o++;
      continue;
    }
    if (o + 1 >= end) return -1;
    const len = buf[o + 1]!;
    if (len < 2 || o + len > end) return -1;
    if (kind === OPT_TIMESTAMP && len === TIMESTAMP_LENGTH) return o;
    o += len;
  }
  return -1;
}

/**
 * Writes the 32-bit `value` at `v` inside the TCP header, at any alignment;
 * the checksum follows (not under m.checksumPartial: the device sums the
 * bytes later). The checksum words it touches are summed before and after.
 */
function setTcp32(buf: Uint8Array, m: PacketMeta, v: number, value: number): void {
  const l4 = m.l4Offset;
  const first = v - ((v - l4) & 1);
  const last = v + 4 + ((v + 4 - l4) & 1); // exclusive, word-aligned
  let before = 0;
  if (!m.checksumPartial) for (let o = first; o < last; o += 2) before += read16(buf, o);
  buf[v] = value >>> 24;
  buf[v + 1] = (value >>> 16) & 0xff;
  buf[v + 2] = (value >>> 8) & 0xff;
  buf[v + 3] = value & 0xff;
  if (m.checksumPartial) return;
  let after = 0;
  for (let o = first; o < last; o += 2) after += read16(buf, o);
  const field = l4 + 16;
  const csum = checksumAdjust16(read16(buf, field), fold(before), fold(after));
  buf[field] = csum >>> 8;
  buf[field + 1] = csum & 0xff;
}

/** A one's-complement sum of up to three words, folded to 16 bits. */
function fold(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/**
 * pf's timestamp modulation: adds `valueAdd` to the timestamp value and
 * subtracts `echoSub` from the echo (mod 2^32), keeping m.tsVal and m.tsEcr
 * in step. Returns whether the segment changed (it has the option and an
 * offset is not 0).
 */
export function shiftTimestamps(buf: Uint8Array, m: PacketMeta, valueAdd: number, echoSub: number): boolean {
  if (valueAdd === 0 && echoSub === 0) return false;
  const o = timestampOptionOffset(buf, m);
  if (o < 0) return false;
  if (valueAdd !== 0) {
    const v = (read32(buf, o + 2) + valueAdd) >>> 0;
    setTcp32(buf, m, o + 2, v);
    m.tsVal = v;
  }
  if (echoSub !== 0) {
    const e = (read32(buf, o + 6) - echoSub) >>> 0;
    setTcp32(buf, m, o + 6, e);
    m.tsEcr = e;
  }
  return true;
}
