// Translation options of pass and match rules, as pfctl reads them:
// `nat-to POOL [port P] [POOL OPTIONS]`, `rdr-to ...`, `binat-to ...`, and
// `af-to`, which is recognised only to be refused clearly. The pool is kept as
// written (TranslationSpec, in expand-rule.ts); expand-rule.ts fits it to each expanded rule's
// address family and applies pfctl's checks and defaults.

import { createHash } from 'node:crypto';
import { parseAddress } from '../packet/address.js';
import { parseNetwork } from './address-forms.js';
import type { PoolType, SourceLocation } from './ast.js';
import type { PoolItem, RuleSpec, TranslationKeyword, TranslationSpec } from './rule-spec.js';
import { interfaceAddresses, networkPrefix, portText, tableReference } from './parse-hosts.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { readAddressText, type Token } from './tokenizer.js';

/** Words that end a pool's options (they start another rule option), so `source-hash` takes no key from them. */
const OPTION_WORDS = new Set([
  'bitmask',
  'random',
  'source-hash',
  'round-robin',
  'least-states',
  'static-port',
  'sticky-address',
  'flags',
  'icmp-type',
  'icmp6-type',
  'keep',
  'modulate',
  'synproxy',
  'no',
  'label',
  'tag',
  'tagged',
  'allow-opts',
  'nat-to',
  'rdr-to',
  'binat-to',
  'af-to',
  'route-to',
  'reply-to',
  'dup-to',
  'divert-to',
  'divert-packet',
  'divert-reply',
  'rtable',
  'queue',
  'prio',
  'set',
  'probability',
  'user',
  'group',
  'os',
  'once',
  'received-on',
  'scrub',
  'fragment',
  'tos',
  'max-pkt-rate',
]);

/** At `nat-to`, `rdr-to`, `binat-to` or `af-to`: reads the option into the rule. */
export function parseTranslation(ctx: ParserContext, spec: RuleSpec): void {
  const kw = ctx.next();
  if (kw.text === 'af-to') return refuseAfTo(ctx, kw);
  const keyword = kw.text as TranslationKeyword;
  const t = translationSpec(ctx, keyword, kw.loc);
  if (keyword === 'rdr-to') {
    if (spec.rdr) throw new RuleSyntaxError(kw.loc, 'cannot respecify rdr-to');
    spec.rdr = t;
  } else {
    if (spec.nat) throw new RuleSyntaxError(kw.loc, 'cannot respecify nat-to/binat-to');
    spec.nat = t;
  }
}

function translationSpec(ctx: ParserContext, keyword: TranslationKeyword, loc: SourceLocation): TranslationSpec {
  const t: TranslationSpec = {
    keyword,
    loc,
    items: poolItems(ctx),
    port: null,
    type: 'none',
    hashKey: null,
    sticky: false,
    staticPort: keyword === 'binat-to', // pfctl: binat-to's outbound half keeps the source port
    staticPortLoc: null,
  };
  if (ctx.is('port')) {
    ctx.next();
    const w = ctx.word('a port');
    if (keyword === 'binat-to')
      throw new RuleSyntaxError(w.loc, 'binat-to translates addresses only: it takes no port');
    t.port = portStar(ctx, w);
  }
  poolOptions(ctx, t, (loc) => {
    if (t.staticPortLoc) throw new RuleSyntaxError(loc, 'static-port cannot be redefined');
    t.staticPort = true;
    t.staticPortLoc = loc;
  });
  return t;
}

/** `af-to inet|inet6 from POOL [OPTIONS] [to POOL [OPTIONS]]`: read whole, then refused at its keyword. */
function refuseAfTo(ctx: ParserContext, kw: Token): never {
  const af = ctx.word('inet or inet6');
  if (af.text !== 'inet' && af.text !== 'inet6') throw ctx.unexpected(af, 'inet or inet6');
  ctx.expect('from');
  translationSpec(ctx, 'nat-to', kw.loc);
  if (ctx.accept('to')) translationSpec(ctx, 'rdr-to', kw.loc);
  throw new RuleSyntaxError(kw.loc, 'af-to is not supported by tunpf (no NAT64/NAT46)');
}

function poolItems(ctx: ParserContext): PoolItem[] {
  if (ctx.is('{')) {
    return ctx.list(() => {
      const items = poolItem(ctx);
      for (const i of items)
        if (i.host.kind !== 'prefix')
          throw new RuleSyntaxError(i.loc, 'only addresses can be listed for redirection pools');
      return items;
    });
  }
  return poolItem(ctx);
}

