// Human output of the control commands: pfctl's layouts, from result shapes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fmt from '../../src/control/format.js';
import type { ShowCarpResult, ShowInfoResult, ShowPfsyncResult, StateInfo } from '../../src/control/results.js';
import { showPfsync } from '../../src/control/pfsync-commands.js';
import type { PfsyncStatus } from '../../src/pfsync/pfsync-engine.js';

const tcp: StateInfo = {
  id: '65a1b2c300000007',
  creator: '1d2c3b4a',
  interface: 'all',
  af: 4,
  proto: 'tcp',
  direction: 'in',
  src: { address: '10.1.0.2', port: 51234 },
  dst: { address: '10.2.0.2', port: 7000 },
  peers: ['ESTABLISHED', 'ESTABLISHED'],
  rule: 1,
  age: 3725,
  expires: 86395,
  packets: [12, 11],
  bytes: [1234, 5678],
  rate: 2,
};
const v6out: StateInfo = {
  ...tcp,
  af: 6,
  direction: 'out',
  interface: 'wan',
  src: { address: 'fd01::2', port: 40000 },
  dst: { address: 'fd02::2', port: 443 },
  rule: -1,
};
const icmp: StateInfo = {
  ...tcp,
  proto: 'icmp',
  src: { address: '10.1.0.2', port: 77 },
  dst: { address: '10.2.0.2', port: 77 },
  peers: ['0', '0'],
};

test('durations and counts', () => {
  assert.equal(fmt.clock(0), '00:00:00');
  assert.equal(fmt.clock(3725), '01:02:05');
  assert.equal(fmt.clock(360000), '100:00:00');
  assert.equal(fmt.uptimeText(86400 * 2 + 61), '2 days 00:01:01');
  assert.equal(fmt.humanCount(999), '999');
  assert.equal(fmt.humanCount(1536), '1.5K');
  assert.equal(fmt.humanCount(50 * 1024 * 1024), '50M');
});

test('states in pfctl -ss form; -v adds age, expiry, packets, bytes, rule; -vv the ids', () => {
  const r = { total: 3, matched: 3, states: [tcp, v6out, icmp] };
  assert.equal(
    fmt.formatStates(r),
    [
      // pf pads the flow to 56 columns
      `${'all tcp 10.2.0.2:7000 <- 10.1.0.2:51234'.padEnd(56)} ESTABLISHED:ESTABLISHED`,
      `${'wan tcp fd01::2[40000] -> fd02::2[443]'.padEnd(56)} ESTABLISHED:ESTABLISHED`,
      `${'all icmp 10.2.0.2 <- 10.1.0.2'.padEnd(56)} 0:0`,
    ].join('\n'),
  );
  assert.equal(
    fmt.formatStates({ total: 1, matched: 1, states: [tcp] }, 2),
    [
      `${'all tcp 10.2.0.2:7000 <- 10.1.0.2:51234'.padEnd(56)} ESTABLISHED:ESTABLISHED`,
      '   age 01:02:05, expires in 23:59:55, 12:11 pkts, 1234:5678 bytes, rule 1',
      '   id: 65a1b2c300000007 creatorid: 1d2c3b4a',
    ].join('\n'),
  );
  assert.doesNotMatch(fmt.formatStates({ total: 1, matched: 1, states: [v6out] }, 1), /rule/, 'no rule, no rule field');
});

test('rules in pfctl -vsr form', () => {
  const text = fmt.formatRules({
    rules: [
      {
        nr: 0,
        text: 'block all',
        label: null,
        action: 'block',
        evaluations: 10,
        packets: 3,
        bytes: 180,
        states: 0,
        stateCreations: 0,
      },
    ],
    default: { packets: 0, bytes: 0 },
  });
  assert.equal(
    text,
    '@0 block all\n' +
      '  [ Evaluations: 10        Packets: 3         Bytes: 180         States: 0     ]\n' +
      '  [ State Creations: 0     ]',
  );
});

