// List expansion, pfctl style: a rule written with lists becomes one rule per
// combination, in pfctl's loop order (interface, protocol, ICMP type, source
// address, source port, destination address, destination port). Combinations
// whose address families conflict are dropped, as pfctl drops them. pf's
// implicit defaults are applied per expanded rule.

import { formatAddress } from '../packet/address.js';
import {
  NAT_PROXY_PORT_HIGH,
  NAT_PROXY_PORT_LOW,
  type AddressSpec,
  type IcmpMatch,
  type PoolHost,
  type PortSpec,
  type RouteOption,
  type Rule,
  type SourceLocation,
  type Translation,
} from './ast.js';
import { formatPool, formatPrefixShort } from './canonical.js';
import { protocolHasPorts, protocolName } from './names.js';
import { fitDynamicMask, ruleConsistent, scopedInterface, specConsistent } from './rule-consistent.js';
import type { HostItem, RouteSpec, RuleSpec, TranslationSpec } from './rule-spec.js';

type RuleError = { loc: SourceLocation; message: string };
type Fail = (loc: SourceLocation, message: string) => void;

const ANY_HOST: HostItem = { addr: { kind: 'any' }, af: 0, loc: { file: '', line: 0, col: 0 } };
const FLAGS_S_SA = { set: 0x02, mask: 0x12 };

