// The rule parser's state, shared by its grammar areas (rule-parser.ts and
// the parse-*.ts files): a cursor over the tokens that substitutes `$macro`
// references as it reaches them, the diagnostics, and the ruleset being built.

import {
  defaultOptions,
  type AnchorDef,
  type Diagnostic,
  type Ruleset,
  type EchoItem,
  type InterfaceInfo,
  type Rule,
  type SourceLocation,
  type TableDef,
} from './ast.js';
import { describeToken, tokenize, type Token, type TokenCursor, type TokenizeError } from './tokenizer.js';

export interface ParseResult {
  ruleset: Ruleset | null;
  diagnostics: Diagnostic[];
  /** Errors beyond those listed (a file with very many keeps only the first). */
  omitted: number;
}

export interface ParseOptions {
  file: string;
  /** The router's interfaces; `em0:network`, bare interface names and antispoof need them. */
  interfaces?: InterfaceInfo[];
  /** Reads `table <t> file "path"`; without it, file clauses are an error. */
  readFile?: (path: string) => string;
  /** Port names from the host's /etc/services; names not there come from the built-in table. */
  services?: ReadonlyMap<string, number>;
  /** User and group names (the host's /etc/passwd and /etc/group); without them only ids are read. */
  users?: ReadonlyMap<string, number>;
  groups?: ReadonlyMap<string, number>;
  /** Macros defined before the file is read (pfctl -D). */
  defines?: Record<string, string>;
  /** Reads `include "path"`; without it, `include` is an error. */
  readInclude?: (path: string) => string;
  /** Reads `load anchor ... from "path"`; without it, `load anchor` is an error. */
  readAnchorFile?: (path: string) => string;
  /** The anchor the text is loaded into ('' or absent: the main ruleset); anchor names are relative to it. */
  anchorPath?: string;
}

/** A file's errors kept with their text; only the first few are printed (formatDiagnostics). */
export const MAX_KEPT_ERRORS = 1000;

/** A syntax or meaning error in pf.conf: it ends the statement, and parsing goes on at the next line. */
export class RuleSyntaxError extends Error {
  constructor(
    readonly loc: SourceLocation,
    message: string,
  ) {
    super(message);
  }
}

export class ParserContext implements TokenCursor {
  tokens: Token[];
  pos = 0;
  /** Macro bodies may name macros: a bound on what they expand to stops exponential growth. */
  readonly expansionLimit: number;
  private expansionBudget: number;
  readonly diagnostics: Diagnostic[] = [];
  /** Errors past MAX_KEPT_ERRORS, only counted: a binary file has one on nearly every line. */
  omitted = 0;
  private errorsKept = 0;
  readonly macros = new Map<string, string>();
  readonly options = defaultOptions();
  readonly optionsSet: string[] = [];
  readonly echo: EchoItem[] = [];
  readonly tables = new Map<string, TableDef>();
  /** Every `<table>` a rule names, checked against the definitions at the end. */
  readonly tableUses: { name: string; loc: SourceLocation }[] = [];
  /** The rules of the ruleset being read: the main one, or an inline anchor's body while it is read. */
  rules: Rule[] = [];
  /** Path of the anchor `rules` belongs to ('' for the main ruleset). */
  anchorPath: string;
  readonly anchors = new Map<string, AnchorDef>();
  /** Unnamed inline anchors so far (pfctl names them _1, _2, ...). */
  unnamedAnchors = 0;
  readonly interfaces: Map<string, InterfaceInfo>;
  /** Each included file and the file that included it (to refuse include loops). */
  readonly includedFrom = new Map<string, string>();

  constructor(
    text: string,
    readonly opts: ParseOptions,
  ) {
    const errors: TokenizeError[] = [];
    this.tokens = tokenize(text, opts.file, errors);
    this.expansionLimit = 100_000 + 8 * this.tokens.length;
    this.expansionBudget = this.expansionLimit;
    for (const e of errors) this.error(e.loc, e.message);
    for (const [k, v] of Object.entries(opts.defines ?? {})) this.macros.set(k, v);
    this.interfaces = new Map((opts.interfaces ?? []).map((i) => [i.name, i]));
    this.anchorPath = opts.anchorPath ?? '';
  }

