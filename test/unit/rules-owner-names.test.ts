// user and group as pfctl reads them: names from the host's passwd and group
// databases (getpwnam/getgrnam), ids, `unknown`, operators, and lists that make
// one rule per item, uids outside gids, as pfctl's expand_rule loops.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { parseIdFile } from '../../src/rules/host-ids.js';
import { formatRule } from '../../src/rules/canonical.js';

const users = parseIdFile(
  'root:x:0:0:root:/root:/bin/bash\n# comment\nwww:x:67:67::/var/www:/sbin/nologin\nbad:x:zz:1\n',
);
const groups = parseIdFile('wheel:x:0:root\nstaff:*:20:\n');

function printed(text: string): string[] {
  const r = parseRuleset(text, { file: 'o.conf', users, groups });
  assert.ok(r.ruleset, JSON.stringify(r.diagnostics));
  return r.ruleset.rules.map((x) => formatRule(x));
}

function errors(text: string): string[] {
  return parseRuleset(text, { file: 'o.conf', users, groups }).diagnostics.map((d) => `${d.loc.col}: ${d.message}`);
}

test('the id files: name to the third field, comments and malformed lines skipped', () => {
  assert.deepEqual(
    [...users],
    [
      ['root', 0],
      ['www', 67],
    ],
  );
  assert.deepEqual(
    [...groups],
    [
      ['wheel', 0],
      ['staff', 20],
    ],
  );
});

test('names become ids, printed as pfctl prints them', () => {
  assert.deepEqual(printed('pass out proto tcp user www group staff\n'), [
    'pass out proto tcp all user = 67 group = 20 flags S/SA',
  ]);
});

test('lists make one rule per user and group, users outside', () => {
  assert.deepEqual(printed('pass out proto tcp user { root, >= 1000 } group { wheel, 20 } label "r$nr"\n'), [
    'pass out proto tcp all user = 0 group = 0 flags S/SA label "r0"',
    'pass out proto tcp all user = 0 group = 20 flags S/SA label "r1"',
    'pass out proto tcp all user >= 1000 group = 0 flags S/SA label "r2"',
    'pass out proto tcp all user >= 1000 group = 20 flags S/SA label "r3"',
  ]);
});

test('unknown names and ids out of range are errors at the name', () => {
  assert.deepEqual(errors('pass out proto tcp user nosuch\n'), ['25: unknown user nosuch']);
  assert.deepEqual(errors('pass out proto tcp group { wheel, nosuch }\n'), ['35: unknown group nosuch']);
  assert.deepEqual(errors('pass out proto tcp user 4294967295\n'), ['25: illegal user id 4294967295']);
});