export function expandRuleSpec(spec: RuleSpec, firstNr: number): { rules: Rule[]; errors: RuleError[] } {
  const errors: RuleError[] = [];
  const seen = new Set<string>();
  const fail = (loc: SourceLocation, message: string) => {
    if (seen.has(message)) return;
    seen.add(message);
    errors.push({ loc, message });
  };

  const ifaces = spec.ifaces.length ? spec.ifaces : [null];
  const protos: (number | null)[] = spec.protos.length ? spec.protos : [null];
  const icmps: (IcmpMatch | null)[] = spec.icmp.length ? spec.icmp : [null];
  const fromHosts = spec.fromHosts.length ? spec.fromHosts : [ANY_HOST];
  const fromPorts: (PortSpec | null)[] = spec.fromPorts.length ? spec.fromPorts : [null];
  const toHosts = spec.toHosts.length ? spec.toHosts : [ANY_HOST];
  const toPorts: (PortSpec | null)[] = spec.toPorts.length ? spec.toPorts : [null];

  // Checks that do not depend on the combination.
  const hasPorts = spec.fromPorts.length > 0 || spec.toPorts.length > 0;
  for (const p of spec.protos) {
    if (hasPorts && !protocolHasPorts(p))
      fail(spec.portLoc ?? spec.loc, `port only applies to tcp, udp or sctp, not to proto ${protocolName(p)}`);
  }
  specConsistent(spec, fail);
  for (const i of spec.icmp) {
    const want = i.family === 4 ? 1 : 58;
    const keyword = i.family === 4 ? 'icmp-type' : 'icmp6-type';
    if (spec.protos.length === 0 || spec.protos.some((p) => p !== want))
      fail(spec.icmpLoc ?? spec.loc, `${keyword} needs proto ${i.family === 4 ? 'icmp' : 'icmp6'}`);
    if (spec.af !== 0 && spec.af !== i.family)
      fail(spec.icmpLoc ?? spec.loc, `${keyword} on an ${spec.af === 4 ? 'inet' : 'inet6'} rule`);
  }
  if (spec.state === 'none' && spec.hasStateOptions) fail(spec.loc, 'state options on a no state rule');

  // pfctl's decide_address_family: the family every source (else every destination) shares
  const ruleAf = spec.af || sharedFamily(spec.fromHosts) || sharedFamily(spec.toHosts);
  const rules: Rule[] = [];
  let otherScope = false;
  for (const iface of ifaces)
    for (const proto of protos)
      for (const icmp of icmps)
        for (const src of fromHosts)
          for (const sport of fromPorts)
            for (const dst of toHosts)
              for (const dport of toPorts) {
                const bound = scopedInterface(iface, src, dst);
                if (!bound) {
                  otherScope = true;
                  continue;
                }
                // as pfctl: the pools are fitted to the rule's family first, and may decide it
                let af: 0 | 4 | 6 = ruleAf;
                const rdrPool = spec.rdr && fitPool(spec.rdr, af, fail);
                if (spec.rdr && !rdrPool) continue;
                if (rdrPool) af = rdrPool.af;
                const natPool = spec.nat && fitPool(spec.nat, af, fail);
                if (spec.nat && !natPool) continue;
                if (natPool) af = natPool.af;
                const route = spec.route && fitRoute(spec.route, af, fail);
                if (spec.route && !route) continue;
                if (route && route.af) af = route.af;
                for (const x of [src.af, dst.af, icmp ? icmp.family : 0] as const) {
                  if (x === 0) continue;
                  if (af === 0) af = x;
                  else if (af !== x) af = -1 as never;
                }
                if ((af as number) === -1) continue; // families conflict: pfctl skips the combination
                const translated = spec.nat ?? spec.rdr;
                if (translated && af === 0) {
                  const pool = formatPool(translated.items.map((i) => i.host));
                  fail(
                    translated.loc,
                    `${translated.keyword} ${pool}: the rule needs an address family (inet or inet6)`,
                  );
                  continue;
                }
                const tcpCapable = proto === null || proto === 6;
                let flags = spec.flags;
                if (!flags && spec.action === 'pass' && spec.state !== 'none' && tcpCapable) flags = FLAGS_S_SA;
                if (proto !== null && proto !== 6) flags = null;
                // as pfctl: modulate and synproxy are tcp's; the list's other protocols keep state
                const state = proto !== null && proto !== 6 && spec.state !== 'none' ? 'keep' : spec.state;
                const rule: Rule = {
                  nr: firstNr + rules.length,
                  action: spec.action,
                  block: spec.block,
                  returnTtl: spec.returnTtl,
                  direction: spec.direction,
                  log: spec.log,
                  quick: spec.quick,
                  iface: bound.iface,
                  af,
                  proto,
                  from: { addr: fitDynamicMask(src.addr, af), port: sport },
                  to: { addr: fitDynamicMask(dst.addr, af), port: dport },
                  all: spec.all,
                  flags,
                  icmp,
                  state,
                  stateOptions: spec.stateOptions,
                  allowOpts: spec.allowOpts,
                  label: null,
                  tag: spec.tag,
                  tagged: spec.tagged,
                  nat: natPool && translation(spec.nat!, natPool.hosts, af as 4 | 6, false, dport, fail),
                  rdr: rdrPool && translation(spec.rdr!, rdrPool.hosts, af as 4 | 6, true, dport, fail),
                  route: route && route.option,
                  extra: spec.extra,
                  loc: spec.loc,
                };
                rule.label = spec.label === null ? null : expandLabel(spec.label, rule);
                routeConsistent(rule, spec, fail);
                if (spec.nat?.keyword === 'binat-to') {
                  if (binatConsistent(spec, rule, fail)) {
                    rule.direction = 'out';
                    rules.push(rule, binatInbound(rule, firstNr + rules.length + 1));
                  }
                  continue;
                }
                translationConsistent(rule, spec, fail);
                ruleConsistent(rule, spec, fail);
                rules.push(rule);
              }
  if (rules.length === 0 && errors.length === 0 && otherScope)
    fail(spec.loc, "the address's scope names another interface than the rule's: the rule matches nothing");
  if (rules.length === 0 && errors.length === 0)
    fail(spec.loc, "no combination of the rule's addresses has one address family: the rule matches nothing");
  return { rules: errors.length ? [] : expandOwners(spec, rules, firstNr), errors };
}

