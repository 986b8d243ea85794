// Diagnostics as compilers print them: FILE:LINE:COL: severity: message,
// then the offending line and a caret under the column.

import type { Diagnostic } from './ast.js';

export function formatDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, string> | string): string {
  const head = `${d.loc.file}:${d.loc.line}:${d.loc.col}: ${d.severity}: ${d.message}`;
  const text = typeof sources === 'string' ? sources : sources.get(d.loc.file);
  if (text === undefined) return head;
  const line = text.split('\n')[d.loc.line - 1];
  if (line === undefined) return head;
  const shown = line.replace(/\t/g, ' ').replace(/\r$/, '');
  return `${head}\n  ${shown}\n  ${' '.repeat(Math.max(0, d.loc.col - 1))}^`;
}
