// pf's TCP window tracking (the algorithm of Guido van Rooij, as pf.c's
// pf_tcp_track_full and pf_tcp_track_sloppy do it), over the state table's
// arrays. Each peer has seqlo (highest sequence number it sent), seqhi (the
// highest the other end allows it to send: its ack plus window) and max_win;
// a packet passes when its data lies in the window the other side opened,
// it acks no more than a window ahead, and it is not too far behind.
//
// A GSO super-packet is one packet here: payloadLength covers its whole
// payload, so the window moves by what it really carries.

import { TCPFlag, type PacketMeta } from '../packet/meta.js';
import { StateReason, TcpState, Timeout } from './constants.js';
import type { StateTable } from './state-table.js';

const WSCALE_FLAG = 0x80;
const WSCALE_MASK = 0x0f;
const MAXACKWINDOW = 0xffff + 1500;

const seqGeq = (a: number, b: number) => ((a - b) | 0) >= 0;
const seqGt = (a: number, b: number) => ((a - b) | 0) > 0;

/** pf_get_wscale: the window scale a SYN offers, with the "seen" flag; 0 otherwise. */
function offeredWscale(m: PacketMeta): number {
  if ((m.tcpFlags & TCPFlag.SYN) === 0 || m.wscale < 0) return 0;
  return Math.min(m.wscale, 14) | WSCALE_FLAG;
}

/** Sets up the peers of a new TCP state from its first packet (pf_create_state). */
export function tcpInitState(t: StateTable, i: number, m: PacketMeta): void {
  const src = i * 2;
  const dst = src + 1;
  const flags = m.tcpFlags;
  t.seqlo[src] = m.seq;
  let seqhi = (m.seq + m.payloadLength + 1) >>> 0;
  let ws = 0;
  if (flags & TCPFlag.SYN) {
    seqhi = (seqhi + 1) >>> 0;
    ws = offeredWscale(m);
  }
  t.wscale[src] = ws;
  let win = Math.max(m.window, 1);
  if (ws & WSCALE_MASK) {
    // remove the scale factor from the initial window
    win = (win + (1 << (ws & WSCALE_MASK)) - 1) >> (ws & WSCALE_MASK);
  }
  t.maxWin[src] = Math.min(win, 0xffff);
  if (flags & TCPFlag.FIN) seqhi = (seqhi + 1) >>> 0;
  t.seqhi[src] = seqhi;
  t.seqlo[dst] = 0;
  t.seqhi[dst] = 1;
  t.maxWin[dst] = 1;
  t.wscale[dst] = 0;
  t.peerState[src] = TcpState.SYN_SENT;
  t.peerState[dst] = TcpState.CLOSED;
  t.timeoutClass[i] = Timeout.TCP_FIRST;
}

function timeoutFor(s: number, d: number): number {
  if (s >= TcpState.FIN_WAIT_2 && d >= TcpState.FIN_WAIT_2) return Timeout.TCP_CLOSED;
  if (s >= TcpState.CLOSING && d >= TcpState.CLOSING) return Timeout.TCP_FIN_WAIT;
  if (s < TcpState.ESTABLISHED || d < TcpState.ESTABLISHED) return Timeout.TCP_OPENING;
  if (s >= TcpState.CLOSING || d >= TcpState.CLOSING) return Timeout.TCP_CLOSING;
  return Timeout.TCP_ESTABLISHED;
}

/** An accepted packet moves the windows: the sender's max window and seqlo, and what the other end may send. */
function advanceWindows(
  t: StateTable,
  src: number,
  dst: number,
  win: number,
  end: number,
  ack: number,
  sws: number,
): void {
  if (t.maxWin[src]! < win) t.maxWin[src] = Math.min(win, 0xffff);
  if (seqGt(end, t.seqlo[src]!)) t.seqlo[src] = end;
  if (seqGeq((ack + (win << sws)) >>> 0, t.seqhi[dst]!)) t.seqhi[dst] = (ack + Math.max(win << sws, 1)) >>> 0;
}

/**
 * Tracks one packet of an existing TCP state. `forward`: the packet went from
 * the initiator (peer 0) to the responder. Returns StateReason.PASS or
 * BAD_STATE; on PASS the peers and the timeout class are updated.
 * `ackShift`: the other side's sequence offset (modulate state), taken off
 * the ack so that each peer is tracked in its own sequence space, as pf does.
 */
