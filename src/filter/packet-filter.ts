// pf_test: the one entry point the datapath and `tunpf replay` call for every
// packet. States first (a packet of a known connection is tracked and never
// sees the rules), the ruleset on a miss, and a new state when the deciding
// rule passes with keep state. No allocation per packet.

import type { PacketMeta } from '../packet/meta.js';
import type { Ruleset } from '../rules/ast.js';
import { StateReason } from '../state/constants.js';
import { StateEngine } from '../state/state-engine.js';
import { TimeoutTable } from '../state/timeouts.js';
import { Action, BlockReply, StateKind, compileRuleset, type CompiledRuleset } from './compile-rules.js';
import { evaluate, FilterResult } from './evaluate-rules.js';
import { InterfaceRegistry } from './interface-registry.js';
import { TableStore } from './table-store.js';

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
} as const;
export const WhyName = ['rule', 'state', 'malformed', 'bad-state', 'state-limit', 'rule-limit', 'src-limit', 'state-insert'];

const reasonToWhy: Record<number, number> = {
  [StateReason.BAD_STATE]: Why.BAD_STATE,
  [StateReason.STATE_LIMIT]: Why.STATE_LIMIT,
  [StateReason.RULE_LIMIT]: Why.RULE_LIMIT,
  [StateReason.SRC_LIMIT]: Why.SRC_LIMIT,
  [StateReason.STATE_INSERT]: Why.STATE_INSERT,
};

export class Verdict {
  pass = false;
  why: number = Why.RULE;
  /** The deciding rule (-1: default or none); for state matches, the rule that created the state. */
  rule = -1;
  /** The state matched or created, -1 for none. */
  state = -1;
  /** The state was created by this packet. */
  created = false;
  /** For blocks: BlockReply. */
  reply: number = BlockReply.DROP;
  log = false;
}

export class FilterCounters {
  packets = 0;
  passed = 0;
  blocked = 0;
  bytes = 0;
  /** By Why. */
  readonly byWhy = new Float64Array(8);
  /** Malformed packets by ParseError code. */
  readonly malformed = new Float64Array(16);
}

export interface PacketFilterOptions {
  interfaces?: InterfaceRegistry;
  seeds?: Uint32Array;
  hostid?: number;
}

export class PacketFilter {
  rules: CompiledRuleset;
  readonly states: StateEngine;
  readonly interfaces: InterfaceRegistry;
  tables: TableStore;
  readonly counters = new FilterCounters();
  private readonly result = new FilterResult();

  constructor(ruleset: Ruleset, opts: PacketFilterOptions = {}) {
    this.interfaces = opts.interfaces ?? new InterfaceRegistry();
    this.tables = TableStore.forRuleset(ruleset.tables);
    this.rules = compileRuleset(ruleset, { interfaces: this.interfaces, tables: this.tables });
    const o = ruleset.options;
    this.states = new StateEngine({
      limit: o.limits.states,
      hostid: o.hostid ?? opts.hostid,
      seeds: opts.seeds,
      overloadTable: (name) => this.tables.get(name),
    });
    this.states.setRules(ruleset.rules, new TimeoutTable(ruleset, o.limits.states), o.statePolicy === 'if-bound');
  }

  /**
   * Replaces the ruleset atomically; states and persistent tables survive.
   * (The state limit is fixed when the filter starts.)
   */
  reload(ruleset: Ruleset): void {
    const tables = TableStore.forRuleset(ruleset.tables, this.tables);
    const rules = compileRuleset(ruleset, { interfaces: this.interfaces, tables, tags: this.rules.tags });
    this.tables = tables;
    this.rules = rules;
    const o = ruleset.options;
    this.states.setRules(ruleset.rules, new TimeoutTable(ruleset, this.states.table.capacity), o.statePolicy === 'if-bound');
    this.states.recountRules();
  }

  /** Decides one parsed packet. `now` is in seconds. */
  test(m: PacketMeta, direction: number, ifId: number, now: number, v: Verdict): Verdict {
    const c = this.counters;
    c.packets++;
    c.bytes += m.totalLength;
    v.created = false;
    v.state = -1;
    v.log = false;
    v.reply = BlockReply.DROP;
    if (m.error !== 0) {
      c.malformed[m.error]!++;
      return this.block(v, Why.MALFORMED, -1);
    }
    const states = this.states;
    let i = states.lookup(m, ifId, now);
    if (i >= 0 && states.reusable(i, m)) {
      states.remove(i); // pf's state reuse: the SYN goes through the rules again
      i = -1;
    }
    if (i >= 0) {
      const reason = states.track(i, m, now);
      v.rule = states.table.live(i) ? states.table.rule[i]! : -1;
      if (v.rule === 0xffff) v.rule = -1;
      if (reason !== StateReason.PASS) return this.block(v, reasonToWhy[reason] ?? Why.BAD_STATE, v.rule);
      v.state = i;
      v.pass = true;
      v.why = Why.STATE;
      c.passed++;
      c.byWhy[Why.STATE]!++;
      return v;
    }
    const r = evaluate(this.rules, m, direction, ifId, this.result);
    v.rule = r.ruleIndex;
    v.log = r.log;
    if (r.action !== Action.PASS) {
      v.reply = r.reply;
      return this.block(v, Why.RULE, r.ruleIndex);
    }
    if (r.state !== StateKind.NONE && r.rule && !(m.icmpIsError && m.icmpType >= 0)) {
      const s = states.create(m, direction, ifId, r.rule, now);
      if (s < 0) return this.block(v, reasonToWhy[-s] ?? Why.STATE_LIMIT, r.ruleIndex);
      this.rules.states[r.ruleIndex]!++;
      v.state = s;
      v.created = true;
    }
    v.pass = true;
    v.why = Why.RULE;
    c.passed++;
    c.byWhy[Why.RULE]!++;
    return v;
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
