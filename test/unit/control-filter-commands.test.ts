// The filter's control commands over a filter driven with built packets:
// counters, states and their filters, kill and flush, table edits that the
// rules see at once, reload that keeps states or changes nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as cmd from '../../src/control/filter-commands.js';
import { stateLine } from '../../src/control/format.js';
import { ControlError } from '../../src/control/server.js';
import { queryStates } from '../../src/control/state-query.js';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { formatRule } from '../../src/rules/canonical.js';
import { loadRulesetFile } from '../../src/rules/load-file.js';
import { describeState } from '../../src/control/describe-state.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';
import { Flow, TcpPair } from './helpers/flow.js';

function ctxOf(f: Flow, extra: Partial<cmd.FilterContext> = {}): cmd.FilterContext {
  return {
    filter: () => f.filter,
    states: f.states,
    forwardCounters: () => null,
    now: () => f.now,
    startedAt: f.now - 100,
    ...extra,
  };
}

const RULES = `set timeout tcp.established 3600
set limit states 1000
table <blocked> persist
table <fixed> const { 203.0.113.0/24 }
block all
block in quick on lan from <blocked>
pass in on lan proto tcp from 192.168.1.0/24 to any label "web"
pass in on lan proto udp from 192.168.1.0/24 to any port 53
pass in on lan proto tcp from <fixed>
pass out on wan all
`;

/** A TCP connection through the filter; returns its state index. */
function handshake(f: Flow, c: TcpPair, bytes = 100): number {
  assert.equal(f.outcome(c.c('S')), 'pass:new');
  const i = f.verdict.state;
  assert.equal(f.outcome(c.s('SA'), Direction.OUT, 'lan'), 'pass:state');
  assert.equal(f.outcome(c.c('A', bytes)), 'pass:state');
  assert.equal(f.outcome(c.s('A', bytes * 3), Direction.OUT, 'lan'), 'pass:state');
  return i;
}

const refusal = (code: string, message: RegExp) => (e: unknown) =>
  e instanceof ControlError && e.code === code && message.test(e.message);

test('show rules: canonical text, label and the counters of each rule', () => {
  const f = new Flow(RULES);
  const ctx = ctxOf(f);
  handshake(f, new TcpPair());
  assert.equal(
    f.outcome(buildTcp({ src: '10.9.9.9', dst: '192.168.1.10', sport: 1, dport: 2, flags: 'S' }), Direction.IN, 'wan'),
    'block:rule',
  );
  const r = cmd.showRules(ctx);
  assert.deepEqual(
    r.rules.map((x) => x.text),
    f.filter.rules.ruleset.rules.map((r) => formatRule(r)),
  );
  assert.deepEqual(
    r.rules.map((x) => x.nr),
    [0, 1, 2, 3, 4, 5],
  );
  const web = r.rules[2]!;
  assert.equal(web.label, 'web');
  assert.equal(web.action, 'pass');
  assert.equal(web.packets, 1, 'only the SYN saw the rules; the rest matched the state');
  assert.equal(web.bytes, 40);
  assert.equal(web.states, 1);
  assert.equal(web.stateCreations, 1);
  assert.equal(r.rules[0]!.packets, 1, 'the blocked SYN from outside');
  assert.equal(r.rules[0]!.evaluations, 2, 'block all saw both packets that reached the rules');
  assert.deepEqual(r.default, { packets: 0, bytes: 0 });
});