test('info in pfctl -si form, rates over the uptime', () => {
  const info: ShowInfoResult = {
    since: '2024-01-01T00:00:00.000Z',
    uptime: 100,
    hostid: '1d2c3b4a',
    loginterface: null,
    rules: 4,
    states: { current: 5, limit: 1000, searches: 1234, inserts: 50, removals: 45, expired: 40 },
    counters: { match: 100, 'bad-offset': 2 },
    filter: {
      packets: 2000,
      bytes: 1e6,
      passed: 1990,
      blocked: 10,
      verdicts: { rule: 100, state: 1890 },
      malformed: { short: 0, 'bad-tcp-offset': 2 },
    },
    stateDrops: { 'bad-state': 0 },
    forward: { batches: 10, packetsIn: 1000, packetsOut: 990, bytesIn: 5e5, dropped: 10, noRoute: 0, replies: 1 },
    sourceNodes: 0,
    fragments: {
      held: 3,
      datagrams: 1,
      bytes: 4000,
      reassembled: 200,
      dropped: { fragment: 4, memory: 0, expired: 0, flushed: 0, discarded: 0 },
    },
  };
  const lines = fmt.formatInfo(info).split('\n');
  assert.equal(lines[0], 'Status: Enabled for 0 days 00:01:40             Hostid: 0x1d2c3b4a');
  assert.equal(lines[2], 'State Table                          Total             Rate');
  assert.equal(lines[3], '  current entries                        5');
  assert.equal(lines[4], '  searches                            1234           12.3/s');
  // pfctl's "  %-25s %14llu %14.1f/s"
  assert.ok(lines.includes('  match                                100            1.0/s'));
  assert.ok(lines.includes('  bad-offset                             2            0.0/s'));
  assert.ok(
    lines.includes('  bad-tcp-offset                         2            0.0/s'),
    'nonzero parse errors listed',
  );
  assert.ok(!lines.some((l) => l.includes('bad-state')), 'zero drops left out');
  assert.ok(lines.includes('  packets in                          1000           10.0/s'));
  assert.ok(lines.includes('  held                                   3'));
  assert.ok(lines.includes('  reassembled                          200            2.0/s'));
  assert.ok(lines.includes('  dropped: fragment                      4            0.0/s'));
  assert.ok(!lines.some((l) => l.includes('dropped: memory')), 'zero fragment drops left out');
});

test('info: set loginterface shows its Interface Stats as pfctl -si, before the state table', () => {
  const counters = (n: number) => ({
    bytesIn: n,
    bytesOut: 2 * n,
    packetsInPassed: 3 * n,
    packetsInBlocked: 4 * n,
    packetsOutPassed: 5 * n,
    packetsOutBlocked: 6 * n,
  });
  const info: ShowInfoResult = {
    since: '2024-01-01T00:00:00.000Z',
    uptime: 100,
    hostid: '1d2c3b4a',
    loginterface: { name: 'wan', ipv4: counters(1000), ipv6: counters(7) },
    rules: 1,
    states: { current: 0, limit: 1000, searches: 0, inserts: 0, removals: 0, expired: 0 },
    counters: {},
    filter: { packets: 0, bytes: 0, passed: 0, blocked: 0, verdicts: {}, malformed: {} },
    stateDrops: {},
    forward: null,
    sourceNodes: 0,
    fragments: null,
  };
  // print_status: "Interface Stats for %-16s %5s %16s", "  %-25s %14llu %16llu", "    %-23s %14llu %16llu"
  assert.deepEqual(fmt.formatInfo(info).split('\n').slice(1, 13), [
    '',
    'Interface Stats for wan               IPv4             IPv6',
    '  Bytes In                            1000                7',
    '  Bytes Out                           2000               14',
    '  Packets In',
    '    Passed                            3000               21',
    '    Blocked                           4000               28',
    '  Packets Out',
    '    Passed                            5000               35',
    '    Blocked                           6000               42',
    '',
    'State Table                          Total             Rate',
  ]);
});

test('timeouts, limits, tables, table changes', () => {
  assert.equal(
    fmt.formatTimeouts({ timeouts: { 'tcp.first': 120, 'adaptive.start': 6000 } }),
    'tcp.first                   120s\nadaptive.start             6000 states',
  );
  assert.equal(
    fmt.formatLimits({ limits: { states: { limit: 100000, current: 3 } } as never }),
    'states        hard limit   100000',
  );
  assert.equal(
    fmt.formatLimits({ limits: { states: { limit: 100000, current: 3 } } as never }, 1),
    'states        hard limit   100000  in use 3',
  );
  const t = { name: 'bad', count: 2, persist: true, const: false, referenced: true, matches: 4, misses: 5 };
  assert.equal(fmt.formatTables({ tables: [t] }), 'bad');
  assert.equal(fmt.formatTables({ tables: [t] }, 1), '-pa-r--\tbad\t2 addresses');
  assert.equal(fmt.formatTable({ ...t, addresses: ['10.0.0.1', '!10.1.0.0/16'] }), '   10.0.0.1\n  !10.1.0.0/16');
  assert.equal(
    fmt.formatTableChange('add', { table: 'x', created: true, added: 2, deleted: 0, count: 2 }, 3),
    '1 table created.\n2/3 addresses added.',
  );
  assert.equal(
    fmt.formatTableChange('replace', { table: 'x', created: false, added: 1, deleted: 4, count: 2 }, 2),
    '1 addresses added.\n4 addresses deleted.',
  );
  assert.equal(fmt.formatKill({ killed: 1 }), 'killed 1 state');
  assert.equal(fmt.formatFlush({ flushed: 7 }), '7 states cleared');
});

