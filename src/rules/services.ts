// Service names for ports as pfctl's getservice() finds them: the host's
// /etc/services (tcp entries first, then udp), else tunpf's built-in table,
// so a ruleset that names only common services means the same everywhere.

import { readFileSync } from 'node:fs';
import { portNumberText } from './address-forms.js';
import { portNumber } from './names.js';

/** Names (and aliases) to ports from /etc/services text; tcp entries win over udp ones. */
export function parseServices(text: string): Map<string, number> {
  const tcp = new Map<string, number>();
  const udp = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/);
    const m = /^([0-9]+)\/(tcp|udp)$/.exec(fields[1] ?? '');
    if (!m) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    const into = m[2] === 'tcp' ? tcp : udp;
    for (const name of [fields[0]!, ...fields.slice(2)]) if (!into.has(name)) into.set(name, port);
  }
  for (const [name, port] of udp) if (!tcp.has(name)) tcp.set(name, port);
  return tcp;
}

/** Port numbers to names, by protocol, as getservbyport(3) answers them: a port's first entry in the file. */
export interface ServiceNames {
  tcp: ReadonlyMap<number, string>;
  udp: ReadonlyMap<number, string>;
}

/** The service names of /etc/services text, for printing ports as pfctl -P does. */
export function parseServiceNames(text: string): ServiceNames {
  const tcp = new Map<number, string>();
  const udp = new Map<number, string>();
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/);
    const m = /^([0-9]+)\/(tcp|udp)$/.exec(fields[1] ?? '');
    if (!m || Number(m[1]) > 65535) continue;
    const into = m[2] === 'tcp' ? tcp : udp;
    if (!into.has(Number(m[1]))) into.set(Number(m[1]), fields[0]!);
  }
  return { tcp, udp };
}

/** The host's services file, or undefined when it cannot be read. */
export function readHostServices(path = '/etc/services'): Map<string, number> | undefined {
  try {
    return parseServices(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

/** A port from a number (decimal or 0x hex) or a service name; undefined if neither or above 65535. */
export function lookupPort(text: string, services?: ReadonlyMap<string, number>): number | undefined {
  const n = portNumberText(text);
  if (n !== undefined) return n <= 65535 ? n : undefined;
  return services?.get(text) ?? portNumber(text);
}

/** The error for a port `lookupPort` could not read. */
export function portError(text: string): string {
  return portNumberText(text) !== undefined ? `port ${text} out of range (0..65535)` : `unknown port name '${text}'`;
}