test('show states: fields, pf line, filters, sorting and limit', () => {
  const f = new Flow(RULES);
  const tcpI = handshake(f, new TcpPair('192.168.1.10', '198.51.100.80', 40000, 443), 500);
  f.now += 10;
  assert.equal(f.outcome(buildUdp({ src: '192.168.1.20', dst: '9.9.9.9', sport: 5353, dport: 53 })), 'pass:new');
  f.now += 5;
  const all = queryStates(f.states, f.filter.interfaces, {}, f.now);
  assert.equal(all.total, 2);
  const tcp = all.states.find((s) => s.proto === 'tcp')!;
  assert.deepEqual(
    { ...tcp, id: '', creator: '' },
    {
      id: '',
      creator: '',
      interface: 'all',
      af: 4,
      proto: 'tcp',
      direction: 'in',
      src: { address: '192.168.1.10', port: 40000 },
      dst: { address: '198.51.100.80', port: 443 },
      peers: ['ESTABLISHED', 'ESTABLISHED'],
      rule: 2,
      age: 15,
      expires: 3600 - 15,
      packets: [2, 2],
      bytes: [40 + 540, 40 + 1540],
      rate: Math.round(2160 / 15),
    },
  );
  assert.match(tcp.id, /^[0-9a-f]{16}$/);
  assert.equal(tcp.creator, '1d2c3b4a');
  assert.equal(
    stateLine(tcp),
    describeState(f.states.table, tcpI, (id) => f.filter.interfaces.name(id)),
    'the same line as tunpf replay',
  );
  const q = (a: object) => queryStates(f.states, f.filter.interfaces, a, f.now).states.map((s) => s.proto);
  assert.deepEqual(q({ address: '198.51.100.80' }), ['tcp'], 'the responder side');
  assert.deepEqual(q({ address: '192.168.1.0/24' }).sort(), ['tcp', 'udp'], 'a network');
  assert.deepEqual(q({ address: '192.168.1.20' }), ['udp']);
  assert.deepEqual(q({ address: '2001:db8::/32' }), []);
  assert.deepEqual(q({ port: 40000 }), ['tcp'], 'either port');
  assert.deepEqual(q({ port: 53 }), ['udp']);
  assert.deepEqual(q({ proto: 'udp' }), ['udp']);
  assert.deepEqual(q({ proto: '6' }), ['tcp']);
  assert.deepEqual(q({ interface: 'all' }).length, 2);
  assert.deepEqual(q({ interface: 'lan' }), [], 'floating states are bound to no interface');
  assert.deepEqual(q({ sort: 'bytes' }), ['tcp', 'udp']);
  assert.deepEqual(q({ sort: 'bytes', reverse: true }), ['udp', 'tcp']);
  assert.deepEqual(q({ sort: 'age' }), ['tcp', 'udp'], 'oldest first');
  assert.deepEqual(q({ sort: 'source' }), ['tcp', 'udp']);
  assert.deepEqual(q({ sort: 'destination' }), ['udp', 'tcp'], '9.9.9.9 < 198.51.100.80 numerically');
  assert.deepEqual(q({ sort: 'expiry' }), ['udp', 'tcp']);
  const limited = queryStates(f.states, f.filter.interfaces, { sort: 'bytes', limit: 1 }, f.now);
  assert.deepEqual([limited.matched, limited.states.length, limited.states[0]!.proto], [2, 1, 'tcp']);
  assert.throws(() => q({ address: 'nonsense' }), refusal('bad-args', /address: 'nonsense' is not an address/));
  assert.throws(() => q({ sort: 'colour' }), refusal('bad-args', /sort: 'colour' is not one of age, expiry/));
  assert.throws(() => q({ proto: 'quic' }), refusal('bad-args', /unknown protocol 'quic'/));
  assert.throws(() => q({ port: 70000 }), refusal('bad-args', /port/));
});

