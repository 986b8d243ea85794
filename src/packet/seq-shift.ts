// TCP sequence number shifting in place (pf's sequence modulation:
// pf_tcp_track_full, pf_modulate_sack, and the quoted segment of an ICMP
// error in pf_test_state_icmp), with the TCP or ICMP checksum updated
// incrementally (RFC 1624). Per-packet code: no allocation.
//
// Sequence numbers are not in the pseudo-header, so a checksum left for the
// device to finish (m.checksumPartial) is not touched: the device sums the
// new bytes itself.

import { checksumApplyDelta } from './checksum.js';
import { TCPFlag, type PacketMeta } from './meta.js';

const P_TCP = 6;
const OPT_EOL = 0;
const OPT_NOP = 1;
const OPT_SACK = 5;

function read16(buf: Uint8Array, o: number): number {
  return (buf[o]! << 8) | buf[o + 1]!;
}

function read32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

/**
 * Writes a 32-bit value at `v`, inside a checksummed area that starts at
 * `base` (v - base may be odd: a SACK block needs no alignment), and returns
 * the checksum delta of the change (wordDelta terms over the 16-bit words
 * the value touches).
 */
function write32(buf: Uint8Array, base: number, v: number, value: number): number {
  const a = base + ((v - base) & ~1);
  const words = (v + 4 - a + 1) >>> 1;
  let delta = 0;
  for (let k = 0; k < words; k++) delta += ~read16(buf, a + 2 * k) & 0xffff;
  buf[v] = value >>> 24;
  buf[v + 1] = (value >>> 16) & 0xff;
  buf[v + 2] = (value >>> 8) & 0xff;
  buf[v + 3] = value & 0xff;
  for (let k = 0; k < words; k++) delta += read16(buf, a + 2 * k);
  return delta;
}

/**
 * Adds `seqAdd` to the segment's sequence number and subtracts `ackSub` from
 * its acknowledgment number (when ACK is set) and from the edges of its SACK
 * blocks, which count the other side's sequence space as the ack does.
 * m.seq and m.ack follow. Returns whether anything changed.
 */
export function shiftTcpSequence(buf: Uint8Array, m: PacketMeta, seqAdd: number, ackSub: number): boolean {
  if (m.proto !== P_TCP || m.isLaterFragment || m.error !== 0) return false;
  const l4 = m.l4Offset;
  let delta = 0;
  if (seqAdd >>> 0 !== 0) {
    const seq = (m.seq + seqAdd) >>> 0;
    delta += write32(buf, l4, l4 + 4, seq);
    m.seq = seq;
  }
  if (ackSub >>> 0 !== 0) {
    if (m.tcpFlags & TCPFlag.ACK) {
      const ack = (m.ack - ackSub) >>> 0;
      delta += write32(buf, l4, l4 + 8, ack);
      m.ack = ack;
    }
    if (m.tcpHeaderLength > 20) delta += shiftSack(buf, l4, l4 + m.tcpHeaderLength, ackSub);
  }
  if (delta === 0) return false;
  if (!m.checksumPartial) {
    const field = l4 + 16;
    const c = checksumApplyDelta(read16(buf, field), delta);
    buf[field] = c >>> 8;
    buf[field + 1] = c & 0xff;
  }
  return true;
}

/** pf_modulate_sack: every SACK block's edges less `sub`; returns the checksum delta. */
function shiftSack(buf: Uint8Array, l4: number, end: number, sub: number): number {
  let delta = 0;
  let o = l4 + 20;
  while (o < end) {
    const kind = buf[o]!;
    if (kind === OPT_EOL) break;
    if (kind === OPT_NOP) {
      o++;
      continue;
    }
    if (o + 1 >= end) break;
    const len = buf[o + 1]!;
    if (len < 2 || o + len > end) break;
    if (kind === OPT_SACK) {
      // whole blocks of two edges only, as pf reads them
      for (let b = o + 2; b + 8 <= o + len; b += 8) {
        delta += write32(buf, l4, b, (read32(buf, b) - sub) >>> 0);
        delta += write32(buf, l4, b + 4, (read32(buf, b + 4) - sub) >>> 0);
      }
    }
    o += len;
  }
  return delta;
}

/**
 * An ICMP error quoting a TCP segment: adds `add` to the quoted sequence
 * number (pf demodulates it on the way back to the sender), with the ICMP
 * (or ICMPv6) checksum following. m.innerSeq follows. Needs the quoted
 * sequence number to be in the packet (m.innerValid).
 */
export function shiftQuotedSequence(buf: Uint8Array, m: PacketMeta, add: number): boolean {
  if (!m.icmpIsError || !m.innerValid || m.innerProto !== P_TCP || add >>> 0 === 0) return false;
  const seq = (m.innerSeq + add) >>> 0;
  const l4 = m.l4Offset;
  const delta = write32(buf, l4, m.innerL4Offset + 4, seq);
  m.innerSeq = seq;
  if (!m.checksumPartial) {
    const field = l4 + 2;
    const c = checksumApplyDelta(read16(buf, field), delta);
    buf[field] = c >>> 8;
    buf[field + 1] = c & 0xff;
  }
  return true;
}
