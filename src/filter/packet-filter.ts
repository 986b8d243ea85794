// pf_test: the one entry point the datapath and `tunpf replay` call for every
// packet. States first (a packet of a known connection is tracked and never
// sees the rules), the ruleset on a miss, and a new state when the deciding
// rule passes with keep state. No allocation per packet.
//
// Logging: the verdict lists the pflog records the packet asks for (see
// evaluate-rules.ts for the rules' part). A state made under `log (all)`
// logs each of its packets under its rule, those that state tracking drops
// too (pf logs only the ones it passes). The deciding rule's record says
// what finally happened: block and the reason when a limit refused the
// state (pf would log it as passed, then drop it). Malformed packets are
// dropped unlogged (pf force-logs them with its default rule).

import { Direction, ParseError, type PacketMeta } from '../packet/meta.js';
import { PfAction, PfReason } from '../packet/pflog.js';
import { ScrubFlag, StateReason, TcpState } from '../state/constants.js';
import type { StateEngine } from '../state/state-engine.js';
import { MAX_RULES, type AnchorDef, type Ruleset } from '../rules/ast.js';
import { AnchorTree } from './anchors.js';
import {
  Action,
  BlockReply,
  StateKind,
  compileRules,
  compileRuleset,
  numberRules,
  type CompiledRule,
  type CompiledRuleset,
} from './compile-rules.js';
import { evaluate, FilterResult } from './evaluate-rules.js';
import { InterfaceRegistry } from './interface-registry.js';
import { LogInterfaceStats } from './log-interface.js';
import { LogFlag, LogRecords } from './log-records.js';
import { RouteTargets } from './route-targets.js';
import type { SocketOwnerLookup } from './socket-owner.js';
import { TableStore } from './table-store.js';
import { Translator } from './translator.js';

/** Why a packet got its verdict. */
export const Why = {
  RULE: 0, // decided by a rule (or the default)
  STATE: 1, // matched an existing state
  MALFORMED: 2,
  BAD_STATE: 3,
  STATE_LIMIT: 4,
  RULE_LIMIT: 5,
  SRC_LIMIT: 6,
  STATE_INSERT: 7,
  TRANSLATE: 8, // nat-to found no free address and port
  BAD_TIMESTAMP: 9, // scrub (reassemble tcp): a TCP timestamp failed pf's PAWS checks
  SYNPROXY: 10, // kept by synproxy state: the router answers the handshake (Verdict.proxy says how)
} as const;
export const WhyName = [
  'rule',
  'state',
  'malformed',
  'bad-state',
  'state-limit',
  'rule-limit',
  'src-limit',
  'state-insert',
  'translate',
  'bad-timestamp',
  'synproxy',
];

/** pf's reason (PFRES_*) for a verdict's Why; for MALFORMED, by the parse error. */
export function pfReasonOf(why: number, parseError: number = 0): number {
  switch (why) {
    case Why.RULE:
    case Why.STATE:
      return PfReason.MATCH;
    case Why.BAD_STATE:
      return PfReason.BADSTATE;
    case Why.STATE_LIMIT:
    case Why.RULE_LIMIT:
      return PfReason.MAXSTATES;
    case Why.SRC_LIMIT:
      return PfReason.SRCLIMIT;
    case Why.STATE_INSERT:
      return PfReason.STATEINS;
    case Why.TRANSLATE:
      return PfReason.TRANSLATE;
    case Why.BAD_TIMESTAMP:
      return PfReason.TS;
    case Why.SYNPROXY:
      return PfReason.SYNPROXY;
    default:
      break;
  }
  switch (parseError) {
    case ParseError.BAD_OPTIONS:
    case ParseError.EXTENSION_CHAIN:
      return PfReason.IPOPTIONS;
    case ParseError.BAD_VERSION:
    case ParseError.BAD_TCP_OPTIONS:
      return PfReason.NORM;
    default:
      return PfReason.SHORT;
  }
}

const reasonToWhy: Record<number, number> = {
  [StateReason.BAD_STATE]: Why.BAD_STATE,
  [StateReason.STATE_LIMIT]: Why.STATE_LIMIT,
  [StateReason.RULE_LIMIT]: Why.RULE_LIMIT,
  [StateReason.SRC_LIMIT]: Why.SRC_LIMIT,
  [StateReason.STATE_INSERT]: Why.STATE_INSERT,
  [StateReason.TRANSLATE]: Why.TRANSLATE,
  [StateReason.BAD_TIMESTAMP]: Why.BAD_TIMESTAMP,
  [StateReason.SYNPROXY]: Why.SYNPROXY,
};

