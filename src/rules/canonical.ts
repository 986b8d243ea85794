// pf's canonical text for a loaded ruleset, as `pfctl -nv` prints it
// (pfctl_parser.c's print_rule, print_pool, print_tabledef; parse.y's echo of
// macros and options): macros, tables and options first, then one expanded
// rule a line (numbered @N only with -vv), with the values pfctl fills in
// shown as it shows them (`block drop`, `flags S/SA`, `source-track rule`,
// adaptive timeouts for `max`, `no state` on pass rules without state).

import { formatAddress } from '../packet/address.js';
import { tcpFlagsToString } from '../packet/tcp.js';
import {
  NAT_PROXY_PORT_HIGH,
  NAT_PROXY_PORT_LOW,
  PF_TIMEOUT_ORDER,
  type AddressSpec,
  type PoolHost,
  type RouteOption,
  type PortSpec,
  type Rule,
  type Ruleset,
  type StateOptions,
  type TableDef,
  type Translation,
} from './ast.js';
import { icmpCodeName, icmpTypeName, protocolName } from './names.js';
import { nameText, quoted, quotedText } from './print-quote.js';
import type { ServiceNames } from './services.js';
import { formatDivert, formatOwner, formatProbability, formatScrub, formatSetOptions } from './print-scrub.js';

export function formatAddressSpecCanonical(a: AddressSpec): string {
  const neg = 'neg' in a && a.neg ? '! ' : '';
  switch (a.kind) {
    case 'any':
      return 'any';
    case 'prefix':
      // pfctl's print_addr: a zero address with a zero mask (`0/0`) is `any`
      // (negated, kept as a prefix: tunpf refuses `! any`, which would match nothing)
      if (!neg && a.prefix.bits === 0 && a.prefix.words.every((w) => w === 0)) return 'any';
      return neg + formatPrefixShort(a.prefix.af, a.prefix.words, a.prefix.bits);
    case 'range':
      return `${neg}${formatAddress(a.from.af, a.from.words)} - ${formatAddress(a.to.af, a.to.words)}`;
    case 'table':
      return `${neg}<${nameText(a.name)}>`;
    case 'self':
      return `${neg}self`;
    case 'dynamic': {
      // the modifiers are part of the word the parser reads between the parentheses
      const word = a.ifname + (a.mode === 'address' ? '' : ':' + a.mode) + (a.noAlias ? ':0' : '');
      return `${neg}(${nameText(word)})${dynamicBits(a)}`;
    }
    case 'no-route':
      return `${neg}no-route`;
    case 'urpf-failed':
      return `${neg}urpf-failed`;
  }
}

/** pfctl's print_addr: a dynamic address's mask when it is shorter than a host's. */
function dynamicBits(a: Extract<AddressSpec, { kind: 'dynamic' }>): string {
  return a.bits === null || a.bits >= 128 ? '' : `/${a.bits}`;
}

/** A prefix as pf prints it: a host address without its /32 or /128. */
export function formatPrefixShort(af: 4 | 6, words: Uint32Array, bits: number): string {
  const host = bits === (af === 4 ? 32 : 128);
  return formatAddress(af, words) + (host ? '' : `/${bits}`);
}

/**
 * pfctl's print_port: with -P (`names`), `=` and `!=` show the port's service name when the services
 * database has one for the rule's protocol (tcp for TCP rules, udp for every other); other operators show numbers.
 */
export function formatPort(p: PortSpec, names?: ReadonlyMap<number, string>): string {
  switch (p.op) {
    case ':':
      return `port ${p.low}:${p.high}`;
    case '><':
    case '<>':
      return `port ${p.low} ${p.op} ${p.high}`;
    default:
      return `port ${p.op} ${(p.op === '=' || p.op === '!=' ? names?.get(p.low) : undefined) ?? p.low}`;
  }
}

function isAny(e: Rule['from']): boolean {
  return formatAddressSpecCanonical(e.addr) === 'any' && e.port === null;
}

/** What a rule's printing depends on beyond the rule: the options in force where pfctl read it. */
export interface PrintContext {
  blockPolicy?: 'drop' | 'return';
  statePolicy?: 'floating' | 'if-bound';
  /** Service names to print ports by (pfctl -P); without them, numbers. */
  portNames?: ServiceNames;
}

/** The print context of a ruleset's rules. */
export function printContextOf(rs: Ruleset): PrintContext {
  return { blockPolicy: rs.options.blockPolicy, statePolicy: rs.options.statePolicy };
}

