// `table <name> [persist] [const] [counters] [{ entries }] [file "path"]`,
// and the address files such a table names.

import { parseNetwork } from './address-forms.js';
import type { Prefix, TableDef } from './ast.js';
import { interfaceAddresses, networkPrefix, tableName } from './parse-hosts.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { readAddressText, type Token } from './tokenizer.js';

/** After `table`. */
export function parseTable(ctx: ParserContext): void {
  ctx.expect('<', "'<'");
  const name = tableName(ctx);
  ctx.expect('>', "'>'");
  if (ctx.tables.has(name.text)) throw new RuleSyntaxError(name.loc, `table <${name.text}> is already defined`);
  const def: TableDef = {
    name: name.text,
    persist: false,
    const: false,
    counters: false,
    entries: [],
    files: [],
    loc: name.loc,
  };
  while (!ctx.atEndOfStatement()) {
    const t = ctx.peek();
    if (ctx.accept('persist')) def.persist = true;
    else if (ctx.accept('const')) def.const = true;
    else if (ctx.accept('counters')) def.counters = true;
    else if (ctx.is('{')) {
      ctx.next();
      while (!ctx.accept('}')) {
        if (ctx.atEndOfStatement()) throw ctx.unexpected(ctx.peek(), "'}'");
        if (ctx.accept(',')) continue;
        def.entries.push(...tableEntry(ctx));
      }
    } else if (ctx.accept('file')) {
      const f = ctx.peek();
      if (f.kind !== 'string') throw ctx.unexpected(f, 'a quoted file name');
      ctx.next();
      def.files.push(f.text);
      tableFile(ctx, def, f);
    } else throw ctx.unexpected(t, "persist, const, counters, '{' or file");
  }
  ctx.tables.set(def.name, def);
  ctx.echo.push({ kind: 'table', name: def.name });
}

function tableEntry(ctx: ParserContext): { prefix: Prefix; neg: boolean }[] {
  const neg = ctx.accept('!');
  const a = readAddressText(ctx, 'an address');
  const p = parseNetwork(a.text);
  if (p) return [{ prefix: networkPrefix(p), neg }];
  return interfaceAddresses(ctx, a.text, a.loc).map((prefix) => ({ prefix, neg }));
}

/** Reads the file's addresses into the table; a bad line is an error at its place in that file. */
function tableFile(ctx: ParserContext, def: TableDef, tok: Token): void {
  if (!ctx.opts.readFile)
    throw new RuleSyntaxError(tok.loc, `cannot read table file "${tok.text}": no file access here`);
  let content: string;
  try {
    content = ctx.opts.readFile(tok.text);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new RuleSyntaxError(tok.loc, `cannot read table file "${tok.text}": ${why}`);
  }
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/#.*/, '').trim();
    if (!line) continue;
    for (const item of line.split(/[\s,]+/)) {
      if (!item) continue;
      const neg = item.startsWith('!');
      const text = neg ? item.slice(1) : item;
      const p = parseNetwork(text);
      if (!p) {
        ctx.error(
          { file: tok.text, line: i + 1, col: lines[i]!.indexOf(item) + 1 },
          `invalid address '${text}' in table file`,
        );
        continue;
      }
      def.entries.push({ prefix: networkPrefix(p), neg, fromFile: true });
    }
  }
}
