// Ruleset evaluation with pf's semantics: rules are walked in order, the
// last matching rule decides, a matching `quick` rule ends the walk, `match`
// rules apply their options (log, tag) without deciding, and when nothing
// matches the packet passes without state. Skip steps jump over runs of
// rules that cannot match. No allocation: the caller passes a reusable
// FilterResult.
//
// Logging as pf_match_rule / pf_test_rule do it: a `match log` rule logs
// the packet when it matches; after a `match log (matches)` every later
// matching rule logs it too (pass and block rules that a later rule
// overrides included, and pf's default rule when nothing decides); the
// deciding rule logs it when it has `log`. A rule is written once per
// packet even where pf would write it once per pflog interface.
//
// Translation as pf_match_rule applies it: a matching `match` rule's nat-to
// or rdr-to rewrites the translator's view of the packet at once, and later
// rules are tested against the view; the deciding rule's goes on top after
// the walk (a pass rule that a later one overrides translates nothing).

import { ANY_DIRECTION, IPPROTO, type Direction, type PacketMeta } from '../packet/meta.js';
import { PfAction, PfReason } from '../packet/pflog.js';
import type { Rule } from '../rules/ast.js';
import { mergeScrub } from '../state/constants.js';
import {
  Action,
  AddrKind,
  BlockReply,
  StateKind,
  type AddrTest,
  type CompiledRule,
  type CompiledRuleset,
} from './compile-rules.js';
import { LogFlag, LogRecords } from './log-records.js';
import type { Translator } from './translator.js';

/** pf's action number of an Action. */
export const pfActionOf = [PfAction.PASS, PfAction.DROP, PfAction.MATCH];

export class FilterResult {
  /** Action.PASS or Action.BLOCK. */
  action: number = Action.PASS;
  /** Index (= rule number) of the deciding rule; -1 for the implicit default. */
  ruleIndex = -1;
  rule: Rule | null = null;
  /** For blocks: BlockReply.DROP, RETURN_RST or RETURN_ICMP (resolved for this packet). */
  reply: number = BlockReply.DROP;
  /** StateKind of the deciding pass rule (NONE for blocks and the default). */
  state: number = StateKind.NONE;
  /** Some rule logs this packet: `logs` holds the records. */
  log = false;
  readonly logs = new LogRecords();
  /** Index in `logs` of the deciding rule's record, -1 for none. */
  logDecided = -1;
  /** LogFlag bits of the matching match rules and the deciding rule (pf's act.log; a new state keeps its ALL bit). */
  logFlags = 0;
  /** Tag id set by the matching rules, -1 for none. */
  tag = -1;
  quick = false;
  /** Scrub word of the matching match rules and the deciding pass rule (pf's act.flags, min_ttl, set_tos). */
  scrub = 0;
  /** Their max-mss, 0 for none. */
  scrubMss = 0;
}

/** pf's default priority of a packet (IFQ_DEFPRIO): TUN packets carry none, and tunpf does not queue. */
export const DEFAULT_PRIO = 3;
const UINT_MAX = 0xffffffff;

export function evaluate(
  rs: CompiledRuleset,
  meta: PacketMeta,
  direction: Direction,
  ifId: number,
  out: FilterResult,
  xlat: Translator | null = null,
): FilterResult {
  const packet = meta;
  const rules = rs.rules;
  const n = rs.count;
  const ifaces = rs.env.interfaces;
  const af = meta.af;
  const proto = meta.proto;
  const later = meta.isLaterFragment;
  const hasPorts = !later && (proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.SCTP);
  const isIcmp = !later && (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6);
  let decided = -1;
  let tag = -1;
  let actLog = 0;
  let decidedRecord = -1;
  let scrub = 0;
  let scrubMss = 0;
  const logs = out.logs;
  logs.clear();
  let i = 0;
  while (i < n) {
    const r = rules[i]!;
    rs.evaluations[i]!++;
    if (r.ifId >= 0 && ifaces.matches(ifId, r.ifId) === r.ifNeg) i = r.skipIf;
    else if (r.dir !== ANY_DIRECTION && r.dir !== direction) i = r.skipDir;
    else if (r.af !== 0 && r.af !== af) i = r.skipAf;
    else if (r.proto >= 0 && r.proto !== proto) i = r.skipProto;
    else if (r.src.kind !== AddrKind.ANY && !addressMatches(r.src, af, meta.src)) i = r.skipSrcAddr;
    else if (r.sportOp !== 0 && !(hasPorts && portMatches(r.sportOp, r.sportLo, r.sportHi, meta.srcPort)))
      i = r.skipSrcPort;
    else if (r.dst.kind !== AddrKind.ANY && !addressMatches(r.dst, af, meta.dst)) i = r.skipDstAddr;
    else if (r.dportOp !== 0 && !(hasPorts && portMatches(r.dportOp, r.dportLo, r.dportHi, meta.dstPort)))
      i = r.skipDstPort;
    else if (!otherFieldsMatch(r, meta, later, isIcmp, tag)) i++;
    else if (r.extraMatch && !extraMatches(r, meta, rs)) i++;
    else {
      if (r.once) r.expired = true; // pf_match_rule: a once rule expires when it first matches
      if (r.tagId >= 0) tag = r.tagId;
      // after a log (matches) rule every matching rule logs, except one that has log (matches) itself
      const logsAsMatch = (actLog & LogFlag.MATCHES) !== 0 && (r.log & LogFlag.MATCHES) === 0;
      if (r.action === Action.MATCH) {
        if (r.log !== 0 || logsAsMatch) logs.push(i, PfAction.MATCH, PfReason.MATCH);
        actLog |= r.log;
        if (r.scrub !== 0) {
          scrub = mergeScrub(scrub, r.scrub);
          if (r.scrubMss !== 0) scrubMss = r.scrubMss;
        }
        if (r.translates && xlat !== null) meta = xlat.apply(r.rule, meta);
      } else {
        decided = i;
        decidedRecord = logsAsMatch ? logs.push(i, pfActionOf[r.action]!, PfReason.MATCH) : -1;
        if (r.quick) break;
      }
      i++;
    }
  }

  out.tag = tag;
  if (decided < 0) {
    out.scrub = scrub;
    out.scrubMss = scrubMss;
    out.action = Action.PASS;
    out.ruleIndex = -1;
    out.rule = null;
    out.state = StateKind.NONE;
    out.reply = BlockReply.DROP;
    out.logDecided = (actLog & LogFlag.MATCHES) !== 0 ? logs.push(-1, PfAction.PASS, PfReason.MATCH) : -1;
    out.logFlags = actLog;
    out.log = logs.count > 0;
    out.quick = false;
    rs.defaultPackets++;
    rs.defaultBytes += packet.totalLength;
    return out;
  }
  const r = rules[decided]!;
  out.action = r.action;
  out.ruleIndex = decided;
  out.rule = r.rule;
  out.quick = r.quick;
  // pf logs the deciding rule again after the walk; once is enough
  if (r.log !== 0 && decidedRecord < 0) decidedRecord = logs.push(decided, pfActionOf[r.action]!, PfReason.MATCH);
  out.logDecided = decidedRecord;
  out.logFlags = actLog | r.log;
  out.log = logs.count > 0;
  out.state = r.action === Action.PASS ? r.state : StateKind.NONE;
  out.reply = r.action === Action.BLOCK ? resolveReply(r.blockReply, proto) : BlockReply.DROP;
  if (r.scrub !== 0 && r.action === Action.PASS) {
    scrub = mergeScrub(scrub, r.scrub);
    if (r.scrubMss !== 0) scrubMss = r.scrubMss;
  }
  out.scrub = scrub;
  out.scrubMss = scrubMss;
  if (r.translates && xlat !== null && r.action === Action.PASS) xlat.apply(r.rule, meta);
  rs.packets[decided]!++;
  rs.bytes[decided]! += packet.totalLength;
  return out;
}