/**
 * The state options as pfctl stores and prints them: max-src-* turn source
 * tracking on (per rule, except max-src-states alone: global), `max` brings
 * adaptive timeouts at 60% and 120% of it, max-src-conn-rate raises
 * src.track to its window, and `set state-policy if-bound` shows on each
 * stateful rule that does not say otherwise.
 */
export function stateOptionsText(o: StateOptions, ctx: PrintContext = {}): string[] {
  const out: string[] = [];
  let track = o.sourceTrack;
  if (track === 'none' && (o.maxSrcNodes !== null || o.maxSrcConn !== null || o.maxSrcConnRate !== null))
    track = 'rule';
  if (track === 'none' && o.maxSrcStates !== null) track = 'global';
  const timeouts: Record<string, number> = { ...o.timeouts };
  if (o.max !== null && !('adaptive.start' in timeouts) && !('adaptive.end' in timeouts)) {
    timeouts['adaptive.start'] = Math.floor(o.max / 10) * 6;
    timeouts['adaptive.end'] = Math.floor(o.max / 10) * 12;
  }
  if (o.maxSrcConnRate !== null && (timeouts['src.track'] ?? 0) < o.maxSrcConnRate.seconds)
    timeouts['src.track'] = o.maxSrcConnRate.seconds;
  if (o.max !== null) out.push(`max ${o.max}`);
  if (o.noSync) out.push('no-sync');
  if (track !== 'none') out.push(`source-track ${track}`);
  if (o.maxSrcStates !== null) out.push(`max-src-states ${o.maxSrcStates}`);
  if (o.maxSrcConn !== null) out.push(`max-src-conn ${o.maxSrcConn}`);
  if (o.maxSrcConnRate !== null) out.push(`max-src-conn-rate ${o.maxSrcConnRate.count}/${o.maxSrcConnRate.seconds}`);
  if (o.maxSrcNodes !== null) out.push(`max-src-nodes ${o.maxSrcNodes}`);
  if (o.overload !== null)
    out.push(`overload <${o.overload.table}>${o.overload.flush ? ' flush' : ''}${o.overload.global ? ' global' : ''}`);
  if (o.ifBound === true || (o.ifBound === null && ctx.statePolicy === 'if-bound')) out.push('if-bound');
  // pfctl prints nothing here, and its text would read back as if-bound under `set state-policy if-bound`
  else if (o.ifBound === false && ctx.statePolicy === 'if-bound') out.push('floating');
  if (o.sloppy) out.push('sloppy');
  if (o.pflow) out.push('pflow');
  const names = Object.keys(timeouts).sort((a, b) => PF_TIMEOUT_ORDER.indexOf(a) - PF_TIMEOUT_ORDER.indexOf(b));
  for (const k of names) if (timeouts[k]) out.push(`${k} ${timeouts[k]}`);
  return out;
}

/** `block` and how it answers, as print_rule writes it. */
function blockText(r: Rule, ctx: PrintContext): string {
  const mode = r.block === 'policy' ? (ctx.blockPolicy ?? 'drop') : r.block;
  switch (mode) {
    case 'drop':
    case 'return':
      return `block ${mode}`;
    case 'return-rst':
      return 'block return-rst' + (r.returnTtl ? `(ttl ${r.returnTtl})` : '');
    case 'return-icmp':
    case 'return-icmp6':
      // print_rule goes by the rule's family, not by the keyword written
      return 'block' + returnIcmpText(r);
  }
}

