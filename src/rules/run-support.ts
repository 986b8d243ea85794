// What `tunpf check` accepts but `tunpf run` cannot do as pf does: errors
// for options whose pf meaning has no Linux/TUN counterpart in tunpf (a rule
// that silently did something else would be worse than no start), warnings
// for options that load but do less than in pf. `check` stays pfctl -n: it
// prints these rulesets as pfctl does.

import type { Diagnostic, Ruleset } from './ast.js';
import type { LoadResult } from './load-file.js';

const WHY = {
  rtable:
    'rtable is not supported by tunpf run: tunpf routes forwarded packets by its mirror of the main routing table ' +
    'and has no per-rule table lookup',
  divert: 'divert-to and divert-reply are not supported by tunpf run: Linux has no pf divert sockets',
  prio:
    "prio and set prio have no effect in tunpf: TUN packets carry no priority (prio matches pf's default 3 only) " +
    'and the kernel queues what tunpf writes',
  pflow: 'pflow: tunpf exports no pflow(4) flow records; the states are kept, and pfsync carries the flag',
} as const;

/** The ruleset's run-time problems: each kind once, at its first rule. */
export function runSupportProblems(rs: Ruleset): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  const add = (severity: Diagnostic['severity'], kind: keyof typeof WHY, loc: Diagnostic['loc']) => {
    if (seen.has(kind)) return;
    seen.add(kind);
    out.push({ severity, loc, message: WHY[kind] });
  };
  for (const r of rs.rules) {
    const x = r.extra;
    if (x.rtable !== null) add('error', 'rtable', r.loc);
    if (x.divert) add('error', 'divert', r.loc);
    if (x.prio !== null || x.setPrio) add('warning', 'prio', r.loc);
    if (r.stateOptions.pflow) add('warning', 'pflow', r.loc);
  }
  return out;
}

/** A loaded ruleset as `tunpf run` takes it: with its run-time problems added, and none when one is an error. */
export function forRun(r: LoadResult): LoadResult {
  if (!r.ruleset) return r;
  const problems = runSupportProblems(r.ruleset);
  if (problems.length === 0) return r;
  const failed = problems.some((p) => p.severity === 'error');
  return { ...r, ruleset: failed ? null : r.ruleset, diagnostics: [...r.diagnostics, ...problems] };
}