/** pfctl's expand_rule loops over uids then gids inside the other lists: each rule becomes one per pair. */
function expandOwners(spec: RuleSpec, rules: Rule[], firstNr: number): Rule[] {
  if (!spec.owners) return rules;
  const users = spec.owners.user ?? [spec.extra.user];
  const groups = spec.owners.group ?? [spec.extra.group];
  const out: Rule[] = [];
  for (const r of rules)
    for (const user of users)
      for (const group of groups) {
        const rule: Rule = { ...r, nr: firstNr + out.length, extra: { ...r.extra, user, group } };
        rule.label = spec.label === null ? null : expandLabel(spec.label, rule);
        out.push(rule);
      }
  return out;
}

function sharedFamily(items: HostItem[]): 0 | 4 | 6 {
  const af = items[0]?.af ?? 0;
  return items.every((i) => i.af === af) ? af : 0;
}

/**
 * pfctl's collapse_redirspec: members of another family than the rule's are left out;
 * a rule without a family takes the pool's, which must then have one family only.
 */
function fitPool(t: TranslationSpec, ruleAf: 0 | 4 | 6, fail: Fail): { hosts: PoolHost[]; af: 0 | 4 | 6 } | null {
  let af = ruleAf;
  const hosts: PoolHost[] = [];
  for (const i of t.items) {
    if (i.af !== 0 && ruleAf !== 0 && i.af !== ruleAf) continue;
    if (i.af !== 0 && af !== 0 && i.af !== af) {
      fail(t.loc, `${t.keyword}: translation spec contains addresses with different address families`);
      return null;
    }
    if (i.af !== 0) af = i.af;
    hosts.push(i.host);
  }
  if (hosts.length === 0) {
    fail(t.loc, `af mismatch in translation spec: ${t.keyword} has no ${ruleAf === 4 ? 'inet' : 'inet6'} address`);
    return null;
  }
  if (hosts.length > 1 && t.type === 'bitmask') {
    fail(t.loc, 'pool type is not valid for multiple translation or routing addresses');
    return null;
  }
  return { hosts, af };
}

/** pfctl's apply_redirspec: the pool type's default, the port range, static-port. */
function translation(
  t: TranslationSpec,
  hosts: PoolHost[],
  af: 4 | 6,
  isRdr: boolean,
  dport: PortSpec | null,
  fail: Fail,
): Translation | null {
  const first = hosts[0]!;
  const several = hosts.length > 1 || first.kind === 'table' || (first.kind === 'dynamic' && !first.noAlias);
  let type = t.type;
  if (type === 'none' && several) type = 'round-robin';
  if (type === 'none' || type === 'bitmask') {
    for (const h of hosts) {
      if (h.kind === 'table') return (fail(t.loc, 'tables are not supported by pool type'), null);
      if (h.kind === 'dynamic' && !h.noAlias)
        return (fail(t.loc, `interface (${h.ifname}) is not supported by pool type`), null);
    }
  }
  let portLow = 0;
  let portHigh = 0;
  if (isRdr) {
    if (t.staticPort)
      return (fail(t.staticPortLoc ?? t.loc, "the 'static-port' option is only valid with nat rules"), null);
    if (t.port?.star) {
      // `port N:*`: as wide as the rule's destination port range
      const width = dport && (dport.op === ':' || dport.op === '><' || dport.op === '<>') ? dport.high - dport.low : 0;
      portLow = t.port.low;
      portHigh = t.port.low + width;
      if (portHigh > 65535)
        return (fail(t.port.loc, `rdr-to port ${t.port.low}:* runs past 65535 (the range is ${width + 1} wide)`), null);
    } else if (t.port) {
      if (t.port.low > t.port.high) return (fail(t.port.loc, 'invalid rdr-to port range'), null);
      portLow = t.port.low;
      portHigh = t.port.high;
    }
  } else {
    portLow = t.port?.low ?? 0;
    portHigh = t.port && !t.port.star ? t.port.high : portLow;
    if (portLow === 0 && portHigh === 0) {
      portLow = NAT_PROXY_PORT_LOW;
      portHigh = NAT_PROXY_PORT_HIGH;
    }
    if (t.staticPort) {
      // pfctl's test: refused only when neither end is the proxy range's
      if (portLow !== NAT_PROXY_PORT_LOW && portHigh !== NAT_PROXY_PORT_HIGH)
        return (
          fail(t.staticPortLoc ?? t.loc, "the 'static-port' option can't be used when specifying a port range"),
          null
        );
      portLow = 0;
      portHigh = 0;
    }
  }
  return {
    af,
    hosts,
    type,
    hashKey: type === 'source-hash' ? t.hashKey : null,
    sticky: t.sticky,
    portLow,
    portHigh,
    staticPort: !isRdr && t.staticPort,
  };
}

