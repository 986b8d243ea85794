// Which packets a ruleset logs, and under which rule, action and reason:
// pf's `log`, `log (all)`, `log (matches)` and match rules, packets of
// states, limits, and what is never logged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pfReasonOf, Verdict, Why } from '../../src/filter/packet-filter.js';
import { MAX_LOG_RECORDS } from '../../src/filter/log-records.js';
import { buildUdp } from '../../src/packet/build.js';
import { Direction, ParseError } from '../../src/packet/meta.js';
import { PfActionName, PfReason, PfReasonName } from '../../src/packet/pflog.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { Flow, TcpPair } from './helpers/flow.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';

/** The verdict's log records as "rule:action:reason". */
function records(v: Verdict): string[] {
  assert.equal(v.log, v.logs.count > 0, 'the flag says whether there are records');
  return Array.from(
    { length: v.logs.count },
    (_, k) => `${v.logs.rule[k]}:${PfActionName[v.logs.action[k]!]}:${PfReasonName[v.logs.reason[k]!]}`,
  );
}

const udp = (sport: number, dport = 53, src = '192.168.1.10') => buildUdp({ src, dst: '203.0.113.5', sport, dport });

test('log on the deciding rule: blocked packets, and only the packet that creates a state', () => {
  const f = new Flow('block log all\npass in on lan proto tcp to port 80\npass in log on lan proto tcp to port 443\n');
  const c = new TcpPair('192.168.1.10', '203.0.113.5', 40000, 22);
  assert.deepEqual(records(f.send(c.c('S'))), ['0:block:match']);
  const web = new TcpPair('192.168.1.10', '203.0.113.5', 40001, 80);
  assert.deepEqual(records(f.send(web.c('S'))), [], 'the deciding rule does not log');
  const tls = new TcpPair('192.168.1.10', '203.0.113.5', 40002, 443);
  assert.deepEqual(records(f.send(tls.c('S'))), ['2:pass:match']);
  assert.equal(f.verdict.created, true);
  assert.deepEqual(records(f.send(tls.s('SA'), Direction.OUT, 'lan')), [], 'later packets of the state are not logged');
  assert.deepEqual(records(f.send(tls.c('A'))), []);
});

test('log (all): every packet of the states the rule creates, the ones tracking drops too', () => {
  const f = new Flow('pass in log (all) on lan proto tcp to port 443\npass in on lan proto tcp to port 80\n');
  const tls = new TcpPair('192.168.1.10', '203.0.113.5', 40002, 443);
  assert.deepEqual(records(f.send(tls.c('S'))), ['0:pass:match']);
  assert.deepEqual(records(f.send(tls.s('SA'), Direction.OUT, 'lan')), ['0:pass:match']);
  assert.deepEqual(records(f.send(tls.c('A'))), ['0:pass:match']);
  const forged = new TcpPair('203.0.113.5', '192.168.1.10', 443, 40002, (tls.sseq + 5_000_000) >>> 0);
  const v = f.send(forged.c('R'), Direction.OUT, 'lan');
  assert.equal(v.why, Why.BAD_STATE);
  assert.deepEqual(records(v), ['0:block:state-mismatch']);
  const web = new TcpPair('192.168.1.10', '203.0.113.5', 40001, 80);
  f.send(web.c('S'));
  assert.deepEqual(records(f.send(web.s('SA'), Direction.OUT, 'lan')), [], "another rule's state logs nothing");
});

test('a state keeps its log (all) across a reload, as pf keeps the flag in the state', () => {
  const f = new Flow('pass log (all) proto udp\n');
  f.send(udp(5000));
  f.filter.reload(parseRuleset('pass proto udp\n', { file: 'r.conf', interfaces: TEST_INTERFACES }).ruleset!);
  assert.deepEqual(records(f.send(udp(5000))), ['0:pass:match']);
  assert.deepEqual(records(f.send(udp(5001))), [], 'a new state under the new ruleset does not log');
});

