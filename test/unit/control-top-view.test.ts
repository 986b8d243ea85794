// tunpf top's frames: rates between two refreshes, sorting keys, the CARP
// and pfsync header lines, clipping to the terminal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ShowInfoResult, StateInfo } from '../../src/control/results.js';
import { applyKey, renderFrame, stateRates, type TopSample, type TopUi } from '../../src/control/top-view.js';

function state(id: string, src: string, dst: string, bytes: number, age: number): StateInfo {
  return {
    id,
    creator: '00000001',
    interface: 'all',
    af: 4,
    proto: 'tcp',
    direction: 'in',
    src: { address: src, port: 40000 },
    dst: { address: dst, port: 80 },
    peers: ['ESTABLISHED', 'ESTABLISHED'],
    rule: 0,
    age,
    expires: 100 - age,
    packets: [1, 1],
    bytes: [bytes, 0],
    rate: Math.round(bytes / Math.max(1, age)),
  };
}

const info = {
  uptime: 10,
  states: { current: 2, limit: 100, searches: 0, inserts: 0, removals: 0, expired: 0 },
  filter: { blocked: 0 },
  forward: null,
} as unknown as ShowInfoResult;

function sample(at: number, states: StateInfo[], extra: Partial<TopSample> = {}): TopSample {
  return {
    at,
    info,
    states: { total: states.length, matched: states.length, states },
    rules: { rules: [], default: { packets: 0, bytes: 0 } },
    carp: null,
    pfsync: null,
    ...extra,
  };
}

test('rates are the bytes between two refreshes over their interval; a new state gets its average', () => {
  const prev = sample(1, [state('a', '10.0.0.1', '10.9.0.1', 1000, 10)]);
  const now = sample(3, [state('a', '10.0.0.1', '10.9.0.1', 5000, 12), state('b', '10.0.0.2', '10.9.0.1', 600, 3)]);
  const r = stateRates(now, prev);
  assert.equal(r.get('a'), 2000);
  assert.equal(r.get('b'), 200);
  assert.equal(stateRates(now, null).get('a'), 417, 'no earlier sample: the lifetime average');
});

test('keys switch the sort (again: reverse), the view, and quit', () => {
  const ui: TopUi = { view: 'states', sort: 'bytes', reverse: false, socket: '/s' };
  assert.equal(applyKey(ui, 'r'), 'redraw');
  assert.deepEqual([ui.sort, ui.reverse], ['rate', false]);
  applyKey(ui, 'r');
  assert.deepEqual([ui.sort, ui.reverse], ['rate', true]);
  for (const [k, s] of [
    ['s', 'source'],
    ['d', 'destination'],
    ['a', 'age'],
    ['e', 'expiry'],
    ['b', 'bytes'],
    ['p', 'packets'],
  ] as const) {
    applyKey(ui, k);
    assert.equal(ui.sort, s);
  }
  assert.equal(applyKey(ui, 'v'), 'redraw');
  assert.equal(ui.view, 'rules');
  assert.equal(applyKey(ui, 'x'), 'ignore');
  assert.equal(applyKey(ui, 'q'), 'quit');
  assert.equal(applyKey(ui, '\u0003'), 'quit');
});

test('the states view orders by rate between refreshes, and fits the terminal', () => {
  const ui: TopUi = { view: 'states', sort: 'rate', reverse: false, socket: '/s' };
  // a: many bytes in all, few lately; b: few in all, many lately
  const prev = sample(0, [state('a', '10.0.0.1', '10.9.0.1', 100000, 100), state('b', '10.0.0.2', '10.9.0.2', 0, 1)]);
  const now = sample(1, [state('a', '10.0.0.1', '10.9.0.1', 100010, 101), state('b', '10.0.0.2', '10.9.0.2', 5000, 2)]);
  const lines = renderFrame(now, prev, ui, 120);
  const rows = lines.filter((l) => l.startsWith('tcp'));
  assert.equal(rows.length, 2);
  assert.match(rows[0]!, /10\.9\.0\.2:80 <- 10\.0\.0\.2:40000 .* 4\.9K\/s$/);
  assert.match(rows[1]!, /10\.9\.0\.1:80 <- 10\.0\.0\.1:40000 .* 10\/s$/);
  ui.sort = 'bytes';
  assert.match(renderFrame(now, prev, ui, 120).filter((l) => l.startsWith('tcp'))[0]!, /10\.0\.0\.1/);
  const small = renderFrame(now, prev, ui, 40, 5);
  assert.equal(small.length, 5);
  assert.ok(small.every((l) => l.length <= 40));
});

test('the header shows CARP roles and the pfsync queue and lag when present', () => {
  const ui: TopUi = { view: 'states', sort: 'bytes', reverse: false, socket: '/s' };
  const s = sample(0, [], {
    carp: {
      demote: 0,
      demoteReasons: {},
      groups: [
        { name: 'carp0', carpdev: 'lan', vhid: 1, state: 'MASTER' } as never,
        { name: 'carp1', carpdev: 'wan', vhid: 2, state: 'BACKUP' } as never,
      ],
    },
    pfsync: {
      syncdev: 'sync0',
      queued: { ins: 1, upd: 2, updc: 0, del: 3, iack: 0 },
      lagMs: { last: 2, p50: 1.5, p99: 9 },
      bulk: { state: 'done' },
    } as never,
  });
  const text = renderFrame(s, null, ui, 200).join('\n');
  assert.match(text, /^carp: carp0 MASTER \(lan vhid 1\) {2}carp1 BACKUP \(wan vhid 2\) {2}demote 0$/m);
  assert.match(
    text,
    /^pfsync: sync0 {2}queued ins 1 upd 2 updc 0 del 3 iack 0 {2}lag ms last 2\.0 p50 1\.5 p99 9\.0 {2}bulk done$/m,
  );
  assert.doesNotMatch(renderFrame(sample(0, []), null, ui, 200).join('\n'), /carp|pfsync/);
});

test('numbers are never cut: their columns widen; a line cut at the screen edge ends in an ellipsis', () => {
  const ui: TopUi = { view: 'states', sort: 'age', reverse: false, socket: '/s' };
  const old = state('a', '10.0.0.1', '10.9.0.1', 100, 40_000_000); // an age of 11111:06:40
  const rows = renderFrame(sample(1, [old]), null, ui, 200).filter((l) => l.startsWith('tcp'));
  assert.match(rows[0]!, / 11111:06:40 /);
  const rules = {
    rules: [
      {
        nr: 12345678,
        text: 'pass in on lan proto tcp from any to any port 443 keep state label "a long label"',
        label: null,
        action: 'pass' as const,
        evaluations: 1,
        packets: 1,
        bytes: 1,
        states: 123456789,
        stateCreations: 1,
      },
    ],
    default: { packets: 0, bytes: 0 },
  };
  const lines = renderFrame(sample(1, [], { rules }), null, { ...ui, view: 'rules' }, 60);
  const row = lines.find((l) => l.startsWith('@'))!;
  assert.match(row, /^@12345678 .* 123456789 pass in/);
  assert.equal(row.length, 60);
  assert.ok(row.endsWith('\u2026'), row);
});