test('show info: pf counters mapped from the filter, state and parse counters', () => {
  const f = new Flow(RULES);
  const ctx = ctxOf(f);
  handshake(f, new TcpPair());
  f.outcome(buildTcp({ src: '10.9.9.9', dst: '192.168.1.10', sport: 1, dport: 2, flags: 'S' }), Direction.IN, 'wan');
  // a segment whose data offset runs past its end, and one outside the window
  const bad = buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport: 2, flags: 'S' });
  bad[32] = 0xf0;
  const m = new PacketMeta();
  parsePacket(bad, 0, bad.length, m);
  f.filter.test(m, Direction.IN, f.filter.interfaces.id('lan'), f.now, f.verdict);
  const c = new TcpPair('192.168.1.30');
  handshake(f, c);
  c.cseq += 1e9;
  assert.equal(f.outcome(c.c('A', 10)), 'block:bad-state');
  const info = cmd.showInfo(ctx);
  assert.equal(info.uptime, 100);
  assert.equal(info.hostid, '1d2c3b4a');
  assert.deepEqual(info.states, {
    current: 2,
    limit: 1000,
    searches: info.states.searches,
    inserts: 2,
    removals: 0,
    expired: 0,
  });
  assert.ok(info.states.searches >= 9);
  assert.equal(info.counters.match, 3, 'two SYNs passed and one blocked by rules');
  assert.equal(info.counters['bad-offset'], 1);
  assert.equal(info.counters['state-mismatch'], 1);
  assert.equal(info.counters.short, 0);
  assert.deepEqual(Object.keys(info.counters).slice(0, 4), ['match', 'bad-offset', 'fragment', 'short']);
  assert.equal(info.filter.malformed['bad-tcp-offset'], 1);
  assert.equal(info.filter.verdicts.state, 6);
  assert.equal(info.filter.blocked, 3);
  assert.equal(info.stateDrops['bad-state'], 1);
  assert.equal(info.forward, null);
});

test('show timeouts and limits: the running ruleset, adaptive thresholds from the state limit', () => {
  const f = new Flow(RULES);
  const t = cmd.showTimeouts(ctxOf(f)).timeouts;
  assert.equal(t['tcp.established'], 3600);
  assert.equal(t['tcp.first'], 120);
  assert.equal(t['adaptive.start'], 600);
  assert.equal(t['adaptive.end'], 1200);
  assert.equal(Object.keys(t).at(-1), 'src.track');
  const l = cmd.showLimits(ctxOf(f)).limits;
  assert.deepEqual(l.states, { limit: 1000, current: 0 });
  assert.deepEqual(l.tables, { limit: 1000, current: 2 });
  assert.deepEqual(l['table-entries'], { limit: 200000, current: 1 });
});

test('table add makes a block from <t> rule bite at once; delete lifts it; replace and flush count', () => {
  const f = new Flow(RULES);
  const ctx = ctxOf(f);
  const syn = () => new TcpPair('192.168.1.66', '198.51.100.1', 41000 + Math.floor(f.now++), 80).c('S');
  assert.equal(f.outcome(syn()), 'pass:new');
  assert.deepEqual(cmd.tableAdd(ctx, { table: 'blocked', addresses: ['192.168.1.66', '10.0.0.0/8', '!10.1.0.0/16'] }), {
    table: 'blocked',
    created: false,
    added: 3,
    deleted: 0,
    count: 3,
  });
  assert.equal(f.outcome(syn()), 'block:rule');
  assert.deepEqual(cmd.tableAdd(ctx, { table: 'blocked', addresses: ['192.168.1.66'] }).added, 0, 'already there');
  const shown = cmd.showTable(ctx, { table: 'blocked' });
  assert.deepEqual(shown.addresses, ['192.168.1.66', '10.0.0.0/8', '!10.1.0.0/16']);
  assert.equal(shown.referenced, true);
  assert.ok(shown.matches >= 1);
  assert.deepEqual(cmd.tableDelete(ctx, { table: 'blocked', addresses: ['192.168.1.66'] }), {
    table: 'blocked',
    created: false,
    added: 0,
    deleted: 1,
    count: 2,
  });
  assert.equal(f.outcome(syn()), 'pass:new', 'delete lifts the block');
  assert.deepEqual(cmd.tableReplace(ctx, { table: 'blocked', addresses: ['10.0.0.0/8', '172.16.0.0/12'] }), {
    table: 'blocked',
    created: false,
    added: 1,
    deleted: 1,
    count: 2,
  });
  assert.deepEqual(cmd.tableFlush(ctx, { table: 'blocked' }), {
    table: 'blocked',
    created: false,
    added: 0,
    deleted: 2,
    count: 0,
  });
  assert.deepEqual(cmd.tableAdd(ctx, { table: 'fresh', addresses: ['2001:db8::/32'] }), {
    table: 'fresh',
    created: true,
    added: 1,
    deleted: 0,
    count: 1,
  });
  const tables = cmd.showTables(ctx).tables;
  assert.deepEqual(
    tables.map((t) => [t.name, t.count, t.persist, t.const, t.referenced]),
    [
      ['blocked', 0, true, false, true],
      ['fixed', 1, false, true, true],
      ['fresh', 1, false, false, false],
    ],
  );
  assert.throws(
    () => cmd.tableAdd(ctx, { table: 'blocked', addresses: ['10.0.0.1', 'bogus', '300.1.1.1'] }),
    refusal('bad-args', /not an address or network: bogus, 300\.1\.1\.1; the table is unchanged/),
  );
  assert.equal(cmd.showTable(ctx, { table: 'blocked' }).count, 0, 'nothing was added');
  assert.throws(
    () => cmd.tableAdd(ctx, { table: 'fixed', addresses: ['10.0.0.1'] }),
    refusal('refused', /<fixed> is const/),
  );
  assert.throws(
    () => cmd.tableDelete(ctx, { table: 'nosuch', addresses: ['10.0.0.1'] }),
    refusal('not-found', /<nosuch> does not exist/),
  );
  assert.throws(() => cmd.showTable(ctx, { table: '../etc' }), refusal('bad-args', /not a table name/));
});

