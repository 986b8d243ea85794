// pf's canonical text for a loaded ruleset, as `pfctl -nv` prints it: one
// expanded rule a line, numbered @N, with pf's implicit defaults shown the
// way current OpenBSD shows them (`flags S/SA` printed, a default
// `keep state` omitted, `no state` printed on pass rules without state).

import { formatAddress } from '../packet/address.js';
import { tcpFlagsToString } from '../packet/tcp.js';
import {
  DEFAULT_LIMITS,
  NAT_PROXY_PORT_HIGH,
  NAT_PROXY_PORT_LOW,
  type AddressSpec,
  type Options,
  type PoolHost,
  type PortSpec,
  type Rule,
  type Ruleset,
  type StateOptions,
  type TableDef,
  type Translation,
} from './ast.js';
import { icmpCodeName, icmpTypeName, protocolName } from './names.js';
import { formatDivert, formatOwner, formatProbability, formatScrub, formatSetOptions } from './print-scrub.js';

export function formatAddressSpecCanonical(a: AddressSpec): string {
  const neg = 'neg' in a && a.neg ? '! ' : '';
  switch (a.kind) {
    case 'any':
      return 'any';
    case 'prefix':
      return neg + formatPrefixShort(a.prefix.af, a.prefix.words, a.prefix.bits);
    case 'range':
      return `${neg}${formatAddress(a.from.af, a.from.words)} - ${formatAddress(a.to.af, a.to.words)}`;
    case 'table':
      return `${neg}<${a.name}>`;
    case 'self':
      return `${neg}self`;
    case 'dynamic':
      return `${neg}(${a.ifname}${a.mode === 'address' ? '' : ':' + a.mode}${a.noAlias ? ':0' : ''})`;
    case 'no-route':
      return `${neg}no-route`;
    case 'urpf-failed':
      return `${neg}urpf-failed`;
  }
}

/** A prefix as pf prints it: a host address without its /32 or /128. */
export function formatPrefixShort(af: 4 | 6, words: Uint32Array, bits: number): string {
  const host = bits === (af === 4 ? 32 : 128);
  return formatAddress(af, words) + (host ? '' : `/${bits}`);
}

export function formatPort(p: PortSpec): string {
  switch (p.op) {
    case ':':
      return `port ${p.low}:${p.high}`;
    case '><':
    case '<>':
      return `port ${p.low} ${p.op} ${p.high}`;
    default:
      return `port ${p.op} ${p.low}`;
  }
}

function isAny(e: Rule['from']): boolean {
  return e.addr.kind === 'any' && e.port === null;
}

export function stateOptionsText(o: StateOptions): string[] {
  const out: string[] = [];
  if (o.max !== null) out.push(`max ${o.max}`);
  if (o.maxSrcNodes !== null) out.push(`max-src-nodes ${o.maxSrcNodes}`);
  if (o.maxSrcStates !== null) out.push(`max-src-states ${o.maxSrcStates}`);
  if (o.maxSrcConn !== null) out.push(`max-src-conn ${o.maxSrcConn}`);
  if (o.maxSrcConnRate !== null) out.push(`max-src-conn-rate ${o.maxSrcConnRate.count}/${o.maxSrcConnRate.seconds}`);
  if (o.overload !== null)
    out.push(`overload <${o.overload.table}>${o.overload.flush ? ' flush' : ''}${o.overload.global ? ' global' : ''}`);
  if (o.sourceTrack !== 'none') out.push(`source-track ${o.sourceTrack}`);
  if (o.sloppy) out.push('sloppy');
  if (o.noSync) out.push('no-sync');
  if (o.pflow) out.push('pflow');
  if (o.ifBound === true) out.push('if-bound');
  if (o.ifBound === false) out.push('floating');
  for (const [k, v] of Object.entries(o.timeouts)) out.push(`${k} ${v}`);
  return out;
}

