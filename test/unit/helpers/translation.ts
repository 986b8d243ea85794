// Loading rules with translations for the rules-*-to tests: the expanded rules,
// their printed lines, the errors as LINE:COL: message, and the print-then-parse check.

import assert from 'node:assert/strict';
import type { Rule } from '../../../src/rules/ast.js';
import { formatRule } from '../../../src/rules/canonical.js';
import { parseRuleset } from '../../../src/rules/rule-parser.js';
import { TEST_INTERFACES } from './filter-harness.js';

export function loadRules(text: string): Rule[] {
  const { ruleset, diagnostics } = parseRuleset(text, { file: 'pf.conf', interfaces: TEST_INTERFACES });
  const errs = diagnostics.filter((d) => d.severity === 'error');
  assert.ok(ruleset, errs.map((d) => `${d.loc.line}:${d.loc.col}: ${d.message}`).join('\n'));
  return ruleset.rules;
}

/** The rules as `tunpf check -v` prints them, without the @N. */
export function printed(text: string): string[] {
  return loadRules(text).map((r) => formatRule(r));
}

export function translationErrors(text: string): string[] {
  const { ruleset, diagnostics } = parseRuleset(text, { file: 'pf.conf', interfaces: TEST_INTERFACES });
  const errs = diagnostics.filter((d) => d.severity === 'error');
  if (errs.length) assert.equal(ruleset, null, 'no ruleset when there are errors');
  return errs.map((d) => `${d.loc.line}:${d.loc.col}: ${d.message}`);
}

/** What must survive printing: everything but the number, the place and how `all` was written. */
function meaning(r: Rule): Omit<Rule, 'nr' | 'loc' | 'all'> {
  const { nr: _nr, loc: _loc, all: _all, ...rest } = r;
  return rest;
}

/** Each printed rule parses back to one rule that means the same and prints the same. */
export function assertRoundTrip(text: string): void {
  for (const rule of loadRules(text)) {
    const line = formatRule(rule);
    const again = loadRules(line);
    assert.equal(again.length, 1, `${line} reads back as ${again.length} rules`);
    assert.equal(formatRule(again[0]!), line);
    assert.deepEqual(meaning(again[0]!), meaning(rule), line);
  }
}
