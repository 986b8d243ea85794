// Compiles a loaded ruleset into the form the evaluator walks: one
// monomorphic CompiledRule per expanded rule, every field a number or a
// reference to an address set, plus pf's skip steps.
//
// Why skip steps rather than generated code: pf's skip steps keep the
// evaluator a single readable loop that a teacher can follow, and they
// already avoid most per-rule work (a packet that fails `on wan` jumps over
// every following `on wan` rule at once). On the ~50-rule gateway benchmark
// they evaluate well above the 5 M packets/s target (see bench/rules.bench.ts
// for the figures, measured beside a naive linear walk), so generated code's
// extra speed would not pay for being harder to read and to debug.

import { randomInt } from 'node:crypto';
import { ANY_DIRECTION, Direction, type DirectionOrAny } from '../packet/meta.js';
import type { AnchorLogPlace } from '../packet/pflog.js';
import type { AddressSpec, OwnerMatch, PortSpec, Rule, RuleExtras, Ruleset } from '../rules/ast.js';
import { ScrubFlag } from '../state/constants.js';
import { AnchorTree, type AnchorNode } from './anchors.js';
import type { InterfaceRegistry } from './interface-registry.js';
import { LogFlag } from './log-records.js';
import { OWNER_UNKNOWN, type SocketOwnerLookup } from './socket-owner.js';
import type { TableStore } from './table-store.js';

export const Action = { PASS: 0, BLOCK: 1, MATCH: 2 } as const;
/** How a blocked packet is answered, resolved per packet (return means RST for TCP, ICMP otherwise). */
export const BlockReply = { DROP: 0, RETURN: 1, RETURN_RST: 2, RETURN_ICMP: 3 } as const;
export const StateKind = { NONE: 0, KEEP: 1, MODULATE: 2, SYNPROXY: 3 } as const;

export const AddrKind = { ANY: 0, PREFIX: 1, RANGE: 2, SET: 3, NO_ROUTE: 4, NEVER: 5 } as const;

/** Anything that answers "is this address in the set" (a pf table, `self`, `(if)`). */
export interface AddressSet {
  contains(af: number, words: ArrayLike<number>): boolean;
}

export class AddrTest {
  kind: number = AddrKind.ANY;
  neg = false;
  af = 0;
  /** PREFIX: masked address and mask; RANGE: low and high bounds. */
  a = new Uint32Array(4);
  b = new Uint32Array(4);
  set: AddressSet | null = null;
  /** Text used to decide whether two rules test the same thing (skip steps). */
  key = 'any';
}

export const PortOpCode: Record<string, number> = {
  '=': 1,
  '!=': 2,
  '<': 3,
  '<=': 4,
  '>': 5,
  '>=': 6,
  '><': 7,
  '<>': 8,
  ':': 9,
};

export class CompiledRule {
  nr = 0;
  action: number = Action.PASS;
  quick = false;
  ifId = -1;
  ifNeg = false;
  dir: DirectionOrAny = ANY_DIRECTION;
  af = 0;
  proto = -1;
  src = new AddrTest();
  dst = new AddrTest();
  sportOp = 0;
  sportLo = 0;
  sportHi = 0;
  dportOp = 0;
  dportLo = 0;
  dportHi = 0;
  flagsSet = 0;
  flagsMask = 0; // 0: no check
  icmpType = -1;
  icmpCode = -1;
  /** Needs the L4 header: ports, flags or ICMP type (so later fragments never match). */
  needsL4 = false;
  tagId = -1;
  taggedId = -1;
  taggedNeg = false;
  state: number = StateKind.NONE;
  blockReply: number = BlockReply.DROP;
  /** ICMP / ICMPv6 unreachable codes of `return-icmp` and `return`. */
  returnIcmp = 3;
  returnIcmp6 = 4;
  /** `return-rst (ttl N)`, 0: the answer's default TTL. */
  returnTtl = 0;
  /** Any of tos, prio, probability, once: tested by extraMatches(). */
  extraMatch = false;
  tos = -1;
  prio = -1;
  /** pf's 32-bit fraction; 0: always. */
  probability = 0;
  once = false;
  /** A `once` rule that matched: it matches no more (pf's PFRULE_EXPIRED). */
  expired = false;
  /** `user` / `group`: PortOpCode and ids (OWNER_UNKNOWN for `unknown`); 0: no test. */
  uidOp = 0;
  uidLo = 0;
  uidHi = 0;
  gidOp = 0;
  gidLo = 0;
  gidHi = 0;
  /** Scrub word (ScrubFlag bits, min-ttl, set tos) the rule gives the packet and its state; 0 for none. */
  scrub = 0;
  scrubMss = 0;
  /** LogFlag bits of `log (...)`; 0: the rule does not log. */
  log = 0;
  /** nat-to or rdr-to. */
  translates = false;
  // skip steps: index of the next rule that differs in that field
  skipIf = 0;
  skipDir = 0;
  skipAf = 0;
  skipProto = 0;
  skipSrcAddr = 0;
  skipSrcPort = 0;
  skipDstAddr = 0;
  skipDstPort = 0;
  /** Anchor rules: the anchor evaluated in place (its children for `name/*`). */
  anchor: AnchorNode<CompiledRule> | null = null;
  anchorWildcard = false;
  /** Number across the main ruleset and every anchor: what states and verdicts name the rule by. */
  id = 0;
  /** The rule as the state engine sees it: numbered by `id`. */
  stateRule: Rule;
  constructor(readonly rule: Rule) {
    this.stateRule = rule;
  }
}

