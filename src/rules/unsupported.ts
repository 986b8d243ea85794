// pf.conf keywords tunpf refuses, each with the reason: a pf user should learn
// why a ruleset is refused, not be told that pf's own syntax is unknown.

import type { SourceLocation } from './ast.js';
import { RuleSyntaxError } from './parser-context.js';

const WHY: Record<string, string> = {
  queue: 'it does no queueing of its own (the kernel queues what it writes)',
  'set queue': 'it does no queueing of its own (the kernel queues what it writes)',
  'set delay': 'it does no queueing of its own, so it delays nothing',
  scrub: 'scrub rules became an option in OpenBSD 4.6: write `match ... scrub (...)`',
  fragment: 'fragments are reassembled as `set reassemble` says',
  nat: 'nat rules became an option in OpenBSD 4.7: write `match out ... nat-to ...`',
  rdr: 'rdr rules became an option in OpenBSD 4.7: write `pass in ... rdr-to ...`',
  binat: 'binat rules became an option in OpenBSD 4.7: write `pass ... binat-to ...`',
  rdomain: 'it knows one routing domain (a Linux VRF is not one to it)',
  'on rdomain': 'it knows one routing domain (a Linux VRF is not one to it)',
  'on any': 'name the interfaces, or leave `on` out',
  'received-on': 'the out check of a forwarded packet does not know the interface it came in on',
  route: 'it reads no route labels from the routing table',
  os: 'it does no passive OS fingerprinting',
  'set fingerprints': 'it does no passive OS fingerprinting',
  'set syncookies': 'use synproxy state on the rules that need it',
  'set state-defaults': 'write the state options on each rule',
  'max-pkt-rate': 'rules keep no packet rate',
  'divert-packet': 'Linux has no divert(4) sockets',
  divert: 'Linux has no divert(4) sockets',
};

/** Whether `keyword` (e.g. `queue`, `set syncookies`) is pf syntax tunpf refuses. */
export function isUnsupported(keyword: string): boolean {
  return Object.hasOwn(WHY, keyword);
}

/** The error for pf syntax tunpf refuses. */
export function unsupported(loc: SourceLocation, keyword: string): RuleSyntaxError {
  const why = Object.hasOwn(WHY, keyword) ? `: ${WHY[keyword]}` : '';
  return new RuleSyntaxError(loc, `'${keyword}' is not supported by tunpf${why}`);
}
