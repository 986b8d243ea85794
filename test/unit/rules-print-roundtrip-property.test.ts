// Print-then-parse over generated rulesets: interface names, labels and tags
// made of any printable characters (quotes, backslashes, spaces, tabs,
// non-ASCII), address and port forms of either family. Each ruleset reads,
// prints, reads back to the same names and prints the same again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { InterfaceInfo, Ruleset } from '../../src/rules/ast.js';
import { formatRuleset } from '../../src/rules/canonical.js';
import { quoted } from '../../src/rules/print-quote.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { isControl } from '../../src/rules/tokenizer.js';
import { interfacesFromFlags } from '../../src/cli/host-interfaces.js';

const interfaces = interfacesFromFlags(['em0=10.0.0.254/24,2001:db8:a::1/64', 'em1=203.0.113.2/28']) as InterfaceInfo[];

function parse(text: string): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text, { file: 'gen.conf', interfaces });
  const errors = diagnostics.filter((d) => d.severity === 'error');
  assert.equal(
    errors.length,
    0,
    `${text}\n${errors.map((d) => `${d.loc.line}:${d.loc.col}: ${d.message}`).join('\n')}`,
  );
  return ruleset!;
}

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Printable text with the characters quoting has to care for; no `$` (label macros expand it). */
const special = fc.constantFrom(
  '"',
  '\\',
  ' ',
  '\t',
  "'",
  '#',
  '{',
  '}',
  '<',
  '>',
  '!',
  '=',
  ',',
  '/',
  '(',
  ')',
  'é',
  '☃',
);
const printable = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcXYZ019_.-:@%+'.split('')) }),
  fc.string({ unit: fc.oneof(special, fc.constantFrom(...'ab1-'.split(''))) }),
  fc.string({ unit: 'grapheme-ascii' }),
);
/** What the quoted form can carry: no final backslash (it would escape the closing quote). */
const text = (maxBytes: number, minLength: number) =>
  printable
    .map((s) => Array.from(s, (c) => (c === '$' || (isControl(c) && c !== '\t') ? 'x' : c)).join(''))
    .filter((s) => s.length >= minLength && bytes(s) <= maxBytes && !s.endsWith('\\'));

const ifname = text(15, 1).filter((s) => s !== 'any' && s !== 'rdomain');

const v4 = fc
  .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255), fc.integer({ min: 0, max: 32 }))
  .map(([a, b, c, d, bits]) => `${a}.${b}.${c}.${d}/${bits}`);
const v6 = fc
  .tuple(fc.nat(0xffff), fc.nat(0xffff), fc.integer({ min: 0, max: 128 }))
  .map(([a, b, bits]) => `2001:${a.toString(16)}::${b.toString(16)}/${bits}`);
const common = fc.constantFrom('any', 'self', '<t1>', '(em0)', '(em0:network)', 'no-route', 'em0');
const address = (af: 4 | 6) =>
  fc.tuple(fc.boolean(), fc.oneof(af === 4 ? v4 : v6, common)).map(([neg, a]) => (neg && a !== 'any' ? '! ' : '') + a);

const port = fc.oneof(
  fc.tuple(fc.constantFrom('=', '!=', '<', '>', '<=', '>='), fc.nat(65535)).map(([op, p]) => `port ${op} ${p}`),
  fc
    .tuple(fc.constantFrom(':', '><', '<>'), fc.nat(65535), fc.nat(65535))
    .map(([op, a, b]) => `port ${Math.min(a, b)} ${op} ${Math.max(a, b)}`.replace(' : ', ':')),
);

const rule = fc.constantFrom<4 | 6>(4, 6).chain((af) =>
  fc.record({
    af: fc.constant(af),
    iface: ifname,
    proto: fc.constantFrom('tcp', 'udp'),
    from: address(af),
    fromPort: fc.option(port),
    to: address(af),
    toPort: fc.option(port),
    label: text(63, 0),
    tag: text(63, 1),
    tagged: text(63, 1),
  }),
);

test('generated rulesets print and read back the same', () => {
  fc.assert(
    fc.property(rule, (r) => {
      const input =
        `table <t1> { 192.0.2.0/24 }\n` +
        `pass in on ${quoted(r.iface)} ${r.af === 4 ? 'inet' : 'inet6'} proto ${r.proto}` +
        ` from ${r.from} ${r.fromPort ?? ''} to ${r.to} ${r.toPort ?? ''}` +
        ` label ${quoted(r.label)} tag ${quoted(r.tag)} tagged ${quoted(r.tagged)}\n`;
      const first = parse(input);
      const printed = formatRuleset(first);
      const again = parse(printed);
      assert.equal(formatRuleset(again), printed);
      for (const rs of [first, again]) {
        assert.ok(rs.rules.length > 0);
        for (const x of rs.rules) {
          assert.equal(x.iface?.name, r.iface);
          assert.equal(x.label, r.label);
          assert.equal(x.tag, r.tag);
          assert.equal(x.tagged?.name, r.tagged);
        }
      }
      assert.ok(!Array.from(printed).some((c) => c !== '\n' && isControl(c)), 'no control character printed');
    }),
    { numRuns: 400, interruptAfterTimeLimit: 4000 },
  );
});
