// List expansion, pfctl style: a rule written with lists becomes one rule per
// combination, in pfctl's loop order (interface, protocol, ICMP type, source
// address, source port, destination address, destination port). Combinations
// whose address families conflict are dropped, as pfctl drops them. pf's
// implicit defaults are applied per expanded rule.

import { formatAddress } from '../packet/address.js';
import type {
  AddressSpec,
  BlockMode,
  IcmpMatch,
  LogOptions,
  PortSpec,
  Rule,
  RuleAction,
  SourceLocation,
  StateMode,
  StateOptions,
  Translation,
} from './ast.js';
import { formatPrefixShort } from './canonical.js';
import { protocolHasPorts, protocolName } from './names.js';

export interface HostItem {
  addr: AddressSpec;
  af: 0 | 4 | 6;
  loc: SourceLocation;
}

/** A rule as written: lists not yet expanded. Empty lists mean "any". */
export interface RuleSpec {
  action: RuleAction;
  block: BlockMode;
  returnTtl: number | null;
  direction: 'in' | 'out' | 'both';
  log: LogOptions | null;
  quick: boolean;
  ifaces: { name: string; neg: boolean }[];
  af: 0 | 4 | 6;
  protos: number[];
  all: boolean;
  fromHosts: HostItem[];
  fromPorts: PortSpec[];
  toHosts: HostItem[];
  toPorts: PortSpec[];
  portLoc?: SourceLocation;
  flags: { set: number; mask: number } | null;
  flagsLoc?: SourceLocation;
  icmp: IcmpMatch[];
  icmpLoc?: SourceLocation;
  state: StateMode;
  stateExplicit: boolean;
  hasStateOptions: boolean;
  stateOptions: StateOptions;
  allowOpts: boolean;
  label: string | null;
  tag: string | null;
  tagged: { name: string; neg: boolean } | null;
  nat: Translation | null;
  rdr: Translation | null;
  loc: SourceLocation;
}

const ANY_HOST: HostItem = { addr: { kind: 'any' }, af: 0, loc: { file: '', line: 0, col: 0 } };
const FLAGS_S_SA = { set: 0x02, mask: 0x12 };

export function expandRuleSpec(
  spec: RuleSpec,
  firstNr: number,
): { rules: Rule[]; errors: { loc: SourceLocation; message: string }[] } {
  const errors: { loc: SourceLocation; message: string }[] = [];
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
    if (spec.flags && p !== 6)
      fail(spec.flagsLoc ?? spec.loc, `flags only apply to tcp, not to proto ${protocolName(p)}`);
  }
  for (const i of spec.icmp) {
    const want = i.family === 4 ? 1 : 58;
    const keyword = i.family === 4 ? 'icmp-type' : 'icmp6-type';
    if (spec.protos.length === 0 || spec.protos.some((p) => p !== want))
      fail(spec.icmpLoc ?? spec.loc, `${keyword} needs proto ${i.family === 4 ? 'icmp' : 'icmp6'}`);
    if (spec.af !== 0 && spec.af !== i.family)
      fail(spec.icmpLoc ?? spec.loc, `${keyword} on an ${spec.af === 4 ? 'inet' : 'inet6'} rule`);
  }
  if (spec.state === 'none' && spec.hasStateOptions) fail(spec.loc, 'state options on a no state rule');

  const rules: Rule[] = [];
  for (const iface of ifaces)
    for (const proto of protos)
      for (const icmp of icmps)
        for (const src of fromHosts)
          for (const sport of fromPorts)
            for (const dst of toHosts)
              for (const dport of toPorts) {
                let af: 0 | 4 | 6 = spec.af;
                for (const x of [src.af, dst.af, icmp ? icmp.family : 0] as const) {
                  if (x === 0) continue;
                  if (af === 0) af = x;
                  else if (af !== x) af = -1 as never;
                }
                if ((af as number) === -1) continue; // families conflict: pfctl skips the combination
                const tcpCapable = proto === null || proto === 6;
                let flags = spec.flags;
                if (!flags && spec.action === 'pass' && spec.state !== 'none' && tcpCapable) flags = FLAGS_S_SA;
                if (proto !== null && proto !== 6) flags = null;
                const rule: Rule = {
                  nr: firstNr + rules.length,
                  action: spec.action,
                  block: spec.block,
                  returnTtl: spec.returnTtl,
                  direction: spec.direction,
                  log: spec.log,
                  quick: spec.quick,
                  iface,
                  af,
                  proto,
                  from: { addr: src.addr, port: sport },
                  to: { addr: dst.addr, port: dport },
                  all: spec.all,
                  flags,
                  icmp,
                  state: spec.state,
                  stateOptions: spec.stateOptions,
                  allowOpts: spec.allowOpts,
                  label: null,
                  tag: spec.tag,
                  tagged: spec.tagged,
                  nat: spec.nat,
                  rdr: spec.rdr,
                  loc: spec.loc,
                };
                rule.label = spec.label === null ? null : expandLabel(spec.label, rule);
                rules.push(rule);
              }
  if (rules.length === 0 && errors.length === 0)
    fail(spec.loc, "no combination of the rule's addresses has one address family: the rule matches nothing");
  return { rules: errors.length ? [] : rules, errors };
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
      return `${neg}(${a.ifname}${a.mode === 'address' ? '' : ':' + a.mode})`;
    default:
      return neg + a.kind;
  }
}

function portText(p: PortSpec): string {
  if (p.op === '=') return String(p.low);
  if (p.op === ':' || p.op === '><' || p.op === '<>') return `${p.low}${p.op === ':' ? ':' : ` ${p.op} `}${p.high}`;
  return `${p.op}${p.low}`;
}
