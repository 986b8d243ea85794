// Everything shipped for users to copy stays valid: every ruleset in rules/
// passes `tunpf check -v`, every HA file `tunpf check -v --ha`, and the
// systemd unit only uses options tunpf has.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkUsage } from '../../src/cli/check-command.js';
import { runUsage } from '../../src/cli/run-command.js';

const compiled = import.meta.url.endsWith('.js');
const root = fileURLToPath(new URL(compiled ? '../../../' : '../../', import.meta.url));
const mainPath = join(root, compiled ? 'dist/src/cli/main.js' : 'src/cli/main.ts');
const rules = join(root, 'rules');

function tunpf(...args: string[]) {
  const r = spawnSync(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), mainPath, ...args], {
    encoding: 'utf8',
    cwd: root,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

// the shipped rulesets name lan, wan and sync; described here so the result does not depend on the host
const interfaces = [
  '--interface',
  'lan=192.168.10.2/24,2001:db8:10::2/64',
  '--interface',
  'wan=198.51.100.3/29,2001:db8:ffff::3/64',
  '--interface',
  'sync=10.255.0.1/30',
];

const rulesets = readdirSync(rules)
  .filter((f) => f.endsWith('.conf'))
  .sort();
const haFiles = readdirSync(rules)
  .filter((f) => f.endsWith('.ha'))
  .sort();

test('rules/ ships the lab, the two-router example and teaching rulesets', () => {
  for (const f of ['lab.conf', 'gateway.conf', 'first-steps.conf', 'web-server.conf'])
    assert.ok(rulesets.includes(f), f);
  for (const f of ['lab-r1.ha', 'lab-r2.ha', 'gateway-r1.ha', 'gateway-r2.ha']) assert.ok(haFiles.includes(f), f);
});

for (const f of rulesets) {
  test(`tunpf check -v rules/${f}: valid, no warnings`, () => {
    const r = tunpf('check', '-vv', ...interfaces, join('rules', f));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^@0 /m, 'prints the loaded rules');
  });
}

for (const f of rulesets) {
  test(`rules/${f}: the check command its header shows passes as written`, () => {
    const header = readFileSync(join(rules, f), 'utf8').split('\n').slice(0, 15).join('\n');
    // the comment's `tunpf check ... rules/F.conf`, continuation lines joined
    const written = /tunpf (check [^\n]*?rules\/\S+\.conf)/.exec(header.replace(/\\\n#\s*/g, ' '));
    assert.ok(written, `${f} shows how to check it`);
    const r = tunpf(...written[1]!.split(/\s+/));
    assert.equal(r.code, 0, r.stderr);
  });
}

test('rules/gateway.conf: NAT behind the WAN address, a port forward, ssh to the router, CARP and pfsync', () => {
  const r = tunpf('check', '-vv', ...interfaces, join('rules', 'gateway.conf'));
  assert.equal(r.code, 0, r.stderr);
  for (const line of [
    'match out on wan inet from 192.168.10.0/24 to any nat-to (wan) round-robin',
    'pass in on wan inet proto tcp from any to (wan) port = 443 flags S/SA keep state (max 5000, source-track rule, ' +
      'max-src-conn 100, max-src-conn-rate 30/5, overload <bruteforce> flush global, adaptive.start 3000, ' +
      'adaptive.end 6000, src.track 5) label "web-443" rdr-to 192.168.10.80 ' +
      '# tunpf: adaptive timeouts follow the whole state table',
    'pass out on lan inet proto tcp from any to 192.168.10.80 port = 443 flags S/SA',
    'pass in quick on lan proto tcp from <admins> to (lan) port = 22 flags S/SA',
    'pass quick on lan proto carp all no state',
    'pass quick on wan proto carp all no state',
    'pass quick on sync proto pfsync all no state',
  ])
    assert.match(r.stdout, new RegExp(`^@\\d+ ${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
  assert.match(r.stdout, /^@0 block return log all$/m, 'default deny, the router included');
});

for (const f of haFiles) {
  test(`tunpf check -v --ha rules/${f}: valid, no warnings, no passphrase printed`, () => {
    const r = tunpf('check', '-v', '--ha', join('rules', f));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^carp carp-lan: carpdev lan /m);
    assert.match(r.stdout, /^carp carp-wan: carpdev wan /m);
    assert.match(r.stdout, /^pfsync: syncdev sync syncpeer /m);
    for (const m of readFileSync(join(rules, f), 'utf8').matchAll(/pass "([^"]+)"/g))
      assert.ok(!r.stdout.includes(m[1]!), 'the passphrase stays secret');
  });
}

for (const [ruleset, ha] of [
  ['lab.conf', 'lab-r1.ha'],
  ['lab.conf', 'lab-r2.ha'],
  ['gateway.conf', 'gateway-r1.ha'],
  ['gateway.conf', 'gateway-r2.ha'],
] as const) {
  test(`tunpf check --ha rules/${ha} rules/${ruleset}: the ruleset lets CARP and pfsync through`, () => {
    const r = tunpf('check', ...interfaces, '--ha', join('rules', ha), join('rules', ruleset));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });
}

test('the pairs agree: same groups, vhids, addresses and passphrases; each syncs to the other', () => {
  for (const [a, b] of [
    ['lab-r1.ha', 'lab-r2.ha'],
    ['gateway-r1.ha', 'gateway-r2.ha'],
  ] as const) {
    const [ta, tb] = [a, b].map((f) => readFileSync(join(rules, f), 'utf8'));
    const groups = (t: string) =>
      [...t.matchAll(/carpdev (\S+) vhid (\d+)[\s\S]*?pass "([^"]+)"([\s\S]*?)\}/g)].map((m) => [
        m[1],
        m[2],
        m[3],
        [...m[4]!.matchAll(/address (\S+)/g)].map((x) => x[1]),
      ]);
    assert.deepEqual(groups(ta!), groups(tb!), `${a} and ${b}`);
    const skews = (t: string) => [...t.matchAll(/advskew (\d+)/g)].map((m) => Number(m[1]));
    assert.ok(Math.max(...skews(ta!)) < Math.min(...skews(tb!)), `${a} is the preferred master`);
    // each one's syncpeer is the other's sync address (given in the example's comments)
    const peer = (t: string) => t.match(/syncpeer (\S+)/)![1];
    const own = (t: string) => t.match(/# +sync (\S+)\/\d+/)?.[1];
    if (own(ta!) || own(tb!)) {
      assert.equal(peer(ta!), own(tb!));
      assert.equal(peer(tb!), own(ta!));
    } else assert.notEqual(peer(ta!), peer(tb!));
  }
});

test('the systemd unit runs tunpf with options tunpf has, and checks before it starts', () => {
  const unit = readFileSync(join(root, 'contrib/systemd/tunpf.service'), 'utf8');
  const line = (key: string) =>
    unit
      .split('\n')
      .find((l) => l.startsWith(`${key}=`))!
      .slice(key.length + 1);
  const start = line('ExecStart');
  const pre = line('ExecStartPre');
  assert.match(start, /main\.js run /);
  assert.match(pre, /main\.js check /);
  for (const [cmd, usage] of [
    [start, runUsage],
    [pre, checkUsage],
  ] as const) {
    for (const opt of cmd.match(/ -{1,2}[a-z][a-z-]*/g) ?? [])
      assert.ok(usage.includes(opt.trim()), `${opt.trim()} is not an option of: ${cmd}`);
  }
  assert.match(unit, /^After=network-online\.target$/m);
  assert.match(unit, /^Wants=network-online\.target$/m);
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW$/m);
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});
