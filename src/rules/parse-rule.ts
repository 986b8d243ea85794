// Filter rules: `pass|block|match [return mode] [in|out] [log] [quick] [on IFACES]
// [inet|inet6] [proto PROTOS] HOSTS OPTIONS`, and `antispoof`, which stands
// for two block rules per interface. A rule is read with its lists intact
// (RuleSpec) and expanded into single-valued Rules as pfctl does.

import {
  defaultRuleExtras,
  defaultStateOptions,
  type BlockMode,
  type LogOptions,
  type RuleAction,
  type SourceLocation,
} from './ast.js';
import { expandRuleSpec } from './expand-rule.js';
import type { HostItem, RuleSpec } from './rule-spec.js';
import { icmpCodeNumber, protocolNumber } from './names.js';
import { hostPrefix, interfaceItem, isLinkLocal6, networkPrefix, parseHosts } from './parse-hosts.js';
import { parseFilterOptions, parseLogOptions } from './parse-rule-options.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { byteLength, MAX_IFNAME_BYTES, MAX_LABEL_BYTES } from './rule-consistent.js';
import type { Token } from './tokenizer.js';

/** At `pass`, `block` or `match`. */
export function parseRule(ctx: ParserContext): void {
  const first = ctx.next();
  const spec = newRuleSpec(first.text as RuleAction, first.loc);
  if (spec.action === 'block') blockMode(ctx, spec);
  if (ctx.accept('in')) spec.direction = 'in';
  else if (ctx.accept('out')) spec.direction = 'out';
  if (ctx.is('log')) spec.log = parseLogOptions(ctx);
  if (ctx.accept('quick')) spec.quick = true;
  if (ctx.accept('on')) spec.ifaces = ctx.list(() => interfaceItem(ctx));
  if (ctx.accept('inet')) spec.af = 4;
  else if (ctx.accept('inet6')) spec.af = 6;
  if (ctx.is('proto')) {
    spec.protoLoc = ctx.next().loc;
    spec.protos = ctx.list(() => protoItem(ctx));
  }
  parseHosts(ctx, spec);
  parseFilterOptions(ctx, spec);
  emitRule(ctx, spec);
}

/**
 * After `antispoof` (at `loc`). pfctl's expansion: traffic from the
 * interface's networks must arrive on it, and nobody may use the interface's
 * own addresses as a source.
 */
export function parseAntispoof(ctx: ParserContext, loc: SourceLocation): void {
  let log: LogOptions | null = null;
  if (ctx.is('log')) log = parseLogOptions(ctx);
  const quick = ctx.accept('quick');
  ctx.expect('for');
  const ifaces = ctx.list(() => antispoofInterface(ctx));
  let af: 0 | 4 | 6 = 0;
  if (ctx.accept('inet')) af = 4;
  else if (ctx.accept('inet6')) af = 6;
  let label: string | null = null;
  if (ctx.accept('label')) {
    const l = ctx.next();
    if (byteLength(l.text) > MAX_LABEL_BYTES)
      throw new RuleSyntaxError(l.loc, `rule label too long (max ${MAX_LABEL_BYTES} chars)`);
    label = l.text;
  }
  for (const { tok: t, dynamic } of ifaces) {
    const nets: HostItem[] = [];
    const hosts: HostItem[] = [];
    if (dynamic) {
      // `antispoof for (lan)`: the interface's networks and addresses followed at run time, as pfctl writes them
      const dyn = { kind: 'dynamic', ifname: t.text, noAlias: false, bits: null, neg: false } as const;
      nets.push({ addr: { ...dyn, mode: 'network' }, af: 0, loc });
      hosts.push({ addr: { ...dyn, mode: 'address' }, af: 0, loc });
    } else {
      const info = ctx.interfaces.get(t.text);
      if (!info)
        throw new RuleSyntaxError(
          t.loc,
          `antispoof: no such interface '${t.text}'; check describes one with --interface ${t.text}=ADDR/LEN`,
        );
      for (const a of info.addresses) {
        if (af !== 0 && a.af !== af) continue;
        if (isLinkLocal6(a)) continue;
        nets.push({ addr: { kind: 'prefix', prefix: networkPrefix(a), neg: false }, af: a.af, loc });
        hosts.push({ addr: { kind: 'prefix', prefix: hostPrefix(a), neg: false }, af: a.af, loc });
      }
      if (nets.length === 0) throw new RuleSyntaxError(t.loc, `antispoof: interface '${t.text}' has no usable address`);
    }
    const notOn = newRuleSpec('block', loc);
    Object.assign(notOn, {
      block: 'drop',
      direction: 'in',
      log,
      quick,
      ifaces: [{ name: t.text, neg: true }],
      af,
      label,
    });
    notOn.fromHosts = nets;
    emitRule(ctx, notOn);
    const own = newRuleSpec('block', loc);
    Object.assign(own, { block: 'drop', direction: 'in', log, quick, af, label });
    own.fromHosts = hosts;
    emitRule(ctx, own);
  }
}

