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
import type { RuleList } from './anchors.js';
import type { InterfaceRegistry } from './interface-registry.js';
import { LogFlag, LogRecords } from './log-records.js';
import { OWNER_UNKNOWN, SocketOwner, type SocketOwnerLookup } from './socket-owner.js';
import type { Translator } from './translator.js';

/** pf's action number of an Action. */
export const pfActionOf = [PfAction.PASS, PfAction.DROP, PfAction.MATCH];

export class FilterResult {
  /** Action.PASS or Action.BLOCK. */
  action: number = Action.PASS;
  /** Index of the deciding rule in its list (= its number there); -1 for the implicit default. */
  ruleIndex = -1;
  /** The list the deciding rule is in: the main ruleset or an anchor. */
  list: RuleList<CompiledRule> | null = null;
  /** The deciding rule's id (compile-rules.ts numberRules; its number for a main rule), -1 for the default. */
  ruleId = -1;
  /** The anchor rule whose anchor holds the deciding rule (pf's am), null in the main ruleset. */
  anchorRule: CompiledRule | null = null;
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

/** pf's PF_ANCHOR_STACK_MAX: anchors calling anchors deeper than this are not entered. */
export const MAX_ANCHOR_DEPTH = 64;

/**
 * The walk's state while it steps into anchors (pf's pf_test_ctx). One for
 * the process: evaluation never re-enters itself, and nothing is allocated.
 */
class Walk {
  meta: PacketMeta = null as unknown as PacketMeta;
  direction: Direction = 0 as Direction;
  ifId = 0;
  ifaces: InterfaceRegistry = null as unknown as InterfaceRegistry;
  xlat: Translator | null = null;
  logs: LogRecords = null as unknown as LogRecords;
  tag = -1;
  actLog = 0;
  /** The deciding rule: its list and index there (-1: none yet); its log record. */
  list: RuleList<CompiledRule> | null = null;
  index = -1;
  record = -1;
  /** The anchor rule the deciding rule's list was entered from (pf's am), and the one being walked (pf's a). */
  decidedIn: CompiledRule | null = null;
  inAnchor: CompiledRule | null = null;
  depth = 0;
  /** Scrub options of the matching match rules so far (ScrubFlag bits merged) and their max-mss. */
  scrub = 0;
  scrubMss = 0;
  /** Draws for `probability`: the ruleset's. */
  random: (n: number) => number = () => 0;
  /** `user` / `group`: the lookup, and what it found for this packet (looked up when a rule first asks). */
  owners: SocketOwnerLookup | null = null;
  readonly owner = new SocketOwner();
}

const walk = new Walk();

export function evaluate(
  rs: CompiledRuleset,
  meta: PacketMeta,
  direction: Direction,
  ifId: number,
  out: FilterResult,
  xlat: Translator | null = null,
): FilterResult {
  const w = walk;
  w.meta = meta;
  w.direction = direction;
  w.ifId = ifId;
  w.ifaces = rs.env.interfaces;
  w.xlat = xlat;
  w.logs = out.logs;
  w.tag = -1;
  w.actLog = 0;
  w.list = null;
  w.index = -1;
  w.record = -1;
  w.decidedIn = null;
  w.inAnchor = null;
  w.depth = 0;
  w.scrub = 0;
  w.scrubMss = 0;
  w.random = rs.random;
  w.owners = rs.env.owners ?? null;
  w.owner.reset();
  out.logs.clear();
  walkRules(rs, w);
  meta = w.meta;
  const logs = out.logs;
  const actLog = w.actLog;
  const list = w.list as RuleList<CompiledRule> | null; // set by the walk
  out.tag = w.tag;
  out.anchorRule = w.decidedIn;
  if (list === null) {
    out.scrub = w.scrub;
    out.scrubMss = w.scrubMss;
    out.action = Action.PASS;
    out.ruleIndex = -1;
    out.ruleId = -1;
    out.list = null;
    out.rule = null;
    out.state = StateKind.NONE;
    out.reply = BlockReply.DROP;
    out.logDecided = (actLog & LogFlag.MATCHES) !== 0 ? logs.push(-1, PfAction.PASS, PfReason.MATCH) : -1;
    out.logFlags = actLog;
    out.log = logs.count > 0;
    out.quick = false;
    rs.defaultPackets++;
    rs.defaultBytes += meta.totalLength;
    return out;
  }
  const decided = w.index;
  const r = list.rules[decided]!;
  let decidedRecord = w.record;
  out.action = r.action;
  out.ruleIndex = decided;
  out.ruleId = r.id;
  out.list = list;
  out.rule = r.stateRule;
  out.quick = r.quick;
  // pf logs the deciding rule again after the walk; once is enough
  if (r.log !== 0 && decidedRecord < 0) decidedRecord = logs.push(r.id, pfActionOf[r.action]!, PfReason.MATCH);
  out.logDecided = decidedRecord;
  out.logFlags = actLog | r.log;
  out.log = logs.count > 0;
  out.state = r.action === Action.PASS ? r.state : StateKind.NONE;
  out.reply = r.action === Action.BLOCK ? resolveReply(r.blockReply, meta.proto) : BlockReply.DROP;
  let scrub = w.scrub;
  let scrubMss = w.scrubMss;
  if (r.scrub !== 0 && r.action === Action.PASS) {
    scrub = mergeScrub(scrub, r.scrub);
    if (r.scrubMss !== 0) scrubMss = r.scrubMss;
  }
  out.scrub = scrub;
  out.scrubMss = scrubMss;
  if (r.translates && xlat !== null && r.action === Action.PASS) xlat.apply(r.rule, meta);
  list.packets[decided]!++;
  list.bytes[decided]! += meta.totalLength;
  return out;
}

/** pf_match_rule: walks one list; true when a quick rule ended the whole evaluation. */
function walkRules(list: RuleList<CompiledRule>, w: Walk): boolean {
  const rules = list.rules;
  const n = list.count;
  const evaluations = list.evaluations;
  const ifaces = w.ifaces;
  let meta = w.meta;
  const direction = w.direction;
  const ifId = w.ifId;
  const af = meta.af;
  const proto = meta.proto;
  const later = meta.isLaterFragment;
  const hasPorts = !later && (proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.SCTP);
  const isIcmp = !later && (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6);
  // pf_match_rule tests user and group of TCP and UDP packets only; other packets pass over the test
  const hasOwner = !later && (proto === IPPROTO.TCP || proto === IPPROTO.UDP);
  let tag = w.tag;
  let actLog = w.actLog;
  const logs = w.logs;
  let i = 0;
  while (i < n) {
    const r = rules[i]!;
    evaluations[i]!++;
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
    else if (hasOwner && (r.uidOp | r.gidOp) !== 0 && !ownerMatches(r, w, meta)) i++;
    else if (r.extraMatch && !extraMatches(r, meta, w.random)) i++;
    else {
      if (r.once) r.expired = true; // pf_match_rule: a once rule expires when it first matches
      if (r.tagId >= 0) tag = r.tagId;
      if (r.anchor !== null) {
        w.tag = tag;
        w.actLog = actLog;
        w.meta = meta;
        const quick = stepIntoAnchor(r, w);
        if (quick) return true;
        tag = w.tag;
        actLog = w.actLog;
        meta = w.meta;
        i++;
        continue;
      }
      // after a log (matches) rule every matching rule logs, except one that has log (matches) itself
      const logsAsMatch = (actLog & LogFlag.MATCHES) !== 0 && (r.log & LogFlag.MATCHES) === 0;
      if (r.action === Action.MATCH) {
        if (r.log !== 0 || logsAsMatch) logs.push(r.id, PfAction.MATCH, PfReason.MATCH);
        actLog |= r.log;
        if (r.scrub !== 0) {
          w.scrub = mergeScrub(w.scrub, r.scrub);
          if (r.scrubMss !== 0) w.scrubMss = r.scrubMss;
        }
        if (r.translates && w.xlat !== null) meta = w.xlat.apply(r.rule, meta);
      } else {
        w.list = list;
        w.index = i;
        w.decidedIn = w.inAnchor;
        w.record = logsAsMatch ? logs.push(r.id, pfActionOf[r.action]!, PfReason.MATCH) : -1;
        if (r.quick) {
          w.tag = tag;
          w.actLog = actLog;
          w.meta = meta;
          return true;
        }
      }
      i++;
    }
  }
  w.tag = tag;
  w.actLog = actLog;
  w.meta = meta;
  return false;
}

/**
 * pf_step_into_anchor: the anchor's rules (or, for `name/*`, each child's in
 * name order) evaluated in place. A quick rule inside ends everything; a
 * `quick` anchor rule ends the walk when a rule directly in its anchor decided.
 */
function stepIntoAnchor(r: CompiledRule, w: Walk): boolean {
  if (w.depth >= MAX_ANCHOR_DEPTH) return false;
  w.depth++;
  const outer = w.inAnchor;
  w.inAnchor = r;
  const node = r.anchor!;
  let quick = false;
  if (r.anchorWildcard) {
    const children = node.children;
    for (let k = 0; k < children.length && !quick; k++) quick = walkRules(children[k]!, w);
  } else {
    quick = walkRules(node, w);
    if (!quick && r.quick && w.decidedIn === r) quick = true;
  }
  w.inAnchor = outer;
  w.depth--;
  return quick;
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
function extraMatches(r: CompiledRule, meta: PacketMeta, random: (n: number) => number): boolean {
  if (r.expired) return false;
  if (r.tos >= 0 && (meta.tos & ~3) !== r.tos) return false;
  if (r.prio >= 0 && r.prio !== DEFAULT_PRIO) return false;
  // pf: skipped when prob <= arc4random_uniform(UINT_MAX)
  if (r.probability !== 0 && r.probability <= random(UINT_MAX)) return false;
  return true;
}

/** `user` and `group`, looked up on the first rule that asks (`meta`: the packet as translated so far). */
function ownerMatches(r: CompiledRule, w: Walk, meta: PacketMeta): boolean {
  const o = w.owner;
  if (r.uidOp !== 0) {
    if (!o.userDone) {
      if (w.owners !== null) w.owners.lookup(meta, w.direction, o, false);
      o.userDone = true;
    }
    if (!idMatches(r.uidOp, r.uidLo, r.uidHi, o.uid)) return false;
  }
  if (r.gidOp !== 0) {
    if (!o.groupDone) {
      if (w.owners !== null) w.owners.lookup(meta, w.direction, o, true);
      o.groupDone = true;
    }
    if (!idMatches(r.gidOp, r.gidLo, r.gidHi, o.gid)) return false;
  }
  return true;
}

/** pf_match_uid / pf_match_gid: an unknown owner matches `=` and `!=` only. */
export function idMatches(op: number, lo: number, hi: number, id: number): boolean {
  if (id === OWNER_UNKNOWN && op !== 1 && op !== 2) return false;
  return portMatches(op, lo, hi, id);
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