export interface FilterEnv {
  interfaces: InterfaceRegistry;
  tables: TableStore;
  /** Tags by name -> small integer, shared across reloads. */
  tags?: Map<string, number>;
  /** The anchors, kept across reloads: anchors the file does not fill keep their rules, as in pf. */
  anchors?: AnchorTree<CompiledRule>;
  /** Uniform integer in [0, n) for `probability`; crypto-strong by default. */
  random?: (n: number) => number;
  /** The owner of the router's own sockets for `user` and `group`; without it every owner is unknown. */
  owners?: SocketOwnerLookup | null;
}

export class CompiledRuleset {
  readonly count: number;
  /** Per-rule counters, indexed by rule number (pfctl -vsr). */
  readonly evaluations: Float64Array;
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  readonly states: Float64Array;
  /** The implicit default (no rule matched) counters. */
  defaultPackets = 0;
  defaultBytes = 0;
  /** Uniform integer in [0, n): `probability` draws from it. */
  readonly random: (n: number) => number;
  /** Every rule by its id (numberRules): the main ruleset's, then each anchor's. */
  byId: Rule[] = [];
  /** pflog's rulenr by id: a main rule's number; for an anchor's rule, the number of the anchor rule calling it. */
  logRulenr = new Int32Array(0);
  /** pflog's subrulenr and ruleset name by id; undefined for main rules. */
  logAnchor: (AnchorLogPlace | undefined)[] = [];
  constructor(
    readonly ruleset: Ruleset,
    readonly rules: CompiledRule[],
    readonly env: FilterEnv,
    readonly tags: Map<string, number>,
    readonly anchors: AnchorTree<CompiledRule>,
  ) {
    this.count = rules.length;
    this.evaluations = new Float64Array(rules.length);
    this.packets = new Float64Array(rules.length);
    this.bytes = new Float64Array(rules.length);
    this.states = new Float64Array(rules.length);
    this.random = env.random ?? ((n) => randomInt(n));
  }
}

export function compileRuleset(ruleset: Ruleset, env: FilterEnv): CompiledRuleset {
  const tags = env.tags ?? new Map<string, number>();
  for (const t of ruleset.tables) if (!env.tables.get(t.name)) env.tables.ensure(t.name).add(t.entries);
  const anchors = env.anchors ?? new AnchorTree<CompiledRule>();
  const out = compileRules(ruleset.rules, env, tags, anchors);
  for (const def of ruleset.anchors) anchors.ensure(def.path).load(compileRules(def.rules, env, tags, anchors));
  const rs = new CompiledRuleset(ruleset, out, env, tags, anchors);
  numberRules(rs);
  return rs;
}

