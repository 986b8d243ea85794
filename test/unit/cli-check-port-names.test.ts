// `tunpf check -P` prints ports by service name from the services database
// (--services pins it); without -P ports stay numbers, as pfctl prints them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';

const dir = mkdtempSync(join(tmpdir(), 'tunpf-port-names-'));
const rules = join(dir, 'pf.conf');
const services = join(dir, 'services');
writeFileSync(rules, 'pass in proto tcp to port { 22, 2222 }\npass in proto udp to port 22\n');
writeFileSync(services, 'ssh 22/tcp\nalt-ssh 2222/tcp\n');

async function check(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['check', '-v', '--interface', 'em0=10.0.0.1/24', ...args], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('-P prints service names of the rule protocol, numbers without -P', async () => {
  const named = await check('-P', '--services', services, rules);
  assert.equal(named.code, 0);
  assert.deepEqual(named.out.split('\n'), [
    'pass in proto tcp from any to any port = ssh flags S/SA',
    'pass in proto tcp from any to any port = alt-ssh flags S/SA',
    'pass in proto udp from any to any port = 22',
  ]);
  const numeric = await check('--services', services, rules);
  assert.match(numeric.out, /port = 22 flags S\/SA\n.*port = 2222 flags/);
});

test('an unreadable services file is an error, not a silent fallback', async () => {
  const r = await check('-P', '--services', join(dir, 'missing'), rules);
  assert.equal(r.code, 2);
  assert.match(r.err, /cannot read .*missing: ENOENT/);
});
