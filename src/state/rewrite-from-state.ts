// A packet of a translated state rewritten to the state's other key, as
// pf_test_state does: one that came in on the wire key leaves with the stack
// key's addresses and ports, one that came from the stack leaves with the
// wire key's. An ICMP error about the connection has its quoted packet (and
// the outer addresses that name it) rewritten instead. The checksums follow
// (src/packet/rewrite.ts); nothing is allocated.

import type { PacketMeta } from '../packet/meta.js';
import { rewriteDestination, rewriteQuotedDestination, rewriteQuotedSource, rewriteSource } from '../packet/rewrite.js';
import { KEY_WORDS, STACK_WORDS, type StateTable } from './state-table.js';

const srcWords = new Uint32Array(4);
const dstWords = new Uint32Array(4);

/**
 * Rewrites buf's packet `m` of state i to the stack key (`toStack`) or the
 * wire key. `forward`: the packet (for an ICMP error, the packet it quotes)
 * went from side 0 to side 1.
 */
export function rewriteFromState(
  t: StateTable,
  i: number,
  toStack: boolean,
  forward: boolean,
  viaIcmpError: boolean,
  buf: Uint8Array,
  m: PacketMeta,
): void {
  const from = forward ? 0 : 1;
  const k = toStack ? t.stackKey : t.key;
  const o = toStack ? i * STACK_WORDS : i * KEY_WORDS;
  for (let w = 0; w < 4; w++) {
    srcWords[w] = k[o + from * 4 + w]!;
    dstWords[w] = k[o + (1 - from) * 4 + w]!;
  }
  const ports = k[o + 8]!;
  const sport = forward ? ports >>> 16 : ports & 0xffff;
  const dport = forward ? ports & 0xffff : ports >>> 16;
  if (viaIcmpError) {
    rewriteQuotedSource(buf, m, srcWords, sport);
    rewriteQuotedDestination(buf, m, dstWords, dport);
  } else {
    rewriteSource(buf, m, srcWords, sport);
    rewriteDestination(buf, m, dstWords, dport);
  }
}
