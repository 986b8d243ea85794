// `include "file"` as pfctl reads it: in place, macros shared both ways,
// errors located in the included file, loops refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleset } from '../../src/rules/rule-parser.js';

function load(text: string, files: Record<string, string>) {
  const readInclude = (p: string) => {
    const body = files[p];
    if (body === undefined) throw Object.assign(new Error('no file'), { code: 'ENOENT' });
    return body;
  };
  const r = parseRuleset(text, { file: 'main.conf', readInclude });
  return {
    rules: r.ruleset?.rules.map((x) => `${x.loc.file}:${x.loc.line} ${x.action}`) ?? null,
    errors: r.diagnostics.map((d) => `${d.loc.file}:${d.loc.line}:${d.loc.col}: ${d.message}`),
  };
}

test('the included lines stand where the include is; rules keep their own file and line', () => {
  const r = load('block all\ninclude "a"\npass out all\n', { a: 'x = "in"\npass $x all' });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.rules, ['main.conf:1 block', 'a:2 pass', 'main.conf:3 pass']);
});

test('macros flow both ways', () => {
  const r = load('p = "pass"\ninclude "a"\n$q all\n', { a: '$p in all\nq = "block"\n' });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.rules, ['a:1 pass', 'main.conf:3 block']);
});

test('an error in an included file names that file and line; the includer goes on', () => {
  const r = load('include "a"\npass bogus\n', { a: 'pass all\nblock frob\n' });
  assert.equal(r.rules, null);
  assert.deepEqual(
    r.errors.map((e) => e.split(':').slice(0, 2).join(':')),
    ['main.conf:2', 'a:2'],
  );
});

test('a file that includes itself, directly or through another, is refused once, at the include', () => {
  const self = load('include "a"\n', { a: 'pass all\ninclude "a"\n' });
  assert.deepEqual(self.errors, ['a:2:9: include: a includes itself']);
  const loop = load('include "a"\n', { a: 'include "b"\n', b: 'pass all\ninclude "a"\n' });
  assert.deepEqual(loop.errors, ['b:2:9: include: a includes itself']);
  const main = load('include "main.conf"\n', {});
  assert.deepEqual(main.errors, ['main.conf:1:9: include: main.conf includes itself']);
});

test('the same file included twice is not a loop', () => {
  const r = load('include "a"\ninclude "a"\n', { a: 'pass all\n' });
  assert.deepEqual(r.errors, []);
  assert.equal(r.rules?.length, 2);
});

test('a file that cannot be read is an error at its name', () => {
  assert.deepEqual(load('include "nope"\n', {}).errors, ['main.conf:1:9: include: cannot read nope: ENOENT']);
  const none = parseRuleset('include "a"\n', { file: 'x.conf' });
  assert.match(none.diagnostics[0]!.message, /no files can be read here/);
});
