// pf.conf tokenizer: comments, line continuation, quoted strings, operators.
// `$name` becomes a 'macro' token: the parser substitutes it when it reaches
// it, so a macro defined on line 3 is usable from line 4 on, as in pfctl.
// Newlines end statements, so they are tokens. Also what both token readers
// (the rule parser's context and the HA file's BlockReader) share.

import type { SourceLocation } from './ast.js';

export type TokenKind = 'word' | 'string' | 'punct' | 'macro' | 'newline' | 'eof';

export interface Token {
  kind: TokenKind;
  text: string;
  loc: SourceLocation;
  /** Set when the token came from a macro's body: the macro's name. */
  fromMacro?: string;
  /** A macro reference's text after the name (`$lan:network`): joined to the body, as pfctl's lexer does. */
  suffix?: string;
}

// Characters that end a word, as in pfctl's lexer (':' '.' '-' are allowed inside words).
const DELIMITERS = new Set(['(', ')', '{', '}', '<', '>', '!', '=', '/', '#', ',', ' ', '\t', '\r', '\n', '"', "'"]);
const TWO_CHAR_OPS = ['!=', '<=', '>=', '<>', '><'];

export interface TokenizeError {
  loc: SourceLocation;
  message: string;
}

/**
 * Splits text into tokens. With `origin`, the text is a macro's body and every
 * token takes the location of the `$name` reference that brought it in.
 */
export function tokenize(
  text: string,
  file: string,
  errors: TokenizeError[],
  origin?: { loc: SourceLocation; name: string },
): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const at = (): SourceLocation => (origin ? origin.loc : { file, line, col });
  const advance = (n: number) => {
    for (let k = 0; k < n; k++) {
      if (text[i] === '\n') {
        line++;
        col = 1;
      } else col++;
      i++;
    }
  };
  const push = (kind: TokenKind, t: string, loc: SourceLocation) => {
    const tok: Token = { kind, text: t, loc };
    if (origin) tok.fromMacro = origin.name;
    out.push(tok);
  };

  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      advance(text[i + 1] === '\r' ? 3 : 2); // line continuation
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      advance(1);
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') advance(1);
      continue;
    }
    if (c === '\n') {
      push('newline', '\n', at());
      advance(1);
      continue;
    }
    if (c === '"' || c === "'") {
      const loc = at();
      advance(1);
      let s = '';
      let refused = false;
      while (i < text.length && text[i] !== c && text[i] !== '\n') {
        const ch = text[i]!;
        // pfctl's lexer: a backslash makes the quote, a space or a tab literal, joins a line, else stays itself
        const after = text[i + 1];
        if (ch === '\\' && (after === c || after === ' ' || after === '\t')) {
          s += after;
          advance(2);
          continue;
        }
        if (ch === '\\' && after === '\n') {
          advance(2);
          continue;
        }
        if (isControl(ch) && !refused) {
          errors.push({ loc: at(), message: controlCharMessage(ch) });
          refused = true; // one error a token: a binary file is not an error per byte
        }
        s += ch;
        advance(1);
      }
      if (text[i] !== c) errors.push({ loc, message: 'unterminated quoted string' });
      else advance(1);
      push('string', s, loc);
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO_CHAR_OPS.includes(two)) {
      push('punct', two, at());
      advance(2);
      continue;
    }
    if (DELIMITERS.has(c)) {
      push('punct', c, at());
      advance(1);
      continue;
    }
    // a word
    const loc = at();
    let refused = false;
    // a word never holds a newline, so only the column moves
    const from = i;
    while (i < text.length && !DELIMITERS.has(text[i]!)) {
      if (text[i] === '\\' && text[i + 1] === '\n') break;
      if (isControl(text[i]!) && !refused) {
        errors.push({
          loc: origin ? origin.loc : { file, line, col: col + i - from },
          message: controlCharMessage(text[i]!),
        });
        refused = true;
      }
      i++;
    }
    const w = text.slice(from, i);
    col += i - from;
    if (w.startsWith('$') && w.length > 1) {
      const named = /^\$([A-Za-z0-9_]+)(.*)$/s.exec(w);
      push('macro', named ? named[1]! : w.slice(1), loc);
      if (named?.[2]) out[out.length - 1]!.suffix = named[2];
      continue;
    }
    push('word', w, loc);
  }
  push('eof', '', origin ? origin.loc : { file, line, col });
  return out;
}

/**
 * C0 and C1 control characters and DEL, but not the tab: pfctl takes most of them inside quotes and
 * prints them back raw, which a terminal would obey; tunpf refuses them so that nothing read is printed raw.
 */
export function isControl(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return (code < 0x20 && ch !== '\t') || (code >= 0x7f && code <= 0x9f);
}

function controlCharMessage(ch: string): string {
  return `control character U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} is not allowed`;
}

/** A token as error messages quote it. */
export function describeToken(t: Token): string {
  if (t.kind === 'newline' || t.kind === 'eof') return 'end of line';
  return t.text.length > 40 ? `'${t.text.slice(0, 40)}...'` : `'${t.text}'`;
}

/** What reads tokens one by one: the rule parser's context and the HA file's BlockReader. */
export interface TokenCursor {
  peek(): Token;
  next(): Token;
  /** A word or a quoted string, else an error saying `what` was expected. */
  word(what: string): Token;
}

/** An address with an optional /LENGTH as one token (the tokenizer splits on '/'). */
export function readAddressText(c: TokenCursor, what: string): Token {
  const a = c.word(what);
  const t = c.peek();
  if (t.kind !== 'punct' || t.text !== '/') return a;
  c.next();
  return { ...a, text: `${a.text}/${c.word('a prefix length').text}` };
}
