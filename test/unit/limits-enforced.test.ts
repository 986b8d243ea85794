// `set limit src-nodes`, `tables` and `table-entries` as pf enforces them: new
// source nodes refused at the limit, rulesets and table edits refused when
// their tables would cross, and a reload that changes the limits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as cmd from '../../src/control/filter-commands.js';
import { ErrorCode } from '../../src/control/protocol.js';
import { ControlError } from '../../src/control/server.js';
import { TableLimitError } from '../../src/filter/table-store.js';
import { buildUdp } from '../../src/packet/build.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { StateReason } from '../../src/state/constants.js';
import { SourceTracker } from '../../src/state/source-tracker.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';
import { Flow, TcpPair } from './helpers/flow.js';

const udp = (src: string, sport = 1000) => buildUdp({ src, dst: '10.9.9.9', sport, dport: 53 });
const v4 = (n: number) => [0x0a000000 + n, 0, 0, 0];

function ctxOf(f: Flow): cmd.FilterContext {
  return { filter: () => f.filter, states: f.states, forwardCounters: () => null, now: () => f.now, startedAt: 0 };
}

function parse(text: string, files: Record<string, string> = {}) {
  return parseRuleset(text, { file: 'limits.conf', interfaces: TEST_INTERFACES, readFile: (p) => files[p]! });
}

const refused = (message: RegExp) => (e: unknown) =>
  e instanceof ControlError && e.code === ErrorCode.REFUSED && message.test(e.message);

test('source tracker: no new node beyond its limit; the arrays are sized by the smaller of limit and states', () => {
  const t = new SourceTracker(100, 1, 3);
  assert.equal(t.capacity, 3);
  for (let k = 0; k < 3; k++) assert.ok(t.acquire(4, v4(k)) >= 0);
  assert.equal(t.acquire(4, v4(9)), -1, 'a fourth source is refused');
  assert.equal(t.acquire(4, v4(1)), 1, 'a source that has its node still finds it');
  assert.equal(new SourceTracker(5, 1, 10000).capacity, 5, 'never more nodes than states');
});

test('source tracker: raising the limit grows the arrays and keeps every node; lowering keeps them too', () => {
  const t = new SourceTracker(100, 2, 2);
  const a = t.acquire(4, v4(1));
  const b = t.acquire(6, [0x20010db8, 0, 0, 1]);
  t.states[a] = 3;
  t.conns[b] = 2;
  t.setLimit(50);
  assert.equal(t.capacity, 50);
  assert.equal(t.acquire(4, v4(1)), a);
  assert.equal(t.acquire(6, [0x20010db8, 0, 0, 1]), b);
  assert.equal(t.states[a], 3);
  assert.equal(t.conns[b], 2);
  const ids = new Set([a, b]);
  for (let k = 10; k < 58; k++) {
    const id = t.acquire(4, v4(k));
    assert.ok(id >= 0 && !ids.has(id), 'fresh ids up to the new limit');
    ids.add(id);
  }
  assert.equal(t.acquire(4, v4(99)), -1, 'full at 50');
  t.setLimit(200);
  assert.equal(t.capacity, 100, 'the state limit caps the arrays');
  t.setLimit(10);
  assert.equal(t.size, 50, 'a lower limit drops nobody');
  assert.equal(t.acquire(4, v4(99)), -1, 'but refuses new nodes');
  for (const id of ids) {
    t.states[id] = 0;
    t.release(id);
  }
  assert.equal(t.size, 0);
  for (let k = 0; k < 10; k++) assert.ok(t.acquire(4, v4(200 + k)) >= 0);
  assert.equal(t.acquire(4, v4(300)), -1);
});

test('set limit src-nodes: a state that needs a third node is refused as src-limit, and counted', () => {
  const f = new Flow('set limit src-nodes 2\npass proto udp all keep state (source-track)');
  assert.equal(f.outcome(udp('10.0.0.1')), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.2')), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.3')), 'block:src-limit');
  assert.equal(f.outcome(udp('10.0.0.1', 2000)), 'pass:new', 'a source with a node makes more states');
  assert.equal(f.states.counters.byReason[StateReason.SRC_LIMIT], 1);
  const ctx = ctxOf(f);
  assert.equal(cmd.showInfo(ctx).counters['src-limit'], 1, "pfctl -si's src-limit");
  assert.deepEqual(cmd.showLimits(ctx).limits['src-nodes'], { limit: 2, current: 2 });
});

