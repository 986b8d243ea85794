// SIGHUP reloads the ruleset: an established TCP transfer keeps going, new
// rules apply to new flows, and a bad ruleset leaves the running one in place.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { sleep, Topology, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;
let rules: string;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  rules = topo.writeRules(
    'block all\npass in on lan proto tcp from 10.1.0.0/24 to any port { 7000 7001 }\npass out on wan all\n',
  );
  await topo.startDaemon(rules);
});

after(async () => {
  await topo?.destroy();
});

test(
  'a reload keeps established flows and applies to new ones; a bad reload changes nothing',
  { skip: skip ?? false },
  async () => {
    const stream = runInNetns(topo.client, 'probe', ['stream', '10.2.0.2', '7000', '4']);
    await sleep(1000);
    // the new ruleset no longer allows port 7000
    writeFileSync(
      rules,
      'block all\npass in on lan proto tcp from 10.1.0.0/24 to any port 7001\npass out on wan all\n',
    );
    const reloaded = waitForOutput(topo.daemon!, 'ruleset reloaded');
    topo.daemon!.kill('SIGHUP');
    await reloaded;
    assert.equal(
      (await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '10')).ok,
      false,
      'new flows to 7000 are blocked',
    );
    assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7001', '10')).ok, true);
    const result = JSON.parse((await stream).stdout.trim().split('\n').pop()!);
    assert.equal(result.ok, true, `the established transfer went on: ${JSON.stringify(result)}`);
    assert.ok(result.received >= 100 * 1024, `received ${result.received}`);

    writeFileSync(rules, 'block all\npass in on lan proto tcp to port nonsense\n');
    const refused = waitForOutput(topo.daemon!, 'reload refused');
    topo.daemon!.kill('SIGHUP');
    const log = await refused;
    assert.match(log, /rules\.conf:2:34: error: unknown port name 'nonsense'/);
    assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7001', '10')).ok, true, 'the old rules still run');

    // lines starting with an undefined or a recursive macro once escaped the parser and killed the daemon
    for (const [text, error] of [
      ['$nothing\npass all\n', /rules\.conf:1:1: error: macro 'nothing' not defined/],
      ['x = "$x"\n$x\n', /rules\.conf:2:1: error: macro 'x' expands recursively/],
      ['\x00\x1b[2J\xff'.repeat(1000), /rules\.conf:1:1: error: .*\\x00\\x1b\[2J/],
    ] as const) {
      writeFileSync(rules, text);
      const again = waitForOutput(topo.daemon!, 'reload refused');
      topo.daemon!.kill('SIGHUP');
      assert.match(await again, error);
      assert.equal(topo.daemon!.exitCode, null, 'the daemon runs on');
      assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7001', '10')).ok, true, 'and forwards');
    }
  },
);
