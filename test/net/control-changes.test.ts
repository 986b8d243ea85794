// tunpf ctl's changing commands against a daemon in a namespace: kill
// states by host ends that connection, by id one state; flush; a table
// edit makes a `block from <t>` rule bite and lifts it; reload changes
// verdicts and keeps states, a bad reload says where and changes nothing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { sleep, Topology } from './helpers/topology.js';
import { ctl, ctlJson } from './helpers/ctl.js';
import type {
  KillStatesResult,
  ShowRulesResult,
  ShowStatesResult,
  TableChangeResult,
} from '../../src/control/results.js';

const skip = netTestsUnavailable();
let topo: Topology;

const RULES = `table <blocked> persist
block all
block in quick on lan from <blocked>
pass in on lan proto tcp from 10.1.0.0/24 to any port { 7000 7001 }
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

const lastJson = (out: string) => JSON.parse(out.trim().split('\n').pop()!);
const tcpOk = async (port = '7000') => (await topo.probe(topo.client, 'tcp', '10.2.0.2', port, '2000')).ok;

test('kill states -k HOST ends that connection; -k id -k ID one state', { skip: skip ?? false }, async () => {
  const stream = runInNetns(topo.client, 'probe', ['stream', '10.2.0.2', '7000', '3'], 20000, {
    PROBE_LOCAL_PORT: '45001',
  });
  await sleep(1000);
  assert.equal(
    (await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', '--port', '45001')).matched,
    2,
    'a state on each side of the router, as pf keeps them',
  );
  const none = await ctl(topo.router, 'kill', 'states', '-k', '10.9.9.9');
  assert.deepEqual([none.code, none.stdout], [0, 'killed 0 states\n']);
  const r = await ctl(topo.router, 'kill', 'states', '-k', '10.1.0.2', '-k', '10.2.0.2');
  assert.deepEqual([r.code, r.stdout], [0, 'killed 2 states\n']);
  assert.equal((await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', '--port', '45001')).matched, 0);
  const result = lastJson((await stream).stdout);
  assert.equal(
    result.ok,
    false,
    `the connection's later segments meet the rules, which want a SYN: ${JSON.stringify(result)}`,
  );
  assert.ok(result.received < result.sent);

  assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000')).ok, true);
  const udp = (await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', '--proto', 'udp')).states;
  assert.equal(udp.length, 2, 'in on lan and out on wan');
  assert.deepEqual(await ctlJson<KillStatesResult>(topo.router, 'kill', 'states', '-k', 'id', '-k', udp[0].id), {
    killed: 1,
  });
  assert.deepEqual(
    (await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', '--proto', 'udp')).states.map((x) => x.id),
    [udp[1].id],
    'the other one stays',
  );
  const bad = await ctl(topo.router, 'kill', 'states', '-k', 'id', '-k', 'zz');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /tunpf ctl: id: 'zz' is not a state id/);
});

test('flush states removes every state', { skip: skip ?? false }, async () => {
  assert.equal(await tcpOk('7001'), true);
  assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000')).ok, true);
  const n = (await ctlJson<ShowStatesResult>(topo.router, 'show', 'states')).total;
  assert.ok(n >= 2, `states before the flush: ${n}`);
  const r = await ctl(topo.router, 'flush', 'states');
  assert.deepEqual([r.code, r.stdout], [0, `${n} states cleared\n`]);
  assert.equal((await ctlJson<ShowStatesResult>(topo.router, 'show', 'states')).total, 0);
});

test(
  'table add makes block from <blocked> bite; delete lifts it; replace and flush',
  { skip: skip ?? false },
  async () => {
    assert.equal(await tcpOk(), true);
    const add = await ctl(topo.router, 'table', 'blocked', 'add', '10.1.0.2');
    assert.deepEqual([add.code, add.stdout], [0, '1/1 addresses added.\n']);
    assert.equal(await tcpOk(), false, 'the table bites at once');
    assert.equal((await ctl(topo.router, 'show', 'table', 'blocked')).stdout, '   10.1.0.2\n');
    const del = await ctl(topo.router, 'table', 'blocked', 'delete', '10.1.0.2');
    assert.deepEqual([del.code, del.stdout], [0, '1/1 addresses deleted.\n']);
    assert.equal(await tcpOk(), true, 'and lets go');
    assert.deepEqual(
      await ctlJson<TableChangeResult>(topo.router, 'table', 'blocked', 'replace', '10.1.0.0/24', '!10.1.0.2'),
      {
        table: 'blocked',
        created: false,
        added: 2,
        deleted: 0,
        count: 2,
      },
    );
    assert.equal(await tcpOk(), true, '!10.1.0.2 excludes the client');
    assert.deepEqual(await ctlJson<TableChangeResult>(topo.router, 'table', 'blocked', 'replace', '10.1.0.0/24'), {
      table: 'blocked',
      created: false,
      added: 0,
      deleted: 1,
      count: 1,
    });
    assert.equal(await tcpOk(), false);
    assert.equal((await ctl(topo.router, 'table', 'blocked', 'flush')).stdout, '1 addresses deleted.\n');
    assert.equal(await tcpOk(), true);
  },
);

test(
  'reload -f changes verdicts and keeps states; a bad file says where and changes nothing',
  { skip: skip ?? false },
  async () => {
    const stream = runInNetns(topo.client, 'probe', ['stream', '10.2.0.2', '7000', '4']);
    await sleep(1000);
    const next = join(topo.dir, 'next.conf');
    writeFileSync(next, 'block all\npass in on lan proto tcp from 10.1.0.0/24 to any port 7001\npass out on wan all\n');
    const r = await ctl(topo.router, 'reload', '-f', next);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^reloaded ${next}: 3 rules, \\d+ states kept\\n$`));
    assert.equal(await tcpOk('7000'), false, 'new flows to 7000 are blocked now');
    assert.equal(await tcpOk('7001'), true);
    const result = lastJson((await stream).stdout);
    assert.equal(result.ok, true, `the established transfer went on: ${JSON.stringify(result)}`);

    const bad = join(topo.dir, 'bad.conf');
    writeFileSync(bad, 'block all\npass in on lan proto tcp to port nonsense\n');
    const refused = await ctl(topo.router, 'reload', '-f', bad);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      new RegExp(
        `^${bad}:2:34: error: unknown port name 'nonsense'\\n` +
          `  pass in on lan proto tcp to port nonsense\\n {35}\\^\\n` +
          `tunpf ctl: ${bad}: 1 error, ruleset not loaded; the running ruleset stays\\n$`,
      ),
    );
    assert.equal(
      (await ctlJson<ShowRulesResult>(topo.router, 'show', 'rules')).rules.length,
      3,
      'the running ruleset stays',
    );
    assert.equal(await tcpOk('7001'), true);
    const missing = await ctl(topo.router, 'reload', '-f', join(topo.dir, 'missing.conf'));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*missing\.conf: ENOENT; the running ruleset stays/);
    assert.ok(topo.daemon!.exitCode === null, 'the daemon runs on');
  },
);