test('set limit src-nodes: a reload raising it lets new sources in, nodes held stay', () => {
  const f = new Flow('set limit src-nodes 1\npass proto udp all keep state (source-track)');
  assert.equal(f.outcome(udp('10.0.0.1')), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.2')), 'block:src-limit');
  f.filter.reload(parse('set limit src-nodes 3\npass proto udp all keep state (source-track)').ruleset!);
  assert.equal(f.states.sources.size, 1);
  assert.equal(f.outcome(udp('10.0.0.2')), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.3')), 'pass:new');
  assert.equal(f.outcome(udp('10.0.0.4')), 'block:src-limit');
  assert.equal(cmd.showLimits(ctxOf(f)).limits['src-nodes'].limit, 3);
});

test('set limit tables: the table that crosses is an error at its place', () => {
  const r = parse('set limit tables 2\ntable <a> { 10.0.0.1 }\ntable <b> persist\ntable <c> persist\npass from <d>');
  assert.equal(r.ruleset, null);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 1);
  assert.deepEqual([errors[0]!.loc.line, errors[0]!.loc.col], [4, 8]);
  assert.match(errors[0]!.message, /table <c> is table 3: over set limit tables 2/);
  const named = parse('set limit tables 2\ntable <a> persist\npass from <b>\npass from <c>');
  assert.match(named.diagnostics.find((d) => d.severity === 'error')!.message, /<c> is table 3/, 'used ones count');
  assert.ok(parse('set limit tables 3\ntable <a> persist\npass from <b>\npass from <c>').ruleset);
});

test('set limit table-entries: counted across tables, a network is one entry, duplicates once, files too', () => {
  const ok = parse(
    'set limit table-entries 3\ntable <a> { 10.0.0.0/8, 10.0.0.0/8, !10.0.0.0/8 }\ntable <b> { 10.1.1.1, ::1 }',
  );
  assert.ok(ok.ruleset, ok.diagnostics.map((d) => d.message).join('\n'));
  const over = parse('set limit table-entries 3\ntable <a> { 10.0.0.0/8 }\ntable <b> file "b.txt"', {
    'b.txt': '10.1.1.1\n10.1.1.2 10.1.1.3\n',
  });
  assert.equal(over.ruleset, null);
  const e = over.diagnostics.find((d) => d.severity === 'error')!;
  assert.deepEqual([e.loc.file, e.loc.line, e.loc.col], ['limits.conf', 3, 8]);
  assert.match(e.message, /table <b> brings the tables to 4 entries: over set limit table-entries 3/);
});

test('table add: refused past table-entries, nothing changed; a table it would create goes again', () => {
  const f = new Flow('set limit table-entries 3\ntable <a> persist { 10.0.0.1, 10.0.0.2 }\npass all');
  const ctx = ctxOf(f);
  const before = cmd.showTable(ctx, { table: 'a' }).addresses;
  assert.throws(
    () => cmd.tableAdd(ctx, { table: 'a', addresses: ['10.0.0.3', '10.0.0.4'] }),
    refused(/over set limit table-entries 3 \(2 held\); the table is unchanged/),
  );
  assert.deepEqual(cmd.showTable(ctx, { table: 'a' }).addresses, before);
  assert.throws(() => cmd.tableAdd(ctx, { table: 'new', addresses: ['10.1.0.0/16', '10.2.0.0/16'] }), refused(/<new>/));
  assert.equal(f.filter.tables.get('new'), undefined, 'not created');
  assert.equal(cmd.tableAdd(ctx, { table: 'a', addresses: ['10.0.0.1', '10.0.0.3'] }).added, 1, 'up to the limit');
  assert.equal(cmd.tableAdd(ctx, { table: 'a', addresses: ['!10.0.0.3'] }).added, 1, 'negating one adds nothing');
  assert.deepEqual(cmd.showLimits(ctx).limits['table-entries'], { limit: 3, current: 3 });
});

test('table replace: refused past table-entries, nothing changed; its own old entries do not count', () => {
  const f = new Flow(
    'set limit table-entries 3\ntable <a> persist { 10.0.0.1, 10.0.0.2 }\ntable <b> { 10.9.0.1 }\npass all',
  );
  const ctx = ctxOf(f);
  assert.throws(
    () => cmd.tableReplace(ctx, { table: 'a', addresses: ['10.0.0.5', '10.0.0.6', '10.0.0.7'] }),
    refused(/table <a>/),
  );
  assert.deepEqual(cmd.showTable(ctx, { table: 'a' }).addresses, ['10.0.0.1', '10.0.0.2']);
  assert.equal(f.filter.tables.get('a')!.contains(4, Uint32Array.of(0x0a000002, 0, 0, 0)), true, 'still matches');
  assert.deepEqual(cmd.tableReplace(ctx, { table: 'a', addresses: ['10.0.0.5', '10.0.0.6'] }).count, 2);
});

test('table add: a new table past set limit tables is refused', () => {
  const f = new Flow('set limit tables 2\ntable <a> persist\ntable <b> persist\npass all');
  const ctx = ctxOf(f);
  assert.throws(
    () => cmd.tableAdd(ctx, { table: 'c', addresses: ['10.0.0.1'] }),
    refused(/table <c> not created: 2 tables, set limit tables is 2/),
  );
  assert.equal(f.filter.tables.get('c'), undefined);
  assert.equal(
    cmd.tableAdd(ctx, { table: 'a', addresses: ['10.0.0.1'] }).added,
    1,
    'existing tables still take entries',
  );
  assert.deepEqual(cmd.showLimits(ctx).limits.tables, { limit: 2, current: 2 });
});

test('overload past set limit table-entries: the address is not listed, the state still goes', () => {
  const f = new Flow(
    'set limit table-entries 1\ntable <bad> persist { 10.5.5.5 }\n' +
      'pass proto tcp to port 22 keep state (max-src-conn 1, overload <bad>)',
  );
  for (const port of [1001, 1002]) {
    const c = new TcpPair('10.0.0.7', '10.9.9.9', port, 22);
    f.send(c.c('S'));
    f.send(c.s('SA'));
    assert.equal(f.outcome(c.c('A')), port === 1001 ? 'pass:state' : 'block:src-limit');
  }
  const bad = f.filter.tables.get('bad')!;
  assert.equal(bad.size, 1, 'the table is full');
  assert.equal(bad.contains(4, Uint32Array.of(0x0a000007, 0, 0, 0)), false);
  assert.equal(f.states.table.count, 1, 'the connection over max-src-conn is gone all the same');
});

test('reload: persist tables kept from before count; over a limit the running ruleset and tables stay', () => {
  const f = new Flow('table <kept> persist\npass all');
  const ctx = ctxOf(f);
  cmd.tableAdd(ctx, { table: 'kept', addresses: ['10.0.0.1', '10.0.0.2'] });
  const fewer = parse('set limit tables 1\ntable <x> persist\npass all').ruleset!;
  assert.throws(
    () => f.filter.reload(fewer),
    (e) => e instanceof TableLimitError && /^2 tables/.test(e.message),
  );
  const next = parse('set limit table-entries 3\ntable <x> { 10.1.0.1, 10.1.0.2 }\npass all').ruleset!;
  assert.throws(
    () => f.filter.reload(next),
    (e) => e instanceof TableLimitError && /4 table entries/.test(e.message),
  );
  assert.equal(f.filter.tables.get('x'), undefined);
  assert.equal(f.filter.tables.get('kept')!.size, 2);
  assert.equal(cmd.showLimits(ctx).limits['table-entries'].limit, 200000);
  const raised = parse('set limit table-entries 4\ntable <x> { 10.1.0.1, 10.1.0.2 }\npass all').ruleset!;
  f.filter.reload(raised);
  assert.equal(cmd.showLimits(ctx).limits['table-entries'].current, 4);
  assert.equal(
    f.filter.tables.get('kept')!.add([{ prefix: { af: 4, words: Uint32Array.from(v4(7)), bits: 32 }, neg: false }]),
    -1,
  );
});
