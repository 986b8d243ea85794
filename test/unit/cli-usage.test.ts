// The CLI's own consistency: every flag a subcommand accepts is in its usage
// text (long and short form), `tunpf help CMD` prints that usage,
// `tunpf --version` the package's version, and `check -f FILE` works as `run -f`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands, main } from '../../src/cli/main.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) } };
}

test("every subcommand's usage lists each flag it accepts, long and short", () => {
  for (const [name, c] of Object.entries(commands)) {
    for (const [long, o] of Object.entries(c.flags)) {
      if (long === 'help') continue; // every command takes -h/--help; the main usage says so
      const flag = new RegExp(`(^|[\\s\\[|,(])--${long}(?![\\w-])`, 'm');
      assert.match(c.usage, flag, `tunpf ${name}: --${long} is accepted but not in its usage`);
      if (o.short)
        assert.match(
          c.usage,
          new RegExp(`(^|[\\s\\[|,(])-${o.short}(?![\\w-])`, 'm'),
          `tunpf ${name}: -${o.short} is accepted but not in its usage`,
        );
    }
  }
});

test('help CMD prints the command usage; help with an unknown command is a usage error', async () => {
  for (const [name, c] of Object.entries(commands)) {
    const r = io();
    assert.equal(await main(['help', name], r.io), 0);
    assert.deepEqual(r.out, [c.usage]);
  }
  const r = io();
  assert.equal(await main(['help', 'nosuch'], r.io), 2);
  assert.match(r.err.join('\n'), /no command 'nosuch'/);
});

test('--version prints the package version', async () => {
  const compiled = import.meta.url.endsWith('.js');
  const pkg = JSON.parse(readFileSync(new URL(`${compiled ? '../' : ''}../../package.json`, import.meta.url), 'utf8'));
  for (const flag of ['--version', '-V']) {
    const r = io();
    assert.equal(await main([flag], r.io), 0);
    assert.deepEqual(r.out, [`tunpf ${pkg.version}`]);
  }
});

test('check -f FILE works like check FILE; a second file is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-usage-'));
  const file = join(dir, 'r.conf');
  writeFileSync(file, 'pass all\n');
  const flagged = io();
  const plain = io();
  assert.equal(await main(['check', '-v', '-f', file], flagged.io), 0);
  assert.equal(await main(['check', '-v', file], plain.io), 0);
  assert.deepEqual(flagged.out, plain.out);
  assert.ok(flagged.out.length > 0);
  const both = io();
  assert.equal(await main(['check', '-f', file, file], both.io), 2);
  assert.match(both.err.join('\n'), /expected one rule file/);
});
