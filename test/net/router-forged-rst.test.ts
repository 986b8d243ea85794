// A reset forged from outside with a sequence number outside the window is
// blocked by tunpf (and counted as bad-state); the connection goes on.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { sleep, Topology, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;

const forge = (dport: number) => `
import socket, struct, random
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16; return ~s & 0xffff
src, dst = socket.inet_aton('10.2.0.2'), socket.inet_aton('10.1.0.2')
for _ in range(3):
    seq = random.randrange(1 << 32)
    tcp = struct.pack('!HHIIBBHHH', 7000, ${dport}, seq, 0, 0x50, 0x04, 0, 0, 0)
    tcp = tcp[:16] + struct.pack('!H', csum(src + dst + struct.pack('!BBH', 0, 6, len(tcp)) + tcp)) + tcp[18:]
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, 7, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.sendto(ip + tcp, ('10.1.0.2', 0))
`;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  await topo.startDaemon(
    topo.writeRules('block all\npass in on lan proto tcp from 10.1.0.0/24 to any port 7000\npass out on wan all\n'),
  );
});

after(async () => {
  await topo?.destroy();
});

test('a forged RST outside the window is blocked and the transfer completes', { skip: skip ?? false }, async () => {
  const stream = runInNetns(topo.client, 'probe', ['stream', '10.2.0.2', '7000', '3'], 20000, {
    PROBE_LOCAL_PORT: '45678',
  });
  await sleep(1000);
  topo.server.exec('python3', '-c', forge(45678));
  const result = JSON.parse((await stream).stdout.trim().split('\n').pop()!);
  assert.equal(result.ok, true, JSON.stringify(result));
  const counters = waitForOutput(topo.daemon!, '"msg":"counters"');
  topo.daemon!.kill('SIGUSR1');
  const c = JSON.parse((await counters).split('\n').find((l) => l.includes('"msg":"counters"'))!);
  assert.equal(c.byWhy['bad-state'], 3, JSON.stringify(c));
});