/** One rule in pfctl -nv form, without the `@N ` prefix. */
export function formatRule(r: Rule): string {
  let s: string = r.action;
  if (r.action === 'block') {
    if (r.block === 'return-rst') s += ' return-rst' + (r.returnTtl !== null ? `(ttl ${r.returnTtl})` : '');
    else if (r.block === 'return-icmp' || r.block === 'return-icmp6') s += returnIcmpText(r);
    else if (r.block !== 'policy') s += ` ${r.block}`;
  }
  if (r.direction !== 'both') s += ` ${r.direction}`;
  if (r.log) {
    s += ' log';
    const o: string[] = [];
    if (r.log.all) o.push('all');
    if (r.log.matches) o.push('matches');
    if (r.log.user) o.push('user');
    if (r.log.to) o.push(`to ${r.log.to}`);
    if (o.length) s += ` (${o.join(', ')})`;
  }
  if (r.quick) s += ' quick';
  if (r.iface) s += ` on ${r.iface.neg ? '! ' : ''}${r.iface.name}`;
  if (r.af) s += r.af === 4 ? ' inet' : ' inet6';
  if (r.proto !== null) s += ` proto ${protocolName(r.proto)}`;
  if (isAny(r.from) && isAny(r.to)) s += ' all';
  else {
    s += ` from ${formatAddressSpecCanonical(r.from.addr)}`;
    if (r.from.port) s += ` ${formatPort(r.from.port)}`;
    s += ` to ${formatAddressSpecCanonical(r.to.addr)}`;
    if (r.to.port) s += ` ${formatPort(r.to.port)}`;
  }
  const x = r.extra;
  if (x.user) s += formatOwner('user', x.user);
  if (x.group) s += formatOwner('group', x.group);
  if (r.flags)
    s +=
      r.flags.mask === 0 ? ' flags any' : ` flags ${tcpFlagsToString(r.flags.set)}/${tcpFlagsToString(r.flags.mask)}`;
  if (r.icmp) {
    s += ` ${r.icmp.family === 4 ? 'icmp-type' : 'icmp6-type'} ${icmpTypeName(r.icmp.family, r.icmp.type)}`;
    if (r.icmp.code !== null) s += ` code ${icmpCodeName(r.icmp.family, r.icmp.type, r.icmp.code)}`;
  }
  if (x.tos) s += ` tos 0x${x.tos.toString(16).padStart(2, '0')}`;
  if (x.prio !== null) s += ` prio ${x.prio}`;
  s += formatSetOptions(x);
  const opts = stateOptionsText(r.stateOptions);
  if (r.state === 'none') {
    if (r.action === 'pass') s += ' no state';
  } else if (r.state === 'keep') {
    if (opts.length || r.action !== 'pass') s += ' keep state';
  } else s += ` ${r.state} state`;
  if (x.probability) s += formatProbability(x.probability);
  if (r.state !== 'none' && opts.length) s += ` (${opts.join(', ')})`;
  if (x.scrub) s += formatScrub(x.scrub);
  if (r.allowOpts) s += ' allow-opts';
  if (r.label !== null) s += ` label "${r.label}"`;
  if (x.once) s += ' once';
  if (r.tag) s += ` tag ${r.tag}`;
  if (r.tagged) s += `${r.tagged.neg ? ' !' : ''} tagged ${r.tagged.name}`;
  if (x.rtable !== null) s += ` rtable ${x.rtable}`;
  if (x.divert) s += formatDivert(x.divert);
  // pfctl prints only one of the two when a rule has both; both are printed so that the line reads back the same
  if (r.nat) s += ` nat-to ${formatTranslation(r.nat, false)}`;
  if (r.rdr) s += ` rdr-to ${formatTranslation(r.rdr, true)}`;
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
        return `(${h.ifname}${h.noAlias ? ':0' : ''})`;
      case 'table':
        return `<${h.name}>`;
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

export function formatTable(t: TableDef): string {
  let s = `table <${t.name}>`;
  if (t.persist) s += ' persist';
  if (t.const) s += ' const';
  if (t.counters) s += ' counters';
  const entries = t.entries.map(
    (e) => (e.neg ? '!' : '') + formatPrefixShort(e.prefix.af, e.prefix.words, e.prefix.bits),
  );
  if (entries.length) s += ` { ${entries.join(' ')} }`;
  return s;
}

export function formatOptions(o: Options, set: readonly string[]): string[] {
  const out: string[] = [];
  for (const name of set) {
    switch (name) {
      case 'skip':
        out.push(`set skip on ${o.skip.length === 1 ? o.skip[0] : `{ ${o.skip.join(' ')} }`}`);
        break;
      case 'block-policy':
        out.push(`set block-policy ${o.blockPolicy}`);
        break;
      case 'state-policy':
        out.push(`set state-policy ${o.statePolicy}`);
        break;
      case 'timeout':
        for (const [k, v] of Object.entries(o.timeouts)) out.push(`set timeout ${k} ${v}`);
        break;
      case 'limit': {
        const names: [keyof Options['limits'], string][] = [
          ['states', 'states'],
          ['srcNodes', 'src-nodes'],
          ['frags', 'frags'],
          ['tables', 'tables'],
          ['tableEntries', 'table-entries'],
        ];
        for (const [k, n] of names) if (o.limits[k] !== DEFAULT_LIMITS[k]) out.push(`set limit ${n} ${o.limits[k]}`);
        break;
      }
      case 'loginterface':
        out.push(`set loginterface ${o.loginterface ?? 'none'}`);
        break;
      case 'hostid':
        out.push(`set hostid 0x${(o.hostid ?? 0).toString(16).padStart(8, '0')}`);
        break;
      case 'debug':
        out.push(`set debug ${o.debug}`);
        break;
      case 'optimization':
        out.push(`set optimization ${o.optimization}`);
        break;
      case 'ruleset-optimization':
        out.push(`set ruleset-optimization ${o.ruleset}`);
        break;
      case 'reassemble':
        out.push(`set reassemble ${o.reassemble?.on ? 'yes' : 'no'}${o.reassemble?.noDf ? ' no-df' : ''}`);
        break;
    }
  }
  return out;
}

/** The whole ruleset as `tunpf check -v` prints it. */
export function formatRuleset(rs: Ruleset): string {
  const lines = [
    ...formatOptions(rs.options, rs.optionsSet),
    ...rs.tables.map(formatTable),
    ...rs.rules.map((r) => `@${r.nr} ${formatRule(r)}`),
  ];
  return lines.join('\n') + (lines.length ? '\n' : '');
}
