// `tunpf run` refuses to start, with a clear message and nothing changed, on
// a bad ruleset and on a missing interface.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netTestsUnavailable, withNetns } from './helpers/netns.js';
import { mainPath } from './helpers/topology.js';

const skip = netTestsUnavailable();
const dir = mkdtempSync(join(tmpdir(), 'tunpf-refuse-'));

function run(ns: string, ...args: string[]) {
  const node = [...(mainPath.endsWith('.ts') ? ['--import', 'tsx'] : []), mainPath, 'run', ...args];
  return spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...node], { encoding: 'utf8', timeout: 20000 });
}

test('a bad ruleset: check-style errors, exit 1, no kernel change', { skip: skip ?? false }, async () => {
  await withNetns(1, async (ns) => {
    ns.exec('ip', 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'lan-peer');
    const before = ns.exec('ip', 'rule', 'show');
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, 'pass in on lan proto tcp to port nosuch\n');
    const r = run(ns.name, '-f', bad, '--interfaces', 'lan');
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /bad\.conf:1:34: error: unknown port name 'nosuch'\n {2}pass in on lan proto tcp to port nosuch\n {35}\^/,
    );
    assert.match(r.stderr, /ruleset not loaded; tunpf not started/);
    assert.equal(ns.exec('ip', 'rule', 'show'), before);
    assert.doesNotMatch(ns.exec('ip', 'link', 'show'), /tpf-/);
  });
});

test('a missing interface: one clear line, exit 1, no kernel change', { skip: skip ?? false }, async () => {
  await withNetns(1, async (ns) => {
    const good = join(dir, 'good.conf');
    writeFileSync(good, 'pass all\n');
    const before = ns.exec('ip', 'rule', 'show');
    const r = run(ns.name, '-f', good, '--interfaces', 'nosuch0');
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'tunpf run: no such interface: nosuch0\n');
    assert.equal(ns.exec('ip', 'rule', 'show'), before);
  });
});

test('set skip on an interface: it gets no TUN and no steering rule', { skip: skip ?? false }, async () => {
  await withNetns(1, async (ns) => {
    ns.exec('ip', 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'lan-peer');
    ns.exec('ip', 'link', 'add', 'mgmt', 'type', 'veth', 'peer', 'name', 'mgmt-peer');
    ns.exec('ip', 'link', 'set', 'lan', 'up');
    ns.exec('ip', 'link', 'set', 'mgmt', 'up');
    const f = join(dir, 'skip.conf');
    writeFileSync(f, 'set skip on mgmt\npass all\n');
    const { spawn } = await import('node:child_process');
    const node = [
      ...(mainPath.endsWith('.ts') ? ['--import', 'tsx'] : []),
      mainPath,
      'run',
      '-f',
      f,
      '--interfaces',
      'lan,mgmt',
      '--json-logs',
    ];
    const d = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...node], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(out)), 15000);
      d.stdout.on('data', (x) => {
        out += x;
        if (out.includes('tunpf started')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const links = ns.exec('ip', 'link', 'show');
    const rules = ns.exec('ip', 'rule', 'show');
    d.kill('SIGTERM');
    await new Promise((r) => d.once('exit', r));
    assert.match(links, /tpf-lan/);
    assert.doesNotMatch(links, /tpf-mgmt/);
    assert.match(rules, /iif lan lookup/);
    assert.doesNotMatch(rules, /iif mgmt/);
  });
});