test('kill states: by host, host to host, network, id, label; flush', () => {
  const f = new Flow(RULES);
  const ctx = ctxOf(f);
  const mk = () => {
    handshake(f, new TcpPair('192.168.1.10', '198.51.100.1', 40001, 80));
    handshake(f, new TcpPair('192.168.1.10', '198.51.100.2', 40002, 80));
    handshake(f, new TcpPair('192.168.1.11', '198.51.100.1', 40003, 80));
    f.outcome(buildUdp({ src: '192.168.1.12', dst: '9.9.9.9', sport: 5353, dport: 53 }));
  };
  mk();
  assert.deepEqual(
    cmd.killStates(ctx, { hosts: ['198.51.100.1'] }),
    { killed: 0 },
    'states originate from the initiator',
  );
  assert.deepEqual(cmd.killStates(ctx, { hosts: ['192.168.1.10', '198.51.100.2'] }), { killed: 1 });
  assert.deepEqual(
    cmd.killStates(ctx, { hosts: ['0.0.0.0/0', '198.51.100.1'] }),
    { killed: 2 },
    'from anywhere to a host',
  );
  assert.equal(f.states.table.count, 1);
  assert.deepEqual(cmd.flushStates(ctx), { flushed: 1 });
  mk();
  assert.deepEqual(cmd.killStates(ctx, { hosts: ['192.168.1.0/24'] }), { killed: 4 });
  mk();
  assert.deepEqual(cmd.killStates(ctx, { label: 'web' }), { killed: 3 });
  const udp = queryStates(f.states, f.filter.interfaces, {}, f.now).states[0]!;
  assert.deepEqual(cmd.killStates(ctx, { id: `${udp.id}/${udp.creator}` }), { killed: 1 });
  assert.deepEqual(cmd.killStates(ctx, { id: udp.id }), { killed: 0 });
  assert.throws(() => cmd.killStates(ctx, {}), refusal('bad-args', /needs one or two hosts/));
  assert.throws(() => cmd.killStates(ctx, { hosts: ['a', 'b', 'c'] }), refusal('bad-args', /one or two hosts/));
  assert.throws(() => cmd.killStates(ctx, { id: 'xyz' }), refusal('bad-args', /not a state id/));
  // the connection is really gone: its next segment goes to the rules, which block an ACK without SYN
  const c = new TcpPair('192.168.1.10', '198.51.100.9', 40009, 80);
  handshake(f, c);
  cmd.killStates(ctx, { hosts: ['192.168.1.10'] });
  assert.equal(f.outcome(c.c('A', 10)), 'block:rule');
});