function poolItem(ctx: ParserContext): PoolItem[] {
  const loc = ctx.peek().loc;
  if (ctx.accept('<')) return [{ host: { kind: 'table', name: tableReference(ctx) }, af: 0, loc }];
  if (ctx.accept('(')) {
    const w = ctx.word('an interface name');
    ctx.expect(')');
    const [ifname, mod, extra] = w.text.split(':');
    if (!ifname || extra !== undefined || (mod !== undefined && mod !== '0'))
      throw new RuleSyntaxError(w.loc, `(${w.text}): a translation pool takes (if) or (if:0)`);
    return [{ host: { kind: 'dynamic', ifname, noAlias: mod === '0' }, af: 0, loc }];
  }
  const text = readAddressText(ctx, 'a translation address').text;
  if (ctx.is('-')) throw new RuleSyntaxError(ctx.peek().loc, 'address ranges are not supported in a translation pool');
  const p = parseNetwork(text);
  if (p) return [{ host: { kind: 'prefix', prefix: networkPrefix(p) }, af: p.af, loc }];
  if (text.includes('/') && parseAddress(text.slice(0, text.indexOf('/'))))
    throw new RuleSyntaxError(loc, `invalid prefix length in '${text}'`);
  // an interface or group name: its addresses now, as pfctl resolves them at load
  return interfaceAddresses(ctx, text, loc).map((prefix) => ({ host: { kind: 'prefix', prefix }, af: prefix.af, loc }));
}

/** pfctl's `port` after a pool: `N`, `LOW:HIGH` or `N:*` (names allowed). */
function portStar(ctx: ParserContext, w: Token): { low: number; high: number; star: boolean; loc: SourceLocation } {
  const [a, b, extra] = w.text.split(':');
  if (extra !== undefined) throw new RuleSyntaxError(w.loc, `invalid port '${w.text}'`);
  const low = portText(ctx, a!, w.loc);
  if (b === undefined) return { low, high: low, star: false, loc: w.loc };
  if (b === '*') return { low, high: low, star: true, loc: w.loc };
  return { low, high: portText(ctx, b, w.loc), star: false, loc: w.loc };
}

/** What a pool's options fill: a translation's pool, or a route option's (which has no static-port). */
export interface PoolOptionsTarget {
  type: PoolType;
  hashKey: Uint32Array | null;
  sticky: boolean;
}

/**
 * The pool options after a pool: a pool type (source-hash with its key), sticky-address and, with
 * `staticPort`, static-port; pfctl's grammar takes static-port after any pool, so without it the word is refused.
 */
export function poolOptions(
  ctx: ParserContext,
  t: PoolOptionsTarget,
  staticPort?: (loc: SourceLocation) => void,
): void {
  while (ctx.peek().kind === 'word') {
    const w = ctx.peek();
    switch (w.text) {
      case 'bitmask':
      case 'random':
      case 'round-robin':
      case 'source-hash':
        ctx.next();
        if (t.type !== 'none') throw new RuleSyntaxError(w.loc, 'pool type cannot be redefined');
        t.type = w.text;
        if (w.text === 'source-hash') t.hashKey = hashKey(ctx);
        break;
      case 'least-states':
        throw new RuleSyntaxError(w.loc, "'least-states' is not supported by tunpf");
      case 'static-port':
        if (!staticPort) throw new RuleSyntaxError(w.loc, "the 'static-port' option is only valid with nat rules");
        ctx.next();
        staticPort(w.loc);
        break;
      case 'sticky-address':
        ctx.next();
        if (t.sticky) throw new RuleSyntaxError(w.loc, 'sticky-address cannot be redefined');
        t.sticky = true;
        break;
      default:
        return;
    }
  }
}

/**
 * The key after `source-hash`: `0x` and 32 hex digits, or any other string, whose MD5 digest
 * is the key (pfctl's words are the digest read big-endian); none: null, a random key at load.
 */
export function hashKey(ctx: ParserContext): Uint32Array | null {
  const t = ctx.peek();
  if (t.kind !== 'string' && (t.kind !== 'word' || OPTION_WORDS.has(t.text))) return null;
  ctx.next();
  if (t.text.startsWith('0x')) {
    if (t.text.length !== 34) throw new RuleSyntaxError(t.loc, 'hex key must be 128 bits (32 hex digits) long');
    if (!/^0x[0-9a-fA-F]{32}$/.test(t.text)) throw new RuleSyntaxError(t.loc, 'invalid hex key');
    return Uint32Array.from([2, 10, 18, 26], (i) => parseInt(t.text.slice(i, i + 8), 16));
  }
  const digest = createHash('md5').update(t.text, 'utf8').digest();
  return Uint32Array.from([0, 4, 8, 12], (i) => digest.readUInt32BE(i));
}