  /** The current token, with `$macro` references substituted in place. */
  peek(): Token {
    let t = this.tokens[this.pos]!;
    let guard = 0;
    while (t.kind === 'macro') {
      const body = this.macros.get(t.text);
      if (body === undefined) {
        this.pos++;
        throw new RuleSyntaxError(t.loc, `macro '${t.text}' not defined`);
      }
      if (++guard > 64) throw new RuleSyntaxError(t.loc, `macro '${t.text}' expands recursively`);
      const errors: TokenizeError[] = [];
      const inner = tokenize(body + (t.suffix ?? ''), this.opts.file, errors, { loc: t.loc, name: t.text }).filter(
        (x) => x.kind !== 'eof' && x.kind !== 'newline',
      );
      for (const e of errors) this.error(e.loc, e.message);
      this.expansionBudget -= inner.length;
      if (this.expansionBudget < 0) {
        this.pos++;
        throw new RuleSyntaxError(t.loc, `macro '${t.text}': macro expansion exceeds ${this.expansionLimit} tokens`);
      }
      this.replaceCurrent(inner);
      t = this.tokens[this.pos]!;
    }
    return t;
  }

  /**
   * Puts a macro's tokens in place of the reference at `pos`. They are written
   * over the consumed tokens just behind it (the parser never looks back), so
   * an expansion costs its own length, not the rest of the file's: splicing
   * into the array made a large ruleset quadratic. When there is too little
   * room behind, the rest is copied once behind a gap as long as itself.
   */
  private replaceCurrent(inner: Token[]): void {
    const start = this.pos + 1 - inner.length;
    if (start >= 0) {
      for (let k = 0; k < inner.length; k++) this.tokens[start + k] = inner[k]!;
      this.pos = start;
      return;
    }
    const rest = this.tokens.length - this.pos - 1;
    const gap = Math.max(inner.length, rest);
    const grown: Token[] = new Array<Token>(gap + rest);
    for (let k = 0; k < gap - inner.length; k++) grown[k] = inner[0]!;
    for (let k = 0; k < inner.length; k++) grown[gap - inner.length + k] = inner[k]!;
    for (let k = 0; k < rest; k++) grown[gap + k] = this.tokens[this.pos + 1 + k]!;
    this.tokens = grown;
    this.pos = gap - inner.length;
  }

  next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  is(text: string): boolean {
    const t = this.peek();
    return (t.kind === 'word' || t.kind === 'punct') && t.text === text;
  }

  accept(text: string): boolean {
    if (this.is(text)) {
      this.pos++;
      return true;
    }
    return false;
  }

  expect(text: string, what = `'${text}'`): Token {
    const t = this.peek();
    if ((t.kind === 'word' || t.kind === 'punct') && t.text === text) return this.next();
    throw this.unexpected(t, what);
  }

  word(what: string): Token {
    const t = this.peek();
    if (t.kind === 'word' || t.kind === 'string') return this.next();
    throw this.unexpected(t, what);
  }

  unexpected(t: Token, expected: string): RuleSyntaxError {
    return new RuleSyntaxError(t.loc, `syntax error: expected ${expected}, found ${describeToken(t)}`);
  }

  skipLine(): void {
    while (true) {
      const t = this.tokens[this.pos]!;
      if (t.kind === 'eof') return;
      this.pos++;
      if (t.kind === 'newline') return;
    }
  }

  atEndOfStatement(): boolean {
    const k = this.peek().kind;
    return k === 'newline' || k === 'eof';
  }

  error(loc: SourceLocation, message: string): void {
    if (this.errorsKept >= MAX_KEPT_ERRORS) {
      this.omitted++;
      return;
    }
    this.errorsKept++;
    this.diagnostics.push({ severity: 'error', loc, message });
  }

  /** A `{ a, b c }` list or a single item, each parsed by `item`. */
  list<T>(item: () => T | T[]): T[] {
    const out: T[] = [];
    const add = (x: T | T[]) => (Array.isArray(x) ? out.push(...x) : out.push(x));
    if (this.accept('{')) {
      while (!this.accept('}')) {
        if (this.atEndOfStatement()) throw this.unexpected(this.peek(), "'}'");
        if (this.accept(',')) continue;
        add(item());
      }
      if (out.length === 0) throw new RuleSyntaxError(this.peek().loc, 'empty list');
      return out;
    }
    add(item());
    return out;
  }

  number(what: string, min: number, max: number): number {
    const t = this.word(what);
    const n = /^[0-9]+$/.test(t.text) ? Number(t.text) : /^0x[0-9a-f]+$/i.test(t.text) ? parseInt(t.text, 16) : NaN;
    if (!Number.isFinite(n)) throw new RuleSyntaxError(t.loc, `expected ${what}, found '${t.text}'`);
    if (n < min || n > max) throw new RuleSyntaxError(t.loc, `${what} ${t.text} out of range (${min}..${max})`);
    return n;
  }
}
