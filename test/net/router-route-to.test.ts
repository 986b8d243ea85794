// route-to and reply-to with two uplinks: client — router — (wan1, wan2) —
// server. The router's main table sends everything by wan1; route-to sends
// the client's traffic by wan2, and reply-to sends the replies of a
// connection that came in on wan2 back by wan2. tcpdump on the server's two
// links says which way the packets went.
//   client c0 10.1.0.2/24 | router lan 10.1.0.1, wan1 198.51.100.2/24, wan2 203.0.113.2/24
//   | server s1 198.51.100.1/24, s2 203.0.113.1/24, 192.0.2.80/32 on lo

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { echoServerArgs, sleep, startTunpfRun, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();
let client: Netns, router: Netns, server: Netns;
const children: ChildProcess[] = [];
const daemonLog: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'tunpf-routeto-'));

before(async () => {
  if (skip) return;
  [client, router, server] = [new Netns(), new Netns(), new Netns()];
  router.exec('ip', 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'c0', 'netns', client.name);
  router.exec('ip', 'link', 'add', 'wan1', 'type', 'veth', 'peer', 'name', 's1', 'netns', server.name);
  router.exec('ip', 'link', 'add', 'wan2', 'type', 'veth', 'peer', 'name', 's2', 'netns', server.name);
  for (const ns of [client, router, server]) ns.exec('ip', 'link', 'set', 'lo', 'up');
  const addr = (ns: Netns, dev: string, a: string) => {
    ns.exec('ip', 'addr', 'add', a, 'dev', dev);
    ns.exec('ip', 'link', 'set', dev, 'up');
  };
  addr(client, 'c0', '10.1.0.2/24');
  client.exec('ip', 'route', 'add', 'default', 'via', '10.1.0.1');
  addr(router, 'lan', '10.1.0.1/24');
  addr(router, 'wan1', '198.51.100.2/24');
  addr(router, 'wan2', '203.0.113.2/24');
  router.exec('ip', 'route', 'add', 'default', 'via', '198.51.100.1');
  addr(server, 's1', '198.51.100.1/24');
  addr(server, 's2', '203.0.113.1/24');
  server.exec('ip', 'addr', 'add', '192.0.2.80/32', 'dev', 'lo');
  // the server reaches the client through wan2, and takes packets for it on either link
  server.exec('ip', 'route', 'add', '10.1.0.0/24', 'via', '203.0.113.2');
  for (const dev of ['all', 'default', 's1', 's2']) server.exec('sysctl', '-qw', `net.ipv4.conf.${dev}.rp_filter=0`);
  for (const [ns, port] of [
    [server, 7000],
    [client, 7100],
  ] as const) {
    const echo = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...echoServerArgs([port])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TUNPF_TEST_NETNS: ns.name },
    });
    children.push(echo);
    await waitForOutput(echo, 'ready');
  }
  const rules = join(dir, 'rules.conf');
  writeFileSync(
    rules,
    'pass all\n' +
      'pass in on lan proto tcp from 10.1.0.2 to port 7000 route-to (wan2 203.0.113.1)\n' +
      'pass in on wan2 proto tcp to 10.1.0.2 port 7100 reply-to (wan2 203.0.113.1)\n',
  );
  children.push(await startTunpfRun(router, ['-f', rules, '--interfaces', 'lan,wan1,wan2'], daemonLog));
});

after(async () => {
  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  for (const ns of [client, router, server]) ns?.delete();
});

/** Runs fn while tcpdump listens on the server's two links; the TCP packets each saw, by link. */
async function watch(fn: () => Promise<void>): Promise<Record<'s1' | 's2', string[]>> {
  const seen = { s1: [] as string[], s2: [] as string[] };
  const dumps = (['s1', 's2'] as const).map((dev) => {
    const d = spawn('ip', ['netns', 'exec', server.name, 'tcpdump', '-l', '-n', '-i', dev, 'tcp'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    d.stdout.on('data', (x) => seen[dev].push(...String(x).split('\n').filter(Boolean)));
    return d;
  });
  await Promise.all(dumps.map((d) => waitForOutput(d, 'listening on')));
  await fn();
  await sleep(300);
  for (const d of dumps) d.kill('SIGTERM');
  return seen;
}

const probe = async (from: Netns, host: string, port: string) => {
  const r = await runInNetns(from, 'probe', ['tcp', host, port, '2000']);
  return JSON.parse(r.stdout.trim().split('\n').pop() || '{"ok":false}') as { ok: boolean; received?: number };
};

test(
  "route-to: the client's connection leaves by wan2, though the main table says wan1",
  { skip: skip ?? false },
  async () => {
    const seen = await watch(async () => {
      const r = await probe(client, '192.0.2.80', '7000');
      assert.equal(r.ok, true, `the echo came back; daemon: ${daemonLog.join('')}`);
    });
    assert.ok(
      seen.s2.some((l) => l.includes('10.1.0.2.') && l.includes('> 192.0.2.80.7000')),
      seen.s2.join('\n'),
    );
    assert.ok(!seen.s1.some((l) => l.includes('> 192.0.2.80.7000')), `nothing to the server by wan1: ${seen.s1}`);
  },
);

test('without route-to, the main table decides: another port leaves by wan1', { skip: skip ?? false }, async () => {
  const seen = await watch(async () => {
    assert.equal((await probe(client, '192.0.2.80', '7001')).ok, false, 'nothing listens on 7001: a RST answers');
  });
  assert.ok(
    seen.s1.some((l) => l.includes('> 192.0.2.80.7001')),
    seen.s1.join('\n'),
  );
  assert.ok(!seen.s2.some((l) => l.includes('> 192.0.2.80.7001')), seen.s2.join('\n'));
});

test('reply-to: replies to a connection that came in on wan2 leave by wan2', { skip: skip ?? false }, async () => {
  const seen = await watch(async () => {
    const r = await probe(server, '10.1.0.2', '7100');
    assert.equal(r.ok, true, `the echo came back; daemon: ${daemonLog.join('')}`);
  });
  assert.ok(
    seen.s2.some((l) => l.includes('10.1.0.2.7100 >')),
    `replies on wan2: ${seen.s2.join('\n')}`,
  );
  assert.ok(!seen.s1.some((l) => l.includes('10.1.0.2.7100 >')), `no reply by wan1: ${seen.s1.join('\n')}`);
});

test('the kernel changes for route targets are taken away on stop', { skip: skip ?? false }, async () => {
  const rules = () => router.exec('ip', 'rule', 'show');
  assert.match(rules(), /iif tpf-rt-1 lookup 17201/);
  assert.match(router.exec('ip', 'route', 'show', 'table', '17201'), /default via 203\.0\.113\.1 dev wan2/);
  const d = children.pop()!;
  const exited = new Promise((r) => d.once('exit', r));
  d.kill('SIGTERM');
  await exited;
  assert.doesNotMatch(rules(), /tpf-rt/);
  assert.equal(router.exec('ip', 'route', 'show', 'table', '17201').trim(), '');
});