test('match log logs when the match rule matches; the deciding rule logs on its own', () => {
  const f = new Flow('match in log proto udp\npass in proto udp\npass in log proto udp to port 123\n');
  assert.deepEqual(records(f.send(udp(1000))), ['0:match:match']);
  assert.deepEqual(records(f.send(udp(1001, 123))), ['0:match:match', '2:pass:match']);
});

test('log (matches): every later matching rule logs the packet, overridden ones included', () => {
  const f = new Flow(
    'pass in proto udp\n' +
      'match in log (matches) proto udp\n' +
      'block in proto udp\n' +
      'match in proto udp to port 53\n' +
      'pass in proto udp to port 53\n' +
      'block in proto tcp\n',
  );
  assert.deepEqual(records(f.send(udp(1000))), ['1:match:match', '2:block:match', '3:match:match', '4:pass:match']);
  assert.deepEqual(records(f.send(udp(1000, 54))), ['1:match:match', '2:block:match'], 'the deciding block rule once');
  const g = new Flow('match in log (matches) proto udp\n');
  assert.deepEqual(
    records(g.send(udp(1000))),
    ['0:match:match', '-1:pass:match'],
    "pf's default rule when nothing decides",
  );
});

test('log (all) on a match rule: the state logs its packets under its own rule', () => {
  const f = new Flow('match in log (all) proto udp\npass proto udp\n');
  assert.deepEqual(records(f.send(udp(1000))), ['0:match:match']);
  assert.deepEqual(records(f.send(udp(1000))), ['1:pass:match']);
});

test('a state that a limit refuses: the record says block and why', () => {
  const f = new Flow('set limit states 1\npass log proto udp\n');
  assert.deepEqual(records(f.send(udp(1000))), ['0:pass:match']);
  assert.deepEqual(records(f.send(udp(1001))), ['0:block:state-limit']);
  const g = new Flow('pass log proto udp keep state (max 1)\n');
  g.send(udp(1000));
  assert.deepEqual(records(g.send(udp(1001))), ['0:block:state-limit']);
  const h = new Flow('pass log proto udp keep state (max-src-states 1)\n');
  h.send(udp(1000));
  assert.deepEqual(records(h.send(udp(1001))), ['0:block:src-limit']);
});

test('never logged: rules without log, malformed packets', () => {
  const f = new Flow('block log all\npass in proto udp\n');
  assert.deepEqual(records(f.send(udp(1000))), []);
  const meta = f.meta;
  meta.reset();
  meta.error = ParseError.SHORT;
  const v = f.filter.test(meta, Direction.IN, f.filter.interfaces.id('lan'), f.now, f.verdict);
  assert.equal(v.why, Why.MALFORMED);
  assert.deepEqual(records(v), []);
});

test('more logging rules than a packet holds: the rest are counted', () => {
  const f = new Flow('match log proto udp\n'.repeat(MAX_LOG_RECORDS + 4) + 'pass log proto udp\n');
  assert.equal(records(f.send(udp(1000))).length, MAX_LOG_RECORDS);
  assert.equal(f.filter.counters.logRecordsLost, 5);
});

test("tunpf's reasons in pf's numbers", () => {
  assert.equal(pfReasonOf(Why.RULE), PfReason.MATCH);
  assert.equal(pfReasonOf(Why.STATE), PfReason.MATCH);
  assert.equal(pfReasonOf(Why.BAD_STATE), PfReason.BADSTATE);
  assert.equal(pfReasonOf(Why.STATE_LIMIT), PfReason.MAXSTATES);
  assert.equal(pfReasonOf(Why.RULE_LIMIT), PfReason.MAXSTATES);
  assert.equal(pfReasonOf(Why.SRC_LIMIT), PfReason.SRCLIMIT);
  assert.equal(pfReasonOf(Why.STATE_INSERT), PfReason.STATEINS);
  assert.equal(pfReasonOf(Why.MALFORMED, ParseError.SHORT_L4), PfReason.SHORT);
  assert.equal(pfReasonOf(Why.MALFORMED, ParseError.BAD_OPTIONS), PfReason.IPOPTIONS);
  assert.equal(pfReasonOf(Why.MALFORMED, ParseError.BAD_VERSION), PfReason.NORM);
});
