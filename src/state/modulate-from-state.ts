// A packet of a state with sequence offsets (modulate state, synproxy, or a
// pfsync peer's seqdiff) shifted as pf_tcp_track_full does: the sender's
// sequence number gains the sender's offset, its ack and SACK edges lose the
// other side's; an ICMP error quoting a segment gets the quoted sequence
// number back as its sender wrote it. Checksums follow; nothing is allocated.

import type { PacketMeta } from '../packet/meta.js';
import { shiftQuotedSequence, shiftTcpSequence } from '../packet/seq-shift.js';
import type { StateTable } from './state-table.js';

/**
 * `forward`: the packet (for an ICMP error, the segment it quotes) went from
 * side 0 to side 1.
 */
export function modulateFromState(
  t: StateTable,
  i: number,
  forward: boolean,
  viaIcmpError: boolean,
  buf: Uint8Array,
  m: PacketMeta,
): void {
  const src = forward ? 0 : 1;
  if (viaIcmpError) shiftQuotedSequence(buf, m, -t.seqDiff(i, src));
  else shiftTcpSequence(buf, m, t.seqDiff(i, src), t.seqDiff(i, 1 - src));
}