export class Verdict {
  pass = false;
  why: number = Why.RULE;
  /** The deciding rule by id (numberRules; a main rule keeps its number), -1: none; for states, their rule. */
  rule = -1;
  /** The state matched or created, -1 for none. */
  state = -1;
  /** The state was created by this packet. */
  created = false;
  /**
   * The state translates: the packet is to be rewritten to its other key
   * (rewriteFromState) — to the stack key when it came in on the wire key —
   * with `forward` saying which side sent it. Valid for a passed packet.
   */
  rewrite = false;
  toStack = false;
  forward = true;
  /** The packet is an ICMP error about the state's connection (its quoted packet is what gets rewritten). */
  viaIcmpError = false;
  /**
   * The state shifts TCP sequence numbers (modulate state, synproxy, a peer's seqdiff): the packet's are to be
   * shifted (modulateFromState), with `forward` and `viaIcmpError` as for `rewrite`. Valid for a passed packet.
   */
  modulate = false;
  /**
   * Why.SYNPROXY: what the router is to send (ProxySend; the values are in the state engine's `proxy`), with
   * `state`, `forward` and `toStack` (the key the packet came on) set.
   */
  proxy = 0;
  /** The state's route (route-to, reply-to, dup-to; state/constants.ts routeOf), 0: none. Valid for a passed packet. */
  route = 0;
  /** For blocks: BlockReply. */
  reply: number = BlockReply.DROP;
  /** For passed packets: the scrub profile to apply (StateTable.scrubProfile), from the state or the rules; 0: none. */
  scrub = 0;
  /** The packet is to be logged: `logs` holds one record per logging rule. The only field to test on the hot path. */
  log = false;
  readonly logs = new LogRecords();
}

export class FilterCounters {
  packets = 0;
  passed = 0;
  blocked = 0;
  bytes = 0;
  /** By Why. */
  readonly byWhy = new Float64Array(WhyName.length);
  /** Malformed packets by ParseError code. */
  readonly malformed = new Float64Array(16);
  /** Log records beyond what one packet's record list holds. */
  logRecordsLost = 0;
}

export interface PacketFilterOptions {
  /** The state engine the filter tracks connections in: a peer, owned by whoever wires them. */
  states: StateEngine;
  interfaces?: InterfaceRegistry;
  /** Uniform integer in [0, n) for translation pools and port search; crypto-strong by default. */
  random?: (n: number) => number;
  /** Who owns the router's own sockets, for `user` and `group` (unknown without it). */
  owners?: SocketOwnerLookup;
}

/** Refuses a ruleset whose rules (main and anchors) would not fit a state's 16-bit rule number. */
function assertRuleRoom(total: number): void {
  if (total > MAX_RULES)
    throw new RangeError(
      `too many rules: ${total}; tunpf holds at most ${MAX_RULES}, main ruleset and anchors together`,
    );
}

export class PacketFilter {
  rules: CompiledRuleset;
  private readonly states: StateEngine;
  readonly interfaces: InterfaceRegistry;
  tables: TableStore;
  readonly counters = new FilterCounters();
  /** `set loginterface`: the counters pfctl -si shows for one interface. */
  readonly logInterface = new LogInterfaceStats();
  private readonly result = new FilterResult();
  private translator: Translator;
  /** The targets of the ruleset's routing options; the pipeline reads a state's route target here. */
  routeTargets: RouteTargets;
  private readonly random: ((n: number) => number) | undefined;
  private readonly owners: SocketOwnerLookup | null;

  constructor(ruleset: Ruleset, opts: PacketFilterOptions) {
    this.interfaces = opts.interfaces ?? new InterfaceRegistry();
    this.states = opts.states;
    this.random = opts.random;
    this.owners = opts.owners ?? null;
    this.tables = TableStore.forRuleset(ruleset.tables, undefined, ruleset.options.limits);
    this.rules = compileRuleset(ruleset, {
      interfaces: this.interfaces,
      tables: this.tables,
      anchors: new AnchorTree<CompiledRule>(),
      random: this.random,
      owners: this.owners,
    });
    this.translator = new Translator(this.interfaces, () => this.tables, this.random);
    this.routeTargets = new RouteTargets(ruleset, this.interfaces, null, this.random);
    this.logInterface.select(ruleset.options.loginterface, this.interfaces);
    this.setStateRules();
  }

  /** The state engine counts and times states by rule id: the main rules, then every anchor's. */
  private setStateRules(): void {
    const rs: Ruleset = { ...this.rules.ruleset, rules: this.rules.byId };
    this.states.setRules(rs, (name) => this.tables.get(name));
  }

