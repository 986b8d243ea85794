// synproxy state (pf_synproxy): the router answers the initiator's SYN
// itself with its own ISN (PROXY_SRC), and only once the initiator acks it
// opens the connection to the responder (PROXY_DST); when the responder
// answers, both ends are told and the two sequence spaces are joined with
// seqdiffs, so the state goes on as a modulated one. Every packet of the
// proxy phases is kept (StateReason.SYNPROXY); the packets the router sends
// are described in a SynproxyOut for the datapath to build and send. The
// timeout is not refreshed in the proxy phases (as pf): a client that never
// completes the handshake costs one state until tcp.first.

import { TCPFlag, type PacketMeta } from '../packet/meta.js';
import { TcpState } from './constants.js';
import type { StateTable } from './state-table.js';

/** pf's tcp_mssdflt: the MSS assumed when the SYN offers none. */
const DEFAULT_MSS = 512;

export const ProxySend = {
  NONE: 0,
  /** A SYN-ACK to the sender of the packet (the initiator). */
  SYN_ACK: 1,
  /** A SYN onwards, as the packet travelled (to the responder). */
  SYN: 2,
  /** An ACK back to the sender (the responder) and one onwards (a window update to the initiator). */
  ACKS: 3,
} as const;

/** What the router is to send for the last packet of a proxy phase (reused, no allocation). */
export class SynproxyOut {
  kind: number = ProxySend.NONE;
  /** The first packet: SYN-ACK, SYN, or the ACK back. */
  seq = 0;
  ack = 0;
  window = 0;
  /** MSS option of a SYN or SYN-ACK. */
  mss = 0;
  /** ACKS: the ACK onwards. */
  seq2 = 0;
  ack2 = 0;
  window2 = 0;
}

/**
 * A new state made by a SYN under synproxy: the router's ISN towards the
 * initiator in the src peer's seqhi, the MSS to offer kept in the dst
 * peer's max window (unused until the responder answers), and a SYN-ACK to send.
 */
export function synproxyStart(t: StateTable, i: number, m: PacketMeta, isn: number, out: SynproxyOut): void {
  const src = i * 2;
  t.peerState[src] = TcpState.PROXY_SRC;
  t.seqhi[src] = isn >>> 0;
  t.maxWin[src + 1] = m.mss > 0 ? m.mss : DEFAULT_MSS;
  synAck(t, i, m, out);
}

function synAck(t: StateTable, i: number, m: PacketMeta, out: SynproxyOut): void {
  out.kind = ProxySend.SYN_ACK;
  out.seq = t.seqhi[i * 2]!;
  out.ack = (m.seq + 1) >>> 0;
  out.window = 0;
  out.mss = t.maxWin[i * 2 + 1]!;
}

/**
 * A packet of a state in a proxy phase. `forward`: it came from the
 * initiator. The packet goes no further (StateReason.SYNPROXY); `out` says
 * what to send. Returns true when the responder's SYN-ACK completed the
 * proxy: the state is then ESTABLISHED on both sides, its seqdiffs set.
 */
export function synproxyTrack(
  t: StateTable,
  i: number,
  m: PacketMeta,
  forward: boolean,
  random32: () => number,
  out: SynproxyOut,
): boolean {
  const src = i * 2;
  const dst = src + 1;
  const flags = m.tcpFlags;
  out.kind = ProxySend.NONE;
  if (t.peerState[src] === TcpState.PROXY_SRC) {
    if (!forward) return false;
    if (flags & TCPFlag.SYN) {
      // a retransmitted SYN is answered again
      if (m.seq === t.seqlo[src]) synAck(t, i, m, out);
      return false;
    }
    if (
      (flags & (TCPFlag.ACK | TCPFlag.RST | TCPFlag.FIN)) !== TCPFlag.ACK ||
      m.ack !== (t.seqhi[src]! + 1) >>> 0 ||
      m.seq !== (t.seqlo[src]! + 1) >>> 0
    )
      return false;
    t.peerState[src] = TcpState.PROXY_DST;
  }
  if (forward) {
    // the initiator's ACK (again): the SYN to the responder goes (again)
    if (
      (flags & (TCPFlag.SYN | TCPFlag.ACK)) !== TCPFlag.ACK ||
      m.ack !== (t.seqhi[src]! + 1) >>> 0 ||
      m.seq !== (t.seqlo[src]! + 1) >>> 0
    )
      return false;
    t.maxWin[src] = Math.max(m.window, 1);
    if (t.seqhi[dst] === 1) t.seqhi[dst] = random32() >>> 0;
    out.kind = ProxySend.SYN;
    out.seq = t.seqhi[dst]!;
    out.ack = 0;
    out.window = 0;
    out.mss = t.maxWin[dst]!;
    return false;
  }
  if ((flags & (TCPFlag.SYN | TCPFlag.ACK)) !== (TCPFlag.SYN | TCPFlag.ACK) || m.ack !== (t.seqhi[dst]! + 1) >>> 0)
    return false;
  t.maxWin[dst] = Math.max(m.window, 1);
  t.seqlo[dst] = m.seq;
  out.kind = ProxySend.ACKS;
  out.seq = m.ack;
  out.ack = (m.seq + 1) >>> 0;
  out.window = t.maxWin[src]!;
  out.mss = 0;
  out.seq2 = (t.seqhi[src]! + 1) >>> 0;
  out.ack2 = (t.seqlo[src]! + 1) >>> 0;
  out.window2 = t.maxWin[dst]!;
  // the initiator's numbers as the responder knows them, and the other way round
  t.setSeqDiff(i, 0, t.seqhi[dst]! - t.seqlo[src]!);
  t.setSeqDiff(i, 1, t.seqhi[src]! - t.seqlo[dst]!);
  t.seqhi[src] = (t.seqlo[src]! + t.maxWin[dst]!) >>> 0;
  t.seqhi[dst] = (t.seqlo[dst]! + t.maxWin[src]!) >>> 0;
  // neither SYN the router sent offered window scaling
  t.wscale[src] = 0;
  t.wscale[dst] = 0;
  t.peerState[src] = TcpState.ESTABLISHED;
  t.peerState[dst] = TcpState.ESTABLISHED;
  return true;
}
