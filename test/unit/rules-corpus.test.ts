// Every rule file under test/fixtures/rules (subfolders too) loads, and
// `tunpf check -v` prints exactly the canonical form stored beside it; or it
// is refused, and the `.expected` file holds the diagnostics' first lines
// (NAME.conf:LINE:COL: error: message), one a line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { main } from '../../src/cli/main.js';
import { fixturesDir } from './helpers/paths.js';

const root = join(fixturesDir, 'rules');

// each area's rulesets in a folder of its own; `load anchor` paths there are relative to the repository (the cwd)
/** A folder's `args` file, else its parent's. */
function argsFor(dir: string): string[] {
  const own = join(dir, 'args');
  const file = existsSync(own) ? own : join(root, 'args');
  return readFileSync(file, 'utf8').trim().split(/\s+/);
}

function corpus(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) corpus(join(dir, entry.name));
    else if (entry.name.endsWith('.conf')) caseFor(dir, entry.name);
  }
}

function caseFor(dir: string, name: string): void {
  test(`canonical output of ${relative(root, join(dir, name))}`, async () => {
    const path = join(dir, name);
    const expected = readFileSync(path.replace(/\.conf$/, '.expected'), 'utf8');
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['check', '-v', '-q', ...argsFor(dir), path], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    if (!expected.startsWith(`${name}:`)) {
      assert.equal(code, 0, err.join('\n'));
      assert.equal(out.join('\n') + '\n', expected);
      return;
    }
    assert.notEqual(code, 0, 'the ruleset is refused');
    const heads = err
      .join('\n')
      .split('\n')
      .filter((l) => /^:[0-9]+:[0-9]+: /.test(l.slice(path.length)) && l.startsWith(path))
      .map((l) => basename(path) + l.slice(path.length));
    assert.equal(heads.join('\n') + '\n', expected);
  });
}

corpus(root);
