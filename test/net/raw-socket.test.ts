// Raw IP sockets between two namespaces over veth: multicast to the CARP
// groups on both families, sent with TTL / hop limit 255, received with the
// TTL and the ingress interface.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { netTestsUnavailable, runInNetns, withNetns } from './helpers/netns.js';
import { waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();
const compiled = import.meta.url.endsWith('.js');

test(
  'protocol 112 multicast, IPv4 and IPv6: TTL 255 and the ingress interface arrive with each packet',
  { skip: skip ?? false },
  async () => {
    await withNetns(2, async (a, b) => {
      a.exec('ip', 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0', 'netns', b.name);
      a.exec('ip', 'addr', 'add', '10.50.0.1/24', 'dev', 'a0');
      b.exec('ip', 'addr', 'add', '10.50.0.2/24', 'dev', 'b0');
      a.exec('ip', 'link', 'set', 'a0', 'up');
      b.exec('ip', 'link', 'set', 'b0', 'up');
      // wait for IPv6 link-local addresses (the source of ff02:: traffic)
      for (let k = 0; k < 40 && !/fe80/.test(a.exec('ip', '-6', 'addr', 'show', 'dev', 'a0')); k++)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 2000)); // DAD
      const script = fileURLToPath(new URL(`./helpers/raw-peer.${compiled ? 'js' : 'ts'}`, import.meta.url));
      const recv = spawn(
        'ip',
        ['netns', 'exec', b.name, process.execPath, ...(compiled ? [] : ['--import', 'tsx']), script, 'recv', 'b0'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, TUNPF_TEST_NETNS: b.name },
        },
      );
      await waitForOutput(recv, '"ready":true');
      const done = waitForOutput(recv, /"af":6[\s\S]*"af":4|"af":4[\s\S]*"af":6/, 8000);
      const sent = await runInNetns(a, 'raw-peer', ['send', 'a0']);
      assert.equal(sent.code, 0, sent.stderr);
      const lines = (await done)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((x) => x.af);
      recv.kill();
      const ifindex = Number(b.exec('cat', '/sys/class/net/b0/ifindex').trim());
      const v4 = lines.find((x) => x.af === 4);
      const v6 = lines.find((x) => x.af === 6);
      assert.deepEqual(v4, { af: 4, ttl: 255, ifindex, source: '10.50.0.1', payload: 'carp over ipv4' });
      assert.equal(v6.ttl, 255);
      assert.equal(v6.ifindex, ifindex);
      assert.match(v6.source, /^fe80::/);
      assert.equal(v6.payload, 'carp over ipv6');
    });
  },
);
