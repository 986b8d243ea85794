// `set limit tables` and `set limit table-entries` (pf's PF_LIMIT_TABLES and
// PF_LIMIT_TABLE_ENTRIES): pf makes a table for every one the ruleset defines
// or names, and holds each address or network of a table once, whatever its
// negation; the limits count those across all tables.

import { maskAddress } from '../packet/address.js';
import type { Prefix, Ruleset, SourceLocation, TableDef } from './ast.js';

/** One key per address or network, as a table holds it (negation aside). */
export function tableEntryKey(p: Prefix): string {
  return `${p.af}/${p.bits}/${maskAddress(p.words, p.bits).join('.')}`;
}

/** How many entries a table holds once `entries` are in it. */
export function distinctEntries(entries: readonly { prefix: Prefix }[]): number {
  const keys = new Set<string>();
  for (const e of entries) keys.add(tableEntryKey(e.prefix));
  return keys.size;
}

/** The first table, in the order the file makes them, that crosses a limit, with why; null when none does. */
export function tableLimitError(
  tables: readonly TableDef[],
  limits: Ruleset['options']['limits'],
): { loc: SourceLocation; message: string } | null {
  let entries = 0;
  for (let k = 0; k < tables.length; k++) {
    const t = tables[k]!;
    if (k + 1 > limits.tables)
      return {
        loc: t.loc,
        message: `table <${t.name}> is table ${k + 1}: over set limit tables ${limits.tables}`,
      };
    entries += distinctEntries(t.entries);
    if (entries > limits.tableEntries)
      return {
        loc: t.loc,
        message:
          `table <${t.name}> brings the tables to ${entries} entries: ` +
          `over set limit table-entries ${limits.tableEntries}`,
      };
  }
  return null;
}
