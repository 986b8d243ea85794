// Every rule file under test/fixtures/rules (and its subfolders) loads, and
// `tunpf check -v` prints exactly the pfctl -nv form stored beside it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { main } from '../../src/cli/main.js';
import { fixturesDir } from './helpers/paths.js';

const dir = join(fixturesDir, 'rules');
const args = readFileSync(join(dir, 'args'), 'utf8').trim().split(/\s+/);

function confFiles(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? confFiles(join(d, e.name)) : e.name.endsWith('.conf') ? [join(d, e.name)] : [],
  );
}

for (const file of confFiles(dir)) {
  test(`canonical output of ${relative(dir, file)}`, async () => {
    const out: string[] = [];
    const code = await main(['check', '-v', '-q', ...args, file], {
      out: (t) => out.push(t),
      err: () => {},
    });
    assert.equal(code, 0);
    assert.equal(out.join('\n') + '\n', readFileSync(file.replace(/\.conf$/, '.expected'), 'utf8'));
  });
}
