// tunpf ctl's read commands against a daemon in a namespace, found with no
// flag: rules counters move with traffic, a live TCP connection is listed
// with its addresses and the filters pick it; info, timeouts, limits,
// tables; CARP and pfsync not configured; top --once shows the state; the
// socket belongs to the router's namespace only.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { sleep, Topology } from './helpers/topology.js';
import { ctl, ctlJson, defaultSocketOf, tunpfIn } from './helpers/ctl.js';
import type {
  ShowInfoResult,
  ShowLimitsResult,
  ShowRulesResult,
  ShowStatesResult,
  ShowTablesResult,
  ShowTimeoutsResult,
} from '../../src/control/results.js';

const skip = netTestsUnavailable();
let topo: Topology;

const RULES = `set timeout tcp.established 7200
set loginterface wan
table <web> { 10.2.0.0/24 }
block all
pass in on lan proto tcp from 10.1.0.0/24 to <web> port { 7000 7001 } label "to-server"
pass in on lan proto udp from 10.1.0.0/24 to any port 7000
pass out on wan all
`;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  await topo.startDaemon(topo.writeRules(RULES));
});

after(async () => {
  await topo?.destroy();
});

test(
  "the socket is root-only, in the router namespace's folder; another namespace has no daemon",
  { skip: skip ?? false },
  async () => {
    const path = defaultSocketOf(topo.router);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(path).uid, 0);
    assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
    const r = await ctl(topo.client, 'show', 'info');
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^tunpf ctl: no tunpf daemon is running \(nothing listens on \/run\/tunpf\/net-\d+\/control\.sock\)\n$/,
    );
    assert.notEqual(defaultSocketOf(topo.client), path);
  },
);

test('show rules: the counters of the deciding rule move after traffic', { skip: skip ?? false }, async () => {
  const before_ = (await ctlJson<ShowRulesResult>(topo.router, 'show', 'rules')).rules;
  assert.equal(
    before_[1].text,
    'pass in on lan inet proto tcp from 10.1.0.0/24 to <web> port = 7000 flags S/SA label "to-server"',
  );
  assert.equal(before_[1].label, 'to-server');
  assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '5000'), { ok: true, received: 5000 });
  assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7005', '10')).ok, false);
  const after_ = (await ctlJson<ShowRulesResult>(topo.router, 'show', 'rules')).rules;
  assert.equal(after_[1].packets - before_[1].packets, 1, 'the SYN; the rest went by state');
  assert.equal(after_[1].stateCreations - before_[1].stateCreations, 1);
  assert.ok(after_[1].evaluations > before_[1].evaluations);
  assert.ok(after_[0].packets - before_[0].packets >= 1, 'block all took the SYN to 7005');
  const human = await ctl(topo.router, 'show', 'rules');
  assert.equal(human.code, 0);
  assert.match(
    human.stdout,
    new RegExp(
      `^@1 pass in on lan inet proto tcp .*\\n  \\[ Evaluations: \\d+ +` +
        `Packets: ${after_[1].packets} +Bytes: ${after_[1].bytes} +States: \\d+ +\\]$`,
      'm',
    ),
  );
});

