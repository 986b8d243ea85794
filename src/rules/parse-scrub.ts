// Rule options of issue 12 beyond addresses and state (pf.conf(5) "Parameters"):
// tos, prio, set prio / set tos, probability, once, rtable, user, group,
// divert-to / divert-reply and scrub (...); and `set reassemble`. Values are
// stored as pfctl stores them, so the printer shows what pfctl -nv shows.

import { parseAddress } from '../packet/address.js';
import type { Options, OwnerMatch, PortOp, RuleExtras, ScrubOptions, SourceLocation } from './ast.js';
import type { RuleSpec } from './rule-spec.js';
import { portNumber } from './names.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { isUnsupported, unsupported } from './unsupported.js';

/** pfctl's TOS names (parse.y `tos`). */
const TOS_NAMES: Record<string, number> = { lowdelay: 0x10, throughput: 0x08, reliability: 0x04 };
const UINT_MAX = 0xffffffff;
const PRIO_MAX = 7;

/** The options this file reads; parse-rule-options hands them over. */
export const EXTRA_OPTIONS = new Set([
  'tos',
  'prio',
  'set',
  'probability',
  'once',
  'rtable',
  'user',
  'group',
  'divert-to',
  'divert-reply',
  'scrub',
]);

/** At one of EXTRA_OPTIONS. */
export function parseExtraOption(ctx: ParserContext, spec: RuleSpec): void {
  const t = ctx.next();
  const x = spec.extra;
  switch (t.text) {
    case 'tos':
      x.tos = tosValue(ctx);
      return;
    case 'prio':
      x.prio = ctx.number('a priority', 0, PRIO_MAX);
      return;
    case 'set':
      if (ctx.accept('(')) {
        while (!ctx.accept(')')) {
          if (ctx.atEndOfStatement()) throw ctx.unexpected(ctx.peek(), "')'");
          if (!ctx.accept(',')) setOption(ctx, x);
        }
      } else setOption(ctx, x);
      return;
    case 'probability':
      x.probability = probability(ctx);
      return;
    case 'once':
      x.once = true;
      return;
    case 'rtable':
      x.rtable = ctx.number('a routing table id', 0, 255);
      return;
    case 'user':
    case 'group': {
      // pfctl: a list makes one rule per item (expand-rule.ts)
      const list = ctx.list(() => ownerMatch(ctx, t.text as 'user' | 'group'));
      x[t.text] = list[0]!;
      if (list.length > 1) (spec.owners ??= {})[t.text] = list;
      return;
    }
    case 'divert-to': {
      const a = ctx.word('an address');
      const addr = parseAddress(a.text);
      if (!addr) throw new RuleSyntaxError(a.loc, `divert-to: '${a.text}' is not an address`);
      ctx.expect('port');
      const p = ctx.word('a port');
      const port = portNumber(p.text);
      if (port === undefined || port === 0) throw new RuleSyntaxError(p.loc, `divert-to: invalid port '${p.text}'`);
      x.divert = { kind: 'to', addr: { af: addr.af, words: addr.words, bits: addr.af === 4 ? 32 : 128 }, port };
      return;
    }
    case 'divert-reply':
      x.divert = { kind: 'reply' };
      return;
    case 'scrub':
      x.scrub = scrubOptions(ctx);
      return;
  }
}

/** `set prio N`, `set prio (N, M)`, `set tos T`. */
function setOption(ctx: ParserContext, x: RuleExtras): void {
  const t = ctx.word('prio or tos');
  if (t.text === 'prio') {
    if (ctx.accept('(')) {
      const a = ctx.number('a priority', 0, PRIO_MAX);
      ctx.accept(',');
      const b = ctx.number('a priority', 0, PRIO_MAX);
      ctx.expect(')');
      x.setPrio = [a, b];
    } else {
      const a = ctx.number('a priority', 0, PRIO_MAX);
      x.setPrio = [a, a];
    }
  } else if (t.text === 'tos') x.setTos = tosValue(ctx);
  else if (isUnsupported(`set ${t.text}`)) throw unsupported(t.loc, `set ${t.text}`);
  else throw new RuleSyntaxError(t.loc, `unknown set option '${t.text}' (prio or tos)`);
}

