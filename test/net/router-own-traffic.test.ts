// The router's own traffic goes through tunpf: what is addressed to the
// router is checked `in` on the interface it arrives on, what the router
// sends is checked `out` on the interface it leaves by, `set skip on`
// leaves an interface's traffic alone, a dead tunpf leaves the router
// unreachable (fail closed), and a stop puts the kernel back as it was.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import type { ShowStatesResult } from '../../src/control/results.js';
import { ctlJson } from './helpers/ctl.js';
import { netTestsUnavailable, runInNetns } from './helpers/netns.js';
import { echoServerArgs, sleep, Topology, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;
let routerEcho: ChildProcess;
let clean: ReturnType<Topology['routerSnapshot']>;
let cleanSysctls: string;

const SYSCTLS = [
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_forward',
  'net.ipv6.conf.all.forwarding',
  'net.ipv4.conf.all.rp_filter',
];
const sysctls = () => SYSCTLS.map((s) => `${s}=${topo.router.exec('sysctl', '-n', s).trim()}`).join('\n');

// 7022 and 7023 listen on the router itself; the server echoes on 7000 and 7001
const RULES = `block in all
pass in on lan proto tcp to (lan) port 7022
pass in on lan proto tcp to 10.2.0.2 port 7000
pass out all
block out on wan proto tcp to port 7001
`;

before(async () => {
  if (skip) return;
  topo = await Topology.create([7000, 7001]);
  routerEcho = spawn('ip', ['netns', 'exec', topo.router.name, process.execPath, ...echoServerArgs([7022, 7023])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForOutput(routerEcho, 'ready');
  clean = topo.routerSnapshot();
  cleanSysctls = sysctls();
  await topo.startDaemon(topo.writeRules(RULES));
});

after(async () => {
  routerEcho?.kill('SIGKILL');
  await topo?.destroy();
});

const tcp = async (from: 'client' | 'router', host: string, port: number) =>
  (await topo.probe(topo[from], 'tcp', host, String(port), '100')).ok;

test(
  'block in protects the router; the allowed port connects and its state is listed',
  { skip: skip ?? false },
  async () => {
    assert.equal(await tcp('client', '10.1.0.1', 7022), true, 'pass in on lan ... port 7022');
    assert.equal(await tcp('client', 'fd01::1', 7022), true, 'and over IPv6');
    assert.equal(await tcp('client', '10.1.0.1', 7023), false, 'block in all');
    assert.equal(await tcp('client', 'fd01::1', 7023), false);
    assert.equal(await tcp('client', '10.2.0.1', 7022), false, 'to (lan) only: not the wan address');
    const stream = runInNetns(topo.client, 'probe', ['stream', '10.1.0.1', '7022', '2'], 20000, {
      PROBE_LOCAL_PORT: '45601',
    });
    await sleep(800);
    const { states } = await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', '--port', '45601');
    assert.equal(states.length, 1, 'one state: the packet was checked in only');
    assert.deepEqual(
      { proto: states[0]!.proto, direction: states[0]!.direction, src: states[0]!.src, dst: states[0]!.dst },
      {
        proto: 'tcp',
        direction: 'in',
        src: { address: '10.1.0.2', port: 45601 },
        dst: { address: '10.1.0.1', port: 7022 },
      },
    );
    assert.equal(JSON.parse((await stream).stdout.trim()).ok, true);
  },
);

test(
  "the router's own connections are checked out on the interface they leave by",
  { skip: skip ?? false },
  async () => {
    assert.equal(await tcp('router', '10.2.0.2', 7000), true);
    assert.equal(await tcp('router', 'fd02::2', 7000), true, 'IPv6, with the source the kernel picks');
    assert.equal(await tcp('router', '10.2.0.2', 7001), false, 'block out on wan ... port 7001');
    assert.equal(await tcp('router', 'fd02::2', 7001), false);
    assert.match(topo.router.exec('ping', '-c', '1', '-W', '2', '10.2.0.2'), /1 received/);
    assert.match(topo.router.exec('ping', '-c', '1', '-W', '2', 'fd02::2'), /1 received/);
    const stream = runInNetns(topo.router, 'probe', ['stream', '10.2.0.2', '7000', '2'], 20000, {
      PROBE_LOCAL_PORT: '45602',
    });
    await sleep(800);
    const { states } = await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', '--port', '45602');
    assert.equal(states.length, 1, JSON.stringify(states));
    assert.deepEqual(
      { direction: states[0]!.direction, src: states[0]!.src, dst: states[0]!.dst },
      { direction: 'out', src: { address: '10.2.0.1', port: 45602 }, dst: { address: '10.2.0.2', port: 7000 } },
    );
    assert.equal(JSON.parse((await stream).stdout.trim()).ok, true);
    const icmp = await ctlJson<ShowStatesResult>(topo.router, 'show', 'states', '--proto', 'icmp');
    assert.ok(
      icmp.states.some((s) => s.direction === 'out' && s.dst.address === '10.2.0.2'),
      'the ping has a state',
    );
    // forwarding goes on as before
    assert.equal(await tcp('client', '10.2.0.2', 7000), true);
    assert.equal(await tcp('client', '10.2.0.2', 7001), false);
  },
);

test('set skip on an interface leaves its traffic unfiltered', { skip: skip ?? false }, async () => {
  await topo.stopDaemon('SIGTERM');
  await topo.startDaemon(topo.writeRules('set skip on wan\nblock all\n', 'skip.conf'));
  assert.equal(await tcp('router', '10.2.0.2', 7001), true, 'wan is skipped');
  assert.equal(await tcp('client', '10.1.0.1', 7022), false, 'lan is not');
  await topo.stopDaemon('SIGTERM');
  await topo.startDaemon(topo.writeRules(RULES));
});

test(
  'a dead tunpf leaves the router unreachable; a restart cleans up and serves again',
  { skip: skip ?? false },
  async () => {
    assert.equal(await tcp('client', '10.1.0.1', 7022), true);
    await topo.stopDaemon('SIGKILL');
    await sleep(200);
    assert.equal(await tcp('client', '10.1.0.1', 7022), false, 'nothing reaches the router (IPv4)');
    assert.equal(await tcp('client', 'fd01::1', 7022), false, 'nor over IPv6');
    assert.equal(await tcp('router', '10.2.0.2', 7000), false, 'nothing leaves it');
    assert.equal(await tcp('router', 'fd02::2', 7000), false);
    await topo.startDaemon(topo.writeRules(RULES));
    assert.equal((topo.router.exec('ip', 'rule', 'show').match(/lookup local/g) ?? []).length, 1, 'one local rule');
    assert.equal(await tcp('client', '10.1.0.1', 7022), true);
    assert.equal(await tcp('router', '10.2.0.2', 7000), true);
    assert.equal(await topo.stopDaemon('SIGTERM'), 0);
    assert.deepEqual(topo.routerSnapshot(), clean, 'rules and tables as they were');
    assert.equal(sysctls(), cleanSysctls, 'sysctls as they were');
    assert.equal(await tcp('client', '10.1.0.1', 7023), true, 'without tunpf the router is open again');
  },
);
