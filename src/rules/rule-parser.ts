// Recursive-descent parser for pf.conf. One statement per logical line; on an
// error the rest of the line is skipped and parsing goes on, so every error
// in a file is reported at once. Rules are parsed with their lists intact
// (RuleSpec) and then expanded into single-valued Rules the way pfctl does.

import { parseAddress, parsePrefix, maskAddress } from '../packet/address.js';
import { tcpFlagsFromString } from '../packet/tcp.js';
import {
  DEFAULT_LIMITS,
  DEFAULT_TIMEOUTS,
  type AddressSpec,
  type BlockMode,
  type Diagnostic,
  type IcmpMatch,
  type InterfaceInfo,
  type LogOptions,
  type Options,
  type PortOp,
  type PortSpec,
  type Prefix,
  type Rule,
  type RuleAction,
  type Ruleset,
  type SourceLocation,
  type StateMode,
  type StateOptions,
  type TableDef,
} from './ast.js';
import { expandRuleSpec, type HostItem, type RuleSpec } from './expand-rule.js';
import { icmpCodeNumber, icmpTypeNumber, portNumber, protocolNumber } from './names.js';
import { tokenize, type Token, type TokenizeError } from './tokenizer.js';

export interface ParseOptions {
  file: string;
  /** The router's interfaces; `em0:network`, bare interface names and antispoof need them. */
  interfaces?: InterfaceInfo[];
  /** Reads `table <t> file "path"`; without it, file clauses are an error. */
  readFile?: (path: string) => string;
  /** Macros defined before the file is read (pfctl -D). */
  defines?: Record<string, string>;
}

export interface ParseResult {
  ruleset: Ruleset | null;
  diagnostics: Diagnostic[];
}

class ParseError extends Error {
  constructor(
    readonly loc: SourceLocation,
    message: string,
  ) {
    super(message);
  }
}

const LIMIT_NAMES: Record<string, keyof Options['limits']> = {
  states: 'states',
  'src-nodes': 'srcNodes',
  frags: 'frags',
  tables: 'tables',
  'table-entries': 'tableEntries',
};

const UNSUPPORTED = new Set([
  'nat-to', 'rdr-to', 'binat-to', 'af-to', 'route-to', 'reply-to', 'dup-to', 'divert-to', 'divert-packet',
  'divert-reply', 'rtable', 'rdomain', 'queue', 'prio', 'set', 'probability', 'user', 'group', 'os', 'once',
  'received-on', 'scrub', 'fragment', 'tos', 'max-pkt-rate', 'divert',
]);

export function defaultOptions(): Options {
  return {
    skip: [],
    blockPolicy: 'drop',
    statePolicy: 'floating',
    timeouts: {},
    limits: { ...DEFAULT_LIMITS },
    loginterface: null,
    hostid: null,
    debug: null,
    optimization: null,
    ruleset: null,
  };
}

export function defaultStateOptions(): StateOptions {
  return {
    max: null,
    maxSrcStates: null,
    maxSrcNodes: null,
    maxSrcConn: null,
    maxSrcConnRate: null,
    overload: null,
    timeouts: {},
    sloppy: false,
    noSync: false,
    pflow: false,
    ifBound: null,
    sourceTrack: 'none',
  };
}

/** Parses pf.conf text. The ruleset is null when any error was found. */
export function parseRuleset(text: string, opts: ParseOptions): ParseResult {
  return new Parser(text, opts).run();
}

class Parser {
  private tokens: Token[];
  private pos = 0;
  private readonly diagnostics: Diagnostic[] = [];
  private readonly macros = new Map<string, string>();
  private readonly options = defaultOptions();
  private readonly optionsSet: string[] = [];
  private readonly tables = new Map<string, TableDef>();
  private readonly tableUses: { name: string; loc: SourceLocation }[] = [];
  private readonly rules: Rule[] = [];
  private readonly interfaces: Map<string, InterfaceInfo>;

  constructor(
    text: string,
    private readonly opts: ParseOptions,
  ) {
    const errors: TokenizeError[] = [];
    this.tokens = tokenize(text, opts.file, errors);
    for (const e of errors) this.error(e.loc, e.message);
    for (const [k, v] of Object.entries(opts.defines ?? {})) this.macros.set(k, v);
    this.interfaces = new Map((opts.interfaces ?? []).map((i) => [i.name, i]));
  }