/** Compiles one rule list (the main ruleset's or an anchor's) with its skip steps. */
export function compileRules(
  rules: readonly Rule[],
  env: FilterEnv,
  tags: Map<string, number>,
  anchors: AnchorTree<CompiledRule>,
): CompiledRule[] {
  const tagId = (name: string) => {
    let id = tags.get(name);
    if (id === undefined) tags.set(name, (id = tags.size));
    return id;
  };
  const out = rules.map((r) => {
    const c = new CompiledRule(r);
    if (r.anchor) {
      c.anchor = anchors.ensure(r.anchor.path);
      c.anchorWildcard = r.anchor.wildcard;
    }
    c.nr = r.nr;
    c.action = r.action === 'pass' ? Action.PASS : r.action === 'block' ? Action.BLOCK : Action.MATCH;
    c.quick = r.quick;
    if (r.iface) {
      c.ifId = env.interfaces.intern(r.iface.name);
      c.ifNeg = r.iface.neg;
    }
    c.dir = r.direction === 'in' ? Direction.IN : r.direction === 'out' ? Direction.OUT : ANY_DIRECTION;
    c.af = r.af;
    c.proto = r.proto ?? -1;
    compileAddress(r.from.addr, r.af, env, c.src);
    compileAddress(r.to.addr, r.af, env, c.dst);
    if (r.from.port) [c.sportOp, c.sportLo, c.sportHi] = compilePort(r.from.port);
    if (r.to.port) [c.dportOp, c.dportLo, c.dportHi] = compilePort(r.to.port);
    if (r.flags && r.flags.mask !== 0) {
      c.flagsSet = r.flags.set;
      c.flagsMask = r.flags.mask;
    }
    if (r.icmp) {
      c.icmpType = r.icmp.type;
      c.icmpCode = r.icmp.code ?? -1;
    }
    c.needsL4 = c.sportOp !== 0 || c.dportOp !== 0 || c.flagsMask !== 0 || c.icmpType >= 0;
    if (r.tag) c.tagId = tagId(r.tag);
    c.translates = r.nat !== null || r.rdr !== null;
    if (r.tagged) {
      c.taggedId = tagId(r.tagged.name);
      c.taggedNeg = r.tagged.neg;
    }
    c.state = {
      none: StateKind.NONE,
      keep: StateKind.KEEP,
      modulate: StateKind.MODULATE,
      synproxy: StateKind.SYNPROXY,
    }[r.state];
    compileExtras(r.extra, c);
    c.returnTtl = r.returnTtl ?? 0;
    c.blockReply = {
      policy: BlockReply.DROP, // the parser resolved `set block-policy return` where the rule is written
      drop: BlockReply.DROP,
      return: BlockReply.RETURN,
      'return-rst': BlockReply.RETURN_RST,
      'return-icmp': BlockReply.RETURN_ICMP,
      'return-icmp6': BlockReply.RETURN_ICMP,
    }[r.block];
    if (r.log)
      c.log =
        LogFlag.LOG |
        (r.log.all ? LogFlag.ALL : 0) |
        (r.log.matches ? LogFlag.MATCHES : 0) |
        (r.log.user ? LogFlag.USER : 0);
    return c;
  });
  computeSkipSteps(out);
  return out;
}

/**
 * Numbers every rule across the main ruleset and the anchors (main rules
 * keep their own numbers), in that order: the rule list the
 * state engine counts and times states by (`byId`). Anchor rules get a copy
 * of their Rule carrying that number. Called again whenever an anchor changes.
 */
export function numberRules(rs: CompiledRuleset): void {
  const flat: Rule[] = [];
  for (const c of rs.rules) {
    c.id = flat.length;
    c.stateRule = c.rule;
    flat.push(c.rule);
  }
  const callers = anchorCallers(rs);
  const logRulenr: number[] = rs.rules.map((c) => c.rule.nr);
  const logAnchor: (AnchorLogPlace | undefined)[] = rs.rules.map(() => undefined);
  for (const node of rs.anchors.all())
    for (const c of node.rules) {
      c.id = flat.length;
      c.stateRule = { ...c.rule, nr: c.id };
      flat.push(c.stateRule);
      // pflog_packet: the calling anchor rule's number, the rule's number in the anchor, the anchor's name
      logRulenr.push(callers.get(node) ?? -1);
      logAnchor.push({ subrulenr: c.rule.nr, ruleset: node.name });
    }
  rs.byId = flat;
  rs.logRulenr = Int32Array.from(logRulenr);
  rs.logAnchor = logAnchor;
}

/** For each anchor, the number (in its own list) of the first anchor rule that evaluates it. */
function anchorCallers(rs: CompiledRuleset): Map<AnchorNode<CompiledRule>, number> {
  const out = new Map<AnchorNode<CompiledRule>, number>();
  const visit = (list: CompiledRule[]) => {
    for (const c of list) {
      if (!c.anchor) continue;
      const called = c.anchorWildcard ? c.anchor.children : [c.anchor];
      for (const node of called) if (!out.has(node)) out.set(node, c.rule.nr);
    }
  };
  visit(rs.rules);
  for (const node of rs.anchors.all()) visit(node.rules);
  return out;
}

