// Interfaces as the filter sees them: names interned to small integers (the
// datapath passes the integer with every packet), interface groups such as
// `egress`, and each interface's addresses for `self` and `(if)` rules,
// kept current by the datapath when addresses change.

import { maskAddress } from '../packet/address.js';
import type { InterfaceInfo } from '../rules/ast.js';
import { PrefixSet, type PrefixEntry } from './prefix-set.js';

export const MAX_INTERFACE_NAMES = 256;

export class InterfaceRegistry {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  /** membership[a * MAX + b] = 1 when name a is a member of name b (a group), or a === b. */
  private readonly membership = new Uint8Array(MAX_INTERFACE_NAMES * MAX_INTERFACE_NAMES);
  private readonly addresses = new Map<string, InterfaceInfo['addresses']>();
  private readonly dynamic = new Map<string, PrefixSet>();
  readonly self = new PrefixSet();

  constructor(interfaces: readonly InterfaceInfo[] = []) {
    for (const i of interfaces) {
      this.intern(i.name);
      for (const g of i.groups) this.addToGroup(i.name, g);
      this.setAddresses(i.name, i.addresses);
    }
  }

  /** The integer for a name (interface or group), allocated on first use. */
  intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      if (this.names.length >= MAX_INTERFACE_NAMES)
        throw new Error(`more than ${MAX_INTERFACE_NAMES} interface and group names`);
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
      this.membership[id * MAX_INTERFACE_NAMES + id] = 1;
    }
    return id;
  }

  id(name: string): number {
    return this.ids.get(name) ?? -1;
  }

  name(id: number): string {
    return this.names[id] ?? '?';
  }

  addToGroup(ifname: string, group: string): void {
    this.membership[this.intern(ifname) * MAX_INTERFACE_NAMES + this.intern(group)] = 1;
  }

  /** Whether interface `ifId` is `nameId` or belongs to the group `nameId`. Hot path. */
  matches(ifId: number, nameId: number): boolean {
    return ifId >= 0 && this.membership[ifId * MAX_INTERFACE_NAMES + nameId] === 1;
  }

  setAddresses(ifname: string, addresses: InterfaceInfo['addresses']): void {
    this.intern(ifname);
    this.addresses.set(ifname, addresses);
    // Compiled rules hold these sets: refill them in place.
    for (const [key, set] of this.dynamic) {
      const [name, mode] = key.split(':') as [string, string];
      if (name === ifname) this.fill(set, name, mode);
    }
    const all: PrefixEntry[] = [];
    for (const list of this.addresses.values())
      for (const a of list) all.push({ af: a.af, words: a.words, bits: a.af === 4 ? 32 : 128, neg: false });
    this.self.build(all);
  }

  /** The interface's addresses, primary first (empty for an unknown interface). */
  addressesOf(ifname: string): InterfaceInfo['addresses'] {
    return this.addresses.get(ifname) ?? [];
  }

  /** The address set behind `(if)`, `(if:network)`, `(if:broadcast)`; empty for unknown interfaces. */
  dynamicSet(ifname: string, mode: 'address' | 'network' | 'broadcast' | 'peer'): PrefixSet {
    const key = `${ifname}:${mode}`;
    let set = this.dynamic.get(key);
    if (!set) {
      set = new PrefixSet();
      this.fill(set, ifname, mode);
      this.dynamic.set(key, set);
    }
    return set;
  }

  private fill(set: PrefixSet, ifname: string, mode: string): void {
    const entries: PrefixEntry[] = [];
    for (const a of this.addresses.get(ifname) ?? []) {
      const host = a.af === 4 ? 32 : 128;
      if (mode === 'network') entries.push({ af: a.af, words: maskAddress(a.words, a.bits), bits: a.bits, neg: false });
      else if (mode === 'broadcast') {
        if (a.af !== 4 || a.bits >= 31) continue;
        const bc = new Uint32Array(4);
        bc[0] = (a.words[0]! | (0xffffffff >>> a.bits)) >>> 0;
        entries.push({ af: 4, words: bc, bits: 32, neg: false });
      } else entries.push({ af: a.af, words: a.words, bits: host, neg: false });
    }
    set.build(entries);
  }
}