export function tcpTrack(t: StateTable, i: number, m: PacketMeta, forward: boolean, ackShift: number = 0): number {
  const src = forward ? i * 2 : i * 2 + 1;
  const dst = forward ? i * 2 + 1 : i * 2;
  const flags = m.tcpFlags;
  let win = m.window;
  let sws = 0;
  let dws = 0;
  if (t.wscale[src]! && t.wscale[dst]! && !(flags & TCPFlag.SYN)) {
    sws = t.wscale[src]! & WSCALE_MASK;
    dws = t.wscale[dst]! & WSCALE_MASK;
  }
  let seq = m.seq;
  let ack: number;
  let end: number;
  let dataEnd: number;

  if (t.seqlo[src] === 0) {
    // first packet from this end of the connection
    end = (seq + m.payloadLength) >>> 0;
    if (flags & TCPFlag.SYN) {
      end = (end + 1) >>> 0;
      if (t.wscale[dst]! & WSCALE_FLAG) {
        const ws = offeredWscale(m);
        t.wscale[src] = ws;
        if (ws & WSCALE_FLAG) {
          // both ends offered scaling: it is on from now on
          sws = ws & WSCALE_MASK;
          win = (win + (1 << sws) - 1) >> sws;
          dws = t.wscale[dst]! & WSCALE_MASK;
        } else {
          // the other end asked for scaling but this one did not: undo it
          t.maxWin[dst] = Math.min(t.maxWin[dst]! << (t.wscale[dst]! & WSCALE_MASK), 0xffff);
          t.wscale[dst] = 0;
        }
      }
    }
    dataEnd = end;
    if (flags & TCPFlag.FIN) end = (end + 1) >>> 0;
    t.seqlo[src] = seq;
    if (t.peerState[src]! < TcpState.SYN_SENT) t.peerState[src] = TcpState.SYN_SENT;
    const reach = (end + Math.max(1, t.maxWin[dst]! << dws)) >>> 0;
    if (t.seqhi[src] === 1 || seqGeq(reach, t.seqhi[src]!)) t.seqhi[src] = reach;
    if (win > t.maxWin[src]!) t.maxWin[src] = Math.min(win, 0xffff);
  } else {
    end = (seq + m.payloadLength) >>> 0;
    if (flags & TCPFlag.SYN) end = (end + 1) >>> 0;
    dataEnd = end;
    if (flags & TCPFlag.FIN) end = (end + 1) >>> 0;
  }
  const origSeq = seq;
  ack = (m.ack - ackShift) >>> 0;
  if ((flags & TCPFlag.ACK) === 0)
    ack = t.seqlo[dst]!; // let it through the ack skew check
  else if (
    (ack === 0 && (flags & (TCPFlag.ACK | TCPFlag.RST)) === (TCPFlag.ACK | TCPFlag.RST)) ||
    t.peerState[dst]! < TcpState.SYN_SENT
  )
    ack = t.seqlo[dst]!; // broken stacks send RST+ACK with ack 0
  if (seq === end) {
    // ease sequencing restrictions on packets without data
    seq = t.seqlo[src]!;
    dataEnd = end = seq;
  }
  const ackskew = (t.seqlo[dst]! - ack) | 0;
  const srcSeqlo = t.seqlo[src]!;

  if (
    seqGeq(t.seqhi[src]!, dataEnd) && // last octet inside the other's window
    seqGeq(seq, (srcSeqlo - (t.maxWin[dst]! << dws)) >>> 0) && // a retransmission no more than a window back
    ackskew >= -MAXACKWINDOW &&
    ackskew <= MAXACKWINDOW << sws && // acking no more than a window forward
    ((flags & TCPFlag.RST) === 0 ||
      origSeq === srcSeqlo ||
      origSeq === (srcSeqlo + 1) >>> 0 ||
      (origSeq + 1) >>> 0 === srcSeqlo) // a reset must match exactly
  ) {
    advanceWindows(t, src, dst, win, end, ack, sws);
    if (flags & TCPFlag.SYN && t.peerState[src]! < TcpState.SYN_SENT) t.peerState[src] = TcpState.SYN_SENT;
    if (flags & TCPFlag.FIN && t.peerState[src]! < TcpState.CLOSING) t.peerState[src] = TcpState.CLOSING;
    if (flags & TCPFlag.ACK) {
      if (t.peerState[dst] === TcpState.SYN_SENT) t.peerState[dst] = TcpState.ESTABLISHED;
      else if (t.peerState[dst] === TcpState.CLOSING) t.peerState[dst] = TcpState.FIN_WAIT_2;
    }
    if (flags & TCPFlag.RST) t.peerState[src] = t.peerState[dst] = TcpState.TIME_WAIT;
    t.timeoutClass[i] = timeoutFor(t.peerState[src]!, t.peerState[dst]!);
    return StateReason.PASS;
  }
  if (
    (t.peerState[dst]! < TcpState.SYN_SENT ||
      t.peerState[dst]! >= TcpState.FIN_WAIT_2 ||
      t.peerState[src]! >= TcpState.FIN_WAIT_2) &&
    seqGeq((t.seqhi[src]! + MAXACKWINDOW) >>> 0, dataEnd) &&
    seqGeq(seq, (srcSeqlo - MAXACKWINDOW) >>> 0)
  ) {
    // pf's lenient case: SYNs shotgunned before the peer answers, a stream
    // caught mid-flight, stray packets right after a close.
    advanceWindows(t, src, dst, win, end, ack, sws);
    if (flags & TCPFlag.FIN && t.peerState[src]! < TcpState.CLOSING) t.peerState[src] = TcpState.CLOSING;
    if (flags & TCPFlag.RST) t.peerState[src] = t.peerState[dst] = TcpState.TIME_WAIT;
    return StateReason.PASS;
  }
  return StateReason.BAD_STATE;
}

