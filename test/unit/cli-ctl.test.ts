// `tunpf ctl` and `tunpf top --once` as a user runs them, against a control
// server in this process that serves a filter driven with built packets.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerFilterCommands } from '../../src/control/filter-commands.js';
import { ControlServer } from '../../src/control/server.js';
import { buildUdp } from '../../src/packet/build.js';
import { loadRulesetFile } from '../../src/rules/load-file.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';
import { Flow, TcpPair } from './helpers/flow.js';
import { Direction } from '../../src/packet/meta.js';

const compiled = import.meta.url.endsWith('.js');
const mainPath = fileURLToPath(new URL(`../../src/cli/main.${compiled ? 'js' : 'ts'}`, import.meta.url));

function tunpf(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), mainPath, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'tunpf-cli-ctl-'));
const socket = join(dir, 'control.sock');
const rulesFile = join(dir, 'rules.conf');
const RULES =
  'table <bad> persist\n' +
  'block all\n' +
  'block in quick from <bad>\n' +
  'pass in on lan proto tcp from 192.168.1.0/24 to any label "web"\n' +
  'pass in on lan proto udp all\n';
let flow: Flow;
let server: ControlServer;

before(() => {
  writeFileSync(rulesFile, RULES);
  flow = new Flow(RULES);
  const c = new TcpPair('192.168.1.10', '198.51.100.80', 40000, 443);
  flow.send(c.c('S'));
  flow.send(c.s('SA'), Direction.OUT, 'lan');
  flow.send(c.c('A', 100));
  flow.send(buildUdp({ src: '192.168.1.20', dst: '9.9.9.9', sport: 5353, dport: 53 }));
  server = new ControlServer({ path: socket });
  registerFilterCommands(server, {
    filter: () => flow.filter,
    states: flow.states,
    forwardCounters: () => null,
    now: () => flow.now,
    startedAt: flow.now - 60,
    rulesFile,
    loadRuleset: (p) => loadRulesetFile(p, { interfaces: TEST_INTERFACES }),
    applyRuleset: (rs) => flow.filter.reload(rs),
  });
  server.listen();
});

after(() => server?.close());

test('no daemon: one line, exit 1', async () => {
  const r = await tunpf('ctl', '--socket', join(dir, 'nothing.sock'), 'show', 'info');
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `tunpf ctl: no tunpf daemon is running (nothing listens on ${join(dir, 'nothing.sock')})\n`);
});

test('usage errors: exit 2 with the usage', async () => {
  for (const args of [
    ['show', 'colours'],
    ['show', 'states', '--sort', 'colour'],
    ['kill', 'states'],
    ['table', 'bad', 'frobnicate'],
    [],
  ]) {
    const r = await tunpf('ctl', '--socket', socket, ...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, /^tunpf ctl: .*\nusage: tunpf ctl/, args.join(' '));
  }
});

test('show rules and show states, human and --json', async () => {
  const rules = await tunpf('ctl', '--socket', socket, 'show', 'rules');
  assert.equal(rules.code, 0, rules.stderr);
  assert.match(
    rules.stdout,
    new RegExp(
      String.raw`^@2 pass in on lan inet proto tcp from 192\.168\.1\.0/24 to any flags S/SA label "web"\n` +
        String.raw` {2}\[ Evaluations: 2 +Packets: 1 +Bytes: 40 +States: 1 +\]$`,
      'm',
    ),
  );
  const states = await tunpf('ctl', '--socket', socket, 'show', 'states', '--proto', 'tcp', '-v');
  assert.equal(states.code, 0, states.stderr);
  assert.equal(
    states.stdout.split('\n')[0],
    `${'all tcp 198.51.100.80:443 <- 192.168.1.10:40000'.padEnd(56)} ESTABLISHED:ESTABLISHED`,
  );
  assert.match(states.stdout, /^ {3}age 00:00:00, expires in 24:00:00, 2:1 pkts, 180:40 bytes, rule 2$/m);
  const json = JSON.parse(
    (await tunpf('ctl', '--socket', socket, '--json', 'show', 'states', '--address', '9.9.9.9')).stdout,
  );
  assert.equal(json.total, 2);
  assert.deepEqual(
    json.states.map((s: { dst: unknown }) => s.dst),
    [{ address: '9.9.9.9', port: 53 }],
  );
});

test('tables through the CLI, and an error answer exits 1', async () => {
  const add = await tunpf('ctl', '--socket', socket, 'table', 'bad', 'add', '10.0.0.1', '10.9.0.0/16');
  assert.deepEqual([add.code, add.stdout], [0, '2/2 addresses added.\n']);
  assert.equal(
    (await tunpf('ctl', '--socket', socket, 'table', 'bad', 'show')).stdout,
    '   10.0.0.1\n   10.9.0.0/16\n',
  );
  const bad = await tunpf('ctl', '--socket', socket, 'table', 'bad', 'add', 'nonsense');
  assert.deepEqual(
    [bad.code, bad.stderr],
    [1, 'tunpf ctl: not an address or network: nonsense; the table is unchanged\n'],
  );
  assert.equal((await tunpf('ctl', '--socket', socket, 'table', 'bad', 'flush')).stdout, '2 addresses deleted.\n');
});

test('CARP and pfsync commands on a daemon without them say so', async () => {
  for (const [args, what] of [
    [['show', 'carp'], 'CARP'],
    [['carp', 'demote', '5'], 'CARP'],
    [['show', 'pfsync'], 'pfsync'],
  ] as const) {
    const r = await tunpf('ctl', '--socket', socket, ...args);
    assert.deepEqual([r.code, r.stderr], [1, `tunpf ctl: ${what} is not configured\n`]);
  }
});

test('reload: a bad file prints check diagnostics and exits 1; a good one reloads', async () => {
  const bad = join(dir, 'bad.conf');
  writeFileSync(bad, 'block all\npass in proto tcp to port nonsense\n');
  const r = await tunpf('ctl', '--socket', socket, 'reload', '-f', bad);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(
      String.raw`bad\.conf:2:27: error: unknown port name 'nonsense'\n` +
        String.raw` {2}pass in proto tcp to port nonsense\n {28}\^\n` +
        String.raw`tunpf ctl: .*bad\.conf: 1 error, ruleset not loaded; the running ruleset stays\n$`,
    ),
  );
  assert.equal(flow.filter.rules.count, 4);
  const ok = await tunpf('ctl', '--socket', socket, 'reload');
  assert.deepEqual([ok.code, ok.stdout], [0, `reloaded ${rulesFile}: 4 rules, 2 states kept\n`]);
});

test('top --once prints one frame with the live states', async () => {
  const r = await tunpf('top', '--once', '--socket', socket, '--width', '150');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^tunpf top/);
  assert.match(r.stdout, /states 2\/100000/);
  assert.match(r.stdout, /^tcp +all +in +198\.51\.100\.80:443 <- 192\.168\.1\.10:40000 +ESTABLISHED:ESTABLISHED/m);
  assert.match(r.stdout, /^udp +all +in +9\.9\.9\.9:53 <- 192\.168\.1\.20:5353 /m);
  assert.ok(r.stdout.indexOf('198.51.100.80') < r.stdout.indexOf('9.9.9.9'), 'sorted by bytes');
  const escape = new RegExp(String.fromCharCode(0x1b));
  assert.doesNotMatch(r.stdout, escape, 'no escape codes in --once');
  const rules = await tunpf('top', '--once', '--rules', '--socket', socket);
  assert.match(rules.stdout, /^@2 .* pass in on lan inet proto tcp/m);
});
