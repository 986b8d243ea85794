// Diagnostics as compilers print them: FILE:LINE:COL: severity: message,
// then the offending line and a caret under the column. Text from the file
// reaches a terminal here, so control characters are shown escaped, and a
// long list is cut ("... and N more").

import type { Diagnostic } from './ast.js';

/** At most this many diagnostics are printed from one file; the rest are counted. */
export const MAX_SHOWN_DIAGNOSTICS = 50;

/** The most of a source line shown under a diagnostic. */
const SHOWN_LINE = 160;

// C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a terminal shows
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Text with control characters (but tab and newline) and escape sequences shown as \xNN, safe for a terminal. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

// the last source's line starts: every diagnostic of a file finds its line without splitting the file again
let indexed: { text: string; starts: number[] } | null = null;

function sourceLine(text: string, line: number): string | undefined {
  if (indexed?.text !== text) {
    const starts = [0];
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
    indexed = { text, starts };
  }
  const from = indexed.starts[line - 1];
  if (from === undefined) return undefined;
  const to = indexed.starts[line];
  return text.slice(from, to === undefined ? text.length : to - 1);
}

export function formatDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string> | string): string {
  const head = escapeControls(`${d.loc.file}:${d.loc.line}:${d.loc.col}: ${d.severity}: ${d.message}`);
  const text = typeof sources === 'string' ? sources : sources.get(d.loc.file);
  if (text === undefined) return head;
  const line = sourceLine(text, d.loc.line);
  if (line === undefined) return head;
  const flat = (s: string) => escapeControls(s.replace(/\r$/, '').replace(/\t/g, ' '));
  // a long line (a binary file's) is shown around the column
  const col = Math.max(0, d.loc.col - 1);
  const from = line.length > SHOWN_LINE ? Math.max(0, col - SHOWN_LINE / 2) : 0;
  const cut = line.slice(from, from + SHOWN_LINE);
  const lead = from > 0 ? '...' : '';
  const tail = from + SHOWN_LINE < line.length ? '...' : '';
  // the caret stays under the column when what is before it was escaped
  const before = lead + flat(cut.slice(0, col - from));
  return `${head}\n  ${lead}${flat(cut)}${tail}\n  ${' '.repeat(before.length)}^`;
}

/** What a file's diagnostics print as: at most MAX_SHOWN_DIAGNOSTICS, then how many more there were. */
export function formatDiagnostics(
  diagnostics: readonly Diagnostic[],
  sources: ReadonlyMap<string, string> | string,
  omitted = 0,
): string[] {
  const shown = diagnostics.slice(0, MAX_SHOWN_DIAGNOSTICS).map((d) => formatDiagnostic(d, sources));
  const more = diagnostics.length - shown.length + omitted;
  if (more > 0) shown.push(`... and ${more} more`);
  return shown;
}

/** How many errors a file had, counting those not listed. */
export function errorCount(diagnostics: readonly Diagnostic[], omitted = 0): number {
  return diagnostics.filter((d) => d.severity === 'error').length + omitted;
}
