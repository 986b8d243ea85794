// Recursive-descent parser for pf.conf. One statement per logical line; on an
// error the rest of the line is skipped and parsing goes on, so every error
// in a file is reported at once. This file holds the statement loop and the
// macros; each grammar area has a parse-*.ts file of its own, all working on
// one ParserContext (parser-context.ts).

import { MAX_RULES, type Diagnostic, type Ruleset } from './ast.js';
import { parseAnchorRule, parseLoadAnchor } from './parse-anchor.js';
import { parseInclude } from './parse-include.js';
import { parseAntispoof, parseRule } from './parse-rule.js';
import { parseSetOption } from './parse-set-options.js';
import { parseTable } from './parse-tables.js';
import { ParserContext, RuleSyntaxError, type ParseOptions, type ParseResult } from './parser-context.js';
import { tableLimitError } from './table-limits.js';
import { unsupported } from './unsupported.js';

export type { ParseOptions, ParseResult } from './parser-context.js';

/** Parses pf.conf text. The ruleset is null when any error was found. */
export function parseRuleset(text: string, opts: ParseOptions): ParseResult {
  const ctx = new ParserContext(text, opts);
  while (true) {
    try {
      // inside the try: a line may start with an undefined macro
      const first = ctx.peek();
      if (first.kind === 'eof') break;
      if (first.kind === 'newline') {
        ctx.pos++;
        continue;
      }
      statement(ctx);
      const t = ctx.peek();
      if (t.kind !== 'newline' && t.kind !== 'eof') throw ctx.unexpected(t, 'end of line');
    } catch (e) {
      if (!(e instanceof RuleSyntaxError)) throw e;
      ctx.error(e.loc, e.message);
      ctx.skipLine();
    }
  }
  return finish(ctx);
}

function statement(ctx: ParserContext): void {
  const t = ctx.peek();
  if (t.kind === 'string') throw ctx.unexpected(t, 'a statement');
  const second = ctx.tokens[ctx.pos + 1];
  if (t.kind === 'word' && second && second.kind === 'punct' && second.text === '=') {
    macroDefinition(ctx);
    return;
  }
  switch (t.text) {
    case 'set':
      if (ctx.anchorPath !== '') throw new RuleSyntaxError(t.loc, 'set options are only allowed in the main ruleset');
      ctx.next();
      parseSetOption(ctx);
      return;
    case 'table':
      ctx.next();
      parseTable(ctx);
      return;
    case 'pass':
    case 'block':
    case 'match':
      parseRule(ctx);
      return;
    case 'antispoof':
      parseAntispoof(ctx, ctx.next().loc);
      return;
    case 'anchor':
      parseAnchorRule(ctx, statement);
      return;
    case 'load':
      parseLoadAnchor(ctx, parseRuleset);
      return;
    case 'include':
      parseInclude(ctx);
      return;
    case 'queue':
    case 'scrub':
    case 'nat':
    case 'rdr':
    case 'binat':
      throw unsupported(t.loc, t.text);
    default:
      throw ctx.unexpected(t, 'a rule, option, table or macro definition');
  }
}

function macroDefinition(ctx: ParserContext): void {
  const name = ctx.next();
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name.text))
    throw new RuleSyntaxError(name.loc, `invalid macro name '${name.text}'`);
  ctx.next(); // '='
  const parts: string[] = [];
  while (!ctx.atEndOfStatement()) {
    const t = ctx.next();
    parts.push(t.text);
  }
  if (parts.length === 0) throw new RuleSyntaxError(name.loc, `macro '${name.text}' has no value`);
  // pfctl echoes the definition even when -D has fixed the macro's value
  ctx.echo.push({ kind: 'macro', name: name.text, value: parts.join(' ') });
  if (ctx.opts.defines?.[name.text] === undefined) ctx.macros.set(name.text, parts.join(' '));
}

/** An error at the first rule beyond MAX_RULES (anchors counted after the main ruleset, as states number them). */
function tooManyRules(ctx: ParserContext): void {
  const lists = [ctx.rules, ...[...ctx.anchors.values()].map((a) => a.rules)];
  let seen = 0;
  for (const list of lists) {
    if (seen + list.length > MAX_RULES) {
      const loc = list[MAX_RULES - seen]!.loc;
      ctx.error(loc, `too many rules: tunpf holds at most ${MAX_RULES}, main ruleset and anchors together`);
      return;
    }
    seen += list.length;
  }
}

/** Tables used but never defined are created empty, with a warning; then the ruleset, unless there were errors. */
function finish(ctx: ParserContext): ParseResult {
  for (const use of ctx.tableUses) {
    if (!ctx.tables.has(use.name)) {
      ctx.diagnostics.push({
        severity: 'warning',
        loc: use.loc,
        message: `table <${use.name}> is used but not defined; it is created empty`,
      });
      ctx.tables.set(use.name, {
        name: use.name,
        persist: false,
        const: false,
        counters: false,
        entries: [],
        files: [],
        implicit: true,
        loc: use.loc,
      });
    }
  }
  tooManyRules(ctx);
  // an anchor's file counts with the main ruleset that loads it
  const overTables = ctx.anchorPath === '' ? tableLimitError([...ctx.tables.values()], ctx.options.limits) : null;
  if (overTables) ctx.error(overTables.loc, overTables.message);
  const hasError = ctx.diagnostics.some((d) => d.severity === 'error');
  // by file (the main file, then included ones in the order read), then by place
  const files = new Map([ctx.opts.file, ...ctx.includedFrom.keys()].map((f, k) => [f, k]));
  const fileOrder = (d: Diagnostic) => files.get(d.loc.file) ?? 0;
  ctx.diagnostics.sort((a, b) => fileOrder(a) - fileOrder(b) || a.loc.line - b.loc.line || a.loc.col - b.loc.col);
  const ruleset: Ruleset = {
    echo: ctx.echo,
    options: ctx.options,
    optionsSet: ctx.optionsSet,
    macros: Object.fromEntries(ctx.macros),
    tables: [...ctx.tables.values()],
    rules: ctx.rules,
    anchors: [...ctx.anchors.values()],
  };
  return { ruleset: hasError ? null : ruleset, diagnostics: ctx.diagnostics, omitted: ctx.omitted };
}
