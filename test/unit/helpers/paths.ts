// Where the test fixtures are, whether the tests run from test/ (tsx) or dist/test/ (compiled).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const candidates = ['../../fixtures', '../../../../test/fixtures'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);
export const fixturesDir = candidates.find((p) => existsSync(p)) ?? candidates[0]!;
export const repoRoot = fileURLToPath(
  new URL(existsSync(candidates[0]!) ? '../../../' : '../../../../', import.meta.url),
);
