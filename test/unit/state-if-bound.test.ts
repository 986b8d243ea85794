// set state-policy if-bound: a state belongs to its interface, so a forwarded
// flow has one state on the way in and one on the way out, as in pf; a
// packet of the flow on a third interface matches neither.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Flow, TcpPair } from './helpers/flow.js';
import { Direction } from '../../src/packet/meta.js';

const RULES =
  'set state-policy if-bound\n' +
  'block all\n' +
  'pass in on lan proto tcp from 192.168.1.0/24 to any\n' +
  'pass out on wan proto tcp all';

test('if-bound: a state per interface, and no match on another interface', () => {
  const f = new Flow(RULES);
  const c = new TcpPair();
  const syn = c.c('S');
  assert.equal(f.outcome(syn, Direction.IN, 'lan'), 'pass:new');
  assert.equal(f.outcome(syn, Direction.OUT, 'wan'), 'pass:new', 'the out check makes its own state on wan');
  assert.equal(f.states.table.count, 2);
  const synack = c.s('SA');
  assert.equal(f.outcome(synack, Direction.IN, 'wan'), 'pass:state');
  assert.equal(f.outcome(synack, Direction.OUT, 'lan'), 'pass:state');
  assert.equal(f.outcome(c.c('A'), Direction.IN, 'dmz'), 'block:rule', 'no state of this flow is bound to dmz');
});

test('floating (the default): a state per direction, as pf, and each matches on any interface', () => {
  const f = new Flow(RULES.replace('if-bound', 'floating'));
  const c = new TcpPair();
  const syn = c.c('S');
  assert.equal(f.outcome(syn, Direction.IN, 'lan'), 'pass:new');
  assert.equal(
    f.outcome(syn, Direction.OUT, 'wan'),
    'pass:new',
    'the out check decides for itself: pass out on wan makes the second state',
  );
  assert.equal(f.states.table.count, 2);
  const synack = c.s('SA');
  assert.equal(
    f.outcome(synack, Direction.IN, 'dmz'),
    'pass:state',
    'floating: the outbound state matches its reply on any interface',
  );
  assert.equal(
    f.outcome(synack, Direction.OUT, 'lan'),
    'pass:state',
    'and the inbound one the reply leaving for the client',
  );
});

test('an out check is not passed by the state of the in check: block out on wan blocks a forwarded flow', () => {
  const f = new Flow(
    'block all\npass in on lan proto tcp all\npass out on wan proto tcp\nblock out on wan proto tcp to port 25',
  );
  const smtp = new TcpPair('192.168.1.10', '203.0.113.5', 40000, 25).c('S');
  assert.equal(f.outcome(smtp, Direction.IN, 'lan'), 'pass:new');
  assert.equal(f.outcome(smtp, Direction.OUT, 'wan'), 'block:rule');
  const web = new TcpPair('192.168.1.10', '203.0.113.5', 40001, 443).c('S');
  assert.equal(f.outcome(web, Direction.IN, 'lan'), 'pass:new');
  assert.equal(f.outcome(web, Direction.OUT, 'wan'), 'pass:new');
});

test('the if-bound state option overrides a floating policy', () => {
  const f = new Flow('block all\npass in on lan proto tcp all keep state (if-bound)\npass out on wan proto tcp all');
  const syn = new TcpPair().c('S');
  f.send(syn, Direction.IN, 'lan');
  assert.equal(f.outcome(syn, Direction.OUT, 'wan'), 'pass:new');
  assert.equal(f.states.table.count, 2);
});
