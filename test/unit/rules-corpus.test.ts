// Every rule file under test/fixtures/rules loads, and `tunpf check -v` prints
// exactly the canonical form stored beside it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { fixturesDir } from './helpers/paths.js';

const dir = join(fixturesDir, 'rules');
const args = readFileSync(join(dir, 'args'), 'utf8').trim().split(/\s+/);

// the folder itself and one level of subfolders (one per area of the grammar)
const files = readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? readdirSync(join(dir, e.name)).map((f) => join(e.name, f)) : [e.name],
);

for (const name of files.filter((f) => f.endsWith('.conf'))) {
  test(`canonical output of ${name}`, async () => {
    const out: string[] = [];
    const code = await main(['check', '-v', '-q', ...args, join(dir, name)], {
      out: (t) => out.push(t),
      err: () => {},
    });
    assert.equal(code, 0);
    assert.equal(out.join('\n') + '\n', readFileSync(join(dir, name.replace(/\.conf$/, '.expected')), 'utf8'));
  });
}