test('reload: the same loader as run, states kept; a bad file changes nothing and says where', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-reload-'));
  const file = join(dir, 'rules.conf');
  writeFileSync(file, RULES);
  const f = new Flow(RULES);
  const ctx = ctxOf(f, {
    rulesFile: file,
    loadRuleset: (p) => loadRulesetFile(p, { interfaces: TEST_INTERFACES }),
    applyRuleset: (rs) => f.filter.reload(rs),
  });
  const c = new TcpPair();
  handshake(f, c);
  const next = join(dir, 'next.conf');
  writeFileSync(
    next,
    'block all\npass in on lan proto udp all\npass in on lan proto tcp from 192.168.1.0/24 to any port 443\n',
  );
  const r = cmd.reload(ctx, { file: next });
  assert.deepEqual(r, { file: next, rules: 3, states: 1, warnings: [] });
  assert.equal(f.outcome(c.c('A', 5)), 'pass:state', 'the established connection keeps its state');
  assert.equal(
    f.outcome(new TcpPair('192.168.1.10', '203.0.113.5', 40100, 80).c('S')),
    'block:rule',
    'new rules apply',
  );
  writeFileSync(next, 'block all\npass in on lan proto tcp to port nonsense\n');
  assert.throws(
    () => cmd.reload(ctx, { file: next }),
    (e: unknown) =>
      e instanceof ControlError &&
      e.code === 'refused' &&
      /1 error, ruleset not loaded; the running ruleset stays/.test(e.message) &&
      /next\.conf:2:34: error: unknown port name 'nonsense'/.test(e.details![0]!),
  );
  assert.equal(cmd.showRules(ctx).rules.length, 3, 'the running ruleset stays');
  assert.throws(
    () => cmd.reload(ctx, { file: join(dir, 'missing.conf') }),
    refusal('refused', /cannot read .*missing\.conf: ENOENT; the running ruleset stays/),
  );
  assert.equal(cmd.reload(ctx, {}).file, file, 'without -f: the file the daemon was started with');
  assert.throws(() => cmd.reload(ctxOf(f), {}), refusal('refused', /cannot reload/));
});

test('reload: a file that breaks the parser or the loader, or a ruleset that fails to apply, is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-reload-'));
  const file = join(dir, 'rules.conf');
  const f = new Flow(RULES);
  let broken: Error | null = null;
  let applyFails = false;
  const ctx = ctxOf(f, {
    rulesFile: file,
    loadRuleset: (p) => {
      if (broken) throw broken;
      return loadRulesetFile(p, { interfaces: TEST_INTERFACES });
    },
    applyRuleset: (rs) => {
      if (applyFails) throw new RangeError('Invalid typed array length');
      f.filter.reload(rs);
    },
  });
  const before = cmd.showRules(ctx).rules.length;
  // lines that start with an undefined or a recursive macro
  writeFileSync(file, '$nothing\nx = "$x"\n$x\npass all\n');
  assert.throws(
    () => cmd.reload(ctx, {}),
    (e: unknown) =>
      e instanceof ControlError &&
      e.code === 'refused' &&
      /rules\.conf:1:1: error: macro 'nothing' not defined/.test(e.details![0]!) &&
      /rules\.conf:3:1: error: macro 'x' expands recursively/.test(e.details![1]!),
  );
  broken = new TypeError('something unforeseen');
  assert.throws(() => cmd.reload(ctx, {}), refusal('refused', /something unforeseen; the running ruleset stays/));
  broken = null;
  writeFileSync(file, 'pass all\n');
  applyFails = true;
  assert.throws(() => cmd.reload(ctx, {}), refusal('refused', /cannot apply: .*the running ruleset stays/));
  assert.equal(cmd.showRules(ctx).rules.length, before, 'the running ruleset stays');
  const c = new TcpPair();
  handshake(f, c);
  assert.equal(f.outcome(c.c('A', 5)), 'pass:state', 'and still forwards');
});