function tosValue(ctx: ParserContext): number {
  const t = ctx.word('a TOS value');
  const named = TOS_NAMES[t.text];
  if (named !== undefined) return named;
  const n = /^[0-9]+$/.test(t.text) ? Number(t.text) : /^0x[0-9a-f]+$/i.test(t.text) ? parseInt(t.text, 16) : NaN;
  if (!(n >= 0 && n <= 255)) throw new RuleSyntaxError(t.loc, `illegal tos value '${t.text}'`);
  return n;
}

/** `probability 50%` or `probability 0.5`, as pf's 32-bit fraction (parse.y: rounded, never 0). */
function probability(ctx: ParserContext): number {
  const t = ctx.word('a probability');
  const percent = t.text.endsWith('%');
  const text = percent ? t.text.slice(0, -1) : t.text;
  const v = /^[0-9]*\.?[0-9]+$/.test(text) ? Number(text) / (percent ? 100 : 1) : NaN;
  if (!(v >= 0 && v <= 1)) throw new RuleSyntaxError(t.loc, `invalid probability: ${t.text}`);
  const p = Math.floor(v * UINT_MAX + 0.5);
  return p === 0 ? 1 : p;
}

const UNARY: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];

/** `user 1000`, `user root`, `user >= 1000`, `user 1000 >< 2000`, `user unknown`: one item of a list. */
function ownerMatch(ctx: ParserContext, kind: 'user' | 'group'): OwnerMatch {
  const opTok = ctx.peek();
  let op: PortOp = '=';
  if (opTok.kind === 'punct' && UNARY.includes(opTok.text)) {
    ctx.next();
    op = opTok.text as PortOp;
  }
  const range = /^([0-9]+):([0-9]+)$/.exec(ctx.peek().text);
  if (op === '=' && range && ctx.peek().kind === 'word') {
    ctx.next();
    return { op: ':', low: Number(range[1]), high: Number(range[2]) };
  }
  const low = ownerId(ctx, kind);
  if (op === '=' && (ctx.is('><') || ctx.is('<>'))) {
    op = ctx.next().text as PortOp;
    const high = ownerId(ctx, kind);
    return { op, low, high };
  }
  return { op, low, high: low };
}

function ownerId(ctx: ParserContext, kind: 'user' | 'group'): number {
  const t = ctx.word(`a ${kind} id`);
  if (t.text === 'unknown') return -1;
  if (/^[0-9]+$/.test(t.text)) {
    if (Number(t.text) > UINT_MAX - 1) throw new RuleSyntaxError(t.loc, `illegal ${kind} id ${t.text}`);
    return Number(t.text);
  }
  const id = (kind === 'user' ? ctx.opts.users : ctx.opts.groups)?.get(t.text);
  if (id === undefined) throw new RuleSyntaxError(t.loc, `unknown ${kind} ${t.text}`);
  return id;
}

/** `scrub (no-df random-id min-ttl N max-mss N reassemble tcp)`, at `(`. */
function scrubOptions(ctx: ParserContext): ScrubOptions {
  const s: ScrubOptions = { noDf: false, randomId: false, minTtl: 0, maxMss: 0, reassembleTcp: false };
  ctx.expect('(');
  while (!ctx.accept(')')) {
    if (ctx.atEndOfStatement()) throw ctx.unexpected(ctx.peek(), "')'");
    if (ctx.accept(',')) continue;
    const t = ctx.word('a scrub option');
    switch (t.text) {
      case 'no-df':
        s.noDf = true;
        break;
      case 'random-id':
        s.randomId = true;
        break;
      case 'min-ttl':
        s.minTtl = ctx.number('a TTL', 1, 255);
        break;
      case 'max-mss':
        s.maxMss = ctx.number('an MSS', 1, 65535);
        break;
      case 'reassemble':
        ctx.expect('tcp');
        s.reassembleTcp = true;
        break;
      default:
        throw new RuleSyntaxError(t.loc, `unknown scrub option '${t.text}'`);
    }
  }
  return s;
}

/** `set reassemble yes|no [no-df]`, after `reassemble`. */
export function parseReassemble(ctx: ParserContext, loc: SourceLocation): NonNullable<Options['reassemble']> {
  const v = ctx.word('yes or no');
  if (v.text !== 'yes' && v.text !== 'no')
    throw new RuleSyntaxError(v.loc, `set reassemble takes yes or no, not '${v.text}'`);
  return { on: v.text === 'yes', noDf: ctx.accept('no-df'), loc };
}