/** `IF` or `(IF)` after `antispoof for`. */
function antispoofInterface(ctx: ParserContext): { tok: Token; dynamic: boolean } {
  const dynamic = ctx.accept('(');
  const tok = ctx.word('an interface name');
  if (byteLength(tok.text) > MAX_IFNAME_BYTES) throw new RuleSyntaxError(tok.loc, 'interface name too long');
  if (dynamic) ctx.expect(')');
  return { tok, dynamic };
}

function blockMode(ctx: ParserContext, spec: RuleSpec): void {
  const t = ctx.peek();
  const mode = t.text as BlockMode;
  // as pfctl: a block rule without a mode takes `set block-policy` as it stands where the rule is written
  if (ctx.options.blockPolicy === 'return') spec.block = 'return';
  if (t.kind !== 'word') return;
  if (
    mode === 'drop' ||
    mode === 'return' ||
    mode === 'return-rst' ||
    mode === 'return-icmp' ||
    mode === 'return-icmp6'
  ) {
    ctx.next();
    spec.block = mode;
    if (mode === 'return-rst' && ctx.accept('(')) {
      ctx.expect('ttl');
      spec.returnTtl = ctx.number('a TTL', 0, 255);
      ctx.expect(')');
    } else if ((mode === 'return-icmp' || mode === 'return-icmp6' || mode === 'return') && ctx.is('(')) {
      returnIcmpCodes(ctx, spec, mode);
    }
  }
}

/** `return-icmp (code)`, `return-icmp (code, code6)`, `return-icmp6 (code6)`: unreachable codes, at `(`. */
function returnIcmpCodes(ctx: ParserContext, spec: RuleSpec, mode: BlockMode): void {
  if (mode === 'return') throw ctx.unexpected(ctx.peek(), 'no codes after return (use return-icmp)');
  ctx.expect('(');
  const first = unreachCode(ctx, mode === 'return-icmp6' ? 6 : 4);
  if (mode === 'return-icmp6') spec.extra.returnIcmp6 = first;
  else {
    spec.extra.returnIcmp = first;
    if (ctx.accept(',')) spec.extra.returnIcmp6 = unreachCode(ctx, 6);
  }
  ctx.expect(')');
}

/** An unreachable code by name (pfctl's icmp codes of type unreach) or number. */
function unreachCode(ctx: ParserContext, family: 4 | 6): number {
  const t = ctx.word('an ICMP unreachable code');
  const code = icmpCodeNumber(family, family === 4 ? 3 : 1, t.text);
  if (code === undefined)
    throw new RuleSyntaxError(t.loc, `unknown ${family === 4 ? 'icmp' : 'icmp6'} unreachable code '${t.text}'`);
  return code;
}

export function protoItem(ctx: ParserContext): number {
  const t = ctx.word('a protocol');
  const n = protocolNumber(t.text);
  if (n === undefined) throw new RuleSyntaxError(t.loc, `unknown protocol '${t.text}'`);
  return n;
}

/** Expands the rule into the ruleset, numbering on from the rules before it. */
function emitRule(ctx: ParserContext, spec: RuleSpec): void {
  const { rules, errors } = expandRuleSpec(spec, ctx.rules.length);
  for (const e of errors) ctx.error(e.loc, e.message);
  ctx.rules.push(...rules);
}

export function newRuleSpec(action: RuleAction, loc: SourceLocation): RuleSpec {
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
    nat: null,
    rdr: null,
    route: null,
    extra: defaultRuleExtras(),
    loc,
  };
}