function compileExtras(x: RuleExtras, c: CompiledRule): void {
  c.returnIcmp = x.returnIcmp;
  c.returnIcmp6 = x.returnIcmp6;
  c.tos = x.tos ? x.tos : -1; // pf: tos 0 tests nothing
  c.prio = x.prio ?? -1;
  c.probability = x.probability;
  c.once = x.once;
  c.extraMatch = c.tos >= 0 || c.prio >= 0 || c.probability !== 0 || c.once;
  if (x.user) [c.uidOp, c.uidLo, c.uidHi] = compileOwner(x.user);
  if (x.group) [c.gidOp, c.gidLo, c.gidHi] = compileOwner(x.group);
  let w = 0;
  const s = x.scrub;
  if (s) {
    if (s.noDf) w |= ScrubFlag.NO_DF;
    if (s.randomId) w |= ScrubFlag.RANDOM_ID;
    if (s.minTtl) w |= ScrubFlag.MIN_TTL | (s.minTtl << 8);
    if (s.reassembleTcp) w |= ScrubFlag.REASSEMBLE_TCP;
    if (s.maxMss) {
      w |= ScrubFlag.MAX_MSS;
      c.scrubMss = s.maxMss;
    }
  }
  if (x.setTos !== null) w |= ScrubFlag.SET_TOS | (x.setTos << 16);
  c.scrub = w >>> 0;
}

/** The parser's -1 (`unknown`) is pf's UID_MAX: ids compare unsigned, so `user < unknown` is every known uid. */
function compileOwner(o: OwnerMatch): [number, number, number] {
  const id = (n: number) => (n === -1 ? OWNER_UNKNOWN : n);
  return [PortOpCode[o.op]!, id(o.low), id(o.high)];
}

function compilePort(p: PortSpec): [number, number, number] {
  return [PortOpCode[p.op]!, p.low, p.high];
}

function compileAddress(spec: AddressSpec, ruleAf: number, env: FilterEnv, t: AddrTest): void {
  t.neg = 'neg' in spec ? spec.neg : false;
  switch (spec.kind) {
    case 'any':
      t.kind = AddrKind.ANY;
      t.key = 'any';
      return;
    case 'prefix': {
      t.kind = AddrKind.PREFIX;
      t.af = spec.prefix.af;
      for (let i = 0; i < 4; i++) {
        const bits = Math.max(0, Math.min(32, spec.prefix.bits - i * 32));
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        t.b[i] = mask;
        t.a[i] = (spec.prefix.words[i]! & mask) >>> 0;
      }
      t.key = `${t.neg ? '!' : ''}${t.af}:${Array.from(t.a)}/${spec.prefix.bits}`;
      return;
    }
    case 'range':
      t.kind = AddrKind.RANGE;
      t.af = spec.from.af;
      t.a.set(spec.from.words);
      t.b.set(spec.to.words);
      t.key = `${t.neg ? '!' : ''}${t.af}:${Array.from(t.a)}-${Array.from(t.b)}`;
      return;
    case 'table':
      t.kind = AddrKind.SET;
      t.set = env.tables.ensure(spec.name);
      t.key = `${t.neg ? '!' : ''}<${spec.name}>`;
      return;
    case 'self':
      t.kind = AddrKind.SET;
      t.set = env.interfaces.self;
      t.key = `${t.neg ? '!' : ''}self`;
      return;
    case 'dynamic':
      t.kind = AddrKind.SET;
      t.set = env.interfaces.dynamicSet(spec.ifname, spec.mode, spec.noAlias, spec.bits);
      t.key = `${t.neg ? '!' : ''}(${spec.ifname}:${spec.mode}:${spec.noAlias}/${spec.bits})`;
      return;
    case 'no-route':
    case 'urpf-failed':
      // Needs the routing table; tunpf treats every address as routed, so
      // these never match (and their negation always does).
      t.kind = AddrKind.NEVER;
      t.key = `${t.neg ? '!' : ''}${spec.kind}`;
      return;
  }
  void ruleAf;
}

/** pf's skip steps: for each field, the next rule whose value of that field differs. */
function computeSkipSteps(rules: CompiledRule[]): void {
  const fields: [keyof CompiledRule, (r: CompiledRule) => string][] = [
    ['skipIf', (r) => `${r.ifId}/${r.ifNeg}`],
    ['skipDir', (r) => String(r.dir)],
    ['skipAf', (r) => String(r.af)],
    ['skipProto', (r) => String(r.proto)],
    ['skipSrcAddr', (r) => r.src.key],
    ['skipSrcPort', (r) => `${r.sportOp}/${r.sportLo}/${r.sportHi}`],
    ['skipDstAddr', (r) => r.dst.key],
    ['skipDstPort', (r) => `${r.dportOp}/${r.dportLo}/${r.dportHi}`],
  ];
  for (const [field, keyOf] of fields) {
    let start = 0;
    while (start < rules.length) {
      const k = keyOf(rules[start]!);
      let end = start + 1;
      while (end < rules.length && keyOf(rules[end]!) === k) end++;
      for (let i = start; i < end; i++) (rules[i] as unknown as Record<string, number>)[field] = end;
      start = end;
    }
  }
}
