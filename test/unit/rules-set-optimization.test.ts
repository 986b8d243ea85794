// `set optimization` as pfctl_set_optimization: the hint's TCP timeouts are set
// where the line stands, so a later `set timeout` wins and an earlier one is
// replaced; unknown names (and debug levels, ruleset optimizations) are errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleset } from '../../src/rules/rule-parser.js';

const timeouts = (text: string) => {
  const r = parseRuleset(text, { file: 't.conf' });
  assert.ok(r.ruleset, JSON.stringify(r.diagnostics));
  const t = r.ruleset.options.timeouts;
  return [t['tcp.first'], t['tcp.established'], t['tcp.closed'], t['tcp.tsdiff'], t['udp.first']];
};

test('each optimization sets its TCP timeouts and leaves the others', () => {
  assert.deepEqual(timeouts('set optimization aggressive\n'), [30, 18000, 30, 10, undefined]);
  assert.deepEqual(timeouts('set optimization conservative\n'), [3600, 432000, 180, 60, undefined]);
  assert.deepEqual(timeouts('set optimization high-latency\n'), [180, 86400, 95, 60, undefined]);
  assert.deepEqual(timeouts('set optimization satellite\n'), [180, 86400, 95, 60, undefined]);
  assert.deepEqual(timeouts('set optimization normal\n'), [120, 86400, 90, 30, undefined]);
});

test('file order decides between set optimization and set timeout', () => {
  assert.deepEqual(timeouts('set optimization aggressive\nset timeout tcp.first 77\n').slice(0, 2), [77, 18000]);
  assert.deepEqual(timeouts('set timeout tcp.first 77\nset optimization aggressive\n').slice(0, 2), [30, 18000]);
});

test('unknown optimizations, debug levels and ruleset optimizations are errors at the value', () => {
  const errors = (text: string) => parseRuleset(text, { file: 't.conf' }).diagnostics.map((d) => d.message);
  assert.match(errors('set optimization fast\n')[0]!, /^unknown optimization 'fast' \(normal, satellite/);
  assert.match(errors('set debug loud\n')[0]!, /^unknown debug level 'loud'/);
  assert.match(errors('set ruleset-optimization max\n')[0]!, /none, basic or profile/);
});