test('carp and pfsync from the shapes their handlers return', () => {
  const now = Date.parse('2024-01-01T00:10:00Z') / 1000;
  const carp: ShowCarpResult = {
    demote: 1,
    demoteReasons: { 'bulk-update': 1 },
    groups: [
      {
        name: 'carp0',
        carpdev: 'lan',
        vhid: 1,
        state: 'MASTER',
        advbase: 1,
        advskew: 0,
        preempt: true,
        addresses: ['10.1.0.254', 'fd01::254'],
        since: '2024-01-01T00:05:00Z',
        reason: 'preempt',
        counters: { received: 3, accepted: 2, sent: 300, dropped: { 'bad-hmac': 1 } },
      },
    ],
  };
  assert.equal(
    fmt.formatCarp(carp, now),
    'demotion 1 (bulk-update 1)\n' +
      'carp0: MASTER carpdev lan vhid 1 advbase 1 advskew 0 preempt yes\n' +
      '\taddresses 10.1.0.254 fd01::254\n' +
      '\tsince 2024-01-01T00:05:00Z (00:05:00 ago), reason: preempt\n' +
      '\treceived 3, accepted 2, sent 300, dropped: bad-hmac 1',
  );
  const pfsync: ShowPfsyncResult = {
    syncdev: 'sync0',
    syncpeer: null,
    maxupd: 128,
    defer: false,
    hostid: '0000abcd',
    bulk: { state: 'done', started: '2024-01-01T00:09:00Z', ended: null },
    queued: { ins: 1, upd: 2, updc: 3, del: 4, iack: 5 },
    sent: { packets: 10, bytes: 1000, messages: { ins: 3, upd: 0 } },
    received: { packets: 0, bytes: 0, messages: {} },
    dropped: {},
    lagMs: { last: 1.25, p50: 1, p99: null },
  };
  const text = fmt.formatPfsync(pfsync, now);
  assert.match(text, /^pfsync: syncdev sync0 syncpeer - maxupd 128 defer off hostid 0x0000abcd$/m);
  assert.match(text, /bulk update: done, started 2024-01-01T00:09:00Z \(00:01:00 ago\), ended -/);
  assert.match(text, /queued: ins 1 upd 2 updc 3 del 4 iack 5/);
  assert.match(text, /sent: 10 packets, 1000 bytes; messages: ins 3$/m);
  assert.match(text, /received: 0 packets, 0 bytes; messages: none/);
  assert.match(text, /lag ms: last 1\.3 p50 1\.0 p99 -/);
});

test("show pfsync from the engine's plain status: hostid in hex, ISO times, the bulk outcome beside its state", () => {
  const status: PfsyncStatus = {
    syncdev: 'sync0',
    syncpeer: '10.9.0.2',
    maxupd: 128,
    defer: true,
    hostid: 0xabcd,
    bulk: {
      state: 'done',
      outcome: 'no sync link',
      startedAt: Date.parse('2024-01-01T00:09:00Z') / 1000,
      endedAt: null,
    },
    queued: { ins: 0, upd: 0, updc: 0, del: 0, iack: 0 },
    sent: { packets: 1, bytes: 2, messages: { CLR: 1 }, changes: 3 },
    received: { packets: 4, bytes: 5, messages: {} },
    dropped: { badttl: 1 },
    lagMs: { last: null, p50: null, p99: null },
    blockedOut: 0,
  };
  const r = showPfsync(status);
  assert.deepEqual(
    [r.hostid, r.bulk],
    ['0000abcd', { state: 'done (no sync link)', started: '2024-01-01T00:09:00.000Z', ended: null }],
  );
  assert.deepEqual(
    [r.sent, r.received, r.dropped, r.queued],
    [status.sent, status.received, status.dropped, status.queued],
  );
  assert.equal(showPfsync({ ...status, bulk: { ...status.bulk, outcome: 'complete' } }).bulk.state, 'done');
});