  run(): ParseResult {
    while (this.peek().kind !== 'eof') {
      if (this.peek().kind === 'newline') {
        this.pos++;
        continue;
      }
      try {
        this.statement();
        const t = this.peek();
        if (t.kind !== 'newline' && t.kind !== 'eof') throw this.unexpected(t, 'end of line');
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        this.error(e.loc, e.message);
        this.skipLine();
      }
    }
    for (const use of this.tableUses) {
      if (!this.tables.has(use.name)) {
        this.diagnostics.push({
          severity: 'warning',
          loc: use.loc,
          message: `table <${use.name}> is used but not defined; it is created empty`,
        });
        this.tables.set(use.name, {
          name: use.name, persist: false, const: false, counters: false, entries: [], files: [], loc: use.loc,
        });
      }
    }
    const hasError = this.diagnostics.some((d) => d.severity === 'error');
    this.diagnostics.sort((a, b) => a.loc.line - b.loc.line || a.loc.col - b.loc.col);
    const ruleset: Ruleset = {
      options: this.options,
      optionsSet: this.optionsSet,
      macros: Object.fromEntries(this.macros),
      tables: [...this.tables.values()],
      rules: this.rules,
    };
    return { ruleset: hasError ? null : ruleset, diagnostics: this.diagnostics };
  }

  // ---- token stream ---------------------------------------------------------

