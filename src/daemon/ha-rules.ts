// Whether a ruleset lets the HA file's own traffic through. CARP and pfsync
// packets pass the rules like any others (as in pf), so a ruleset that
// blocks `proto carp` on a carpdev makes both nodes master, and one that
// blocks `proto pfsync` on the sync interface stops the state transfer.
// Synthetic advertisements (each configured family, to the group or the
// unicast peer) and pfsync packets (to the group or the syncpeer) are
// checked `in` and `out` on their interface with a filter and a state table
// of their own, emptied before each packet, so only the rules decide; every
// block is reported with the rule that decides it and the line to add.

import { PacketFilter, Verdict } from '../filter/packet-filter.js';
import { InterfaceRegistry } from '../filter/interface-registry.js';
import { formatAddress, maskAddress, parseAddress, parsePrefix } from '../packet/address.js';
import { buildIpPacket } from '../packet/build.js';
import { Direction, PacketMeta } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import type { InterfaceInfo, Rule, Ruleset } from '../rules/ast.js';
import { formatRule } from '../rules/canonical.js';
import { StateEngine } from '../state/state-engine.js';
import { CARP } from '../carp/constants.js';
import { PFSYNC } from '../pfsync/constants.js';
import type { HaConfig } from './ha-config.js';

/** One kind of HA packet the ruleset blocks. */
export interface HaRuleProblem {
  proto: 'carp' | 'pfsync';
  /** The CARP group (null for pfsync). */
  group: string | null;
  ifname: string;
  /** The directions and families the same rule blocks. */
  directions: ('in' | 'out')[];
  families: (4 | 6)[];
  /** The deciding rule (null: no rule, e.g. a malformed synthetic packet). */
  rule: Rule | null;
  /** The rule to add, and where: after a last-matching block, before a `quick` one. */
  fix: { line: string; where: 'after' | 'before' };
}

interface Probe {
  proto: 'carp' | 'pfsync';
  group: string | null;
  ifname: string;
  direction: 'in' | 'out';
  af: 4 | 6;
  src: string;
  dst: string;
}

const CARP_PAYLOAD = new Uint8Array(CARP.HEADER_LENGTH);
const PFSYNC_PAYLOAD = new Uint8Array(PFSYNC.HEADER_LENGTH);

/** The interface's addresses of one family, link-local ones first when `linkFirst`. */
function addressesOf(interfaces: readonly InterfaceInfo[], ifname: string, af: 4 | 6, linkFirst = false): string[] {
  const list = (interfaces.find((i) => i.name === ifname)?.addresses ?? [])
    .filter((a) => a.af === af)
    .map((a) => ({ text: formatAddress(af, a.words), bits: a.bits }));
  const link = (t: string) => t.toLowerCase().startsWith('fe80:');
  if (linkFirst) list.sort((a, b) => Number(link(b.text)) - Number(link(a.text)));
  return list.map((a) => `${a.text}/${a.bits}`);
}

/** Another host of `prefix`'s network than those in `taken` (the neighbour a packet comes from). */
function neighbourIn(prefix: string, taken: readonly string[]): string {
  const p = parsePrefix(prefix)!;
  const net = maskAddress(p.words, p.bits);
  const last = p.af === 4 ? 0 : 3;
  for (let host = 1; host < 256; host++) {
    const w = Uint32Array.from(net);
    w[last] = (w[last]! + host) >>> 0;
    const text = formatAddress(p.af, w);
    if (!taken.includes(text)) return text;
  }
  return formatAddress(p.af, net);
}

const bare = (prefix: string) => prefix.split('/')[0]!;

function carpProbes(ha: HaConfig, interfaces: readonly InterfaceInfo[]): Probe[] {
  const probes: Probe[] = [];
  for (const g of ha.carp) {
    const virtual = g.addresses.map((a) => a.address);
    const peerAf = g.peer ? (parseAddress(g.peer)!.af as 4 | 6) : null;
    for (const af of [...new Set(g.addresses.map((a) => a.af))].sort()) {
      if (peerAf !== null && peerAf !== af) continue; // a unicast peer speaks one family
      // advertisements leave from carpdev's own address (IPv6: link-local first), never a virtual one
      const vip = g.addresses.find((a) => a.af === af)!;
      const own =
        addressesOf(interfaces, g.carpdev, af, af === 6).find((a) => !virtual.includes(bare(a))) ??
        (af === 6 ? 'fe80::1/64' : `${neighbourIn(`${vip.address}/${vip.bits}`, virtual)}/${vip.bits}`);
      const other = g.peer ?? neighbourIn(own, [bare(own), ...virtual]);
      const group = af === 4 ? CARP.GROUP_V4 : CARP.GROUP_V6;
      const base = { proto: 'carp' as const, group: g.name, ifname: g.carpdev, af };
      probes.push({ ...base, direction: 'out', src: bare(own), dst: g.peer ?? group });
      probes.push({ ...base, direction: 'in', src: other, dst: g.peer ? bare(own) : group });
    }
  }
  return probes;
}

