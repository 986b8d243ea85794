// `tunpf lab` for real: `up --quick` builds the two-router lab with one
// master per CARP group and the client reaching the server through the
// virtual addresses; `down` leaves nothing behind (no namespace, process,
// file or link), twice in a row, and after an `up` killed half-way; as a
// user, `lab` says it needs root and creates nothing.

import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { netTestsUnavailable } from './helpers/netns.js';
import { mainPath, sleep } from './helpers/topology.js';
import { LAB, LAB_DIR, netnsOf, NODES } from '../../src/lab/lab-plan.js';
import { labExists, type LabState } from '../../src/lab/lab-runtime.js';
import { alive } from '../../src/os/process.js';
import type { StateInfo } from '../../src/control/results.js';

// a lab someone is using is not ours to take down
const skip = netTestsUnavailable() ?? (labExists() ? 'a tunpf lab is already up on this machine' : null);
const nodeArgs = [...(mainPath.endsWith('.ts') ? ['--import', 'tsx'] : []), mainPath];

function tunpf(args: string[], timeoutMs = 45_000) {
  const r = spawnSync(process.execPath, [...nodeArgs, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const inNs = (node: string, ...argv: string[]) =>
  execFileSync('ip', ['netns', 'exec', netnsOf(node as never), ...argv], { encoding: 'utf8' });
const rootLinks = () =>
  execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(':')[1]!.trim().split('@')[0])
    .sort();
const readState = (): LabState => JSON.parse(readFileSync(join(LAB_DIR, 'state.json'), 'utf8')) as LabState;

/** Where this checkout's compiled lab programs live. */
const LAB_CODE = fileURLToPath(new URL('../../src/lab/', import.meta.url));

function labProcessesRunning(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    // this checkout's lab programs only: another checkout's tests may run beside these
    const ours = cmd.includes(`${LAB_CODE}echo-server.`) || cmd.includes(`${LAB_CODE}traffic.`);
    if (cmd.includes(LAB_DIR) || ours || cmd.includes('tpflab-')) found.push(`${pid}: ${cmd}`);
  }
  return found;
}

/** Nothing of the lab is left: namespaces, processes (recorded or not), files, daemon folders, host links. */
function assertNothingLeft(state: LabState, linksBefore: string[]): void {
  assert.deepEqual(
    readdirSync('/run/netns').filter((n) => n.startsWith('tpflab-')),
    [],
    'no lab namespace',
  );
  for (const p of state.processes) assert.ok(!alive(p.pid), `${p.role} on ${p.node} (pid ${p.pid}) still runs`);
  assert.deepEqual(labProcessesRunning(), [], 'no lab process');
  assert.ok(!existsSync(LAB_DIR), `${LAB_DIR} is gone`);
  for (const n of state.namespaces)
    assert.ok(!existsSync(`/run/tunpf/net-${n.inode}`), `the daemon folder of ${n.name} is gone`);
  assert.deepEqual(rootLinks(), linksBefore, 'the host has the links it had');
}

after(() => {
  // whatever a failed test left
  if (!skip && labExists()) tunpf(['lab', 'down']);
});

test('as a user, tunpf lab says in one line that it needs root, and creates nothing', { skip: skip ?? false }, () => {
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...nodeArgs, 'lab'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^tunpf lab: needs root \(.*\): run it with sudo\n$/);
  assert.ok(!labExists());
});

let linksBefore: string[] = [];
let state: LabState;