  /**
   * Replaces one anchor's rules (pfctl -a NAME -f FILE); the main ruleset
   * and the other anchors stay. `def.rules` are numbered from 0; anchors
   * nested in it come in `nested`. States the old rules made stay.
   */
  loadAnchor(def: AnchorDef, nested: readonly AnchorDef[] = []): void {
    const rs = this.rules;
    const replaced = [def, ...nested].reduce((n, d) => n + (rs.anchors.get(d.path)?.count ?? 0), 0);
    const added = [def, ...nested].reduce((n, d) => n + d.rules.length, 0);
    assertRuleRoom(rs.byId.length - replaced + added);
    const env = { interfaces: this.interfaces, tables: this.tables };
    const compiled = [def, ...nested].map((d) => compileRules(d.rules, env, rs.tags, rs.anchors));
    [def, ...nested].forEach((d, k) => rs.anchors.ensure(d.path).load(compiled[k]!));
    numberRules(rs);
    this.setStateRules();
  }

  /** Empties one anchor (pfctl -a NAME -F rules); false when there is no such anchor. */
  flushAnchor(path: string): boolean {
    const node = this.rules.anchors.get(path);
    if (!node) return false;
    node.load([]);
    numberRules(this.rules);
    this.setStateRules();
    return true;
  }

  /**
   * Replaces the ruleset atomically; states and persistent tables survive.
   * (The state limit is fixed when the filter starts.)
   */
  reload(ruleset: Ruleset): void {
    const filled = new Set(ruleset.anchors.map((a) => a.path));
    const kept = this.rules.anchors.all().reduce((n, a) => n + (filled.has(a.path) ? 0 : a.count), 0);
    const loaded = ruleset.rules.length + ruleset.anchors.reduce((n, a) => n + a.rules.length, 0);
    assertRuleRoom(loaded + kept); // anchors the file does not fill keep their rules
    const tables = TableStore.forRuleset(ruleset.tables, this.tables, ruleset.options.limits);
    const rules = compileRuleset(ruleset, {
      interfaces: this.interfaces,
      tables,
      tags: this.rules.tags,
      anchors: this.rules.anchors,
      random: this.random,
      owners: this.owners,
    });
    // pools start over, with new source-hash keys where none is written (pfctl picks one per load)
    const translator = new Translator(this.interfaces, () => this.tables, this.random);
    const routeTargets = new RouteTargets(ruleset, this.interfaces, this.routeTargets, this.random);
    // nothing is swapped in until everything is built: a failure leaves the running ruleset whole
    this.logInterface.select(ruleset.options.loginterface, this.interfaces); // first: only it may throw (names full)
    this.tables = tables;
    tables.claim();
    this.rules = rules;
    this.translator = translator;
    this.routeTargets = routeTargets;
    this.setStateRules();
  }

  /** Decides one parsed packet. `now` is in seconds. */
  test(m: PacketMeta, direction: Direction, ifId: number, now: number, v: Verdict): Verdict {
    this.decide(m, direction, ifId, now, v);
    const li = this.logInterface;
    if (li.nameId >= 0 && this.interfaces.matches(ifId, li.nameId))
      li.count(m.af, direction === Direction.OUT, !v.pass, m.totalLength);
    return v;
  }

