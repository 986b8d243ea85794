// Each error names file:line:col with a clear message; every error in a file
// is reported, and a file with errors yields no ruleset.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { formatDiagnostic } from '../../src/rules/diagnostic-text.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';

function errors(text: string): string[] {
  const { ruleset, diagnostics } = parseRuleset(text, { file: 'pf.conf', interfaces: TEST_INTERFACES });
  const errs = diagnostics.filter((d) => d.severity === 'error');
  if (errs.length) assert.equal(ruleset, null, 'no ruleset when there are errors');
  return errs.map((d) => `${d.loc.line}:${d.loc.col}: ${d.message}`);
}

const cases: [string, string, string][] = [
  ['undefined macro', 'pass in on $nope all', "1:12: macro 'nope' not defined"],
  ['undefined macro starting a line', 'pass all\n$nope', "2:1: macro 'nope' not defined"],
  ['unknown port name', 'pass proto tcp to port nosuch', "1:24: unknown port name 'nosuch'"],
  ['port out of range', 'pass proto tcp to port 70000', '1:24: port 70000 out of range (0..65535)'],
  [
    'a state limit the table cannot hold',
    'set limit states 100000000',
    '1:18: a limit 100000000 out of range (1..16777215)',
  ],
  ['unknown protocol', 'pass proto xyz', "1:12: unknown protocol 'xyz'"],
  [
    'address family against inet',
    'pass inet from 2001:db8::1',
    '1:16: address 2001:db8::1 is IPv6 but the rule is inet',
  ],
  ['address family against inet6', 'block inet6 to 10.0.0.1', '1:16: address 10.0.0.1 is IPv4 but the rule is inet6'],
  [
    'port without ports',
    'pass proto icmp to port 80',
    '1:20: port only applies to tcp, udp or sctp, not to proto icmp',
  ],
  ['flags on udp', 'pass proto udp flags S/SA', '1:16: flags only apply to tcp, not to proto udp'],
  ['icmp-type without proto icmp', 'pass proto tcp icmp-type echoreq', '1:16: icmp-type needs proto icmp'],
  ['unknown icmp type', 'pass proto icmp icmp-type bogus', "1:27: unknown icmp-type 'bogus'"],
  ['bad flags letters', 'pass proto tcp flags SX/SA', "1:16: invalid TCP flags 'SX/SA' (letters FSRPAUEW)"],
  ['unknown timeout', 'set timeout tcp.forever 5', "1:13: unknown timeout 'tcp.forever'"],
  ['unknown option', 'set colour blue', "1:5: unknown option 'set colour'"],
  ['bad block-policy', 'set block-policy maybe', "1:18: block-policy must be drop or return, not 'maybe'"],
  ['duplicate table', 'table <a> { 10.0.0.1 }\ntable <a> { 10.0.0.2 }', '2:8: table <a> is already defined'],
  ['state options on no state', 'pass proto tcp no state (max 5)', '1:25: state options on a no state rule'],
  [
    'syntax: to before from',
    'pass to any from any',
    "1:13: syntax error: expected a rule option (flags, icmp-type, keep state, label, tag, ...), found 'from'",
  ],
  ['unterminated list', 'pass proto { tcp udp', "1:21: syntax error: expected '}', found end of line"],
  ['bad prefix length', 'pass from 10.0.0.0/33', "1:11: invalid prefix length in '10.0.0.0/33'"],
  [
    'unknown interface',
    'pass from em9:network',
    "1:11: no such interface 'em9' (tunpf resolves no host names; check describes one with --interface em9=ADDR/LEN)",
  ],
  [
    'unsupported af-to',
    'pass in on wan af-to inet6 from 2001:db8::1',
    '1:16: af-to is not supported by tunpf (no NAT64/NAT46)',
  ],
  [
    'unknown statement',
    'allow everything',
    "1:1: syntax error: expected a rule, option, table or macro definition, found 'allow'",
  ],
  ['range reversed', 'pass proto tcp to port 2000:1000', '1:24: invalid port range 2000:1000: 2000 > 1000'],
];

for (const [name, text, expected] of cases) {
  test(`error: ${name}`, () => {
    assert.deepEqual(errors(text), [expected]);
  });
}

test('every error in a file is reported, in line order', () => {
  const got = errors('pass in on $a all\npass proto bogus\nset limit states 0\npass all\nblock from 1.2.3.4/40');
  assert.deepEqual(got, [
    "1:12: macro 'a' not defined",
    "2:12: unknown protocol 'bogus'",
    '3:18: a limit 0 out of range (1..16777215)',
    "5:12: invalid prefix length in '1.2.3.4/40'",
  ]);
});

test('a table used but not defined is a warning, and the ruleset loads', () => {
  const { ruleset, diagnostics } = parseRuleset('pass from <ghost>', { file: 'pf.conf' });
  assert.ok(ruleset);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]!.severity, 'warning');
  assert.match(diagnostics[0]!.message, /table <ghost> is used but not defined/);
});

test('diagnostics print with the line and a caret under the column', () => {
  const text = 'pass all\npass proto tcp to port nosuch\n';
  const { diagnostics } = parseRuleset(text, { file: 'x.conf' });
  assert.equal(
    formatDiagnostic(diagnostics[0]!, text),
    "x.conf:2:24: error: unknown port name 'nosuch'\n  pass proto tcp to port nosuch\n                         ^",
  );
});

test('an error inside a macro body points at the macro reference', () => {
  assert.deepEqual(errors('p = "proto nosuch"\npass $p all'), ["2:6: unknown protocol 'nosuch'"]);
});
