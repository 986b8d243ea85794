// Translation through `tunpf run`: a client behind `nat-to (wan)` reaches a
// server that has no route back to the client's network, and the server sees
// only the router's wan address; a port forward (`rdr-to`) on the router's
// wan address reaches a server inside, and its replies leave from the
// router's address and port. The server's socket says whom it talks to.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ShowStatesResult, StateInfo } from '../../src/control/results.js';
import { ctl, ctlJson } from './helpers/ctl.js';
import { netTestsUnavailable, runInNetns, type Netns } from './helpers/netns.js';
import { Topology, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();

const RULES = `
match out on wan inet  from 10.1.0.0/24 nat-to (wan)
match out on wan inet6 from fd01::/64  nat-to (wan)
block all
pass in on lan from { 10.1.0.0/24 fd01::/64 }
pass in on lan inet6 proto ipv6-icmp icmp6-type { neighbrsol neighbradv }
pass out on wan
pass in on wan proto { tcp udp } to (wan) port 8022 rdr-to 10.1.0.2 port 7022
pass in on wan inet6 proto ipv6-icmp icmp6-type { neighbrsol neighbradv }
pass out on lan proto { tcp udp } to 10.1.0.2 port 7022
`;
const WHO_PORT = 7100;

interface Asked {
  ok: boolean;
  reason?: string;
  local?: { address: string; port: number };
  seen?: { address: string; port: number };
  from?: { address: string; port: number };
}

let topo: Topology;
const servers: ChildProcess[] = [];

async function servePeerEcho(ns: Netns, port: number): Promise<void> {
  const compiled = import.meta.url.endsWith('.js');
  const script = fileURLToPath(new URL(`./helpers/peer-echo.${compiled ? 'js' : 'ts'}`, import.meta.url));
  const p = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns.name,
      process.execPath,
      ...(compiled ? [] : ['--import', 'tsx']),
      script,
      'serve',
      String(port),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  servers.push(p);
  await waitForOutput(p, 'ready');
}

async function ask(from: Netns, proto: 'tcp' | 'udp', host: string, port: number): Promise<Asked> {
  const r = await runInNetns(from, 'peer-echo', ['ask', proto, host, String(port)]);
  return JSON.parse(r.stdout.trim().split('\n').pop() || '{"ok":false}') as Asked;
}

const states = async () => (await ctlJson<ShowStatesResult>(topo.router, 'show', 'states')).states;

function pings(from: Netns, host: string): boolean {
  try {
    from.exec('ping', '-c', '1', '-W', '2', host);
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  if (skip) return;
  topo = await Topology.create([7000]);
  // the server knows only its own network: without translation it could not answer the client
  topo.server.exec('ip', 'route', 'del', 'default');
  topo.server.exec('ip', '-6', 'route', 'del', 'default');
  await servePeerEcho(topo.server, WHO_PORT);
  await servePeerEcho(topo.client, 7022);
  await topo.startDaemon(topo.writeRules(RULES));
});

after(async () => {
  for (const p of servers) p.kill('SIGKILL');
  await topo?.destroy();
});

/** The translated state of a flow from the client's local port: its wire and stack keys. */
function natState(all: StateInfo[], proto: string, localPort: number): StateInfo | undefined {
  return all.find((s) => s.proto === proto && s.stack?.src.port === localPort && s.direction === 'out');
}

for (const proto of ['tcp', 'udp'] as const) {
  test(
    `nat-to: ${proto} from the client reaches the server, which sees only the router`,
    { skip: skip ?? false },
    async () => {
      const r = await ask(topo.client, proto, '10.2.0.2', WHO_PORT);
      assert.equal(r.ok, true, JSON.stringify(r) + topo.daemonLog.join(''));
      assert.equal(r.seen!.address, '10.2.0.1', 'the server sees the router, not 10.1.0.2');
      assert.ok(r.seen!.port >= 50001 && r.seen!.port <= 65535, `port from pf's proxy range: ${r.seen!.port}`);
      assert.deepEqual(r.from, { address: '10.2.0.2', port: WHO_PORT }, 'the reply is translated back');

      const s = natState(await states(), proto, r.local!.port);
      assert.ok(s, `a translated state for local port ${r.local!.port}`);
      assert.deepEqual(s.src, r.seen, 'the wire key: the router address and port the server saw');
      assert.deepEqual(s.stack!.src, { address: '10.1.0.2', port: r.local!.port }, 'the stack key: the client');
      assert.deepEqual(s.dst, { address: '10.2.0.2', port: WHO_PORT });
      const text = (await ctl(topo.router, 'show', 'states')).stdout;
      assert.ok(
        text.includes(`10.2.0.1:${r.seen!.port} (10.1.0.2:${r.local!.port}) -> 10.2.0.2:${WHO_PORT}`),
        `show states prints both keys as pfctl -ss does:\n${text}`,
      );
    },
  );
}

test('nat-to: ping from the client is answered through the translation', { skip: skip ?? false }, async () => {
  assert.equal(pings(topo.client, '10.2.0.2'), true, topo.daemonLog.join(''));
  const s = (await states()).find((x) => x.proto === 'icmp' && x.stack?.src.address === '10.1.0.2');
  assert.equal(s?.src.address, '10.2.0.1');
});

test('nat-to over IPv6: the server sees the router wan address', { skip: skip ?? false }, async () => {
  for (const proto of ['tcp', 'udp'] as const) {
    const r = await ask(topo.client, proto, 'fd02::2', WHO_PORT);
    assert.equal(r.ok, true, `${proto}: ${JSON.stringify(r)}`);
    assert.equal(r.seen!.address, 'fd02::1', `${proto}: the server sees the router, not fd01::2`);
    assert.deepEqual(r.from, { address: 'fd02::2', port: WHO_PORT });
    const s = natState(await states(), proto, r.local!.port);
    assert.equal(s?.af, 6);
    assert.deepEqual(s.src, r.seen);
    assert.equal(s.stack!.src.address, 'fd01::2');
  }
});

test(
  'nat-to over IPv6: ping6 from the client is answered through the translation',
  {
    skip: skip ?? false,
    // router-setup sends every ICMPv6 packet for the router to the kernel (neighbour discovery must arrive on
    // the real interface): the echo reply to the translated address never reaches tunpf, nor would a
    // Packet Too Big for a translated connection
    todo: 'ICMPv6 addressed to the router bypasses tunpf (ip rule ipproto ipv6-icmp lookup local)',
  },
  async () => {
    assert.equal(pings(topo.client, 'fd02::2'), true);
    const s = (await states()).find((x) => x.proto === 'ipv6-icmp' && x.stack?.src.address === 'fd01::2');
    assert.equal(s?.src.address, 'fd02::1');
  },
);

for (const proto of ['tcp', 'udp'] as const) {
  test(
    `rdr-to: ${proto} to the router's port 8022 reaches the inside server's 7022`,
    { skip: skip ?? false },
    async () => {
      const r = await ask(topo.server, proto, '10.2.0.1', 8022);
      assert.equal(r.ok, true, JSON.stringify(r) + topo.daemonLog.join(''));
      assert.deepEqual(r.seen, { address: '10.2.0.2', port: r.local!.port }, 'the inside server sees the real client');
      assert.deepEqual(
        r.from,
        { address: '10.2.0.1', port: 8022 },
        "the reply comes from the router's address and port",
      );
      const s = (await states()).find(
        (x) => x.proto === proto && x.direction === 'in' && x.src.port === r.local!.port && x.stack !== undefined,
      );
      assert.ok(s, 'an inbound translated state');
      assert.deepEqual(s.dst, { address: '10.2.0.1', port: 8022 });
      assert.deepEqual(s.stack!.dst, { address: '10.1.0.2', port: 7022 });
    },
  );
}

test('the premise: the server has no route back to the client network', { skip: skip ?? false }, () => {
  assert.throws(() => topo.server.exec('ip', 'route', 'get', '10.1.0.2'), /unreachable/);
  assert.throws(() => topo.server.exec('ip', '-6', 'route', 'get', 'fd01::2'), /unreachable/);
});