  private decide(m: PacketMeta, direction: Direction, ifId: number, now: number, v: Verdict): Verdict {
    const c = this.counters;
    c.packets++;
    c.bytes += m.totalLength;
    v.created = false;
    v.rewrite = false;
    v.modulate = false;
    v.proxy = 0;
    v.route = 0;
    v.state = -1;
    v.log = false;
    v.logs.count = 0;
    v.reply = BlockReply.DROP;
    v.scrub = 0;
    if (m.error !== 0) {
      c.malformed[m.error]!++;
      return this.block(v, Why.MALFORMED, -1);
    }
    const states = this.states;
    let i = states.lookup(m, direction, ifId, now);
    if (i >= 0 && states.reusable(i, m)) {
      states.remove(i); // pf's state reuse: the SYN goes through the rules again
      i = -1;
    }
    if (i >= 0) {
      const logAll = states.table.log[i]! & LogFlag.ALL;
      const reason = states.track(i, m, now);
      v.rule = states.table.live(i) ? states.table.rule[i]! : -1;
      if (v.rule === 0xffff) v.rule = -1;
      if (reason !== StateReason.PASS) {
        this.block(v, reasonToWhy[reason] ?? Why.BAD_STATE, v.rule);
        if (reason === StateReason.SYNPROXY) {
          v.state = i;
          v.forward = states.forward;
          v.toStack = !states.matchedStack;
          v.proxy = states.proxy.kind;
        }
        if (logAll !== 0) this.logState(v, PfAction.DROP, pfReasonOf(v.why));
        return v;
      }
      if (logAll !== 0) this.logState(v, PfAction.PASS, PfReason.MATCH);
      v.forward = states.forward;
      v.viaIcmpError = states.viaIcmpError;
      if (states.table.translated(i)) {
        v.rewrite = true;
        v.toStack = !states.matchedStack;
      }
      v.modulate = states.table.modulatedStates > 0 && states.table.modulated(i);
      v.scrub = states.table.scrub[i]!;
      v.state = i;
      v.route = states.table.route[i]!;
      v.pass = true;
      v.why = Why.STATE;
      c.passed++;
      c.byWhy[Why.STATE]!++;
      return v;
    }
    const x = this.translator;
    x.begin();
    const r = evaluate(this.rules, m, direction, ifId, this.result, x);
    v.rule = r.ruleId;
    if (r.log) {
      v.log = true;
      v.logs.copyFrom(r.logs);
      c.logRecordsLost += r.logs.lost;
    }
    if (x.failed) {
      // pf_match_rule / pf_test_rule: a pool without an address drops the packet whatever the rules decide
      if (r.logDecided >= 0) {
        v.logs.action[r.logDecided] = PfAction.DROP;
        v.logs.reason[r.logDecided] = PfReason.TRANSLATE;
      }
      return this.block(v, Why.TRANSLATE, r.ruleId);
    }
    if (r.action !== Action.PASS) {
      v.reply = r.reply;
      return this.block(v, Why.RULE, r.ruleId);
    }
    if (r.state !== StateKind.NONE && r.rule && !(m.icmpIsError && m.icmpType >= 0)) {
      const s = states.create(m, direction, ifId, r.rule, now, r.logFlags & LogFlag.ALL, x.active ? x : null);
      if (s < 0) {
        this.block(v, reasonToWhy[-s] ?? Why.STATE_LIMIT, r.ruleId);
        if (r.logDecided >= 0) {
          v.logs.action[r.logDecided] = PfAction.DROP;
          v.logs.reason[r.logDecided] = pfReasonOf(v.why);
        }
        return v;
      }
      r.list!.states[r.ruleIndex]!++;
      v.route = states.table.route[s] = this.routeTargets.choose(r.ruleId, m.src);
      // pf keeps the rules' scrub options in the state: its later packets get them too
      if (r.scrub !== 0) states.table.scrub[s] = states.table.scrubProfile(r.scrub, r.scrubMss);
      if (r.scrub & ScrubFlag.REASSEMBLE_TCP) states.startTcpScrub(s, m, now);
      if (states.table.peerState[s * 2] === TcpState.PROXY_SRC) {
        // synproxy: the router answers the SYN itself, which goes no further
        this.block(v, Why.SYNPROXY, r.ruleId);
        v.state = s;
        v.forward = true;
        v.toStack = direction === Direction.IN;
        v.proxy = states.proxy.kind;
        if (r.logDecided >= 0) {
          v.logs.action[r.logDecided] = PfAction.SYNPROXY_DROP;
          v.logs.reason[r.logDecided] = PfReason.SYNPROXY;
        }
        return v;
      }
      v.state = s;
      v.created = true;
      v.forward = true;
      v.viaIcmpError = false;
      v.modulate = states.table.modulatedStates > 0 && states.table.modulated(s);
      if (x.active && states.table.translated(s)) {
        // the first packet came in on the key it made: inbound the wire key, outbound the stack key
        v.rewrite = true;
        v.toStack = direction === Direction.IN;
        v.forward = true;
        v.viaIcmpError = false;
      }
    }
    v.scrub =
      r.scrub === 0 ? 0 : v.state >= 0 ? states.table.scrub[v.state]! : states.table.scrubProfile(r.scrub, r.scrubMss);
    v.pass = true;
    v.why = Why.RULE;
    c.passed++;
    c.byWhy[Why.RULE]!++;
    return v;
  }

  /** A record for a packet of a state made under `log (all)`, under the state's rule. */
  private logState(v: Verdict, action: number, reason: number): void {
    v.log = true;
    v.logs.clear();
    v.logs.push(v.rule, action, reason);
  }

  private block(v: Verdict, why: number, rule: number): Verdict {
    v.pass = false;
    v.why = why;
    v.rule = rule;
    this.counters.blocked++;
    this.counters.byWhy[why]!++;
    return v;
  }
}