function pfsyncProbes(ha: HaConfig, interfaces: readonly InterfaceInfo[]): Probe[] {
  const c = ha.pfsync;
  if (!c) return [];
  const peer = c.syncpeer;
  const own = addressesOf(interfaces, c.syncdev, 4)[0] ?? (peer ? neighbourIn(`${peer}/30`, [peer]) : '0.0.0.0');
  const other = peer ?? (own.includes('/') ? neighbourIn(own, [bare(own)]) : own);
  const base = { proto: 'pfsync' as const, group: null, ifname: c.syncdev, af: 4 as const };
  return [
    { ...base, direction: 'out', src: bare(own), dst: peer ?? PFSYNC.GROUP_V4 },
    { ...base, direction: 'in', src: other, dst: peer ? bare(own) : PFSYNC.GROUP_V4 },
  ];
}

/**
 * The rule that lets `proto` through on `ifname`. `no state`: these are
 * one-way announcements with no replies to match, so a state would only
 * take a slot, show in `show states`, and let one direction through for
 * the other; without one, every packet meets the rules, as checked here.
 */
function fixLine(proto: 'carp' | 'pfsync', ifname: string, quick: boolean): string {
  return `pass${quick ? ' quick' : ''} on ${ifname} proto ${proto} no state`;
}

/**
 * What of the HA file's traffic `ruleset` blocks, with the rules that decide
 * and the lines to add; empty when all of it passes. Interfaces in the
 * ruleset's `set skip on` are never filtered and never reported.
 */
export function haRuleProblems(ruleset: Ruleset, ha: HaConfig, interfaces: readonly InterfaceInfo[]): HaRuleProblem[] {
  const registry = new InterfaceRegistry(interfaces);
  // a small table of its own: emptied before each packet, so no state made by one lets another through
  const states = new StateEngine({
    limit: 16,
    startSeconds: 0,
    statePolicyIfBound: ruleset.options.statePolicy === 'if-bound',
  });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const skipped = new Set(ruleset.options.skip);
  const meta = new PacketMeta();
  const verdict = new Verdict();
  const problems: HaRuleProblem[] = [];
  for (const p of [...carpProbes(ha, interfaces), ...pfsyncProbes(ha, interfaces)]) {
    if (skipped.has(p.ifname)) continue;
    const packet = buildIpPacket({
      src: bare(p.src),
      dst: p.dst,
      ttl: 255,
      protocol: p.proto === 'carp' ? CARP.PROTO : PFSYNC.PROTO,
      payload: p.proto === 'carp' ? CARP_PAYLOAD : PFSYNC_PAYLOAD,
      fixChecksum: false,
    });
    parsePacket(packet, 0, packet.length, meta);
    states.flush();
    const dir = p.direction === 'in' ? Direction.IN : Direction.OUT;
    const v = filter.test(meta, dir, registry.intern(p.ifname), 0, verdict);
    if (v.pass) continue;
    const rule = v.rule >= 0 ? (filter.rules.rules[v.rule]?.rule ?? null) : null;
    const same = problems.find((q) => q.proto === p.proto && q.group === p.group && q.rule?.nr === rule?.nr);
    if (same) {
      if (!same.families.includes(p.af)) same.families.push(p.af);
      if (!same.directions.includes(p.direction)) same.directions.push(p.direction);
      same.directions.sort(); // in, out
      continue;
    }
    const quick = rule?.quick ?? false;
    problems.push({
      proto: p.proto,
      group: p.group,
      ifname: p.ifname,
      directions: [p.direction],
      families: [p.af],
      rule,
      fix: { line: fixLine(p.proto, p.ifname, quick), where: quick ? 'before' : 'after' },
    });
  }
  return problems;
}

/** Two lines per problem: what is blocked and by which rule (file:line), then the line to add and where. */
export function formatHaRuleProblem(p: HaRuleProblem, severity: 'error' | 'warning'): string {
  const fams = p.families.map((f) => (f === 4 ? 'IPv4' : 'IPv6')).join(', ');
  const dirs = p.directions.join(' and ');
  const what =
    p.proto === 'carp'
      ? `carp ${p.group}: advertisements (${fams}) are blocked ${dirs} on ${p.ifname}`
      : `pfsync: packets are blocked ${dirs} on ${p.ifname}`;
  if (!p.rule) return `${severity}: ${what}\n\tadd: ${p.fix.line}`;
  const r = p.rule;
  const at = `${r.loc.file}:${r.loc.line}`;
  const add = `add ${p.fix.where} line ${r.loc.line}: ${p.fix.line}`;
  return `${at}: ${severity}: ${what} by rule @${r.nr} "${formatRule(r)}"\n\t${add}`;
}