/** One rule in pfctl -nv form, without the `@N ` prefix. */
export function formatRule(r: Rule, ctx: PrintContext = {}): string {
  let s: string = r.action === 'block' ? blockText(r, ctx) : r.action;
  if (r.anchor && r.anchor.written !== '') s += ` ${quoted(r.anchor.written)}`;
  if (r.direction !== 'both') s += ` ${r.direction}`;
  if (r.log) {
    s += ' log';
    const o: string[] = [];
    if (r.log.all) o.push('all');
    if (r.log.matches) o.push('matches');
    if (r.log.user) o.push('user');
    if (r.log.to) o.push(`to ${nameText(r.log.to)}`);
    if (o.length) s += ` (${o.join(', ')})`;
  }
  if (r.quick) s += ' quick';
  if (r.iface) s += ` on ${r.iface.neg ? '! ' : ''}${nameText(r.iface.name)}`;
  if (r.af) s += r.af === 4 ? ' inet' : ' inet6';
  if (r.proto !== null) s += ` proto ${protocolName(r.proto)}`;
  if (isAny(r.from) && isAny(r.to)) s += ' all';
  else {
    const names = r.proto === 6 ? ctx.portNames?.tcp : ctx.portNames?.udp;
    s += ` from ${formatAddressSpecCanonical(r.from.addr)}`;
    if (r.from.port) s += ` ${formatPort(r.from.port, names)}`;
    s += ` to ${formatAddressSpecCanonical(r.to.addr)}`;
    if (r.to.port) s += ` ${formatPort(r.to.port, names)}`;
  }
  const x = r.extra;
  if (x.user) s += formatOwner('user', x.user);
  if (x.group) s += formatOwner('group', x.group);
  if (r.flags && (r.flags.set || r.flags.mask))
    s += ` flags ${tcpFlagsToString(r.flags.set)}/${tcpFlagsToString(r.flags.mask)}`;
  else if (r.action !== 'block' && (r.proto === null || r.proto === 6) && r.state !== 'none') s += ' flags any';
  if (r.icmp) {
    s += ` ${r.icmp.family === 4 ? 'icmp-type' : 'icmp6-type'} ${icmpTypeName(r.icmp.family, r.icmp.type)}`;
    if (r.icmp.code !== null) s += ` code ${icmpCodeName(r.icmp.family, r.icmp.type, r.icmp.code)}`;
  }
  if (x.tos) s += ` tos 0x${x.tos.toString(16).padStart(2, '0')}`;
  if (x.prio !== null) s += ` prio ${x.prio}`;
  s += formatSetOptions(x);
  const opts = r.state === 'none' ? [] : stateOptionsText(r.stateOptions, ctx);
  if (r.state === 'none') {
    if (r.action === 'pass') s += ' no state';
  } else if (r.state === 'keep') {
    if (opts.length) s += ' keep state';
  } else s += ` ${r.state} state`;
  if (x.probability) s += formatProbability(x.probability);
  if (r.state !== 'none' && opts.length) s += ` (${opts.join(', ')})`;
  if (x.scrub) s += formatScrub(x.scrub);
  if (r.allowOpts) s += ' allow-opts';
  if (r.label !== null) s += ` label ${quotedText(r.label)}`;
  if (x.once) s += ' once';
  if (r.tag) s += ` tag ${nameText(r.tag)}`;
  if (r.tagged) s += `${r.tagged.neg ? ' !' : ''} tagged ${nameText(r.tagged.name)}`;
  if (x.rtable !== null) s += ` rtable ${x.rtable}`;
  if (x.divert) s += formatDivert(x.divert);
  // pfctl prints only one of the two when a rule has both; both are printed so that the line reads back the same
  if (r.nat) s += ` nat-to ${formatTranslation(r.nat, false)}`;
  if (r.rdr) s += ` rdr-to ${formatTranslation(r.rdr, true)}`;
  if (r.route) s += ` ${r.route.kind} ${formatRouteOption(r.route)}`;
  // pf scales this rule's timeouts by its own state count; tunpf scales every state by the table's
  if (opts.some((o) => o.startsWith('adaptive.'))) s += ' # tunpf: adaptive timeouts follow the whole state table';
  return s;
}

/** pfctl's `return-icmp(code)`: the family of the rule decides which codes show (both for a rule of either family). */
function returnIcmpText(r: Rule): string {
  const c4 = icmpCodeName(4, 3, r.extra.returnIcmp);
  const c6 = icmpCodeName(6, 1, r.extra.returnIcmp6);
  if (r.af === 4) return ` return-icmp(${c4})`;
  if (r.af === 6) return ` return-icmp6(${c6})`;
  return ` return-icmp(${c4}, ${c6})`;
}

/** A pool's members: one as is, several as a list. */
export function formatPool(hosts: readonly PoolHost[]): string {
  const text = hosts.map((h) => {
    switch (h.kind) {
      case 'prefix':
        return formatPrefixShort(h.prefix.af, h.prefix.words, h.prefix.bits);
      case 'dynamic':
        return `(${nameText(h.ifname + (h.noAlias ? ':0' : ''))})`;
      case 'table':
        return `<${nameText(h.name)}>`;
    }
  });
  return text.length === 1 ? text[0]! : `{ ${text.join(', ')} }`;
}

