// The router's interfaces as the rule parser needs them: names, addresses
// with prefix lengths, and the `egress` group (interfaces of default routes).

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { parseAddress, parsePrefix } from '../packet/address.js';
import type { InterfaceInfo } from '../rules/ast.js';

export function hostInterfaces(): InterfaceInfo[] {
  const out = new Map<string, InterfaceInfo>();
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    const info: InterfaceInfo = { name, addresses: [], groups: [] };
    for (const a of addrs ?? []) {
      const p = parsePrefix(a.cidr ?? '');
      if (p) info.addresses.push({ af: p.af, words: p.words, bits: p.bits });
    }
    out.set(name, info);
  }
  for (const name of defaultRouteInterfaces()) out.get(name)?.groups.push('egress');
  return [...out.values()];
}

function defaultRouteInterfaces(): string[] {
  try {
    const lines = readFileSync('/proc/net/route', 'utf8').split('\n').slice(1);
    return lines
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[1] === '00000000' && f[7] === '00000000')
      .map((f) => f[0]!);
  } catch {
    return [];
  }
}

/**
 * `--interface em0=192.0.2.1/24,2001:db8::1/64` and `--group egress=em0`
 * describe interfaces by hand, so output does not depend on the host.
 */
export function parseInterfaceFlag(value: string, into: Map<string, InterfaceInfo>): string | null {
  const eq = value.indexOf('=');
  const name = eq < 0 ? value : value.slice(0, eq);
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(name)) return `invalid interface name '${name}'`;
  const info = into.get(name) ?? { name, addresses: [], groups: [] };
  if (eq >= 0) {
    for (const text of value
      .slice(eq + 1)
      .split(',')
      .filter(Boolean)) {
      const p = parsePrefix(text.includes('/') ? text : `${text}/${parseAddress(text)?.af === 6 ? 128 : 32}`);
      if (!p) return `invalid address '${text}' for interface ${name}`;
      info.addresses.push({ af: p.af, words: p.words, bits: p.bits });
    }
  }
  into.set(name, info);
  return null;
}

export function parseGroupFlag(value: string, into: Map<string, InterfaceInfo>): string | null {
  const [group, members] = value.split('=');
  if (!group || !members) return `--group needs GROUP=IF[,IF...], not '${value}'`;
  for (const m of members.split(',')) {
    const info = into.get(m) ?? { name: m, addresses: [], groups: [] };
    info.groups.push(group);
    into.set(m, info);
  }
  return null;
}

/** Interfaces from repeated --interface and --group flags; a string is an error message. */
export function interfacesFromFlags(
  interfaces: readonly string[] = [],
  groups: readonly string[] = [],
): InterfaceInfo[] | string {
  const map = new Map<string, InterfaceInfo>();
  for (const v of interfaces) {
    const err = parseInterfaceFlag(v, map);
    if (err) return err;
  }
  for (const v of groups) {
    const err = parseGroupFlag(v, map);
    if (err) return err;
  }
  return [...map.values()];
}
