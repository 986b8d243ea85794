// tunpf run as a router between two namespaces: traffic passes or is blocked
// exactly as the ruleset says, checked by what arrives at the far end; replies
// pass through state; stopping leaves the router's rules and routes as they were.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns, netTestsUnavailable, runInNetns } from './helpers/netns.js';

const skip = netTestsUnavailable();
const compiled = import.meta.url.endsWith('.js');
const mainPath = fileURLToPath(new URL(`../../src/cli/main.${compiled ? 'js' : 'ts'}`, import.meta.url));

const RULES = `
block all
pass in on lan proto tcp from 10.1.0.0/24 to any port { 7000 7001 }
pass in on lan proto udp from 10.1.0.0/24 to any port 7000
pass in on lan inet6 proto tcp from fd01::/64 to any port 7000
pass out on wan all
`;

let client: Netns, router: Netns, server: Netns;
let daemon: ChildProcess | null = null;
let echo: ChildProcess | null = null;
let before_: { rules: string; routes: string };
const logs: string[] = [];

function snapshot(ns: Netns) {
  return { rules: ns.exec('ip', 'rule', 'show') + ns.exec('ip', '-6', 'rule', 'show'), routes: ns.exec('ip', 'route', 'show', 'table', 'all') + ns.exec('ip', '-6', 'route', 'show', 'table', 'all') };
}

function waitFor(proc: ChildProcess, text: string, ms = 10000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`no '${text}' within ${ms} ms; output: ${buf}`)), ms);
    const on = (d: Buffer) => {
      buf += d;
      logs.push(String(d));
      if (buf.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
  });
}

async function probe(ns: Netns, ...args: string[]): Promise<{ ok: boolean; received?: number }> {
  const r = await runInNetns(ns, 'probe', args);
  return JSON.parse(r.stdout.trim() || '{"ok":false}');
}

before(async () => {
  if (skip) return;
  client = new Netns();
  router = new Netns();
  server = new Netns();
  const sh = (ns: Netns, ...cmd: string[]) => ns.exec(cmd[0]!, ...cmd.slice(1));
  // client c0 <-> router lan, router wan <-> server s0
  sh(router, 'ip', 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'c0', 'netns', client.name);
  sh(router, 'ip', 'link', 'add', 'wan', 'type', 'veth', 'peer', 'name', 's0', 'netns', server.name);
  for (const [ns, dev, v4, v6, gw4, gw6] of [
    [client, 'c0', '10.1.0.2/24', 'fd01::2/64', '10.1.0.1', 'fd01::1'],
    [server, 's0', '10.2.0.2/24', 'fd02::2/64', '10.2.0.1', 'fd02::1'],
  ] as const) {
    sh(ns, 'ip', 'link', 'set', 'lo', 'up');
    sh(ns, 'ip', 'addr', 'add', v4, 'dev', dev);
    sh(ns, 'ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
    sh(ns, 'ip', 'link', 'set', dev, 'up');
    sh(ns, 'ip', 'route', 'add', 'default', 'via', gw4);
    sh(ns, 'ip', '-6', 'route', 'add', 'default', 'via', gw6);
  }
  sh(router, 'ip', 'link', 'set', 'lo', 'up');
  sh(router, 'ip', 'addr', 'add', '10.1.0.1/24', 'dev', 'lan');
  sh(router, 'ip', '-6', 'addr', 'add', 'fd01::1/64', 'dev', 'lan', 'nodad');
  sh(router, 'ip', 'addr', 'add', '10.2.0.1/24', 'dev', 'wan');
  sh(router, 'ip', '-6', 'addr', 'add', 'fd02::1/64', 'dev', 'wan', 'nodad');
  sh(router, 'ip', 'link', 'set', 'lan', 'up');
  sh(router, 'ip', 'link', 'set', 'wan', 'up');
  // the kernel adds link-local addresses and their routes a moment after link up: let it settle
  for (let k = 0; k < 50 && (router.exec('ip', '-6', 'route', 'show', 'table', 'local').match(/fe80::/g) ?? []).length < 2; k++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
  before_ = snapshot(router);

  const env = { ...process.env, TUNPF_TEST_NETNS: server.name };
  const echoPath = fileURLToPath(new URL(`./helpers/echo-server.${compiled ? 'js' : 'ts'}`, import.meta.url));
  echo = spawn('ip', ['netns', 'exec', server.name, process.execPath, ...(compiled ? [] : ['--import', 'tsx']), echoPath, '7000', '7001', '7002'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(echo, 'ready');

  const dir = mkdtempSync(join(tmpdir(), 'tunpf-run-'));
  writeFileSync(join(dir, 'rules.conf'), RULES);
  daemon = spawn('ip', ['netns', 'exec', router.name, process.execPath, ...(compiled ? [] : ['--import', 'tsx']), mainPath, 'run', '-f', join(dir, 'rules.conf'), '--interfaces', 'lan,wan', '--json-logs'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await waitFor(daemon, 'tunpf started');
});

after(async () => {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon!.once('exit', r));
  }
  echo?.kill('SIGKILL');
  for (const ns of [client, router, server]) ns?.delete();
});

test('TCP to an allowed port passes both ways (the replies through state)', { skip: skip ?? false }, async () => {
  assert.deepEqual(await probe(client, 'tcp', '10.2.0.2', '7000', '100000'), { ok: true, received: 100000 });
  assert.deepEqual(await probe(client, 'tcp', '10.2.0.2', '7001', '1000'), { ok: true, received: 1000 });
});

test('TCP to a port the rules do not allow is blocked', { skip: skip ?? false }, async () => {
  const r = await probe(client, 'tcp', '10.2.0.2', '7002', '10');
  assert.equal(r.ok, false);
});

test('UDP passes where allowed', { skip: skip ?? false }, async () => {
  assert.equal((await probe(client, 'udp', '10.2.0.2', '7000')).ok, true);
  assert.equal((await probe(client, 'udp', '10.2.0.2', '7001')).ok, false);
});

test('IPv6 TCP passes where allowed', { skip: skip ?? false }, async () => {
  assert.deepEqual(await probe(client, 'tcp', 'fd02::2', '7000', '5000'), { ok: true, received: 5000 });
  assert.equal((await probe(client, 'tcp', 'fd02::2', '7001', '10')).ok, false);
});

test('an unsolicited connection from outside is blocked', { skip: skip ?? false }, async () => {
  assert.equal((await probe(server, 'tcp', '10.1.0.2', '7000', '10')).ok, false);
});

test('stop (SIGTERM) removes every rule and route tunpf added', { skip: skip ?? false }, async () => {
  daemon!.kill('SIGTERM');
  const code = await new Promise((r) => daemon!.once('exit', r));
  assert.equal(code, 0, logs.join(''));
  assert.deepEqual(snapshot(router), before_);
  assert.doesNotMatch(router.exec('ip', 'link', 'show'), /tpf-/);
});
