// `set loginterface`: the filter counts the packets it checks on that
// interface only, by family, direction and verdict, as pf_status keeps them
// for pfctl -si; reloads that change the name zero the counters.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { showInfo } from '../../src/control/filter-commands.js';
import { filterMetrics } from '../../src/control/filter-metrics.js';
import { logCounterIndex } from '../../src/filter/log-interface.js';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { Direction } from '../../src/packet/meta.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';
import { Flow } from './helpers/flow.js';

const RULES = `block all
pass in on lan proto tcp
pass out on wan proto tcp
`;

const syn4 = () => buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1000, dport: 80, flags: 'S' });
const syn6 = () => buildTcp({ src: '2001:db8:1::10', dst: '2001:db8:9::5', sport: 1000, dport: 80, flags: 'S' });
const udp4 = () => buildUdp({ src: '203.0.113.5', dst: '192.168.1.10', sport: 53, dport: 5353 });

function reload(f: Flow, text: string): void {
  const { ruleset } = parseRuleset(text, { file: 'reload.conf', interfaces: TEST_INTERFACES });
  assert.ok(ruleset);
  f.filter.reload(ruleset);
}

/** The counters as [packets, bytes] at one index. */
function at(f: Flow, af: number, out: boolean, blocked: boolean): [number, number] {
  const li = f.filter.logInterface;
  const k = logCounterIndex(af, out, blocked);
  return [li.packets[k]!, li.bytes[k]!];
}

const total = (f: Flow) => f.filter.logInterface.packets.reduce((a, b) => a + b, 0);

test('only the log interface is counted, by family, direction and verdict', () => {
  const f = new Flow(`set loginterface wan\n${RULES}`);
  assert.equal(f.outcome(syn4(), Direction.IN, 'lan'), 'pass:new');
  assert.equal(total(f), 0, 'lan is not the log interface');
  assert.equal(f.outcome(syn4(), Direction.OUT, 'wan'), 'pass:new');
  assert.equal(f.outcome(syn6(), Direction.OUT, 'wan'), 'pass:new');
  assert.equal(f.outcome(udp4(), Direction.IN, 'wan'), 'block:rule');
  assert.equal(f.outcome(udp4(), Direction.OUT, 'wan'), 'block:rule');
  assert.deepEqual(at(f, 4, true, false), [1, 40]);
  assert.deepEqual(at(f, 6, true, false), [1, 60]);
  assert.deepEqual(at(f, 4, false, true), [1, 28]);
  assert.deepEqual(at(f, 4, true, true), [1, 28]);
  assert.equal(total(f), 4);
});

test('without loginterface nothing is counted', () => {
  const f = new Flow(RULES);
  assert.equal(f.filter.logInterface.nameId, -1);
  f.outcome(syn4(), Direction.OUT, 'wan');
  f.outcome(udp4(), Direction.IN, 'wan');
  assert.equal(total(f), 0);
});

test('a group counts its members; a name not yet known is counted once it appears', () => {
  const g = new Flow(`set loginterface egress\n${RULES}`);
  g.outcome(syn4(), Direction.OUT, 'wan');
  g.outcome(syn4(), Direction.IN, 'lan');
  assert.deepEqual(at(g, 4, true, false), [1, 40]);
  assert.equal(total(g), 1);

  const f = new Flow(`set loginterface tun9\nblock all\npass on tun9`);
  // the datapath interns a new interface's name when it comes up: the same id the option holds
  assert.equal(f.filter.interfaces.intern('tun9'), f.filter.logInterface.nameId);
  assert.equal(f.outcome(udp4(), Direction.IN, 'tun9'), 'pass:new');
  assert.deepEqual(at(f, 4, false, false), [1, 28]);
});

test('reload: the same name keeps the counters, another or none zeroes them', () => {
  const f = new Flow(`set loginterface wan\n${RULES}`);
  f.outcome(syn4(), Direction.OUT, 'wan');
  reload(f, `set loginterface wan\n${RULES}`);
  assert.equal(total(f), 1, 'unchanged name: counters kept');
  reload(f, `set loginterface lan\n${RULES}`);
  assert.equal(total(f), 0, 'a new name starts from zero');
  f.outcome(syn4(), Direction.OUT, 'wan');
  assert.equal(total(f), 0, 'wan no longer counted');
  f.outcome(syn4(), Direction.IN, 'lan');
  assert.deepEqual(at(f, 4, false, false), [1, 40]);
  reload(f, RULES);
  assert.equal(f.filter.logInterface.name, null);
  assert.equal(total(f), 0);
  f.outcome(syn4(), Direction.IN, 'lan');
  assert.equal(total(f), 0, 'cleared: nothing counted');
});

test('show info and metrics carry the counters, with the interface as a label', () => {
  const f = new Flow(`set loginterface wan\n${RULES}`);
  const ctx = {
    filter: () => f.filter,
    states: f.states,
    forwardCounters: () => null,
    now: () => f.now,
    startedAt: f.now - 10,
  };
  assert.equal(showInfo(ctx).loginterface?.name, 'wan');
  f.outcome(syn4(), Direction.OUT, 'wan');
  f.outcome(syn6(), Direction.OUT, 'wan');
  f.outcome(udp4(), Direction.IN, 'wan');
  const li = showInfo(ctx).loginterface!;
  assert.deepEqual(li.ipv4, {
    bytesIn: 28,
    bytesOut: 40,
    packetsInPassed: 0,
    packetsInBlocked: 1,
    packetsOutPassed: 1,
    packetsOutBlocked: 0,
  });
  assert.equal(li.ipv6.bytesOut, 60);
  assert.equal(li.ipv6.packetsOutPassed, 1);
  const families = filterMetrics(ctx)();
  const packets = families.find((m) => m.name === 'tunpf_loginterface_packets_total')!;
  const sample = packets.samples.find(
    (s) => s.labels?.['family'] === 'ipv4' && s.labels['direction'] === 'in' && s.labels['verdict'] === 'block',
  );
  assert.deepEqual(sample, {
    labels: { interface: 'wan', family: 'ipv4', direction: 'in', verdict: 'block' },
    value: 1,
  });
  const bytes = families.find((m) => m.name === 'tunpf_loginterface_bytes_total')!;
  assert.equal(bytes.samples.length, 4);

  reload(f, RULES);
  assert.equal(showInfo(ctx).loginterface, null);
  assert.ok(!filterMetrics(ctx)().some((m) => m.name.startsWith('tunpf_loginterface_')));
});
