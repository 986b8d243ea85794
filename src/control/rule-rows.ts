// Rules as operators see them: `show rules` and `anchor show rules` rows
// (one builder for both), and the rule a state or verdict names by its id
// (ids run across the main ruleset and then every anchor, see
// filter/compile-rules.ts numberRules), as an anchor path and that
// ruleset's own rule number.

import type { RuleList } from '../filter/anchors.js';
import type { CompiledRule, CompiledRuleset } from '../filter/compile-rules.js';
import type { Rule } from '../rules/ast.js';
import { formatRule, printContextOf } from '../rules/canonical.js';
import type { StateEngine } from '../state/state-engine.js';
import type { RuleInfo } from './results.js';

/** A rule list's rows with their counters; `states` counts the states each rule holds now. */
export function ruleRows(list: RuleList<CompiledRule>, rules: CompiledRuleset, states: StateEngine): RuleInfo[] {
  const context = printContextOf(rules.ruleset);
  return list.rules.map((c, k) => ({
    nr: c.nr,
    text: formatRule(c.rule, context),
    label: c.rule.label,
    action: c.rule.action,
    evaluations: list.evaluations[k]!,
    packets: list.packets[k]!,
    bytes: list.bytes[k]!,
    states: states.perRule[c.id] ?? 0,
    stateCreations: list.states[k]!,
  }));
}

/** A rule found by id: the anchor it is in ('' for the main ruleset) and its number there. */
export interface NamedRule {
  anchor: string;
  nr: number;
  rule: Rule;
}

/** Looks rules up by id; made once per query, so each lookup is an index. */
export function rulesById(rules: CompiledRuleset): (id: number) => NamedRule | undefined {
  const byId: NamedRule[] = [];
  for (const c of rules.rules) byId[c.id] = { anchor: '', nr: c.nr, rule: c.rule };
  for (const node of rules.anchors.all())
    for (const c of node.rules) byId[c.id] = { anchor: node.path, nr: c.nr, rule: c.rule };
  return (id) => (id >= 0 ? byId[id] : undefined);
}

/** How a rule is named in text: `@3`, or `@0 in anchor relay/web`. */
export function ruleName(r: NamedRule): string {
  return r.anchor ? `@${r.nr} in anchor ${r.anchor}` : `@${r.nr}`;
}