function resolveReply(reply: number, proto: number): number {
  if (reply === BlockReply.RETURN) return proto === IPPROTO.TCP ? BlockReply.RETURN_RST : BlockReply.RETURN_ICMP;
  if (reply === BlockReply.RETURN_RST && proto !== IPPROTO.TCP) return BlockReply.DROP;
  return reply;
}

function otherFieldsMatch(r: CompiledRule, meta: PacketMeta, later: boolean, isIcmp: boolean, tag: number): boolean {
  if (later && r.needsL4) return false; // pf: later fragments never match rules that look at L4
  if (r.flagsMask !== 0 && meta.proto === IPPROTO.TCP && (meta.tcpFlags & r.flagsMask) !== r.flagsSet) return false;
  if (r.icmpType >= 0) {
    if (!isIcmp || meta.icmpType !== r.icmpType) return false;
    if (r.icmpCode >= 0 && meta.icmpCode !== r.icmpCode) return false;
  }
  if (r.taggedId >= 0 && (tag === r.taggedId) === r.taggedNeg) return false;
  return true;
}

/** tos, prio, probability and once (pf_match_rule's order among them does not matter: all must hold). */
function extraMatches(r: CompiledRule, meta: PacketMeta, rs: CompiledRuleset): boolean {
  if (r.expired) return false;
  if (r.tos >= 0 && (meta.tos & ~3) !== r.tos) return false;
  if (r.prio >= 0 && r.prio !== DEFAULT_PRIO) return false;
  // pf: skipped when prob <= arc4random_uniform(UINT_MAX)
  if (r.probability !== 0 && r.probability <= rs.random(UINT_MAX)) return false;
  return true;
}

export function portMatches(op: number, lo: number, hi: number, p: number): boolean {
  switch (op) {
    case 1:
      return p === lo;
    case 2:
      return p !== lo;
    case 3:
      return p < lo;
    case 4:
      return p <= lo;
    case 5:
      return p > lo;
    case 6:
      return p >= lo;
    case 7:
      return p > lo && p < hi;
    case 8:
      return p < lo || p > hi;
    case 9:
      return p >= lo && p <= hi;
    default:
      return false;
  }
}

export function addressMatches(t: AddrTest, af: number, w: Uint32Array): boolean {
  let hit: boolean;
  switch (t.kind) {
    case AddrKind.PREFIX: {
      if (t.af !== af) return false; // a family mismatch is no match, negated or not
      const a = t.a;
      const m = t.b;
      hit =
        (w[0]! & m[0]!) >>> 0 === a[0] &&
        (w[1]! & m[1]!) >>> 0 === a[1] &&
        (w[2]! & m[2]!) >>> 0 === a[2] &&
        (w[3]! & m[3]!) >>> 0 === a[3];
      break;
    }
    case AddrKind.RANGE:
      if (t.af !== af) return false;
      hit = compareWords(w, t.a) >= 0 && compareWords(w, t.b) <= 0;
      break;
    case AddrKind.SET:
      hit = t.set!.contains(af, w);
      break;
    case AddrKind.NEVER:
      hit = false;
      break;
    default:
      return true;
  }
  return hit !== t.neg;
}

function compareWords(x: Uint32Array, y: Uint32Array): number {
  for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return 0;
}
