// Print-then-parse: what `tunpf check -v` prints for every corpus ruleset
// that loads parses back, without errors, to a ruleset that prints the
// same again: nothing printed is lost or changed on the way back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { main } from '../../src/cli/main.js';
import { interfacesFromFlags } from '../../src/cli/host-interfaces.js';
import { formatRuleset } from '../../src/rules/canonical.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { parseServiceNames, parseServices } from '../../src/rules/services.js';
import type { InterfaceInfo, Ruleset } from '../../src/rules/ast.js';
import { fixturesDir } from './helpers/paths.js';

const root = join(fixturesDir, 'rules');

function argsFor(dir: string): string[] {
  const own = join(dir, 'args');
  return readFileSync(existsSync(own) ? own : join(root, 'args'), 'utf8')
    .trim()
    .split(/\s+/);
}

function flag(args: string[], name: string): string[] {
  return args.flatMap((a, i) => (args[i - 1] === name ? [a] : []));
}

function interfacesOf(args: string[]): InterfaceInfo[] {
  const r = interfacesFromFlags(flag(args, '--interface'), flag(args, '--group'));
  if (typeof r === 'string') throw new Error(r);
  return r;
}

function reparse(dir: string, printed: string, interfaces: InterfaceInfo[], services?: ReadonlyMap<string, number>) {
  // table files are named as written, relative to the ruleset's folder
  const readFile = (p: string) => readFileSync(resolve(dir, p), 'utf8');
  const { ruleset, diagnostics } = parseRuleset(printed, { file: 'printed.conf', interfaces, services, readFile });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 0, errors.map((d) => `${d.loc.line}:${d.loc.col}: ${d.message}`).join('\n'));
  return ruleset! satisfies Ruleset;
}

function corpus(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) corpus(join(dir, entry.name));
    else if (entry.name.endsWith('.conf')) caseFor(dir, entry.name);
  }
}

function caseFor(dir: string, name: string): void {
  const path = join(dir, name);
  const expected = readFileSync(path.replace(/\.conf$/, '.expected'), 'utf8');
  if (expected.startsWith(`${name}:`)) return;
  test(`the print of ${relative(root, path)} parses back to the same ruleset`, async () => {
    const args = argsFor(dir);
    const out: string[] = [];
    const code = await main(['check', '-v', '-q', ...args, path], { out: (t) => out.push(t), err: () => {} });
    assert.equal(code, 0);
    const printed = out.join('\n') + '\n';
    const interfaces = interfacesOf(args);
    // a folder's pinned services database (and -P) reads and prints the port names again
    const [servicesFile] = flag(args, '--services');
    const servicesText = servicesFile === undefined ? undefined : readFileSync(servicesFile, 'utf8');
    const services = servicesText === undefined ? undefined : parseServices(servicesText);
    const portNames = args.includes('-P') && servicesText !== undefined ? parseServiceNames(servicesText) : undefined;
    assert.equal(formatRuleset(reparse(dir, printed, interfaces, services), { portNames }), printed);
  });
}

corpus(root);
