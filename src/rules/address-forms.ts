// Address and port forms pfctl reads beyond plain `a.b.c.d/len`: abbreviated
// IPv4 networks (`10/8`, `172.16/12`, read as inet_net_pton does once a mask
// is given), IPv6 addresses with a scope (`fe80::1%lan`), interface names
// with modifiers (`em0:network`, `(em0:0)`), and hex ports (`0x10`).

import { parseAddress, parsePrefix, type ParsedPrefix } from '../packet/address.js';

/** `addr`, `addr/len`, or an abbreviated IPv4 network with its length (`10/8`, `10.1/16`, `0/0`). */
export function parseNetwork(text: string): ParsedPrefix | null {
  const p = parsePrefix(text);
  if (p) return p;
  // pfctl: getaddrinfo fails on "10", so with a mask it falls back to inet_net_pton
  const m = /^([0-9]{1,3}(?:\.[0-9]{1,3}){0,3})\/([0-9]{1,3})$/.exec(text);
  if (!m) return null;
  const octets = m[1]!.split('.').map(Number);
  const bits = Number(m[2]);
  if (bits > 32 || octets.some((o) => o > 255)) return null;
  let v = 0;
  for (let i = 0; i < 4; i++) v = (v * 256 + (octets[i] ?? 0)) >>> 0;
  const words = new Uint32Array(4);
  words[0] = v;
  return { af: 4, words, bits };
}

/** `fe80::1%lan`: the address and the interface its scope names; null when the text has no `%`. */
export function parseScoped(text: string): { prefix: ParsedPrefix; scope: string } | 'invalid' | null {
  const pct = text.indexOf('%');
  if (pct < 0) return null;
  const slash = text.indexOf('/', pct);
  const scope = text.slice(pct + 1, slash < 0 ? undefined : slash);
  const a = parseAddress(text.slice(0, pct));
  if (!a || a.af !== 6 || !scope) return 'invalid';
  const prefix = parsePrefix(text.slice(0, pct) + (slash < 0 ? '' : text.slice(slash)));
  return prefix ? { prefix, scope } : 'invalid';
}

export type InterfaceMode = 'address' | 'network' | 'broadcast' | 'peer';

/** An interface name with pf's modifiers: `em0`, `em0:network`, `em0:broadcast`, `em0:peer`, `:0` on any of them. */
export interface InterfaceRef {
  ifname: string;
  mode: InterfaceMode;
  noAlias: boolean;
}

/** Splits `NAME[:MOD]...` as pfctl's host_if/dynaddr do (right to left); a string is the error. */
export function parseInterfaceRef(text: string): InterfaceRef | string {
  const parts = text.split(':');
  const ifname = parts[0]!;
  let mode: InterfaceMode = 'address';
  let noAlias = false;
  for (const m of parts.slice(1)) {
    if (m === '0') noAlias = true;
    else if (m === 'network' || m === 'broadcast' || m === 'peer') {
      if (mode !== 'address') return 'illegal combination of interface modifiers';
      mode = m;
    } else return `interface ${text} has bad modifier`;
  }
  if (!/^[A-Za-z]/.test(ifname)) return `invalid interface name '${text}'`;
  return { ifname, mode, noAlias };
}

/** The text of a reference, modifiers in pfctl's print order. */
export function formatInterfaceRef(r: InterfaceRef): string {
  return r.ifname + (r.mode === 'address' ? '' : `:${r.mode}`) + (r.noAlias ? ':0' : '');
}

/** A port written as a number: decimal, or hex as pfctl's strtoul(…, 0) reads `0x10`. */
export function portNumberText(text: string): number | undefined {
  if (/^[0-9]+$/.test(text)) return Number(text);
  if (/^0x[0-9a-f]+$/i.test(text)) return parseInt(text, 16);
  return undefined;
}
