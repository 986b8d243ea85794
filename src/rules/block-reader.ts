// A cursor over tokens for the small block-structured configuration files
// (the HA file's `carp NAME { ... }` and `pfsync { ... }`): the same
// tokenizer as pf.conf, so comments, quoting and continuation behave alike,
// and errors that carry their FILE:LINE:COL.

import type { SourceLocation } from './ast.js';
import { describeToken, readAddressText, type Token, type TokenCursor } from './tokenizer.js';

export class ConfigError extends Error {
  constructor(
    readonly loc: SourceLocation,
    message: string,
  ) {
    super(message);
  }
}

export class BlockReader implements TokenCursor {
  pos = 0;
  constructor(readonly tokens: readonly Token[]) {}

  peek(): Token {
    return this.tokens[Math.min(this.pos, this.tokens.length - 1)]!;
  }

  next(): Token {
    const t = this.peek();
    if (this.pos < this.tokens.length - 1) this.pos++;
    return t;
  }

  atEof(): boolean {
    return this.peek().kind === 'eof';
  }

  skipNewlines(): void {
    while (this.peek().kind === 'newline') this.pos++;
  }

  /** A word or a quoted string. */
  word(what: string): Token {
    const t = this.peek();
    if (t.kind === 'word' || t.kind === 'string') return this.next();
    throw new ConfigError(t.loc, `expected ${what}, found ${describeToken(t)}`);
  }

  number(what: string, min: number, max: number): number {
    const t = this.word(what);
    const n = /^[0-9]+$/.test(t.text) ? Number(t.text) : NaN;
    if (!(n >= min && n <= max)) throw new ConfigError(t.loc, `${what} must be ${min}..${max}, not '${t.text}'`);
    return n;
  }

  /** An address with an optional /LENGTH (the tokenizer splits on '/'). */
  addressText(what: string): Token {
    return readAddressText(this, what);
  }

  expectPunct(text: string, context: string): Token {
    const t = this.next();
    if (t.kind !== 'punct' || t.text !== text)
      throw new ConfigError(t.loc, `expected '${text}' ${context}, found ${describeToken(t)}`);
    return t;
  }

  /** Inside a block: true (and consumed) at its closing brace. */
  blockEnds(context: string): boolean {
    this.skipNewlines();
    const t = this.peek();
    if (t.kind === 'eof') throw new ConfigError(t.loc, `${context}: missing '}'`);
    if (t.kind === 'punct' && t.text === '}') {
      this.next();
      return true;
    }
    return false;
  }

  /**
   * After an error: skip what is left of the statement, to the end of its
   * block if one was opened, else to the end of the line, so the statements
   * after it are still checked and reported.
   */
  recover(start: number): void {
    let depth = 0;
    let opened = false;
    for (let k = start; k < this.pos; k++) {
      const t = this.tokens[k]!;
      if (t.kind === 'punct' && t.text === '{') {
        depth++;
        opened = true;
      }
      if (t.kind === 'punct' && t.text === '}') depth--;
    }
    if (opened && depth <= 0) return;
    while (!this.atEof()) {
      const t = this.peek();
      if (!opened && t.kind === 'newline') return;
      this.next();
      if (t.kind === 'punct' && t.text === '{') {
        depth++;
        opened = true;
      }
      if (t.kind === 'punct' && t.text === '}' && --depth <= 0 && opened) return;
    }
  }
}