/** What follows `nat-to` / `rdr-to`, as pfctl's print_pool writes it. */
export function formatTranslation(t: Translation, isRdr: boolean): string {
  let s = formatPool(t.hosts);
  const [low, high] = [t.portLow, t.portHigh];
  if (isRdr) {
    if (low) s += high && high !== low ? ` port ${low}:${high}` : ` port ${low}`;
  } else if ((low !== NAT_PROXY_PORT_LOW || high !== NAT_PROXY_PORT_HIGH) && (low || high)) {
    s += low === high ? ` port ${low}` : ` port ${low}:${high}`;
  }
  if (t.type === 'source-hash') {
    s += ' source-hash';
    if (t.hashKey) s += ' 0x' + Array.from(t.hashKey, (w) => w.toString(16).padStart(8, '0')).join('');
  } else if (t.type !== 'none') s += ` ${t.type}`;
  if (t.sticky) s += ' sticky-address';
  if (!isRdr && t.staticPort) s += ' static-port';
  return s;
}

/** What follows `route-to` / `reply-to` / `dup-to`: `(if nexthop)`, `if` or `nexthop`, then the pool options. */
export function formatRouteOption(r: RouteOption): string {
  const text = r.targets.map((t) => {
    const hop = t.nexthop && formatAddress(t.nexthop.af, t.nexthop.words);
    const ifname = t.ifname === null ? null : nameText(t.ifname);
    return ifname === null ? hop! : hop === null ? ifname : `(${ifname} ${hop})`;
  });
  let s = text.length === 1 ? text[0]! : `{ ${text.join(', ')} }`;
  if (r.type === 'source-hash') {
    s += ' source-hash';
    if (r.hashKey) s += ' 0x' + Array.from(r.hashKey, (w) => w.toString(16).padStart(8, '0')).join('');
  } else if (r.type !== 'none') s += ` ${r.type}`;
  if (r.sticky) s += ' sticky-address';
  return s;
}

/** print_tabledef: flags in pf's order, the addresses in one list, then the files. */
export function formatTable(t: TableDef): string {
  let s = `table <${nameText(t.name)}>`;
  if (t.const) s += ' const';
  if (t.persist) s += ' persist';
  if (t.counters) s += ' counters';
  // a file's addresses are shown by its `file` clause, as pfctl does (listing them too would add them twice)
  const entries = t.entries
    .filter((e) => !e.fromFile)
    .map((e) => (e.neg ? '!' : '') + formatPrefixShort(e.prefix.af, e.prefix.words, e.prefix.bits));
  if (entries.length) s += ` { ${entries.join(' ')} }`;
  for (const f of t.files) s += ` file ${quoted(f)}`;
  return s;
}

export interface RulesetPrintOptions {
  /** `@N` before each rule, as pfctl -vv. */
  numbers?: boolean;
  /** Print ports by service name, as pfctl -P. */
  portNames?: ServiceNames;
}

/**
 * The whole ruleset as `tunpf check -v` prints it, in pfctl -nv's order:
 * the macros, tables and options echoed as the file defines them, then the
 * rules once the file is read.
 */
export function formatRuleset(rs: Ruleset, opts: RulesetPrintOptions = {}): string {
  const ctx: PrintContext = { ...printContextOf(rs), portNames: opts.portNames };
  const tables = new Map(rs.tables.map((t) => [t.name, t]));
  const lines = [
    ...rs.echo.map((e) => {
      switch (e.kind) {
        case 'macro':
          return `${e.name} = ${quoted(e.value)}`;
        case 'table':
          return formatTable(tables.get(e.name)!);
        case 'set':
          return e.text;
      }
    }),
    ...formatRules(rs.rules, new Map(rs.anchors.map((a) => [a.path, a.rules])), 0, ctx, opts.numbers ?? false),
  ];
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/**
 * Rules as pfctl -nv prints them: an anchor rule whose anchor the file fills
 * is followed by that anchor's rules in braces, indented two spaces a level.
 * pfctl takes an anchor's rules out as it loads them, so only the first rule
 * calling an anchor shows its body; the text then reads back as the same ruleset.
 */
export function formatRules(
  rules: readonly Rule[],
  anchors: ReadonlyMap<string, readonly Rule[]>,
  depth: number,
  ctx: PrintContext = {},
  numbers = true,
  shown = new Set<string>(),
): string[] {
  const indent = '  '.repeat(depth);
  const lines: string[] = [];
  for (const r of rules) {
    const path = r.anchor && !r.anchor.wildcard && !shown.has(r.anchor.path) ? r.anchor.path : null;
    const body = path === null ? undefined : anchors.get(path);
    lines.push(`${indent}${numbers ? `@${r.nr} ` : ''}${formatRule(r, ctx)}${body?.length ? ' {' : ''}`);
    if (!body?.length) continue;
    shown.add(path!);
    lines.push(...formatRules(body, anchors, depth + 1, ctx, numbers, shown), `${indent}}`);
  }
  return lines;
}
