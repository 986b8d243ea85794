// `set loginterface IF`: the statistics pfctl -si shows for one interface
// (pf_status.pcounters / bcounters, kept per interface by pf and summed for
// the named one, its members when it names a group). Only the named
// interface is counted here: the filter tests one integer per packet when
// none is set. The name is interned, so an interface that appears later is
// counted from then on.

import type { InterfaceRegistry } from './interface-registry.js';

/** Index of a counter: [family (0: IPv4, 1: IPv6)][direction (0: in, 1: out)][0: passed, 1: blocked]. */
export function logCounterIndex(af: number, out: boolean, blocked: boolean): number {
  return (af === 6 ? 4 : 0) + (out ? 2 : 0) + (blocked ? 1 : 0);
}

export class LogInterfaceStats {
  /** The interface or group named by `set loginterface`, null: none. */
  name: string | null = null;
  /** Its interned id; -1 when none is set (every packet's test stops at this compare). */
  nameId = -1;
  /** Packets by logCounterIndex. */
  readonly packets = new Float64Array(8);
  /** Bytes by logCounterIndex (pf shows them by family and direction only). */
  readonly bytes = new Float64Array(8);

  /** Follows a (re)loaded ruleset; a change of name, to none too, zeroes the counters as pf does. */
  select(name: string | null, interfaces: InterfaceRegistry): void {
    if (name === this.name) return;
    this.name = name;
    this.nameId = name === null ? -1 : interfaces.intern(name);
    this.packets.fill(0);
    this.bytes.fill(0);
  }

  count(af: number, out: boolean, blocked: boolean, length: number): void {
    const k = logCounterIndex(af, out, blocked);
    this.packets[k]!++;
    this.bytes[k]! += length;
  }
}
