// What follows a rule's addresses: flags, icmp-type, keep/modulate/synproxy/no
// state and the state options in parentheses, label, tag, tagged, allow-opts;
// and `log (...)`, which comes earlier in the rule.

import { tcpFlagsFromString } from '../packet/tcp.js';
import {
  DEFAULT_TIMEOUTS,
  type IcmpMatch,
  type LogOptions,
  type SourceLocation,
  type StateMode,
  type StateOptions,
} from './ast.js';
import type { RuleSpec } from './rule-spec.js';
import { icmpCodeNumber, icmpTypeNumber } from './names.js';
import { tableReference } from './parse-hosts.js';
import { parseRouteOption, ROUTE_KEYWORDS } from './parse-route-to.js';
import { EXTRA_OPTIONS, parseExtraOption } from './parse-scrub.js';
import { parseTranslation } from './parse-translation.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { unsupported } from './unsupported.js';
import { byteLength, MAX_LABEL_BYTES, MAX_TAG_BYTES } from './rule-consistent.js';

const TRANSLATIONS = new Set(['nat-to', 'rdr-to', 'binat-to', 'af-to']);

/** pf rule options tunpf does not implement: named in the error rather than a syntax error. */
const UNSUPPORTED = new Set([
  'divert-packet',
  'rdomain',
  'queue',
  'os',
  'received-on',
  'fragment',
  'max-pkt-rate',
  'divert',
]);

/** `log [(all, matches, user, to pflogN)]`, at `log`. */
export function parseLogOptions(ctx: ParserContext): LogOptions {
  ctx.expect('log');
  const log: LogOptions = { all: false, matches: false, user: false, to: null };
  if (ctx.accept('(')) {
    while (!ctx.accept(')')) {
      if (ctx.accept(',')) continue;
      const t = ctx.word('all, matches, user or to');
      if (t.text === 'all') log.all = true;
      else if (t.text === 'matches') log.matches = true;
      else if (t.text === 'user') log.user = true;
      else if (t.text === 'to') log.to = ctx.word('a pflog interface').text;
      else throw new RuleSyntaxError(t.loc, `unknown log option '${t.text}'`);
    }
  }
  return log;
}

