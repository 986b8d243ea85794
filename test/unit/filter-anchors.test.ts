// Anchors evaluated in place, as pf_match_rule / pf_step_into_anchor do:
// last match wins across the anchor boundary, quick inside ends everything,
// a quick anchor rule ends the walk only when a rule directly in it decided,
// `name/*` walks the children in name order.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp } from '../../src/packet/build.js';
import { Direction } from '../../src/packet/meta.js';
import { Harness } from './helpers/filter-harness.js';

const syn = (dport: number, src = '192.168.1.10') =>
  buildTcp({ src, dst: '203.0.113.5', sport: 40000, dport, flags: 'S' });

function decide(h: Harness, dport: number, src?: string) {
  const r = h.test(syn(dport, src), Direction.IN, 'lan');
  const path = r.result.list === h.rs ? '' : (h.rs.anchors.all().find((a) => a === r.result.list)?.path ?? '?');
  return { action: r.action, where: r.rule < 0 ? 'default' : `${path}@${r.rule}` };
}

test('an anchor rule evaluates its ruleset in place; the last match wins across it', () => {
  const h = new Harness('block all\nanchor "a" {\n  pass in proto tcp to port 22\n}\nblock in proto tcp to port 22\n');
  assert.deepEqual(decide(h, 22), { action: 'block', where: '@2' });
  const g = new Harness('block all\nanchor "a" {\n  pass in proto tcp to port 22\n}\n');
  assert.deepEqual(decide(g, 22), { action: 'pass', where: 'a@0' });
  assert.deepEqual(decide(g, 23), { action: 'block', where: '@0' });
});

test('quick inside an anchor ends the whole evaluation', () => {
  const h = new Harness('anchor "a" {\n  pass in quick proto tcp to port 22\n}\nblock all\n');
  assert.deepEqual(decide(h, 22), { action: 'pass', where: 'a@0' });
  assert.deepEqual(decide(h, 80), { action: 'block', where: '@1' });
});

test('a quick anchor rule stops after its anchor only when a rule in it decided', () => {
  const h = new Harness(
    'block all\nanchor "a" quick {\n  pass in proto tcp to port 22\n  match in tag X\n}\nblock in all\n',
  );
  assert.deepEqual(decide(h, 22), { action: 'pass', where: 'a@0' });
  // only a match rule matched inside: evaluation goes on
  assert.deepEqual(decide(h, 80), { action: 'block', where: '@2' });
});

test("a quick anchor rule does not stop for a decision made in an anchor nested in it (pf's am)", () => {
  const text = 'anchor "a" quick {\n  anchor "b" {\n    pass in proto tcp to port 22\n  }\n}\nblock in all\n';
  assert.deepEqual(decide(new Harness(text), 22), { action: 'block', where: '@1' });
});

test('quick in a nested anchor ends everything', () => {
  const text = 'anchor "a" {\n  anchor "b" {\n    pass in quick proto tcp to port 22\n  }\n  block all\n}\nblock all\n';
  assert.deepEqual(decide(new Harness(text), 22), { action: 'pass', where: 'a/b@0' });
});

test("the anchor rule's criteria decide whether its anchor is entered", () => {
  const h = new Harness('block all\nanchor "ssh" in on lan proto tcp from 192.168.1.0/24 {\n  pass all\n}\n');
  assert.deepEqual(decide(h, 22), { action: 'pass', where: 'ssh@0' });
  assert.deepEqual(decide(h, 22, '10.1.1.1'), { action: 'block', where: '@0' });
  const wan = h.test(syn(22), Direction.IN, 'wan');
  assert.equal(wan.action, 'block');
});

test('anchor "name/*" evaluates the children in name order, quick stopping at the first', () => {
  const text = [
    'block all',
    'anchor "r/*"',
    'anchor "r/b" out {',
    '  pass in quick proto tcp to port 22',
    '}',
    'anchor "r/a" out {',
    '  block in quick proto tcp to port 22',
    '  pass in proto tcp to port 80',
    '}',
    '',
  ].join('\n');
  // the out-only anchor rules never match an inbound packet: only the wildcard enters r/a and r/b
  const h = new Harness(text);
  assert.deepEqual(decide(h, 22), { action: 'block', where: 'r/a@0' });
  assert.deepEqual(decide(h, 80), { action: 'pass', where: 'r/a@1' });
});

test('skip steps stay correct around anchor rules', () => {
  const text = [
    'block in on lan proto tcp to port 22',
    'anchor "x" in on lan proto tcp to port 22 {',
    '  pass in proto tcp',
    '}',
    'block in on lan proto tcp from 10.0.0.0/8 to port 22',
    'block in on wan all',
    '',
  ].join('\n');
  const h = new Harness(text);
  assert.deepEqual(decide(h, 22), { action: 'pass', where: 'x@0' });
  assert.deepEqual(decide(h, 22, '10.0.0.1'), { action: 'block', where: '@2' });
  assert.deepEqual(decide(h, 23), { action: 'pass', where: 'default' });
});

test('tags set in an anchor are seen after it', () => {
  const h = new Harness('anchor "t" {\n  match in proto tcp tag T\n}\nblock in tagged T\n');
  assert.deepEqual(decide(h, 22), { action: 'block', where: '@1' });
});

test('each anchor counts its own rules', () => {
  const h = new Harness('anchor "a" {\n  pass in proto tcp\n}\n');
  decide(h, 22);
  decide(h, 23);
  const a = h.rs.anchors.get('a')!;
  assert.equal(a.packets[0], 2);
  assert.equal(h.rs.evaluations[0], 2);
});
