// pfctl's print_rule text for the options parse-scrub.ts reads: each
// function returns the text with its leading space, in pfctl's format.

import { formatAddress } from '../packet/address.js';
import type { Divert, OwnerMatch, RuleExtras, ScrubOptions } from './ast.js';

/** print_ugid / print_op: `user = 1000`, `user 1000 >< 2000`, `user = unknown`. */
export function formatOwner(kind: 'user' | 'group', o: OwnerMatch): string {
  const a = o.low === -1 ? 'unknown' : String(o.low);
  if (o.op === '><' || o.op === '<>') return ` ${kind} ${a} ${o.op} ${o.high}`;
  if (o.op === ':') return ` ${kind} ${a}:${o.high}`;
  return ` ${kind} ${o.op} ${a}`;
}

/** `set (prio N, tos 0xNN)`: pfctl prints the set options in one group. */
export function formatSetOptions(x: RuleExtras): string {
  const parts: string[] = [];
  if (x.setPrio) {
    const [a, b] = x.setPrio;
    parts.push(a === b ? `prio ${a}` : `prio(${a}, ${b})`);
  }
  if (x.setTos !== null) parts.push(`tos 0x${hex2(x.setTos)}`);
  return parts.length ? ` set (${parts.join(', ')})` : '';
}

/** pfctl prints the stored fraction as a percentage with "%f", trailing zeros (and a bare dot) cut. */
export function formatProbability(p: number): string {
  let text = ((p * 100) / 2 ** 32).toFixed(6);
  text = text.replace(/0+$/, '').replace(/\.$/, '');
  return ` probability ${text}%`;
}

export function formatScrub(s: ScrubOptions): string {
  const parts: string[] = [];
  if (s.noDf) parts.push('no-df');
  if (s.randomId) parts.push('random-id');
  if (s.minTtl) parts.push(`min-ttl ${s.minTtl}`);
  if (s.reassembleTcp) parts.push('reassemble tcp');
  if (s.maxMss) parts.push(`max-mss ${s.maxMss}`);
  return parts.length ? ` scrub (${parts.join(' ')})` : '';
}

export function formatDivert(d: Divert): string {
  if (d.kind === 'reply') return ' divert-reply';
  return ` divert-to ${formatAddress(d.addr.af, d.addr.words)} port ${d.port}`;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
