// `tunpf check` as a user runs it: exit codes, stdout, stderr, no stack traces.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const compiled = import.meta.url.endsWith('.js');
const mainPath = fileURLToPath(new URL(`../../src/cli/main.${compiled ? 'js' : 'ts'}`, import.meta.url));

function tunpf(...args: string[]) {
  const r = spawnSync(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), mainPath, ...args], {
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'tunpf-check-'));
const good = join(dir, 'good.conf');
writeFileSync(good, 'ext = "wan"\nblock all\npass out on $ext proto tcp to port { 80 443 }\n');
const bad = join(dir, 'bad.conf');
writeFileSync(bad, 'pass in on $nope all\npass proto tcp to port 99999\npass all\n');

test('a valid file: exit 0, nothing printed without -v', () => {
  const r = tunpf('check', good);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
});

test('-v prints the ruleset as pfctl -nv: macros echoed, rules expanded, not numbered', () => {
  const r = tunpf('check', '-v', good);
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    'ext = "wan"\n' +
      'block drop all\n' +
      'pass out on wan proto tcp from any to any port = 80 flags S/SA\n' +
      'pass out on wan proto tcp from any to any port = 443 flags S/SA\n',
  );
});

test('-vv numbers the rules, as pfctl -nvv', () => {
  const r = tunpf('check', '-vv', good);
  assert.equal(r.code, 0);
  assert.equal(
    r.stdout,
    'ext = "wan"\n' +
      '@0 block drop all\n' +
      '@1 pass out on wan proto tcp from any to any port = 80 flags S/SA\n' +
      '@2 pass out on wan proto tcp from any to any port = 443 flags S/SA\n',
  );
});

test('errors: every one reported as FILE:LINE:COL with a caret, exit 1', () => {
  const r = tunpf('check', '-v', bad);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(
    r.stderr,
    new RegExp(
      `${bad.replace(/[.\\/]/g, '\\$&')}:1:12: error: macro 'nope' not defined\n` +
        `  pass in on \\$nope all\n             \\^`,
    ),
  );
  assert.match(r.stderr, /bad\.conf:2:24: error: port 99999 out of range/);
  assert.match(r.stderr, /2 errors, ruleset not loaded/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('a missing file is one clear line, exit 1', () => {
  const r = tunpf('check', join(dir, 'missing.conf'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^tunpf: cannot read .*missing\.conf: ENOENT\n$/);
});

test('usage errors exit 2', () => {
  assert.equal(tunpf('check').code, 2);
  assert.equal(tunpf('frobnicate').code, 2);
  assert.equal(tunpf('check', '--bogus', good).code, 2);
  const help = tunpf('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /check/);
});

test('-D defines a macro, as pfctl -D', () => {
  const f = join(dir, 'define.conf');
  writeFileSync(f, 'pass in on $lan all\n');
  const r = tunpf('check', '-v', '-D', 'lan=em0', f);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'pass in on em0 all flags S/SA\n', 'a -D macro is not echoed, as pfctl');
});

test('--ha with a ruleset that blocks CARP or pfsync: an error with the rule and the line to add; --ha-warn', () => {
  const haFile = join(dir, 'node.ha');
  writeFileSync(haFile, 'carp c { carpdev lan vhid 1 pass "s" address 10.1.0.1/24 }\npfsync { syncdev sync }\n');
  const ifs = ['--interface', 'lan=10.1.0.2/24', '--interface', 'sync=10.9.0.1/30'];
  const blocking = join(dir, 'blocking.conf');
  writeFileSync(blocking, 'block all\npass on sync proto pfsync\n');
  const r = tunpf('check', ...ifs, '--ha', haFile, blocking);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    `${blocking}:1: error: carp c: advertisements (IPv4) are blocked in and out on lan by rule @0 "block drop all"\n` +
      '\tadd after line 1: pass on lan proto carp no state\n',
  );
  const warned = tunpf('check', ...ifs, '--ha', haFile, '--ha-warn', blocking);
  assert.equal(warned.code, 0);
  assert.match(warned.stderr, /^.*blocking\.conf:1: warning: carp c: /);
  assert.deepEqual(tunpf('check', '-q', ...ifs, '--ha', haFile, '--ha-warn', blocking), {
    code: 0,
    stdout: '',
    stderr: '',
  });
  const passing = join(dir, 'passing.conf');
  writeFileSync(passing, 'block all\npass on lan proto carp no state\npass on sync proto pfsync\n');
  assert.deepEqual(tunpf('check', ...ifs, '--ha', haFile, passing), { code: 0, stdout: '', stderr: '' });
});
