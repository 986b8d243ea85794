// Owning a vhid's virtual addresses on Linux (shared/spec/carp.md §10):
//
// - lladdr virtual (the default): a macvlan named after the carp interface,
//   with MAC 00:00:5e:00:01:<vhid>, on carpdev. A master adds the addresses
//   to it and brings it up; a backup takes it down and removes them. What
//   hosts send to the virtual MAC arrives on the macvlan. The macvlan is
//   NOARP: the kernel never answers ARP or neighbour solicitations there
//   (the carp service answers while master, neighbour-answer.ts), so a
//   killed tunpf, whose macvlan stays up with the addresses, answers for
//   nothing and hosts stop sending to it. carpdev gets arp_ignore=1 so it
//   does not answer for them with its own MAC either.
// - lladdr real: the addresses go on carpdev itself, as ucarp does, and the
//   kernel answers for them.
//
// Addresses go on with noprefixroute, and a NOARP device cannot resolve
// neighbours: when carpdev has no address in their network (and so no
// route), the route goes on carpdev, so forwarding never leaves through the
// macvlan. What a killed instance cannot undo is recorded as `ip` commands
// (IpJournal) for the next start or `tunpf cleanup`; prepare() also clears a
// macvlan of the same name.

import { IpJournal } from '../os/ip-journal.js';
import type { InterfaceAddress, Kernel } from '../os/kernel.js';
import type { SysctlJournal } from '../os/sysctl-journal.js';
import { formatPrefix, maskAddress, parseAddress } from '../packet/address.js';
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
  /** Routes put on carpdev for addresses it has no network for (`ip route del` arguments). */
  private readonly carpdevRoutes: string[][] = [];

  constructor(
    private readonly kernel: Kernel,
    readonly cfg: CarpGroupConfig,
    private readonly sysctls: SysctlJournal,
    private readonly journal: IpJournal = new IpJournal(),
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
      for (const a of g.addresses) {
        const del = ['addr', 'del', `${a.address}/${a.bits}`, 'dev', g.carpdev];
        k.ipQuiet(...del);
        this.journal.record(del);
      }
      return;
    }
    if (k.linkExists(g.name)) k.ip('link', 'del', g.name);
    this.journal.record(['link', 'del', g.name]);
    k.ip('link', 'add', g.name, 'link', g.carpdev, 'type', 'macvlan', 'mode', 'bridge');
    // the kernel never answers ARP or ND on it: after a SIGKILL nothing answers with the virtual MAC
    k.ip('link', 'set', g.name, 'address', formatMac(this.mac), 'arp', 'off');
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
    const virtual = g.lladdr === 'virtual';
    this.carpdevRoutes.length = 0;
    for (const a of g.addresses) {
      const cmd = ['addr', 'replace', `${a.address}/${a.bits}`, 'dev', this.device];
      const covered = own.some((net) => net.scope !== 'host' && covers(net, a));
      if (covered || virtual) cmd.push('noprefixroute');
      if (a.af === 6) cmd.push('nodad');
      batch.push(cmd);
      if (virtual && !covered) {
        const words = parseAddress(a.address)!.words;
        const net = formatPrefix(a.af, maskAddress(words, a.bits), a.bits);
        const del = [a.af === 4 ? '-4' : '-6', 'route', 'del', net, 'dev', g.carpdev];
        this.journal.record(del);
        this.carpdevRoutes.push(del);
        batch.push(['route', 'replace', net, 'dev', g.carpdev, 'src', a.address]);
      }
    }
    if (virtual) batch.push(['link', 'set', this.device, 'up']);
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
    for (const del of this.carpdevRoutes.splice(0)) k.ipQuiet(...del);
    this.owned = false;
  }

  /** Stopping: nothing of this vhid stays on the router (the journal is cleared by the service). */
  destroy(): void {
    this.release();
    if (this.cfg.lladdr === 'virtual') this.kernel.ipQuiet('link', 'del', this.device);
  }
}
