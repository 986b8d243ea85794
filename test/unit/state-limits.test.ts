import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildUdp } from '../../src/packet/build.js';
import { parseAddress } from '../../src/packet/address.js';
import { Flow, TcpPair } from './helpers/flow.js';

const udp = (src: string, sport: number) => buildUdp({ src, dst: '10.9.9.9', sport, dport: 53 });

test('set limit states: the table refuses new states at the limit and counts it', () => {
  const f = new Flow('set limit states 10\npass all');
  for (let k = 0; k < 10; k++) assert.equal(f.outcome(udp('10.0.0.1', 1000 + k)), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.1', 2000)), 'block:state-limit');
  assert.equal(f.outcome(udp('10.0.0.1', 1000)), 'pass:state', 'existing states still work');
  assert.equal(f.states.counters.byReason[2], 1);
  assert.equal(f.states.table.count, 10);
});

test('per-rule max', () => {
  const f = new Flow('pass proto udp from 10.0.0.0/24 keep state (max 3)\npass proto udp from 10.0.1.0/24');
  for (let k = 0; k < 3; k++) f.send(udp('10.0.0.1', 1000 + k));
  assert.equal(f.outcome(udp('10.0.0.1', 1100)), 'block:rule-limit');
  assert.equal(f.outcome(udp('10.0.1.1', 1100)), 'pass:new', 'another rule is not limited');
  assert.equal(f.states.table.rule[0], 0, 'state 0 belongs to the limited rule');
  f.states.remove(0);
  assert.equal(f.outcome(udp('10.0.0.1', 1101)), 'pass:new', 'a freed slot can be used again');
});

test('max-src-states limits states per source address', () => {
  const f = new Flow('pass proto udp all keep state (max-src-states 2)');
  f.send(udp('10.0.0.1', 1));
  f.send(udp('10.0.0.1', 2));
  assert.equal(f.outcome(udp('10.0.0.1', 3)), 'block:src-limit');
  assert.equal(f.outcome(udp('10.0.0.2', 3)), 'pass:new');
});

function connect(f: Flow, client: string, cport: number): TcpPair {
  const c = new TcpPair(client, '10.9.9.9', cport, 22);
  f.send(c.c('S'));
  f.send(c.s('SA'));
  f.send(c.c('A'));
  return c;
}

test('max-src-conn with overload <table> flush: the abuser is listed and its states go', () => {
  const f = new Flow(
    'table <abusers> persist\n' +
      'block quick from <abusers>\n' +
      'pass proto tcp to port 22 keep state (max-src-conn 2, overload <abusers> flush)',
  );
  connect(f, '10.0.0.7', 1001);
  connect(f, '10.0.0.7', 1002);
  assert.equal(f.states.table.count, 2);
  const c3 = new TcpPair('10.0.0.7', '10.9.9.9', 1003, 22);
  f.send(c3.c('S'));
  f.send(c3.s('SA'));
  assert.equal(f.outcome(c3.c('A')), 'block:src-limit', 'the third established connection breaks the limit');
  const table = f.filter.tables.get('abusers')!;
  assert.equal(table.contains(4, parseAddress('10.0.0.7')!.words), true);
  assert.equal(f.states.table.count, 0, "flush removed the source's states");
  assert.equal(
    f.outcome(new TcpPair('10.0.0.7', '10.9.9.9', 1004, 22).c('S')),
    'block:rule',
    'now blocked by the table',
  );
  connect(f, '10.0.0.8', 1001);
  assert.equal(f.states.table.count, 1, 'others are not affected');
});

test('max-src-conn-rate: too many connections in the period', () => {
  const f = new Flow(
    'table <fast> persist\npass proto tcp to port 22 keep state (max-src-conn-rate 3/10, overload <fast>)',
  );
  for (let k = 0; k < 3; k++) connect(f, '10.0.0.9', 2000 + k);
  assert.equal(f.states.table.count, 3);
  const c = new TcpPair('10.0.0.9', '10.9.9.9', 2010, 22);
  f.send(c.c('S'));
  f.send(c.s('SA'));
  assert.equal(f.outcome(c.c('A')), 'block:src-limit');
  assert.equal(f.filter.tables.get('fast')!.contains(4, parseAddress('10.0.0.9')!.words), true);
  // after the period the rate has decayed
  const g = new Flow('pass proto tcp to port 22 keep state (max-src-conn-rate 3/10)');
  for (let k = 0; k < 3; k++) connect(g, '10.0.0.9', 2000 + k);
  g.now += 11;
  connect(g, '10.0.0.9', 2100);
  assert.equal(g.filter.counters.byWhy[6], 0, 'no source-limit drop after the period');
});

test('max-src-nodes limits how many sources hold states of a rule', () => {
  const f = new Flow('pass proto udp all keep state (max-src-nodes 2)');
  assert.equal(f.outcome(udp('10.0.0.1', 1)), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.2', 1)), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.1', 2)), 'pass:new', 'a known source may add states');
  assert.equal(f.outcome(udp('10.0.0.3', 1)), 'block:src-limit');
  f.states.flush();
  assert.equal(f.outcome(udp('10.0.0.3', 1)), 'pass:new', 'sources free their place when their states go');
});