/**
 * The first packet from one end of a state whose windows came from the
 * pfsync peer (after a takeover): the peer's last update may lag what it let
 * through before it died by up to a second of traffic, so this packet is
 * not checked against that side's window but re-anchors it: what the sender
 * has sent, what it has acked of the other side, how far the other side may
 * now send. A reset must still lie in the window. Once each end has been
 * seen, full tracking resumes.
 */
export function tcpTrackResync(t: StateTable, i: number, m: PacketMeta, forward: boolean, ackShift = 0): number {
  const flags = m.tcpFlags;
  if (flags & TCPFlag.RST) return tcpTrack(t, i, m, forward, ackShift);
  const src = forward ? i * 2 : i * 2 + 1;
  const dst = forward ? i * 2 + 1 : i * 2;
  const sws = t.wscale[src]! && t.wscale[dst]! && !(flags & TCPFlag.SYN) ? t.wscale[src]! & WSCALE_MASK : 0;
  let end = (m.seq + m.payloadLength) >>> 0;
  if (flags & TCPFlag.SYN) end = (end + 1) >>> 0;
  if (flags & TCPFlag.FIN) end = (end + 1) >>> 0;
  const win = m.window;
  if (t.seqlo[src] === 0 || seqGt(end, t.seqlo[src]!)) t.seqlo[src] = end;
  if (seqGt(end, t.seqhi[src]!)) t.seqhi[src] = end;
  if (t.maxWin[src]! < win) t.maxWin[src] = Math.min(win, 0xffff);
  if (flags & TCPFlag.ACK) {
    const ack = (m.ack - ackShift) >>> 0;
    if (seqGt(ack, t.seqlo[dst]!)) t.seqlo[dst] = ack; // the other end has sent at least this much
    const reach = (ack + Math.max(win << sws, 1)) >>> 0;
    if (seqGt(reach, t.seqhi[dst]!)) t.seqhi[dst] = reach;
  }
  if (flags & TCPFlag.FIN && t.peerState[src]! < TcpState.CLOSING) t.peerState[src] = TcpState.CLOSING;
  if (flags & TCPFlag.ACK && t.peerState[dst] === TcpState.CLOSING) t.peerState[dst] = TcpState.FIN_WAIT_2;
  t.timeoutClass[i] = timeoutFor(t.peerState[src]!, t.peerState[dst]!);
  return StateReason.PASS;
}

/** `sloppy` tracking: follows the TCP states by flags alone, no window checks (pf_tcp_track_sloppy). */
export function tcpTrackSloppy(t: StateTable, i: number, m: PacketMeta, forward: boolean): number {
  const src = forward ? i * 2 : i * 2 + 1;
  const dst = forward ? i * 2 + 1 : i * 2;
  const flags = m.tcpFlags;
  const ps = t.peerState;
  if (flags & TCPFlag.SYN && ps[src]! < TcpState.SYN_SENT) ps[src] = TcpState.SYN_SENT;
  if (flags & TCPFlag.FIN && ps[src]! < TcpState.CLOSING) ps[src] = TcpState.CLOSING;
  if (flags & TCPFlag.ACK) {
    if (ps[dst] === TcpState.SYN_SENT) ps[dst] = TcpState.ESTABLISHED;
    else if (ps[dst] === TcpState.CLOSING) ps[dst] = TcpState.FIN_WAIT_2;
    else if (ps[src] === TcpState.SYN_SENT && ps[dst]! < TcpState.SYN_SENT) {
      // only one half of the connection is seen: an ACK after the SYN means established
      ps[dst] = ps[src] = TcpState.ESTABLISHED;
    } else if (ps[src] === TcpState.CLOSING && ps[dst] === TcpState.ESTABLISHED && t.seqlo[dst] === 0) {
      ps[dst] = TcpState.CLOSING; // the close of a half-seen connection
    }
  }
  if (flags & TCPFlag.RST) ps[src] = ps[dst] = TcpState.TIME_WAIT;
  if (seqGt((m.seq + m.payloadLength) >>> 0, t.seqlo[src]!) || t.seqlo[src] === 0)
    t.seqlo[src] = (m.seq + m.payloadLength) >>> 0;
  t.timeoutClass[i] = timeoutFor(ps[src]!, ps[dst]!);
  return StateReason.PASS;
}

/** Whether a quoted TCP sequence number (in an ICMP error) lies in the sender's window, as pf checks it. */
export function tcpSeqInWindow(t: StateTable, i: number, senderIsInitiator: boolean, seq: number): boolean {
  const src = senderIsInitiator ? i * 2 : i * 2 + 1;
  const dst = senderIsInitiator ? i * 2 + 1 : i * 2;
  const dws = t.wscale[dst]! & t.wscale[src]! & WSCALE_FLAG ? t.wscale[dst]! & WSCALE_MASK : 0;
  return seqGeq(t.seqhi[src]!, seq) && seqGeq(seq, (t.seqlo[src]! - (t.maxWin[dst]! << dws)) >>> 0);
}
