// The rule parser on hostile input: text shown escaped, a bounded number of errors, linear time, macros
// that would grow without bound refused.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { formatDiagnostic, formatDiagnostics, MAX_SHOWN_DIAGNOSTICS } from '../../src/rules/diagnostic-text.js';
import { MAX_KEPT_ERRORS } from '../../src/rules/parser-context.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';

const parse = (text: string) => parseRuleset(text, { file: 't.conf', interfaces: TEST_INTERFACES });

test('control characters and escape sequences from the file are shown escaped, the caret under the column', () => {
  const text = 'pass in label "\x1b[2J" \x1b]0;x\x07 \u202e\n';
  const r = parse(text);
  // the tokenizer refuses each control character first (none is printed raw); the syntax error follows
  assert.match(r.diagnostics[0]!.message, /^control character U\+001B is not allowed$/);
  const shown = formatDiagnostic(
    r.diagnostics.find((d) => /found/.test(d.message))!,
    text,
  );
  assert.ok(![...shown].some((c) => (c < ' ' && c !== '\n') || c === '\x7f' || c === '\u202e'), shown);
  const [head, line, caret] = shown.split('\n');
  assert.match(head!, /^t\.conf:1:22: error: .*found '\\x1b\]0;x\\x07'$/);
  assert.equal(line, '  pass in label "\\x1b[2J" \\x1b]0;x\\x07 \\u{202e}');
  assert.equal(caret!.indexOf('^'), line!.indexOf('\\x1b]'));
});

test('a binary file gives a bounded number of errors, then how many more', () => {
  const text = 'garbage \x00\x01\n'.repeat(MAX_KEPT_ERRORS * 3);
  const r = parse(text);
  assert.equal(r.ruleset, null);
  assert.equal(r.diagnostics.length, MAX_KEPT_ERRORS);
  // two errors a line: the word's first control character, then the syntax error
  const total = MAX_KEPT_ERRORS * 3 * 2;
  assert.equal(r.omitted, total - MAX_KEPT_ERRORS);
  const lines = formatDiagnostics(r.diagnostics, text, r.omitted);
  assert.equal(lines.length, MAX_SHOWN_DIAGNOSTICS + 1);
  assert.equal(lines.at(-1), `... and ${total - MAX_SHOWN_DIAGNOSTICS} more`);
});

test('macros that expand macros cannot grow without bound', () => {
  let text = 'a0 = "10.0.0.1"\n';
  for (let i = 1; i <= 40; i++) text += `a${i} = "$a${i - 1} $a${i - 1}"\n`;
  text += 'pass in from { $a40 }\npass all\n';
  const r = parse(text);
  assert.equal(r.diagnostics.length, 1);
  assert.match(r.diagnostics[0]!.message, /^macro 'a[0-9]+': macro expansion exceeds [0-9]+ tokens$/);
  assert.equal(r.diagnostics[0]!.loc.line, 42);
});

// one rule a line: 32,000 lines stay under the 65,535 rules a ruleset may hold
function rulesText(lines: number): string {
  let text = 'lan = "lan"\nweb = "192.168.1.5"\nhttps = "443"\n';
  for (let i = 0; i < lines; i++)
    text += `pass in on $lan proto tcp from 10.0.${(i >> 8) & 255}.${i & 255} to $web port $https label "r${i}"\n`;
  return text;
}

/** The parse's CPU time in ms (this process only: other work on the machine does not count). */
function parseTime(text: string): number {
  const t0 = process.cpuUsage();
  const r = parse(text);
  const t = process.cpuUsage(t0);
  assert.ok(r.ruleset);
  return (t.user + t.system) / 1000;
}

test('parsing stays linear: four times the lines take about four times as long, not sixteen', () => {
  const small = rulesText(8_000);
  const large = rulesText(32_000);
  parseTime(rulesText(1_000)); // warm up the JIT
  let best = { small: Infinity, large: Infinity };
  for (let k = 0; k < 2; k++)
    best = { small: Math.min(best.small, parseTime(small)), large: Math.min(best.large, parseTime(large)) };
  const ratio = best.large / best.small;
  // linear measures about 4; splicing macro bodies into the file's tokens measured 10 here
  assert.ok(ratio < 7, `4x the lines took ${ratio.toFixed(1)}x the time`);
});
