// `include "file"`: pfctl reads the file in place, as if its lines were
// written where the include stands; macros flow both ways. Errors name the
// included file and its own lines. A file that includes itself, directly or
// through others, is an error rather than an endless read.

import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { tokenize, type TokenizeError } from './tokenizer.js';

/** At `include`. */
export function parseInclude(ctx: ParserContext): void {
  const kw = ctx.next();
  const name = ctx.word('a file name');
  if (!ctx.atEndOfStatement()) throw ctx.unexpected(ctx.peek(), 'end of line');
  if (!ctx.opts.readInclude) throw new RuleSyntaxError(kw.loc, 'include: no files can be read here');
  const path = name.text;
  const from = kw.loc.file;
  for (let f: string | undefined = from; f !== undefined; f = ctx.includedFrom.get(f))
    if (f === path) throw new RuleSyntaxError(name.loc, `include: ${path} includes itself`);
  let text: string;
  try {
    text = ctx.opts.readInclude(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new RuleSyntaxError(name.loc, `include: cannot read ${path}: ${code}`);
  }
  ctx.includedFrom.set(path, from);
  const errors: TokenizeError[] = [];
  const tokens = tokenize(text, path, errors).filter((t) => t.kind !== 'eof');
  for (const e of errors) ctx.error(e.loc, e.message);
  // after this statement's end of line, so the statement loop goes on into the file
  const at = ctx.peek().kind === 'newline' ? ctx.pos + 1 : ctx.pos;
  const end = tokens.at(-1);
  if (end && end.kind !== 'newline') tokens.push({ ...end, kind: 'newline', text: '\n' });
  ctx.tokens.splice(at, 0, ...tokens);
}
