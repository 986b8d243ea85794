// `tunpf lab` refuses clearly without root, before it touches anything, and
// explains itself with --help; bad arguments are usage errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labCommand } from '../../src/cli/lab-command.js';
import { labNamespaces } from '../../src/lab/lab-runtime.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) } };
}

for (const argv of [
  [],
  ['up', '--quick'],
  ['down'],
  ['status'],
  ['failover'],
  ['exec', 'r1', '--', 'true'],
  ['ctl', 'r1', 'show', 'carp'],
  ['top', 'r2'],
]) {
  test(`tunpf lab ${argv.join(' ')} as a user: one line saying it needs root, exit 1`, async () => {
    const before = labNamespaces();
    const c = io();
    assert.equal(await labCommand(argv, c.io, { uid: 1000 }), 1);
    assert.deepEqual(c.out, []);
    assert.equal(c.err.length, 1);
    assert.match(c.err[0]!, /^tunpf lab: needs root .*sudo/);
    assert.ok(!c.err[0]!.includes('\n'));
    assert.deepEqual(labNamespaces(), before, 'nothing was created');
  });
}

test('--help needs no root and names every subcommand', async () => {
  const c = io();
  assert.equal(await labCommand(['--help'], c.io, { uid: 1000 }), 0);
  for (const w of ['up', '--quick', '--fast', 'down', 'status', 'failover', 'ctl', 'top', 'exec'])
    assert.match(c.out.join('\n'), new RegExp(`\\s${w}\\b`));
});

test('usage errors: an unknown subcommand, ctl without a router, a bad rate', async () => {
  for (const argv of [['sideways'], ['ctl', 'r3', 'show', 'carp'], ['top'], ['up', '--rate', '0'], ['up', '--bogus']]) {
    const c = io();
    assert.equal(await labCommand(argv, c.io, { uid: 0 }), 2, argv.join(' '));
    assert.ok(c.err.length > 0);
  }
});
