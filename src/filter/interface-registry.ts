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
  /** `(if)` address sets by their spec; compiled rules hold the sets, which are refilled in place. */
  private readonly dynamic = new Map<string, { set: PrefixSet; spec: DynamicSpec }>();
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
    // Compiled rules hold these sets: refill them in place. `(self)` follows every interface.
    for (const { set, spec } of this.dynamic.values())
      if (spec.ifname === ifname || spec.ifname === 'self') this.fill(set, spec);
    const all: PrefixEntry[] = [];
    for (const list of this.addresses.values())
      for (const a of list) all.push({ af: a.af, words: a.words, bits: a.af === 4 ? 32 : 128, neg: false });
    this.self.build(all);
  }

  /** The interface's addresses, primary first (empty for an unknown interface). */
  addressesOf(ifname: string): InterfaceInfo['addresses'] {
    return this.addresses.get(ifname) ?? [];
  }

  /**
   * The address set behind `(if)`, `(if:network)`, `(if:broadcast)`, with `:0` (the first address
   * of each family) and a mask (`(if)/24`); `(self)` covers every interface. Empty for unknown interfaces.
   */
  dynamicSet(ifname: string, mode: DynamicMode, noAlias = false, bits: number | null = null): PrefixSet {
    const key = `${ifname}:${mode}:${noAlias}/${bits}`;
    let entry = this.dynamic.get(key);
    if (!entry) {
      entry = { set: new PrefixSet(), spec: { ifname, mode, noAlias, bits } };
      this.fill(entry.set, entry.spec);
      this.dynamic.set(key, entry);
    }
    return entry.set;
  }

  /** As pf's pfi_instance_add: link-local IPv6 left out, then the mode, `:0`, and the mask (IPv4 at most 32). */
  private fill(set: PrefixSet, spec: DynamicSpec): void {
    const entries: PrefixEntry[] = [];
    const lists = spec.ifname === 'self' ? [...this.addresses.values()] : [this.addresses.get(spec.ifname) ?? []];
    for (const list of lists) {
      let got = 0; // bit 0: an IPv4 address taken, bit 1: an IPv6 one (for :0)
      for (const a of list) {
        if (a.af === 6 && a.words[0]! >>> 22 === 0x3fa) continue;
        if (spec.mode === 'broadcast' && (a.af !== 4 || a.bits >= 31)) continue;
        const famBit = a.af === 4 ? 1 : 2;
        if (spec.noAlias && got & famBit) continue;
        got |= famBit;
        const host = a.af === 4 ? 32 : 128;
        let bits = spec.bits ?? (spec.mode === 'network' ? a.bits : host);
        if (bits > host) bits = host;
        let words: ArrayLike<number> = a.words;
        if (spec.mode === 'broadcast') {
          const bc = new Uint32Array(4);
          bc[0] = (a.words[0]! | (0xffffffff >>> a.bits)) >>> 0;
          words = bc;
        }
        entries.push({ af: a.af, words: maskAddress(words, bits), bits, neg: false });
      }
    }
    set.build(entries);
  }
}

type DynamicMode = 'address' | 'network' | 'broadcast' | 'peer';

interface DynamicSpec {
  ifname: string;
  mode: DynamicMode;
  noAlias: boolean;
  bits: number | null;
}