/** Reads options to the end of the statement, or to a `{` when `untilBrace` (an inline anchor's body). */
export function parseFilterOptions(ctx: ParserContext, spec: RuleSpec, untilBrace = false): void {
  while (!ctx.atEndOfStatement() && !(untilBrace && ctx.is('{'))) {
    const t = ctx.peek();
    if (t.kind !== 'word' && !(t.kind === 'punct' && t.text === '!')) throw ctx.unexpected(t, 'a rule option');
    if (ctx.accept('flags')) {
      if (spec.flagsLoc) throw new RuleSyntaxError(t.loc, 'flags cannot be redefined');
      spec.flagsLoc = t.loc;
      if (ctx.accept('any')) spec.flags = { set: 0, mask: 0 };
      else {
        let setText = '';
        if (!ctx.is('/')) setText = ctx.word('TCP flags').text;
        ctx.expect('/', "'/' and a flag mask");
        const maskText = ctx.word('a flag mask').text;
        const set = setText ? tcpFlagsFromString(setText) : 0;
        const mask = tcpFlagsFromString(maskText);
        if (set < 0 || mask < 0)
          throw new RuleSyntaxError(t.loc, `invalid TCP flags '${setText}/${maskText}' (letters FSRPAUEW)`);
        if ((set & mask) !== set)
          throw new RuleSyntaxError(
            t.loc,
            `flags ${setText}/${maskText}: flags set are outside the mask, so the rule never matches`,
          );
        spec.flags = { set, mask };
      }
    } else if (ctx.is('icmp-type') || ctx.is('icmp6-type')) {
      const family: 4 | 6 = ctx.next().text === 'icmp-type' ? 4 : 6;
      if (spec.icmpLoc) throw new RuleSyntaxError(t.loc, 'icmp-type cannot be redefined');
      spec.icmpLoc = t.loc;
      spec.icmp = ctx.list(() => icmpItem(ctx, family));
    } else if (ctx.accept('keep')) {
      ctx.expect('state');
      stateMode(ctx, spec, 'keep', t.loc);
    } else if (ctx.accept('modulate')) {
      ctx.expect('state');
      stateMode(ctx, spec, 'modulate', t.loc);
    } else if (ctx.accept('synproxy')) {
      ctx.expect('state');
      stateMode(ctx, spec, 'synproxy', t.loc);
    } else if (ctx.accept('no')) {
      ctx.expect('state');
      if (spec.stateExplicit) throw new RuleSyntaxError(t.loc, 'state given twice');
      spec.state = 'none';
      spec.stateExplicit = true;
      if (ctx.is('(')) throw new RuleSyntaxError(ctx.peek().loc, 'state options on a no state rule');
    } else if (ctx.accept('label')) {
      const s = ctx.peek();
      if (s.kind !== 'string' && s.kind !== 'word') throw ctx.unexpected(s, 'a label');
      ctx.next();
      if (spec.label !== null) throw new RuleSyntaxError(t.loc, 'label cannot be redefined');
      if (byteLength(s.text) > MAX_LABEL_BYTES)
        throw new RuleSyntaxError(s.loc, `rule label too long (max ${MAX_LABEL_BYTES} chars)`);
      spec.label = s.text;
    } else if (ctx.accept('tag')) {
      if (spec.tag !== null) throw new RuleSyntaxError(t.loc, 'tag cannot be redefined');
      spec.tag = tagName(ctx);
    } else if (ctx.is('!') || ctx.is('tagged')) {
      const neg = ctx.accept('!');
      ctx.expect('tagged');
      if (spec.tagged !== null) throw new RuleSyntaxError(t.loc, 'tagged cannot be redefined');
      spec.tagged = { name: tagName(ctx), neg };
    } else if (ctx.accept('allow-opts')) {
      spec.allowOpts = true;
    } else if (EXTRA_OPTIONS.has(t.text)) {
      parseExtraOption(ctx, spec);
    } else if (TRANSLATIONS.has(t.text)) {
      parseTranslation(ctx, spec);
    } else if (ROUTE_KEYWORDS.has(t.text)) {
      parseRouteOption(ctx, spec);
    } else if (UNSUPPORTED.has(t.text)) {
      throw unsupported(t.loc, t.text);
    } else throw ctx.unexpected(t, 'a rule option (flags, icmp-type, keep state, label, tag, ...)');
  }
}

/** A tag name, at most PF_TAG_NAME_SIZE - 1 bytes. */
function tagName(ctx: ParserContext): string {
  const t = ctx.word('a tag name');
  if (byteLength(t.text) > MAX_TAG_BYTES) throw new RuleSyntaxError(t.loc, `tag too long, max ${MAX_TAG_BYTES} chars`);
  return t.text;
}

function icmpItem(ctx: ParserContext, family: 4 | 6): IcmpMatch {
  const t = ctx.word('an ICMP type');
  const type = icmpTypeNumber(family, t.text);
  if (type === undefined)
    throw new RuleSyntaxError(t.loc, `unknown ${family === 4 ? 'icmp-type' : 'icmp6-type'} '${t.text}'`);
  let code: number | null = null;
  if (ctx.accept('code')) {
    const c = ctx.word('an ICMP code');
    const n = icmpCodeNumber(family, type, c.text);
    if (n === undefined) throw new RuleSyntaxError(c.loc, `unknown ICMP code '${c.text}' for type ${t.text}`);
    code = n;
  }
  return { family, type, code };
}

