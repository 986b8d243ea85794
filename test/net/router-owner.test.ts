// `user` and `group` on the router's own sockets: connections the router
// opens as nobody, as root and as root with another group leave or not by
// the rules; a connection to the router is let in by the user listening on
// its port; forwarded connections have an unknown owner.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { netTestsUnavailable, type Netns } from './helpers/netns.js';
import { echoServerArgs, Topology, waitForOutput } from './helpers/topology.js';

const skip = netTestsUnavailable();
let topo: Topology;
const echoes: ChildProcess[] = [];

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
const ROOT = ['--reuid=0', '--regid=0', '--clear-groups'];
const ROOT_GROUP_4242 = ['--reuid=0', '--regid=4242', '--clear-groups'];
const USER_1000 = ['--reuid=1000', '--regid=1000', '--clear-groups'];

// the server echoes on 7000 and 7001; on the router, root listens on 7022, nobody on 7024
const RULES = `pass all
block out quick on wan proto tcp user 65534
block out quick on wan proto { tcp udp } group 4242
block out on wan proto tcp to port 7001
pass out on wan proto tcp to port 7001 user 0
block out quick on wan proto tcp to port 7001 user unknown
block in on lan proto tcp to port { 7022 7024 }
pass in on lan proto tcp to port { 7022 7024 } user 65534
`;

const compiled = import.meta.url.endsWith('.js');
const probeScript = fileURLToPath(new URL(`./helpers/probe.${compiled ? 'js' : 'ts'}`, import.meta.url));

/** `probe ARGS` in `ns` run by setpriv with `ids`; its ok. */
function probeAs(ns: Netns, ids: string[], ...args: string[]): Promise<boolean> {
  const node = [...(compiled ? [] : ['--import', 'tsx']), probeScript, ...args];
  const child = spawn('ip', ['netns', 'exec', ns.name, 'setpriv', ...ids, process.execPath, ...node], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  return new Promise((resolve) =>
    child.on('close', () =>
      resolve((JSON.parse(out.trim().split('\n').pop() || '{}') as { ok?: boolean }).ok === true),
    ),
  );
}

function echoAs(ns: Netns, ids: string[], port: number): Promise<string> {
  const p = spawn('ip', ['netns', 'exec', ns.name, 'setpriv', ...ids, process.execPath, ...echoServerArgs([port])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  echoes.push(p);
  return waitForOutput(p, 'ready');
}

before(async () => {
  if (skip) return;
  topo = await Topology.create([7000, 7001]);
  await echoAs(topo.router, ROOT, 7022);
  await echoAs(topo.router, NOBODY, 7024);
  await topo.startDaemon(topo.writeRules(RULES));
});

after(async () => {
  for (const e of echoes) e.kill('SIGKILL');
  await topo?.destroy();
});

test("the router's own connections leave by their socket's user and group", { skip: skip ?? false }, async () => {
  const r = topo.router;
  assert.equal(await probeAs(r, ROOT, 'tcp', '10.2.0.2', '7000', '100'), true, 'root: pass all');
  assert.equal(await probeAs(r, ROOT, 'tcp', 'fd02::2', '7000', '100'), true, 'root over IPv6');
  assert.equal(await probeAs(r, ROOT, 'tcp', '10.2.0.2', '7001', '100'), true, 'pass out ... port 7001 user 0');
  assert.equal(await probeAs(r, NOBODY, 'tcp', '10.2.0.2', '7000', '100'), false, 'block out quick ... user nobody');
  assert.equal(await probeAs(r, NOBODY, 'tcp', 'fd02::2', '7000', '100'), false, 'nobody over IPv6');
  assert.equal(await probeAs(r, USER_1000, 'tcp', '10.2.0.2', '7000', '100'), true, 'uid 1000: pass all');
  assert.equal(await probeAs(r, USER_1000, 'tcp', '10.2.0.2', '7001', '100'), false, 'port 7001 is for root');
  assert.equal(await probeAs(r, ROOT_GROUP_4242, 'tcp', '10.2.0.2', '7000', '100'), false, 'group 4242, uid 0');
  assert.equal(await probeAs(r, ROOT_GROUP_4242, 'udp', '10.2.0.2', '7000'), false, 'group 4242 over UDP');
  assert.equal(await probeAs(r, ROOT, 'udp', '10.2.0.2', '7000'), true, 'root over UDP');
});

test('a connection to the router is let in by the user listening on its port', { skip: skip ?? false }, async () => {
  const c = topo.client;
  assert.equal(await probeAs(c, ROOT, 'tcp', '10.1.0.1', '7024', '100'), true, 'nobody listens on 7024');
  assert.equal(await probeAs(c, ROOT, 'tcp', 'fd01::1', '7024', '100'), true, 'and over IPv6');
  assert.equal(await probeAs(c, ROOT, 'tcp', '10.1.0.1', '7022', '100'), false, 'root listens on 7022');
});

test('forwarded connections have an unknown owner', { skip: skip ?? false }, async () => {
  const c = topo.client;
  assert.equal(await probeAs(c, NOBODY, 'tcp', '10.2.0.2', '7000', '100'), true, 'not blocked as nobody');
  assert.equal(await probeAs(c, ROOT, 'tcp', '10.2.0.2', '7001', '100'), false, 'user unknown');
});
