// Malformed packets are dropped and counted while forwarding goes on; a start
// after a crash cleans up what the dead instance left; two instances refuse
// to share interfaces.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { netTestsUnavailable } from './helpers/netns.js';
import { mainPath, sleep, Topology, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;
let rules: string;
let clean: ReturnType<Topology['routerSnapshot']>;

// A TCP segment whose data offset (15 words) runs past its end, sent with a raw socket.
const MALFORMED = `
import socket, struct
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16; return ~s & 0xffff
tcp = struct.pack('!HHIIBBHHH', 40000, 7000, 1, 0, 0xf0, 0x02, 65535, 0, 0)
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                 socket.inet_aton('10.1.0.2'), socket.inet_aton('10.2.0.2'))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(5): s.sendto(ip + tcp, ('10.2.0.2', 0))
`;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  clean = topo.routerSnapshot();
  rules = topo.writeRules('pass all\n');
  await topo.startDaemon(rules);
});

after(async () => {
  await topo?.destroy();
});

test('malformed packets are dropped and counted, and forwarding goes on', { skip: skip ?? false }, async () => {
  topo.client.exec('python3', '-c', MALFORMED);
  await sleep(300);
  const counters = waitForOutput(topo.daemon!, '"msg":"counters"');
  topo.daemon!.kill('SIGUSR1');
  const line = (await counters).split('\n').find((l) => l.includes('"msg":"counters"'))!;
  const c = JSON.parse(line);
  assert.equal(c.malformed['bad-tcp-offset'], 5);
  assert.equal(c.byWhy.malformed, 5);
  assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '2000'), { ok: true, received: 2000 });
});

test('a second instance on the same interfaces refuses to start', { skip: skip ?? false }, async () => {
  const second = spawn(
    'ip',
    [
      'netns',
      'exec',
      topo.router.name,
      process.execPath,
      ...(mainPath.endsWith('.ts') ? ['--import', 'tsx'] : []),
      mainPath,
      'run',
      '-f',
      rules,
      '--interfaces',
      'lan,wan',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = await waitForOutput(second, /filtered by another tunpf \(pid \d+\)/);
  assert.match(out, /interface lan is filtered by another tunpf/);
  const code = await new Promise((r) => second.once('exit', r));
  assert.equal(code, 1);
  assert.equal(
    (await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '100')).ok,
    true,
    'the first instance still forwards',
  );
});

test(
  'after a crash (SIGKILL) the next start cleans up, and its stop leaves the router clean',
  { skip: skip ?? false },
  async () => {
    await topo.stopDaemon('SIGKILL');
    assert.match(topo.router.exec('ip', 'rule', 'show'), /iif lan lookup 17000/, 'the dead instance left its rules');
    await topo.startDaemon(rules);
    assert.equal((topo.router.exec('ip', 'rule', 'show').match(/iif lan/g) ?? []).length, 1, 'no duplicate rules');
    assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '100')).ok, true);
    assert.equal(await topo.stopDaemon('SIGTERM'), 0);
    assert.deepEqual(topo.routerSnapshot(), clean);
  },
);
