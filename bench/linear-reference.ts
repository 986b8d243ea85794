// The naive evaluator: walks every rule and every field of the AST, with no
// skip steps and no compiled form. It is the reference the tests compare the
// real evaluator with, and the baseline the rules benchmark measures beside.

import { maskAddress } from '../src/packet/address.js';
import { Direction, IPPROTO, type PacketMeta } from '../src/packet/meta.js';
import type { AddressSpec, PortSpec, Rule, Ruleset } from '../src/rules/ast.js';
import type { FilterEnv } from '../src/filter/compile-rules.js';

export interface ReferenceVerdict {
  action: 'pass' | 'block';
  rule: number; // -1: default
  tag: string | null;
}

export function evaluateLinear(
  rs: Ruleset,
  env: FilterEnv,
  meta: PacketMeta,
  direction: Direction,
  ifname: string,
): ReferenceVerdict {
  let decided: Rule | null = null;
  let tag: string | null = null;
  for (const r of rs.rules) {
    if (!ruleMatches(r, env, meta, direction, ifname, tag)) continue;
    if (r.tag) tag = r.tag;
    if (r.action === 'match') continue;
    decided = r;
    if (r.quick) break;
  }
  if (!decided) return { action: 'pass', rule: -1, tag };
  return { action: decided.action === 'pass' ? 'pass' : 'block', rule: decided.nr, tag };
}

function ruleMatches(
  r: Rule,
  env: FilterEnv,
  m: PacketMeta,
  direction: Direction,
  ifname: string,
  tag: string | null,
): boolean {
  if (r.iface) {
    const id = env.interfaces.id(ifname);
    const nameId = env.interfaces.id(r.iface.name);
    const on = id >= 0 && nameId >= 0 && env.interfaces.matches(id, nameId);
    if (on === r.iface.neg) return false;
  }
  if (r.direction === 'in' && direction !== Direction.IN) return false;
  if (r.direction === 'out' && direction !== Direction.OUT) return false;
  if (r.af !== 0 && r.af !== m.af) return false;
  if (r.proto !== null && r.proto !== m.proto) return false;
  const l4 = !m.isLaterFragment;
  const ported = l4 && (m.proto === IPPROTO.TCP || m.proto === IPPROTO.UDP || m.proto === IPPROTO.SCTP);
  if (!addrMatches(r.from.addr, env, m.af, m.src)) return false;
  if (r.from.port && !(ported && portMatches(r.from.port, m.srcPort))) return false;
  if (!addrMatches(r.to.addr, env, m.af, m.dst)) return false;
  if (r.to.port && !(ported && portMatches(r.to.port, m.dstPort))) return false;
  const flagsChecked = r.flags !== null && r.flags.mask !== 0;
  if (!l4 && (r.from.port || r.to.port || flagsChecked || r.icmp)) return false;
  if (flagsChecked && m.proto === IPPROTO.TCP && (m.tcpFlags & r.flags!.mask) !== r.flags!.set) return false;
  if (r.icmp) {
    const icmpProto = r.icmp.family === 4 ? IPPROTO.ICMP : IPPROTO.ICMPV6;
    if (m.proto !== icmpProto || m.icmpType !== r.icmp.type) return false;
    if (r.icmp.code !== null && m.icmpCode !== r.icmp.code) return false;
  }
  if (r.tagged && (tag === r.tagged.name) === r.tagged.neg) return false;
  return true;
}

function portMatches(p: PortSpec, port: number): boolean {
  switch (p.op) {
    case '=':
      return port === p.low;
    case '!=':
      return port !== p.low;
    case '<':
      return port < p.low;
    case '<=':
      return port <= p.low;
    case '>':
      return port > p.low;
    case '>=':
      return port >= p.low;
    case '><':
      return port > p.low && port < p.high;
    case '<>':
      return port < p.low || port > p.high;
    case ':':
      return port >= p.low && port <= p.high;
  }
}

function addrMatches(a: AddressSpec, env: FilterEnv, af: number, w: Uint32Array): boolean {
  let hit: boolean;
  switch (a.kind) {
    case 'any':
      return true;
    case 'prefix': {
      if (a.prefix.af !== af) return false;
      const masked = maskAddress(w, a.prefix.bits);
      hit = masked.every((x, i) => x === a.prefix.words[i]);
      break;
    }
    case 'range': {
      if (a.from.af !== af) return false;
      const v = big(w);
      hit = v >= big(a.from.words) && v <= big(a.to.words);
      break;
    }
    case 'table':
      hit = env.tables.get(a.name)?.contains(af, w) ?? false;
      break;
    case 'self':
      hit = env.interfaces.self.contains(af, w);
      break;
    case 'dynamic':
      hit = env.interfaces.dynamicSet(a.ifname, a.mode).contains(af, w);
      break;
    default:
      hit = false;
  }
  return hit !== a.neg;
}

function big(w: ArrayLike<number>): bigint {
  let v = 0n;
  for (let i = 0; i < 4; i++) v = (v << 32n) | BigInt(w[i]! >>> 0);
  return v;
}
