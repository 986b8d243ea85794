// Tables of the state layer: pf's TCP peer states, timeout classes (PFTM_*,
// numbered as pfsync carries them), UDP/other peer states, state flags, and
// the reasons a packet is dropped by state tracking.

import { PF_TIMEOUT_ORDER } from '../rules/ast.js';

/** TCP peer states, as pf numbers them (TCPS_*). */
export const TcpState = {
  CLOSED: 0,
  LISTEN: 1,
  SYN_SENT: 2,
  SYN_RECEIVED: 3,
  ESTABLISHED: 4,
  CLOSE_WAIT: 5,
  FIN_WAIT_1: 6,
  CLOSING: 7,
  LAST_ACK: 8,
  FIN_WAIT_2: 9,
  TIME_WAIT: 10,
  /** synproxy: the router answers the initiator's handshake itself (pf's PF_TCPS_PROXY_SRC). */
  PROXY_SRC: 11,
  /** synproxy: the initiator completed it; the router opens the connection to the responder (PF_TCPS_PROXY_DST). */
  PROXY_DST: 12,
} as const;

export const TcpStateName = [
  'CLOSED',
  'LISTEN',
  'SYN_SENT',
  'SYN_RCVD',
  'ESTABLISHED',
  'CLOSE_WAIT',
  'FIN_WAIT_1',
  'CLOSING',
  'LAST_ACK',
  'FIN_WAIT_2',
  'TIME_WAIT',
  'PROXY:SRC',
  'PROXY:DST',
];

/**
 * A state's scrub word (StateTable.scrub, from pf's rule scrub options and
 * `set tos`): flag bits, the min-ttl in bits 8-15, the TOS in bits 16-23.
 */
export const ScrubFlag = { NO_DF: 1, RANDOM_ID: 2, MIN_TTL: 4, SET_TOS: 8, MAX_MSS: 16, REASSEMBLE_TCP: 32 } as const;
const SCRUB_FLAG_BITS = 0xff;

/** pf_rule_to_actions: flags add up, a later min-ttl or tos replaces an earlier one. */
export function mergeScrub(acc: number, word: number): number {
  let out = acc | (word & SCRUB_FLAG_BITS);
  if (word & ScrubFlag.MIN_TTL) out = (out & ~0xff00) | (word & 0xff00);
  if (word & ScrubFlag.SET_TOS) out = (out & ~0xff0000) | (word & 0xff0000);
  return out >>> 0;
}

/** UDP and other protocols: per-peer progress. */
export const PeerState = { NO_TRAFFIC: 0, SINGLE: 1, MULTIPLE: 2 } as const;
export const PeerStateName = ['NO_TRAFFIC', 'SINGLE', 'MULTIPLE'];

/** Timeout classes (PFTM_*), in pfsync's numbering. */
export const Timeout = {
  TCP_FIRST: 0,
  TCP_OPENING: 1,
  TCP_ESTABLISHED: 2,
  TCP_CLOSING: 3,
  TCP_FIN_WAIT: 4,
  TCP_CLOSED: 5,
  UDP_FIRST: 6,
  UDP_SINGLE: 7,
  UDP_MULTIPLE: 8,
  ICMP_FIRST: 9,
  ICMP_ERROR: 10,
  OTHER_FIRST: 11,
  OTHER_SINGLE: 12,
  OTHER_MULTIPLE: 13,
} as const;

/** `set timeout` names by class: pf's first 14 timeouts, the state classes. */
export const TimeoutName = PF_TIMEOUT_ORDER.slice(0, 14);
export const TIMEOUT_CLASSES = TimeoutName.length;

/** State flags (pfsync's state_flags). */
export const StateFlag = {
  ALLOWOPTS: 0x0001,
  SLOPPY: 0x0002,
  PFLOW: 0x0004,
  NOSYNC: 0x0008,
  ACK: 0x0010,
  /** Not in pfsync: the state was learnt from another node (inserted with Origin.PEER). */
  FROM_PEER: 0x8000,
  /**
   * Not in pfsync: the TCP windows came from the peer and may lag what the
   * peer let through just before it died; the next packet from the initiator
   * (RESYNC_SRC) or responder (RESYNC_DST) re-anchors that side's window
   * instead of being checked against it.
   */
  RESYNC_SRC: 0x4000,
  RESYNC_DST: 0x2000,
} as const;

export const RESYNC = StateFlag.RESYNC_SRC | StateFlag.RESYNC_DST;

/**
 * Who made a change to the state table: this node (its packets, expiry, the
 * operator) or another node (pfsync's peer). The hooks are told, so that a
 * change the peer made is not announced back to it.
 */
export const Origin = { LOCAL: 0, PEER: 1 } as const;
export type OriginValue = (typeof Origin)[keyof typeof Origin];

/** Why state tracking dropped a packet, or why a state could not be made. */
export const StateReason = {
  PASS: 0,
  BAD_STATE: 1, // outside the TCP window, or an impossible transition
  STATE_LIMIT: 2, // set limit states
  RULE_LIMIT: 3, // per-rule max
  SRC_LIMIT: 4, // set limit src-nodes, max-src-states, max-src-nodes, max-src-conn, max-src-conn-rate
  STATE_INSERT: 5, // a state with the same key exists already
  UNRELATED_ICMP: 6, // an ICMP error that quotes no known state
  TRANSLATE: 7, // nat-to found no free address and port
  BAD_TIMESTAMP: 8, // scrub (reassemble tcp): a TCP timestamp failed pf's PAWS checks
  SYNPROXY: 9, // synproxy keeps the packet (it answers for the router, or does not fit the handshake)
} as const;

export const StateReasonName = [
  'pass',
  'bad-state',
  'state-limit',
  'rule-limit',
  'src-limit',
  'state-insert',
  'unrelated-icmp',
  'translate',
  'bad-timestamp',
  'synproxy',
];

export const NO_RULE = 0xffff;
export const FLOATING = 0xff;

/** pf's routing kinds as a state keeps them (PF_ROUTETO, PF_DUPTO, PF_REPLYTO; pfsync_state.rt). */
export const RouteCode = { NONE: 0, ROUTE_TO: 1, DUP_TO: 2, REPLY_TO: 3 } as const;
/** A state's route packs its kind (top 2 bits) and its route target's number (1..ROUTE_TARGET_MAX). */
export const ROUTE_TARGET_MAX = 0x3fff;
export const routeOf = (code: number, target: number): number => (code << 14) | target;
export const routeCode = (route: number): number => route >>> 14;
export const routeTarget = (route: number): number => route & ROUTE_TARGET_MAX;
