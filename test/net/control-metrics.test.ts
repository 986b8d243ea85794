// The metrics endpoint of a daemon in a namespace (tunpf run --metrics),
// scraped over HTTP from inside that namespace: the datapath's packets,
// verdicts, states and per-rule counters move with traffic; nothing listens
// without --metrics, nor outside the namespace; non-loopback is refused.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { sleep, Topology } from './helpers/topology.js';
import { tunpfIn } from './helpers/ctl.js';

const skip = netTestsUnavailable();
let topo: Topology;
let rules: string;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  // the last rule lets a connection to the metrics port reach the router: what answers it is the kernel
  rules = topo.writeRules(
    'block all\npass in on lan proto tcp from 10.1.0.0/24 to any port 7000 label "web"\npass out on wan all\n' +
      'pass in on lan proto tcp to (lan) port 9180\n',
  );
  await topo.startDaemon(rules, ['--metrics', '127.0.0.1:9180']);
});

after(async () => {
  await topo?.destroy();
});

async function scrape(
  ns = topo?.router,
  url = 'http://127.0.0.1:9180/metrics',
): Promise<{ status?: number; type?: string; body?: string; error?: string }> {
  return JSON.parse((await runInNetns(ns, 'http-get', [url])).stdout.trim());
}

/** The value of one sample, by name and labels, from the text format. */
function sample(body: string, name: string, labels = ''): number {
  const line = body.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  assert.ok(line, `${name}{${labels}} in\n${body}`);
  return Number(line.split(' ').pop());
}

test('metrics from inside the namespace move with the traffic', { skip: skip ?? false }, async () => {
  const first = await scrape();
  assert.equal(first.status, 200);
  assert.equal(first.type, 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(first.body!, /^# HELP tunpf_packets_total .*\n# TYPE tunpf_packets_total counter$/m);
  const stream = runInNetns(topo.client, 'probe', ['stream', '10.2.0.2', '7000', '3']);
  await sleep(1500);
  const during = (await scrape()).body!;
  assert.equal(sample(during, 'tunpf_states'), 2, 'the live connection: a state in on lan, one out on wan');
  assert.equal(sample(during, 'tunpf_rule_states', 'rule="1",label="web"'), 1);
  assert.equal(JSON.parse((await stream).stdout.trim().split('\n').pop()!).ok, true);
  assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7001', '10')).ok, false);
  const body = (await scrape()).body!;
  const inBefore = sample(first.body!, 'tunpf_packets_total', 'direction="in"');
  assert.ok(sample(body, 'tunpf_packets_total', 'direction="in"') - inBefore > 100, 'packets read');
  assert.ok(sample(body, 'tunpf_packets_total', 'direction="out"') > 100, 'packets written back');
  assert.ok(sample(body, 'tunpf_bytes_total') > 100 * 1024);
  assert.ok(sample(body, 'tunpf_filter_verdicts_total', 'reason="state"') > 100);
  assert.ok(sample(body, 'tunpf_filter_packets_total', 'verdict="block"') >= 1, 'the SYN to 7001');
  assert.equal(sample(body, 'tunpf_rule_packets_total', 'rule="1",label="web"'), 1, 'one SYN decided by the rule');
  assert.ok(sample(body, 'tunpf_rule_evaluations_total', 'rule="0",label=""') >= 2);
  assert.ok(sample(body, 'tunpf_state_inserts_total') >= 1);
  assert.ok(sample(body, 'tunpf_state_searches_total') > 100);
  assert.equal((await scrape(topo.router, 'http://127.0.0.1:9180/')).status, 404);
});

test(
  'the endpoint is not reachable from another namespace, even where the rules let it',
  {
    skip: skip ?? false,
  },
  async () => {
    const r = await scrape(topo.client, 'http://10.1.0.1:9180/metrics');
    assert.equal(r.error, 'ECONNREFUSED');
  },
);

test('a non-loopback address is refused unless --metrics-public', { skip: skip ?? false }, async () => {
  const r = await tunpfIn(topo.router, ['run', '-f', rules, '--interfaces', 'lan,wan', '--metrics', '0.0.0.0:9181']);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'tunpf run: --metrics: 0.0.0.0 is not a loopback address; add --metrics-public to serve metrics beyond this host\n',
  );
});

test('without --metrics nothing listens', { skip: skip ?? false }, async () => {
  assert.equal(await topo.stopDaemon(), 0);
  await topo.startDaemon(rules);
  assert.equal((await scrape()).error, 'ECONNREFUSED');
});