test('show states: a live TCP connection with its addresses, and the filters', { skip: skip ?? false }, async () => {
  // long enough to outlast the ctl calls below on a loaded machine (each starts a process)
  const stream = runInNetns(topo.client, 'probe', ['stream', '10.2.0.2', '7001', '8'], 20000, {
    PROBE_LOCAL_PORT: '45678',
  });
  await sleep(1000);
  const all = await ctlJson<ShowStatesResult>(topo.router, 'show', 'states');
  // a state on each side, as pf keeps them: in on lan (the one checked here) and out on wan
  const s = all.states.find((x) => x.src.port === 45678 && x.direction === 'in');
  const outbound = all.states.find((x) => x.src.port === 45678 && x.direction === 'out');
  assert.ok(outbound, 'and its outbound twin');
  assert.ok(s, JSON.stringify(all));
  assert.deepEqual(
    {
      interface: s.interface,
      proto: s.proto,
      direction: s.direction,
      src: s.src,
      dst: s.dst,
      peers: s.peers,
      rule: s.rule,
    },
    {
      interface: 'all',
      proto: 'tcp',
      direction: 'in',
      src: { address: '10.1.0.2', port: 45678 },
      dst: { address: '10.2.0.2', port: 7001 },
      peers: ['ESTABLISHED', 'ESTABLISHED'],
      rule: 2,
    },
  );
  assert.ok(s.packets[0] > 10 && s.bytes[1] > 10000, JSON.stringify(s));
  assert.ok(s.expires > 7000, 'set timeout tcp.established 7200');
  const ids = async (...args: string[]) =>
    (await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', ...args)).states.map((x) => x.id);
  const both = [s.id, outbound.id].sort();
  assert.deepEqual((await ids('--address', '10.2.0.2', '--port', '45678')).sort(), both);
  assert.deepEqual((await ids('--address', '10.1.0.0/24', '--port', '7001')).sort(), both);
  assert.deepEqual(await ids('--address', '10.9.0.0/16'), []);
  assert.deepEqual(await ids('--proto', 'udp', '--port', '45678'), []);
  assert.deepEqual(await ids('-i', 'lan', '--port', '45678'), [], 'floating, so bound to no interface');
  const text = await ctl(topo.router, 'show', 'states', '--port', '45678', '-vv');
  assert.equal(text.code, 0);
  assert.equal(
    text.stdout.split('\n')[0],
    `${'all tcp 10.2.0.2:7001 <- 10.1.0.2:45678'.padEnd(56)} ESTABLISHED:ESTABLISHED`,
  );
  assert.match(text.stdout, /^ {3}age 00:00:0\d, expires in 0[12]:\d\d:\d\d, \d+:\d+ pkts, \d+:\d+ bytes, rule 2$/m);
  assert.match(text.stdout, new RegExp(`^   id: ${s.id} creatorid: [0-9a-f]{8}$`, 'm'));
  const top = await tunpfIn(topo.router, ['top', '--once', '--width', '160']);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /^tcp +all +in +10\.2\.0\.2:7001 <- 10\.1\.0\.2:45678 +ESTABLISHED:ESTABLISHED /m);
  assert.match(top.stdout, /^view: states/m);
  const result = JSON.parse((await stream).stdout.trim().split('\n').pop()!);
  assert.equal(result.ok, true, 'listing states does not disturb the flow');
});

test('show info, timeouts, limits, tables, table', { skip: skip ?? false }, async () => {
  const info = await ctlJson<ShowInfoResult>(topo.router, 'show', 'info');
  assert.ok(info.forward!.packetsIn > 0 && info.forward!.packetsOut > 0);
  assert.ok(info.counters.match > 0);
  assert.ok(info.states.inserts >= 2);
  assert.equal(info.rules, 5);
  const text = await ctl(topo.router, 'show', 'info');
  assert.match(text.stdout, /^Status: Enabled for 0 days 00:0\d:\d\d +Hostid: 0x[0-9a-f]{8}$/m);
  assert.match(text.stdout, /^ {2}match +\d+ +\d+\.\d\/s$/m);
  // set loginterface wan: the flows leave by wan
  const li = info.loginterface!;
  assert.equal(li.name, 'wan');
  assert.ok(li.ipv4.packetsOutPassed > 0 && li.ipv4.bytesOut > 0);
  assert.match(text.stdout, /^Interface Stats for wan {15}IPv4 {13}IPv6$/m);
  assert.match(text.stdout, /^ {2}Bytes Out +\d+ +\d+$/m);
  assert.equal((await ctlJson<ShowTimeoutsResult>(topo.router, 'show', 'timeouts')).timeouts['tcp.established'], 7200);
  assert.match((await ctl(topo.router, 'show', 'timeouts')).stdout, /^tcp\.established +7200s$/m);
  assert.deepEqual((await ctlJson<ShowLimitsResult>(topo.router, 'show', 'limits')).limits.states.limit, 100000);
  assert.match((await ctl(topo.router, 'show', 'limits')).stdout, /^states +hard limit +100000$/m);
  const tables = await ctlJson<ShowTablesResult>(topo.router, 'show', 'tables');
  assert.deepEqual(
    tables.tables.map((t) => [t.name, t.count, t.referenced]),
    [['web', 1, true]],
  );
  assert.equal((await ctl(topo.router, 'show', 'table', 'web')).stdout, '   10.2.0.0/24\n');
});

test('CARP and pfsync commands say they are not configured', { skip: skip ?? false }, async () => {
  for (const [args, what] of [
    [['show', 'carp'], 'CARP'],
    [['carp', 'promote'], 'CARP'],
    [['show', 'pfsync'], 'pfsync'],
  ] as const) {
    const r = await ctl(topo.router, ...args);
    assert.deepEqual([r.code, r.stderr], [1, `tunpf ctl: ${what} is not configured\n`]);
  }
});

test('stop removes the socket', { skip: skip ?? false }, async () => {
  const path = defaultSocketOf(topo.router);
  assert.equal(await topo.stopDaemon('SIGTERM'), 0);
  assert.throws(() => statSync(path), /ENOENT/);
  const r = await ctl(topo.router, 'show', 'rules');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no tunpf daemon is running/);
});
