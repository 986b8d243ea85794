// A state names its rule in 16 bits: a ruleset (main and anchors together)
// beyond MAX_RULES is refused where it is read, at the first rule that does
// not fit, and an anchor loaded at run time that would overflow is refused
// with the running rules kept.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { MAX_RULES } from '../../src/rules/ast.js';
import { PacketFilter } from '../../src/filter/packet-filter.js';
import { StateEngine } from '../../src/state/state-engine.js';

const hosts = (n: number) => `{ ${Array.from({ length: n }, (_, k) => `10.0.${k >> 8}.${k & 255}`).join(', ')} }`;
const ports = (n: number) => `{ ${Array.from({ length: n }, (_, k) => 1000 + k).join(', ')} }`;

test('a ruleset that expands beyond the limit is an error at the rule that crosses it', () => {
  // 1 + 256 x 256 = 65537 rules: line 2 crosses the limit
  const r = parseRuleset(`block all\npass in proto tcp from ${hosts(256)} to any port ${ports(256)}\n`, {
    file: 'big.conf',
  });
  assert.equal(MAX_RULES, 65535);
  assert.equal(r.ruleset, null);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /too many rules: tunpf holds at most 65535/);
  assert.equal(errors[0]!.loc.line, 2);
});

test('exactly the limit loads; anchors count after the main ruleset', () => {
  const fits = parseRuleset(`pass in proto tcp from ${hosts(255)} to any port ${ports(257)}\n`, { file: 'a.conf' });
  assert.ok(fits.ruleset, 'a ruleset of 65535 rules loads');
  assert.equal(fits.ruleset.rules.length, 65535);
  // 254 x 258 + 2 = 65534 main rules, then two in the anchor: its second is one too many
  const main = `pass in proto tcp from ${hosts(254)} to any port ${ports(258)}\npass all\n`;
  const text = `${main}anchor "x" {\n  pass in all\n  block in all\n}\n`;
  const over = parseRuleset(text, { file: 'b.conf' });
  assert.equal(over.ruleset, null);
  const e = over.diagnostics.find((d) => d.severity === 'error')!;
  assert.deepEqual([e.loc.line, /too many rules/.test(e.message)], [5, true]);
});

test('an anchor loaded at run time that would overflow is refused; the anchor keeps its rules', () => {
  // 65532 + 2 main rules: room for one rule in anchors
  const base = parseRuleset(`pass in proto tcp from ${hosts(254)} to any port ${ports(258)}\npass all\nanchor "x"\n`, {
    file: 'c.conf',
  });
  assert.ok(base.ruleset);
  const states = StateEngine.forRuleset(base.ruleset, { startSeconds: 0 });
  const f = new PacketFilter(base.ruleset, { states });
  const loc = { file: 'x.conf', line: 1, col: 1 };
  const rule = base.ruleset.rules[0]!;
  f.loadAnchor({ path: 'x', rules: [rule], loc });
  assert.equal(f.rules.anchors.get('x')!.count, 1, 'the last free number');
  assert.throws(() => f.loadAnchor({ path: 'x', rules: [rule, rule], loc }), /too many rules: 65536/);
  assert.equal(f.rules.anchors.get('x')!.count, 1);
  assert.throws(() => f.reload({ ...base.ruleset!, rules: [...base.ruleset!.rules, rule] }), RangeError);
  assert.equal(f.rules.count, 65534, 'the running main ruleset stays');
});
