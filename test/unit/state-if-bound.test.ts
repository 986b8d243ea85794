// set state-policy if-bound: a state belongs to its interface, so a forwarded
// flow has one state on the way in and one on the way out, as in pf; a
// packet of the flow on a third interface matches neither.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Flow, TcpPair } from './helpers/flow.js';

const RULES = 'set state-policy if-bound\nblock all\npass in on lan proto tcp from 192.168.1.0/24 to any\npass out on wan proto tcp all';

test('if-bound: a state per interface, and no match on another interface', () => {
  const f = new Flow(RULES);
  const c = new TcpPair();
  const syn = c.c('S');
  assert.equal(f.outcome(syn, 'in', 'lan'), 'pass:new');
  assert.equal(f.outcome(syn, 'out', 'wan'), 'pass:new', 'the out check makes its own state on wan');
  assert.equal(f.filter.states.table.count, 2);
  const synack = c.s('SA');
  assert.equal(f.outcome(synack, 'in', 'wan'), 'pass:state');
  assert.equal(f.outcome(synack, 'out', 'lan'), 'pass:state');
  assert.equal(f.outcome(c.c('A'), 'in', 'dmz'), 'block:rule', 'no state of this flow is bound to dmz');
});

test('floating (the default): one state serves every interface', () => {
  const f = new Flow(RULES.replace('if-bound', 'floating'));
  const c = new TcpPair();
  const syn = c.c('S');
  assert.equal(f.outcome(syn, 'in', 'lan'), 'pass:new');
  assert.equal(f.outcome(syn, 'out', 'wan'), 'pass:state');
  assert.equal(f.filter.states.table.count, 1);
});

test('the if-bound state option overrides a floating policy', () => {
  const f = new Flow('block all\npass in on lan proto tcp all keep state (if-bound)\npass out on wan proto tcp all');
  const syn = new TcpPair().c('S');
  f.send(syn, 'in', 'lan');
  assert.equal(f.outcome(syn, 'out', 'wan'), 'pass:new');
  assert.equal(f.filter.states.table.count, 2);
});