/** pfctl's rule_consistent, for translations. */
function translationConsistent(rule: Rule, spec: RuleSpec, fail: Fail): void {
  const t = spec.nat ?? spec.rdr;
  if (!t) return;
  if (rule.action !== 'match' && rule.state === 'none') fail(t.loc, 'nat-to and rdr-to require keep state');
  if (rule.direction === 'both') fail(t.loc, 'nat-to and rdr-to require a direction');
}

/**
 * pfctl's collapse_redirspec for routing: next hops of another family than the rule's are left out;
 * a rule without a family takes the next hops', which must then share one.
 */
function fitRoute(r: RouteSpec, ruleAf: 0 | 4 | 6, fail: Fail): { option: RouteOption; af: 0 | 4 | 6 } | null {
  let af = ruleAf;
  const targets: RouteOption['targets'] = [];
  for (const i of r.items) {
    if (i.af !== 0 && ruleAf !== 0 && i.af !== ruleAf) continue;
    if (i.af !== 0 && af !== 0 && i.af !== af) {
      fail(r.loc, 'routing spec contains addresses with different address families');
      return null;
    }
    if (i.af !== 0) af = i.af;
    targets.push({ ifname: i.ifname, nexthop: i.nexthop });
  }
  if (targets.length === 0) {
    fail(r.loc, 'af mismatch in routing spec');
    return null;
  }
  let type = r.type;
  if (targets.length > 1) {
    if (type === 'bitmask') {
      fail(r.loc, 'pool type is not valid for multiple translation or routing addresses');
      return null;
    }
    if (type === 'none') type = 'round-robin';
  } else if (type === 'bitmask') type = 'none'; // a single next hop: the bitmask of a host is the host
  const option = { kind: r.kind, targets, type, hashKey: type === 'source-hash' ? r.hashKey : null, sticky: r.sticky };
  return { option, af };
}

/** pfctl's checks of a rule that routes (its grammar action and rule_consistent). */
function routeConsistent(rule: Rule, spec: RuleSpec, fail: Fail): void {
  const r = spec.route;
  if (!r) return;
  if (r.kind !== 'dup-to' && spec.direction === 'both')
    return fail(r.loc, 'direction must be explicit with rules that specify routing');
  if (rule.state === 'none') fail(r.loc, 'route-to, reply-to and dup-to require keep state');
  if (rule.action === 'match') fail(r.loc, 'route-to, reply-to and dup-to are not supported on match rules');
  if (rule.action === 'block') fail(r.loc, 'route-to, reply-to and dup-to are not supported on block rules');
}

