// Owning a vhid's virtual addresses on Linux, where the kernel answers ARP
// and neighbour solicitations (shared/spec/carp.md §10):
//
// - lladdr virtual (the default): a macvlan named after the carp interface,
//   with MAC 00:00:5e:00:01:<vhid>, on carpdev. A master adds the addresses
//   to it and brings it up; a backup takes it down and removes them. The
//   kernel then answers for the addresses with the virtual MAC, and what
//   hosts send to that MAC arrives on the macvlan. carpdev gets
//   arp_ignore=1 so it does not also answer for them with its own MAC.
// - lladdr real: the addresses go on carpdev itself, as ucarp does.
//
// Addresses go on with noprefixroute when carpdev has an address in their
// network (and so the route), so forwarding keeps using carpdev; otherwise
// the route goes through the macvlan, which the filter counts as carpdev. A tunpf that was killed
// leaves its macvlan and addresses behind: prepare() removes them first.

import type { InterfaceAddress, Kernel } from '../os/kernel.js';
import type { SysctlJournal } from '../os/sysctl-journal.js';
import { maskAddress, parseAddress } from '../packet/address.js';
import type { CarpAddress, CarpGroupConfig } from './carp-config.js';
import { formatMac, parseMac, virtualMac } from './frames.js';

function covers(net: InterfaceAddress, a: CarpAddress): boolean {
  if (net.af !== a.af || net.bits > a.bits) return false;
  const x = parseAddress(net.address);
  const y = parseAddress(a.address);
  if (!x || !y) return false;
  const mx = maskAddress(x.words, net.bits);
  const my = maskAddress(y.words, net.bits);
  return mx.every((w, k) => w === my[k]);
}

export class AddressOwner {
  /** The interface that holds the addresses while master. */
  readonly device: string;
  /** The MAC the addresses answer with, and the source of announcements. */
  readonly mac: Uint8Array;
  private owned = false;

  constructor(
    private readonly kernel: Kernel,
    readonly cfg: CarpGroupConfig,
    private readonly sysctls: SysctlJournal,
  ) {
    this.device = cfg.lladdr === 'virtual' ? cfg.name : cfg.carpdev;
    this.mac = cfg.lladdr === 'virtual' ? virtualMac(cfg.vhid) : parseMac(kernel.mac(cfg.carpdev));
  }

  get owns(): boolean {
    return this.owned;
  }

  /** Clears what a dead instance left, and sets up the macvlan (down, no addresses). */
  prepare(): void {
    const k = this.kernel;
    const g = this.cfg;
    if (g.lladdr === 'real') {
      for (const a of g.addresses) k.ipQuiet('addr', 'del', `${a.address}/${a.bits}`, 'dev', g.carpdev);
      return;
    }
    if (k.linkExists(g.name)) k.ip('link', 'del', g.name);
    k.ip('link', 'add', g.name, 'link', g.carpdev, 'type', 'macvlan', 'mode', 'bridge');
    k.ip('link', 'set', g.name, 'address', formatMac(this.mac));
    // no link-local address: both nodes' macvlans have the same MAC, and a killed node's stays up
    k.ip('link', 'set', g.name, 'addrgenmode', 'none');
    this.sysctls.set(`net.ipv4.conf.${g.carpdev}.arp_ignore`, '1');
    this.sysctls.set(`net.ipv4.conf.${g.carpdev}.arp_announce`, '2');
    // what arrives on the macvlan is routed into the filter; the reverse path lies on carpdev
    this.sysctls.set(`net.ipv4.conf.${g.name}.rp_filter`, '0');
    this.sysctls.set(`net.ipv6.conf.${g.name}.accept_ra`, '0');
  }

  /** Becoming master: the addresses go on, the macvlan comes up (one `ip -batch`). */
  own(): void {
    const k = this.kernel;
    const g = this.cfg;
    // looked up now, not at start: carpdev may have lost or gained addresses since
    const own = k.addresses(g.carpdev).filter((a) => !g.addresses.some((v) => v.address === a.address));
    const batch: string[][] = [];
    for (const a of g.addresses) {
      const cmd = ['addr', 'replace', `${a.address}/${a.bits}`, 'dev', this.device];
      if (own.some((net) => net.scope !== 'host' && covers(net, a))) cmd.push('noprefixroute');
      if (a.af === 6) cmd.push('nodad');
      batch.push(cmd);
    }
    if (g.lladdr === 'virtual') batch.push(['link', 'set', this.device, 'up']);
    k.ipBatch(batch);
    this.owned = true;
  }

  /** Becoming backup or stopping: the addresses come off. */
  release(): void {
    const k = this.kernel;
    try {
      if (this.cfg.lladdr === 'virtual')
        k.ipBatch([
          ['link', 'set', this.device, 'down'],
          ['addr', 'flush', 'dev', this.device],
        ]);
      else k.ipBatch(this.cfg.addresses.map((a) => ['addr', 'del', `${a.address}/${a.bits}`, 'dev', this.device]));
    } catch {
      // already gone (a batch stops at the first failure: do it one by one)
      if (this.cfg.lladdr === 'virtual') {
        k.ipQuiet('link', 'set', this.device, 'down');
        k.ipQuiet('addr', 'flush', 'dev', this.device);
      } else for (const a of this.cfg.addresses) k.ipQuiet('addr', 'del', `${a.address}/${a.bits}`, 'dev', this.device);
    }
    this.owned = false;
  }

  /** Stopping: nothing of this vhid stays on the router. */
  destroy(): void {
    this.release();
    if (this.cfg.lladdr === 'virtual') this.kernel.ipQuiet('link', 'del', this.device);
  }
}