test(
  'up --quick: one master per group, the client reaches the server through the virtual addresses',
  { skip: skip ?? false },
  async () => {
    linksBefore = rootLinks();
    const t0 = Date.now();
    const r = tunpf(['lab', 'up', '--quick', '--fast']);
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /tunpf lab: up in [\d.]+ s: r\d is master of carp-lan and carp-wan/);
    assert.match(r.stdout, /lab down +remove everything/);
    assert.ok(took < 30_000, `up took ${took} ms`);
    state = readState();
    assert.equal(state.phase, 'up');
    assert.deepEqual(
      state.namespaces.map((n) => n.name),
      NODES.map(netnsOf),
    );

    // through each router's default socket, as `ip netns exec tpflab-rN tunpf ctl` finds it, and through `lab ctl`
    const carp1 = JSON.parse(inNs('r1', process.execPath, ...nodeArgs, 'ctl', '--json', 'show', 'carp'));
    const carp2 = JSON.parse(tunpf(['lab', 'ctl', 'r2', '--json', 'show', 'carp']).stdout);
    for (const group of ['carp-lan', 'carp-wan']) {
      const roles = [carp1, carp2].map((c) => c.groups.find((g: { name: string }) => g.name === group).state).sort();
      assert.deepEqual(roles, ['BACKUP', 'MASTER'], `${group}: one master, one backup`);
    }
    const master = carp1.groups[0].state === 'MASTER' ? 'r1' : 'r2';
    const backup = master === 'r1' ? 'r2' : 'r1';
    const addrs = (n: string) => inNs(n, 'ip', '-o', 'addr', 'show');
    for (const vip of [LAB.lan.vip4, LAB.lan.vip6, LAB.wan.vip4, LAB.wan.vip6]) {
      assert.ok(addrs(master).includes(` ${vip}/`), `${master} holds ${vip}`);
      assert.ok(!addrs(backup).includes(` ${vip}/`), `${backup} does not hold ${vip}`);
    }

    // a probe of our own from the client, both families, through the gateways
    const probe = `
    const net = require('node:net'), dgram = require('node:dgram');
    const tcp = () => new Promise((ok, no) => { const s = net.connect(7, '${LAB.server.v4}'); let n = 0;
      s.on('connect', () => s.write(Buffer.alloc(65536, 1)));
      s.on('data', (d) => { n += d.length; if (n >= 65536) { s.destroy(); ok(n); } });
      s.on('error', no); });
    const udp6 = () => new Promise((ok) => { const u = dgram.createSocket('udp6');
      u.on('message', (m) => { u.close(); ok(String(m)); }); u.send('hello6', 7, '${LAB.server.v6}'); });
    const t = setTimeout(() => { console.log(JSON.stringify({ timeout: true })); process.exit(1); }, 5000);
    Promise.all([tcp(), udp6()]).then(([n, m]) => {
      clearTimeout(t); console.log(JSON.stringify({ tcp: n, udp6: m })); });`;
    const out = JSON.parse(inNs('client', process.execPath, '-e', probe));
    assert.deepEqual(out, { tcp: 65536, udp6: 'hello6' });
    // the client reached the gateway address at CARP's virtual MAC
    assert.match(inNs('client', 'ip', 'neigh', 'show', LAB.lan.vip4), /lladdr 00:00:5e:00:01:01/);
    // and the master's tunpf made the states (the backup forwarded nothing)
    const states = (n: string) =>
      JSON.parse(inNs(n, process.execPath, ...nodeArgs, 'ctl', '--json', 'show', 'states', '--address', LAB.client.v4));
    const mine: StateInfo[] = states(master).states;
    assert.ok(
      mine.some((s) => s.dst.port === 7),
      'a state for the echo flows on the master',
    );
    // the LAN is private: the server has no route to it, and the flows leave with the wan CARP address
    assert.throws(() => inNs('server', 'ip', 'route', 'get', LAB.client.v4), /unreachable/);
    assert.ok(
      mine.some((s) => s.af === 4 && s.stack?.src.address === LAB.client.v4 && s.src.address === LAB.wan.vip4),
      `a state translated to ${LAB.wan.vip4}: ${JSON.stringify(mine)}`,
    );

    const st = JSON.parse(tunpf(['lab', 'status', '--json']).stdout);
    assert.equal(st.up, true);
    assert.equal(st.processes.filter((p: { running: boolean }) => p.running).length, 4);
    await sleep(500);
    const flows = JSON.parse(tunpf(['lab', 'status', '--json']).stdout).flows;
    assert.deepEqual(flows.map((f: { name: string }) => f.name).sort(), ['session', 'stream', 'transfer']);
    for (const f of flows)
      assert.ok(f.connected && f.received > 0, `flow ${f.name} gets its echo: ${JSON.stringify(f)}`);
  },
);

test('down: no namespace, process, file or link is left', { skip: skip ?? false }, () => {
  const r = tunpf(['lab', 'down']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removed 6 namespaces, stopped 4 processes/);
  assertNothingLeft(state, linksBefore);
});

test('down again: harmless', { skip: skip ?? false }, () => {
  const r = tunpf(['lab', 'down']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /no lab is up; nothing to remove/);
  assertNothingLeft(state, linksBefore);
});

test('an up killed half-way: a new up refuses, down removes what it left', { skip: skip ?? false }, async () => {
  const before = rootLinks();
  const up = spawn(process.execPath, [...nodeArgs, 'lab', 'up', '--quick'], { stdio: 'ignore' });
  // kill it once both routers run (before the election is over: advbase 1 takes 3 s)
  const t0 = Date.now();
  for (;;) {
    let s: LabState | null = null;
    try {
      s = readState();
    } catch {
      // not written yet
    }
    if (s && s.processes.filter((p) => p.role === 'router').length === 2) break;
    assert.ok(Date.now() - t0 < 20_000, 'the routers started');
    await sleep(50);
  }
  up.kill('SIGKILL');
  await new Promise((r) => up.once('exit', r));
  const partial = readState();
  assert.equal(partial.phase, 'building');

  const again = tunpf(['lab', 'up', '--quick']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /a lab is already up \(or left over\)/);

  const st = tunpf(['lab', 'status']);
  assert.equal(st.code, 1);
  assert.match(st.stdout, /not fully up \(phase building\)/);

  const r = tunpf(['lab', 'down']);
  assert.equal(r.code, 0, r.stderr);
  assertNothingLeft(partial, before);
});
