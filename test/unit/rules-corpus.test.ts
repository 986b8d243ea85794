// Every rule file under test/fixtures/rules (and its subfolders, one per area)
// loads, and `tunpf check -v` prints exactly the canonical form stored beside
// it; or, where the ruleset is refused, prints exactly the errors stored
// beside it (paths relative to the fixture's folder).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { fixturesDir } from './helpers/paths.js';

const dir = join(fixturesDir, 'rules');
const args = readFileSync(join(dir, 'args'), 'utf8').trim().split(/\s+/);

const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.conf'));
for (const name of files.sort()) {
  test(`canonical output of ${name}`, async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['check', '-v', '-q', ...args, join(dir, name)], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
    });
    const expected = readFileSync(join(dir, name.replace(/\.conf$/, '.expected')), 'utf8');
    if (code === 0) assert.equal(out.join('\n') + '\n', expected);
    else assert.equal(err.join('\n').replaceAll(dir + '/', '') + '\n', expected, `exit code ${code}`);
  });
}