  /** The current token, with `$macro` references substituted in place. */
  private peek(): Token {
    let t = this.tokens[this.pos]!;
    let guard = 0;
    while (t.kind === 'macro') {
      const body = this.macros.get(t.text);
      if (body === undefined) {
        this.tokens.splice(this.pos, 1);
        throw new ParseError(t.loc, `macro '${t.text}' not defined`);
      }
      if (++guard > 64) throw new ParseError(t.loc, `macro '${t.text}' expands recursively`);
      const errors: TokenizeError[] = [];
      const inner = tokenize(body, this.opts.file, errors, { loc: t.loc, name: t.text }).filter(
        (x) => x.kind !== 'eof' && x.kind !== 'newline',
      );
      for (const e of errors) this.error(e.loc, e.message);
      this.tokens.splice(this.pos, 1, ...inner);
      t = this.tokens[this.pos]!;
    }
    return t;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  private is(text: string): boolean {
    const t = this.peek();
    return (t.kind === 'word' || t.kind === 'punct') && t.text === text;
  }

  private accept(text: string): boolean {
    if (this.is(text)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private expect(text: string, what = `'${text}'`): Token {
    const t = this.peek();
    if ((t.kind === 'word' || t.kind === 'punct') && t.text === text) return this.next();
    throw this.unexpected(t, what);
  }

  private word(what: string): Token {
    const t = this.peek();
    if (t.kind === 'word' || t.kind === 'string') return this.next();
    throw this.unexpected(t, what);
  }

  private unexpected(t: Token, expected: string): ParseError {
    const found = t.kind === 'newline' || t.kind === 'eof' ? 'end of line' : `'${t.text}'`;
    return new ParseError(t.loc, `syntax error: expected ${expected}, found ${found}`);
  }

  private skipLine(): void {
    while (true) {
      const t = this.tokens[this.pos]!;
      if (t.kind === 'eof') return;
      this.pos++;
      if (t.kind === 'newline') return;
    }
  }

  private atEndOfStatement(): boolean {
    const k = this.peek().kind;
    return k === 'newline' || k === 'eof';
  }

  private error(loc: SourceLocation, message: string): void {
    this.diagnostics.push({ severity: 'error', loc, message });
  }

  /** A `{ a, b c }` list or a single item, each parsed by `item`. */
  private list<T>(item: () => T | T[]): T[] {
    const out: T[] = [];
    const add = (x: T | T[]) => (Array.isArray(x) ? out.push(...x) : out.push(x));
    if (this.accept('{')) {
      while (!this.accept('}')) {
        if (this.atEndOfStatement()) throw this.unexpected(this.peek(), "'}'");
        if (this.accept(',')) continue;
        add(item());
      }
      if (out.length === 0) throw new ParseError(this.peek().loc, 'empty list');
      return out;
    }
    add(item());
    return out;
  }

  private number(what: string, min: number, max: number): number {
    const t = this.word(what);
    const n = /^[0-9]+$/.test(t.text) ? Number(t.text) : /^0x[0-9a-f]+$/i.test(t.text) ? parseInt(t.text, 16) : NaN;
    if (!Number.isFinite(n)) throw new ParseError(t.loc, `expected ${what}, found '${t.text}'`);
    if (n < min || n > max) throw new ParseError(t.loc, `${what} ${t.text} out of range (${min}..${max})`);
    return n;
  }

  // ---- statements -----------------------------------------------------------

  private statement(): void {
    const t = this.peek();
    if (t.kind === 'string') throw this.unexpected(t, 'a statement');
    const second = this.tokens[this.pos + 1];
    if (t.kind === 'word' && second && second.kind === 'punct' && second.text === '=') {
      this.macroDefinition();
      return;
    }
    switch (t.text) {
      case 'set':
        this.next();
        this.setOption();
        return;
      case 'table':
        this.next();
        this.table();
        return;
      case 'pass':
      case 'block':
      case 'match':
        this.rule();
        return;
      case 'antispoof':
        this.next();
        this.antispoof();
        return;
      case 'anchor':
      case 'load':
      case 'include':
      case 'queue':
      case 'scrub':
      case 'nat':
      case 'rdr':
      case 'binat':
        throw new ParseError(t.loc, `'${t.text}' is not supported by tunpf`);
      default:
        throw this.unexpected(t, 'a rule, option, table or macro definition');
    }
  }

  private macroDefinition(): void {
    const name = this.next();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name.text)) throw new ParseError(name.loc, `invalid macro name '${name.text}'`);
    this.next(); // '='
    const parts: string[] = [];
    while (!this.atEndOfStatement()) {
      const t = this.next();
      parts.push(t.text);
    }
    if (parts.length === 0) throw new ParseError(name.loc, `macro '${name.text}' has no value`);
    if (this.opts.defines?.[name.text] === undefined) this.macros.set(name.text, parts.join(' '));
  }

  private setOption(): void {
    const t = this.word('an option name');
    const mark = (n: string) => {
      if (!this.optionsSet.includes(n)) this.optionsSet.push(n);
    };
    switch (t.text) {
      case 'skip': {
        this.expect('on');
        const names = this.list(() => this.word('an interface name').text);
        this.options.skip.push(...names);
        mark('skip');
        return;
      }
      case 'block-policy': {
        const v = this.word('drop or return');
        if (v.text !== 'drop' && v.text !== 'return') throw new ParseError(v.loc, `block-policy must be drop or return, not '${v.text}'`);
        this.options.blockPolicy = v.text;
        mark('block-policy');
        return;
      }
      case 'state-policy': {
        const v = this.word('floating or if-bound');
        if (v.text !== 'floating' && v.text !== 'if-bound') throw new ParseError(v.loc, `state-policy must be floating or if-bound, not '${v.text}'`);
        this.options.statePolicy = v.text;
        mark('state-policy');
        return;
      }
      case 'timeout': {
        const pairs = this.list(() => this.timeoutPair());
        for (const { name, value } of pairs) this.options.timeouts[name] = value;
        mark('timeout');
        return;
      }
      case 'limit': {
        const pairs = this.list(() => {
          const n = this.word('a limit name');
          const key = LIMIT_NAMES[n.text];
          if (!key) throw new ParseError(n.loc, `unknown limit '${n.text}' (states, src-nodes, frags, tables, table-entries)`);
          return { key, value: this.number('a limit', 1, 2 ** 31 - 1) };
        });
        for (const { key, value } of pairs) this.options.limits[key] = value;
        mark('limit');
        return;
      }
      case 'loginterface': {
        const v = this.word('an interface name or none');
        this.options.loginterface = v.text === 'none' ? null : v.text;
        mark('loginterface');
        return;
      }
      case 'hostid': {
        const id = this.number('a host id', 1, 0xffffffff);
        this.options.hostid = id;
        mark('hostid');
        return;
      }
      case 'debug':
        this.options.debug = this.word('a debug level').text;
        mark('debug');
        return;
      case 'optimization':
        this.options.optimization = this.word('an optimization').text;
        mark('optimization');
        return;
      case 'ruleset-optimization':
        this.options.ruleset = this.word('none, basic or profile').text;
        mark('ruleset-optimization');
        return;
      default:
        throw new ParseError(t.loc, `unknown option 'set ${t.text}'`);
    }
  }

  private timeoutPair(): { name: string; value: number } {
    const n = this.word('a timeout name');
    if (!(n.text in DEFAULT_TIMEOUTS)) throw new ParseError(n.loc, `unknown timeout '${n.text}'`);
    return { name: n.text, value: this.number('seconds', 0, 2 ** 31 - 1) };
  }

  private table(): void {
    this.expect('<', "'<'");
    const name = this.word('a table name');
    this.expect('>', "'>'");
    if (!/^[A-Za-z0-9_.-]{1,31}$/.test(name.text)) throw new ParseError(name.loc, `invalid table name '${name.text}'`);
    if (this.tables.has(name.text)) throw new ParseError(name.loc, `table <${name.text}> is already defined`);
    const def: TableDef = {
      name: name.text, persist: false, const: false, counters: false, entries: [], files: [], loc: name.loc,
    };
    while (!this.atEndOfStatement()) {
      const t = this.peek();
      if (this.accept('persist')) def.persist = true;
      else if (this.accept('const')) def.const = true;
      else if (this.accept('counters')) def.counters = true;
      else if (this.is('{')) {
        this.next();
        while (!this.accept('}')) {
          if (this.atEndOfStatement()) throw this.unexpected(this.peek(), "'}'");
          if (this.accept(',')) continue;
          def.entries.push(...this.tableEntry());
        }
      } else if (this.accept('file')) {
        const f = this.peek();
        if (f.kind !== 'string') throw this.unexpected(f, 'a quoted file name');
        this.next();
        def.files.push(f.text);
        this.tableFile(def, f);
      } else throw this.unexpected(t, "persist, const, counters, '{' or file");
    }
    this.tables.set(def.name, def);
  }

  private tableEntry(): { prefix: Prefix; neg: boolean }[] {
    const neg = this.accept('!');
    const t = this.word('an address');
    return this.tableEntryText(t.text, t.loc, neg);
  }

  private tableEntryText(text: string, loc: SourceLocation, neg: boolean): { prefix: Prefix; neg: boolean }[] {
    let full = text;
    if (this.is('/')) {
      this.next();
      full += '/' + this.word('a prefix length').text;
    }
    const p = parsePrefix(full);
    if (p) return [{ prefix: normalise(p), neg }];
    const ifAddrs = this.interfaceAddresses(full, loc);
    return ifAddrs.map((prefix) => ({ prefix, neg }));
  }

  private tableFile(def: TableDef, tok: Token): void {
    if (!this.opts.readFile) throw new ParseError(tok.loc, `cannot read table file "${tok.text}": no file access here`);
    let content: string;
    try {
      content = this.opts.readFile(tok.text);
    } catch (e) {
      throw new ParseError(tok.loc, `cannot read table file "${tok.text}": ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const lines = content.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/#.*/, '').trim();
      if (!line) continue;
      for (const item of line.split(/[\s,]+/)) {
        if (!item) continue;
        const neg = item.startsWith('!');
        const text = neg ? item.slice(1) : item;
        const p = parsePrefix(text);
        if (!p) {
          this.error({ file: tok.text, line: i + 1, col: lines[i]!.indexOf(item) + 1 }, `invalid address '${text}' in table file`);
          continue;
        }
        def.entries.push({ prefix: normalise(p), neg });
      }
    }
  }

  /** Addresses of an interface: `em0` (its addresses), `em0:network`, `em0:broadcast`. */
  private interfaceAddresses(text: string, loc: SourceLocation): Prefix[] {
    const [ifname, mode, extra] = text.split(':');
    if (extra !== undefined || !ifname) throw new ParseError(loc, `invalid address '${text}'`);
    const info = this.interfaces.get(ifname) ?? [...this.interfaces.values()].find((i) => i.groups.includes(ifname));
    if (!info) {
      if (mode !== undefined || /^[a-z]+[0-9]+$/i.test(ifname))
        throw new ParseError(loc, `no such interface '${ifname}' (tunpf resolves no host names)`);
      throw new ParseError(loc, `invalid address '${text}': not an address, and no interface or group of that name`);
    }
    const out: Prefix[] = [];
    for (const a of info.addresses) {
      if (a.af === 6 && (a.words[0]! >>> 22) === 0x3fa) continue; // fe80::/10: link-local addresses need a scope
      if (mode === undefined) out.push({ af: a.af, words: Uint32Array.from(a.words), bits: a.af === 4 ? 32 : 128 });
      else if (mode === 'network') out.push({ af: a.af, words: maskAddress(a.words, a.bits), bits: a.bits });
      else if (mode === 'broadcast') {
        if (a.af !== 4) continue;
        const bc = Uint32Array.from(a.words);
        bc[0] = (a.words[0]! | ~((0xffffffff << (32 - a.bits)) >>> 0)) >>> 0;
        if (a.bits === 0) bc[0] = 0xffffffff;
        out.push({ af: 4, words: bc, bits: 32 });
      } else if (mode === 'peer') throw new ParseError(loc, `'${ifname}:peer' is not supported by tunpf`);
      else throw new ParseError(loc, `unknown interface modifier ':${mode}' (network, broadcast)`);
    }
    if (out.length === 0) throw new ParseError(loc, `interface '${ifname}' has no usable address for '${text}'`);
    return out;
  }

  // ---- rules ----------------------------------------------------------------

  private rule(): void {
    const first = this.next();
    const spec = newRuleSpec(first.text as RuleAction, first.loc);
    if (spec.action === 'block') this.blockMode(spec);
    if (this.accept('in')) spec.direction = 'in';
    else if (this.accept('out')) spec.direction = 'out';
    if (this.is('log')) spec.log = this.logOptions();
    if (this.accept('quick')) spec.quick = true;
    if (this.accept('on')) spec.ifaces = this.list(() => this.ifaceItem());
    this.ruleBody(spec);
    this.emit(spec);
  }

  private blockMode(spec: RuleSpec): void {
    const t = this.peek();
    const mode = t.text as BlockMode;
    if (t.kind !== 'word') return;
    if (mode === 'drop' || mode === 'return' || mode === 'return-rst' || mode === 'return-icmp' || mode === 'return-icmp6') {
      this.next();
      spec.block = mode;
      if (mode === 'return-rst' && this.accept('(')) {
        this.expect('ttl');
        spec.returnTtl = this.number('a TTL', 0, 255);
        this.expect(')');
      } else if ((mode === 'return-icmp' || mode === 'return-icmp6') && this.accept('(')) {
        while (!this.accept(')')) {
          if (this.atEndOfStatement()) throw this.unexpected(this.peek(), "')'");
          this.next(); // codes: accepted and ignored (tunpf answers with the default unreachable)
        }
      }
    }
  }

  private logOptions(): LogOptions {
    this.expect('log');
    const log: LogOptions = { all: false, matches: false, user: false, to: null };
    if (this.accept('(')) {
      while (!this.accept(')')) {
        if (this.accept(',')) continue;
        const t = this.word('all, matches, user or to');
        if (t.text === 'all') log.all = true;
        else if (t.text === 'matches') log.matches = true;
        else if (t.text === 'user') log.user = true;
        else if (t.text === 'to') log.to = this.word('a pflog interface').text;
        else throw new ParseError(t.loc, `unknown log option '${t.text}'`);
      }
    }
    return log;
  }

  private ifaceItem(): { name: string; neg: boolean } {
    const neg = this.accept('!');
    const t = this.word('an interface name');
    if (t.text === 'any' || t.text === 'rdomain') throw new ParseError(t.loc, `'on ${t.text}' is not supported by tunpf`);
    return { name: t.text, neg };
  }

  private ruleBody(spec: RuleSpec): void {
    if (this.accept('inet')) spec.af = 4;
    else if (this.accept('inet6')) spec.af = 6;
    if (this.accept('proto')) spec.protos = this.list(() => this.protoItem());
    this.hosts(spec);
    this.filterOptions(spec);
  }

  private protoItem(): number {
    const t = this.word('a protocol');
    const n = protocolNumber(t.text);
    if (n === undefined) throw new ParseError(t.loc, `unknown protocol '${t.text}'`);
    return n;
  }

  private hosts(spec: RuleSpec): void {
    if (this.accept('all')) {
      spec.all = true;
      return;
    }
    if (this.accept('from')) {
      spec.fromHosts = this.hostList(spec);
      if (this.is('port')) {
        const portLoc = this.next().loc;
        spec.portLoc ??= portLoc;
        spec.fromPorts = this.list(() => this.portItem());
      }
    }
    if (this.accept('to')) {
      spec.toHosts = this.hostList(spec);
      if (this.is('port')) {
        const portLoc = this.next().loc;
        spec.portLoc ??= portLoc;
        spec.toPorts = this.list(() => this.portItem());
      }
    }
  }

  private hostList(spec: RuleSpec): HostItem[] {
    if (this.is('port')) return [{ addr: { kind: 'any' }, af: 0, loc: this.peek().loc }];
    return this.list(() => this.hostItem(spec));
  }

  private hostItem(spec: RuleSpec): HostItem[] {
    const neg = this.accept('!');
    const t = this.peek();
    const loc = t.loc;
    if (this.accept('any')) {
      if (neg) throw new ParseError(loc, "'! any' matches nothing");
      return [{ addr: { kind: 'any' }, af: 0, loc }];
    }
    if (this.accept('no-route')) return [{ addr: { kind: 'no-route', neg }, af: 0, loc }];
    if (this.accept('urpf-failed')) return [{ addr: { kind: 'urpf-failed', neg }, af: 0, loc }];
    if (this.accept('self')) return [{ addr: { kind: 'self', neg }, af: 0, loc }];
    if (this.accept('<')) {
      const name = this.word('a table name');
      this.expect('>');
      this.tableUses.push({ name: name.text, loc: name.loc });
      return [{ addr: { kind: 'table', name: name.text, neg }, af: 0, loc }];
    }
    if (this.accept('(')) {
      const w = this.word('an interface name');
      this.expect(')');
      const parts = w.text.split(':');
      const ifname = parts[0]!;
      let mode: 'address' | 'network' | 'broadcast' | 'peer' = 'address';
      let noAlias = false;
      for (const m of parts.slice(1)) {
        if (m === '0') noAlias = true;
        else if (m === 'network' || m === 'broadcast' || m === 'peer') mode = m;
        else throw new ParseError(w.loc, `unknown interface modifier ':${m}'`);
      }
      return [{ addr: { kind: 'dynamic', ifname, mode, noAlias, neg }, af: 0, loc }];
    }
    const w = this.word('an address');
    let text = w.text;
    if (this.is('/')) {
      this.next();
      text += '/' + this.word('a prefix length').text;
    }
    const p = parsePrefix(text);
    if (p) {
      const prefix = normalise(p);
      if (this.is('-')) {
        this.next();
        const toTok = this.word('an address');
        const to = parseAddress(toTok.text);
        if (!to || to.af !== p.af || text.includes('/')) throw new ParseError(toTok.loc, `invalid address range '${text} - ${toTok.text}'`);
        return [{ addr: { kind: 'range', from: prefix, to: { af: to.af, words: to.words, bits: to.af === 4 ? 32 : 128 }, neg }, af: p.af, loc }];
      }
      this.checkFamily(spec, p.af, text, loc);
      return [{ addr: { kind: 'prefix', prefix, neg }, af: p.af, loc }];
    }
    if (text.includes('/') && parseAddress(text.slice(0, text.indexOf('/')))) throw new ParseError(loc, `invalid prefix length in '${text}'`);
    return this.interfaceAddresses(text, loc).map((prefix) => ({ addr: { kind: 'prefix', prefix, neg } as AddressSpec, af: prefix.af, loc }));
  }

  private checkFamily(spec: RuleSpec, af: 4 | 6, text: string, loc: SourceLocation): void {
    if (spec.af !== 0 && spec.af !== af)
      throw new ParseError(loc, `address ${text} is ${af === 4 ? 'IPv4' : 'IPv6'} but the rule is ${spec.af === 4 ? 'inet' : 'inet6'}`);
  }

  private portItem(): PortSpec {
    const t = this.peek();
    const ops: PortOp[] = ['=', '!=', '<', '<=', '>', '>='];
    if (t.kind === 'punct' && (ops as string[]).includes(t.text)) {
      this.next();
      const v = this.portValue();
      return { op: t.text as PortOp, low: v, high: v };
    }
    const w = this.word('a port');
    if (w.text.includes(':')) {
      const [a, b] = w.text.split(':');
      const low = this.portText(a!, w.loc);
      const high = this.portText(b!, w.loc);
      if (low > high) throw new ParseError(w.loc, `invalid port range ${w.text}: ${low} > ${high}`);
      return { op: ':', low, high };
    }
    const low = this.portText(w.text, w.loc);
    if (this.is('><') || this.is('<>')) {
      const op = this.next().text as PortOp;
      const high = this.portValue();
      if (low > high) throw new ParseError(w.loc, `invalid port range ${low} ${op} ${high}`);
      return { op, low, high };
    }
    return { op: '=', low, high: low };
  }

  private portValue(): number {
    const t = this.word('a port');
    return this.portText(t.text, t.loc);
  }

  private portText(text: string, loc: SourceLocation): number {
    const n = portNumber(text);
    if (n === undefined) throw new ParseError(loc, /^[0-9]+$/.test(text) ? `port ${text} out of range (0..65535)` : `unknown port name '${text}'`);
    return n;
  }

  private filterOptions(spec: RuleSpec): void {
    while (!this.atEndOfStatement()) {
      const t = this.peek();
      if (t.kind !== 'word' && !(t.kind === 'punct' && t.text === '!')) throw this.unexpected(t, 'a rule option');
      if (this.accept('flags')) {
        spec.flagsLoc = t.loc;
        if (this.accept('any')) spec.flags = { set: 0, mask: 0 };
        else {
          let setText = '';
          if (!this.is('/')) setText = this.word('TCP flags').text;
          this.expect('/', "'/' and a flag mask");
          const maskText = this.word('a flag mask').text;
          const set = setText ? tcpFlagsFromString(setText) : 0;
          const mask = tcpFlagsFromString(maskText);
          if (set < 0 || mask < 0) throw new ParseError(t.loc, `invalid TCP flags '${setText}/${maskText}' (letters FSRPAUEW)`);
          if ((set & mask) !== set) throw new ParseError(t.loc, `flags ${setText}/${maskText}: flags set are outside the mask, so the rule never matches`);
          spec.flags = { set, mask };
        }
      } else if (this.is('icmp-type') || this.is('icmp6-type')) {
        const family: 4 | 6 = this.next().text === 'icmp-type' ? 4 : 6;
        spec.icmpLoc = t.loc;
        spec.icmp = this.list(() => this.icmpItem(family));
      } else if (this.accept('keep')) {
        this.expect('state');
        this.stateMode(spec, 'keep', t.loc);
      } else if (this.accept('modulate')) {
        this.expect('state');
        this.stateMode(spec, 'modulate', t.loc);
      } else if (this.accept('synproxy')) {
        this.expect('state');
        this.stateMode(spec, 'synproxy', t.loc);
      } else if (this.accept('no')) {
        this.expect('state');
        if (spec.stateExplicit) throw new ParseError(t.loc, 'state given twice');
        spec.state = 'none';
        spec.stateExplicit = true;
        if (this.is('(')) throw new ParseError(this.peek().loc, 'state options on a no state rule');
      } else if (this.accept('label')) {
        const s = this.peek();
        if (s.kind !== 'string' && s.kind !== 'word') throw this.unexpected(s, 'a label');
        this.next();
        if (s.text.length > 63) throw new ParseError(s.loc, 'label is longer than 63 characters');
        spec.label = s.text;
      } else if (this.accept('tag')) {
        spec.tag = this.word('a tag name').text;
      } else if (this.is('!') || this.is('tagged')) {
        const neg = this.accept('!');
        this.expect('tagged');
        spec.tagged = { name: this.word('a tag name').text, neg };
      } else if (this.accept('allow-opts')) {
        spec.allowOpts = true;
      } else if (UNSUPPORTED.has(t.text)) {
        throw new ParseError(t.loc, `'${t.text}' is not supported by tunpf`);
      } else throw this.unexpected(t, 'a rule option (flags, icmp-type, keep state, label, tag, ...)');
    }
  }

  private icmpItem(family: 4 | 6): IcmpMatch {
    const t = this.word('an ICMP type');
    const type = icmpTypeNumber(family, t.text);
    if (type === undefined) throw new ParseError(t.loc, `unknown ${family === 4 ? 'icmp-type' : 'icmp6-type'} '${t.text}'`);
    let code: number | null = null;
    if (this.accept('code')) {
      const c = this.word('an ICMP code');
      const n = icmpCodeNumber(family, type, c.text);
      if (n === undefined) throw new ParseError(c.loc, `unknown ICMP code '${c.text}' for type ${t.text}`);
      code = n;
    }
    return { family, type, code };
  }

  private stateMode(spec: RuleSpec, mode: StateMode, loc: SourceLocation): void {
    if (spec.stateExplicit) throw new ParseError(loc, 'state given twice');
    spec.state = mode;
    spec.stateExplicit = true;
    if (this.accept('(')) {
      while (!this.accept(')')) {
        if (this.atEndOfStatement()) throw this.unexpected(this.peek(), "')'");
        if (this.accept(',')) continue;
        this.stateOption(spec.stateOptions);
        spec.hasStateOptions = true;
      }
    }
  }

  private stateOption(o: StateOptions): void {
    const t = this.word('a state option');
    switch (t.text) {
      case 'max':
        o.max = this.number('a state count', 1, 2 ** 31 - 1);
        return;
      case 'max-src-states':
        o.maxSrcStates = this.number('a state count', 1, 2 ** 31 - 1);
        return;
      case 'max-src-nodes':
        o.maxSrcNodes = this.number('a node count', 1, 2 ** 31 - 1);
        return;
      case 'max-src-conn':
        o.maxSrcConn = this.number('a connection count', 1, 2 ** 31 - 1);
        return;
      case 'max-src-conn-rate': {
        const count = this.number('a connection count', 1, 2 ** 31 - 1);
        this.expect('/', "'/' and seconds");
        const seconds = this.number('seconds', 1, 2 ** 31 - 1);
        o.maxSrcConnRate = { count, seconds };
        return;
      }
      case 'overload': {
        this.expect('<');
        const name = this.word('a table name');
        this.expect('>');
        this.tableUses.push({ name: name.text, loc: name.loc });
        o.overload = { table: name.text, flush: false, global: false };
        if (this.accept('flush')) {
          o.overload.flush = true;
          if (this.accept('global')) o.overload.global = true;
        }
        return;
      }
      case 'source-track':
        o.sourceTrack = this.accept('global') ? 'global' : (this.accept('rule'), 'rule');
        return;
      case 'sloppy':
        o.sloppy = true;
        return;
      case 'no-sync':
        o.noSync = true;
        return;
      case 'pflow':
        o.pflow = true;
        return;
      case 'if-bound':
        o.ifBound = true;
        return;
      case 'floating':
        o.ifBound = false;
        return;
      default:
        if (t.text in DEFAULT_TIMEOUTS) {
          o.timeouts[t.text] = this.number('seconds', 0, 2 ** 31 - 1);
          return;
        }
        throw new ParseError(t.loc, `unknown state option '${t.text}'`);
    }
  }

  private antispoof(): void {
    const loc = this.tokens[this.pos - 1]!.loc;
    let log: LogOptions | null = null;
    if (this.is('log')) log = this.logOptions();
    const quick = this.accept('quick');
    this.expect('for');
    const ifaces = this.list(() => {
      const t = this.word('an interface name');
      return t;
    });
    let af: 0 | 4 | 6 = 0;
    if (this.accept('inet')) af = 4;
    else if (this.accept('inet6')) af = 6;
    let label: string | null = null;
    if (this.accept('label')) label = this.next().text;
    // pfctl's expansion: traffic from the interface's networks must arrive
    // on it, and nobody may use the interface's own addresses as a source.
    for (const t of ifaces) {
      const info = this.interfaces.get(t.text);
      if (!info) throw new ParseError(t.loc, `antispoof: no such interface '${t.text}'`);
      const nets: HostItem[] = [];
      const hosts: HostItem[] = [];
      for (const a of info.addresses) {
        if (af !== 0 && a.af !== af) continue;
        if (a.af === 6 && (a.words[0]! >>> 22) === 0x3fa) continue; // link-local: needs a scope
        const net: Prefix = { af: a.af, words: maskAddress(a.words, a.bits), bits: a.bits };
        const host: Prefix = { af: a.af, words: Uint32Array.from(a.words), bits: a.af === 4 ? 32 : 128 };
        nets.push({ addr: { kind: 'prefix', prefix: net, neg: false }, af: a.af, loc });
        hosts.push({ addr: { kind: 'prefix', prefix: host, neg: false }, af: a.af, loc });
      }
      if (nets.length === 0) throw new ParseError(t.loc, `antispoof: interface '${t.text}' has no usable address`);
      const notOn = newRuleSpec('block', loc);
      Object.assign(notOn, { block: 'drop', direction: 'in', log, quick, ifaces: [{ name: t.text, neg: true }], af, label });
      notOn.fromHosts = nets;
      this.emit(notOn);
      const own = newRuleSpec('block', loc);
      Object.assign(own, { block: 'drop', direction: 'in', log, quick, af, label });
      own.fromHosts = hosts;
      this.emit(own);
    }
  }

  private emit(spec: RuleSpec): void {
    const { rules, errors } = expandRuleSpec(spec, this.rules.length);
    for (const e of errors) this.error(e.loc, e.message);
    this.rules.push(...rules);
  }
}

function normalise(p: { af: 4 | 6; words: Uint32Array; bits: number }): Prefix {
  return { af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits };
}

function newRuleSpec(action: RuleAction, loc: SourceLocation): RuleSpec {
  return {
    action,
    block: 'policy',
    returnTtl: null,
    direction: 'both',
    log: null,
    quick: false,
    ifaces: [],
    af: 0,
    protos: [],
    all: false,
    fromHosts: [],
    fromPorts: [],
    toHosts: [],
    toPorts: [],
    flags: null,
    icmp: [],
    state: action === 'pass' ? 'keep' : 'none',
    stateExplicit: false,
    hasStateOptions: false,
    stateOptions: defaultStateOptions(),
    allowOpts: false,
    label: null,
    tag: null,
    tagged: null,
    loc,
  };
}