function stateMode(ctx: ParserContext, spec: RuleSpec, mode: StateMode, loc: SourceLocation): void {
  if (spec.stateExplicit) throw new RuleSyntaxError(loc, 'state given twice');
  spec.state = mode;
  spec.stateExplicit = true;
  if (ctx.accept('(')) {
    const seen = new Map<string, SourceLocation>();
    while (!ctx.accept(')')) {
      if (ctx.atEndOfStatement()) throw ctx.unexpected(ctx.peek(), "')'");
      if (ctx.accept(',')) continue;
      stateOption(ctx, spec.stateOptions, seen);
      spec.hasStateOptions = true;
    }
    sourceTrackConsistent(spec.stateOptions, seen);
  }
}

/** pfctl's grammar action: per-source limits need per-rule source tracking. */
function sourceTrackConsistent(o: StateOptions, seen: Map<string, SourceLocation>): void {
  if (o.sourceTrack !== 'global') return;
  for (const name of ['max-src-nodes', 'max-src-conn', 'max-src-conn-rate']) {
    const loc = seen.get(name);
    if (loc) throw new RuleSyntaxError(loc, `'${name}' is incompatible with 'source-track global'`);
  }
}

/** State options pfctl refuses twice in one rule: the group they share, and pfctl's message. */
const ONCE: Record<string, [group: string, message: string]> = {
  max: ['max', "state option 'max' multiple definitions"],
  'max-src-states': ['max-src-states', "state option 'max-src-states' multiple definitions"],
  'max-src-nodes': ['max-src-nodes', "state option 'max-src-nodes' multiple definitions"],
  'max-src-conn': ['max-src-conn', "state option 'max-src-conn' multiple definitions"],
  'max-src-conn-rate': ['max-src-conn-rate', "state option 'max-src-conn-rate' multiple definitions"],
  'source-track': ['source-track', "state option 'source-track' multiple definitions"],
  overload: ['overload', "multiple 'overload' table definitions"],
  'no-sync': ['no-sync', "state option 'sync' multiple definitions"],
  sloppy: ['sloppy', 'state sloppy option: multiple definitions'],
  pflow: ['pflow', 'state pflow option: multiple definitions'],
  'if-bound': ['locking', 'state locking option: multiple definitions'],
  floating: ['locking', 'state locking option: multiple definitions'],
};

function stateOption(ctx: ParserContext, o: StateOptions, seen: Map<string, SourceLocation>): void {
  const t = ctx.word('a state option');
  const once =
    ONCE[t.text] ?? (t.text in DEFAULT_TIMEOUTS ? [t.text, `state timeout ${t.text} multiple definitions`] : null);
  if (once) {
    if ([...seen.keys()].some((k) => (ONCE[k]?.[0] ?? k) === once[0])) throw new RuleSyntaxError(t.loc, once[1]);
    seen.set(t.text, t.loc);
  }
  switch (t.text) {
    case 'max':
      o.max = ctx.number('a state count', 1, 2 ** 31 - 1);
      return;
    case 'max-src-states':
      o.maxSrcStates = ctx.number('a state count', 1, 2 ** 31 - 1);
      return;
    case 'max-src-nodes':
      o.maxSrcNodes = ctx.number('a node count', 1, 2 ** 31 - 1);
      return;
    case 'max-src-conn':
      o.maxSrcConn = ctx.number('a connection count', 1, 2 ** 31 - 1);
      return;
    case 'max-src-conn-rate': {
      const count = ctx.number('a connection count', 1, 2 ** 31 - 1);
      ctx.expect('/', "'/' and seconds");
      const seconds = ctx.number('seconds', 1, 2 ** 31 - 1);
      o.maxSrcConnRate = { count, seconds };
      return;
    }
    case 'overload': {
      ctx.expect('<');
      o.overload = { table: tableReference(ctx), flush: false, global: false };
      if (ctx.accept('flush')) {
        o.overload.flush = true;
        if (ctx.accept('global')) o.overload.global = true;
      }
      return;
    }
    case 'source-track':
      o.sourceTrack = ctx.accept('global') ? 'global' : (ctx.accept('rule'), 'rule');
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
        o.timeouts[t.text] = ctx.number('seconds', 0, 2 ** 31 - 1);
        return;
      }
      throw new RuleSyntaxError(t.loc, `unknown state option '${t.text}'`);
  }
}