/** binat-to's restrictions (pfctl's expand_rule): one source address and one translation address, same mask. */
function binatConsistent(spec: RuleSpec, rule: Rule, fail: Fail): boolean {
  const problems: string[] = [];
  const src = rule.from.addr;
  const pool = rule.nat?.hosts ?? [];
  if (src.kind === 'table')
    problems.push(`invalid use of table <${src.name}> as the source address of a binat-to rule`);
  else if (src.kind === 'dynamic' && !src.noAlias)
    problems.push(`invalid use of interface (${src.ifname}) as the source address of a binat-to rule`);
  else if (
    (src.kind !== 'prefix' && src.kind !== 'dynamic' && src.kind !== 'any') ||
    ('neg' in src && src.neg) ||
    (src.kind === 'dynamic' && src.mode !== 'address')
  )
    problems.push('binat-to requires a specified source and redirect address');
  if (pool.length > 1 || pool.some((h) => h.kind === 'table'))
    problems.push('tables cannot be used as the redirect address of a binat-to rule');
  else if (pool[0]?.kind === 'dynamic' && !pool[0].noAlias)
    problems.push('dynamic interfaces must be used with :0 in a binat-to rule');
  const srcBits = src.kind === 'prefix' ? src.prefix.bits : src.kind === 'any' ? 0 : -1;
  const natBits = pool[0]?.kind === 'prefix' ? pool[0].prefix.bits : -1;
  if (srcBits === 0 || natBits === 0 || (srcBits > 0 && natBits > 0 && srcBits !== natBits))
    problems.push('source and redirect addresses must have a matching network mask in a binat-to rule');
  if (spec.direction !== 'both') problems.push('binat-to cannot be specified with a direction');
  if (rule.action !== 'match' && rule.state === 'none') problems.push('nat-to and rdr-to require keep state');
  for (const p of problems) fail(spec.nat!.loc, p);
  return problems.length === 0 && rule.nat !== null;
}

/** binat-to's second rule: inbound, to the translation address, redirected to the source. */
function binatInbound(out: Rule, nr: number): Rule {
  const nat = out.nat!;
  const pub = nat.hosts[0]!;
  const inner = out.from.addr as Extract<AddressSpec, { kind: 'prefix' | 'dynamic' }>;
  const to: AddressSpec =
    pub.kind === 'prefix'
      ? { kind: 'prefix', prefix: pub.prefix, neg: false }
      : {
          kind: 'dynamic',
          ifname: (pub as { ifname: string }).ifname,
          mode: 'address',
          noAlias: true,
          bits: null,
          neg: false,
        };
  const target: PoolHost =
    inner.kind === 'prefix'
      ? { kind: 'prefix', prefix: inner.prefix }
      : { kind: 'dynamic', ifname: inner.ifname, noAlias: true };
  return {
    ...out,
    nr,
    direction: 'in',
    from: { addr: out.to.addr, port: out.to.port },
    to: { addr: to, port: out.from.port },
    all: false,
    nat: null,
    rdr: { ...nat, hosts: [target], portLow: 0, portHigh: 0, staticPort: false },
  };
}

/** pf's label macros, filled in per expanded rule. */
export function expandLabel(label: string, r: Rule): string {
  return label.replace(/\$(if|srcaddr|dstaddr|srcport|dstport|proto|nr)\b/g, (_m, name: string) => {
    switch (name) {
      case 'if':
        return r.iface ? r.iface.name : 'any';
      case 'srcaddr':
        return addressText(r.from.addr);
      case 'dstaddr':
        return addressText(r.to.addr);
      case 'srcport':
        return r.from.port ? portText(r.from.port) : '';
      case 'dstport':
        return r.to.port ? portText(r.to.port) : '';
      case 'proto':
        return r.proto === null ? '' : protocolName(r.proto);
      default:
        return String(r.nr);
    }
  });
}

function addressText(a: AddressSpec): string {
  const neg = 'neg' in a && a.neg ? '!' : '';
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
      return neg + 'self';
    case 'dynamic':
      return `${neg}(${a.ifname}${a.mode === 'address' ? '' : ':' + a.mode})${a.bits === null ? '' : '/' + a.bits}`;
    default:
      return neg + a.kind;
  }
}

function portText(p: PortSpec): string {
  if (p.op === '=') return String(p.low);
  if (p.op === ':' || p.op === '><' || p.op === '<>') return `${p.low}${p.op === ':' ? ':' : ` ${p.op} `}${p.high}`;
  return `${p.op}${p.low}`;
}
