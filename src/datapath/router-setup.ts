// Router mode: what arrives on a filtered interface is steered into its TUN
// by a policy-routing rule, and what tunpf writes back is routed by the main
// table. Planned as data, applied in order, undone in reverse; a start after
// a crash removes what a dead instance left (tunpf's rules sit in their own
// priority range and its tables in their own number range).

import type { Kernel } from '../os/kernel.js';
import { SysctlJournal } from '../os/sysctl-journal.js';

export const RULE_PRIORITY_BASE = 17000;
export const TABLE_BASE = 17000;
export const MAX_INTERFACES = 64;

export const tunName = (ifname: string) => `tpf-${ifname}`.slice(0, 15);

export interface RouterPlan {
  /**
   * `aliases`: devices whose arrivals count as arrivals on the interface
   * (CARP's macvlans, which receive what is sent to the virtual MAC).
   */
  interfaces: { ifname: string; aliases: string[]; tun: string; table: number; priority: number }[];
}

export function planRouter(
  ifnames: readonly string[],
  aliases: ReadonlyMap<string, readonly string[]> = new Map(),
): RouterPlan {
  if (ifnames.length > MAX_INTERFACES) throw new Error(`at most ${MAX_INTERFACES} filtered interfaces`);
  return {
    interfaces: ifnames.map((ifname, k) => ({
      ifname,
      aliases: [...(aliases.get(ifname) ?? [])],
      tun: tunName(ifname),
      table: TABLE_BASE + k,
      priority: RULE_PRIORITY_BASE + k,
    })),
  };
}

/**
 * Removes tunpf's policy rules and tables, whoever left them, and puts back
 * the sysctls a dead instance changed (it wrote them to `journal` first).
 */
export function removeStale(kernel: Kernel, journal?: string): number {
  let removed = 0;
  if (journal) SysctlJournal.recover(kernel, journal);
  for (const fam of ['-4', '-6']) {
    const rules = kernel.ipQuiet(fam, 'rule', 'show') ? kernel.ip(fam, 'rule', 'show') : '';
    for (const line of rules.split('\n')) {
      const prio = Number(line.split(':')[0]);
      if (prio >= RULE_PRIORITY_BASE && prio < RULE_PRIORITY_BASE + MAX_INTERFACES) {
        // several rules may share a priority (an interface and its aliases)
        while (kernel.ipQuiet(fam, 'rule', 'del', 'priority', String(prio))) removed++;
      }
    }
    for (let k = 0; k < MAX_INTERFACES; k++) kernel.ipQuiet(fam, 'route', 'flush', 'table', String(TABLE_BASE + k));
  }
  return removed;
}

export class RouterSetup {
  private readonly undoSteps: (() => void)[] = [];

  /** `sysctls` keeps the old values, so a stop or a start after a crash can restore them. */
  constructor(
    private readonly kernel: Kernel,
    readonly plan: RouterPlan,
    private readonly sysctls: SysctlJournal,
  ) {}

  /** Routes each interface's traffic into its TUN (the TUNs must exist and be up). */
  apply(): void {
    const k = this.kernel;
    this.setSysctl('net.ipv4.ip_forward', '1');
    this.setSysctl('net.ipv6.conf.all.forwarding', '1');
    // Packets come back from a TUN with foreign source addresses, and the
    // kernel's reverse-path filter, in any mode, drops those on a device
    // without addresses. The effective mode is max(all, device): so the TUNs
    // get 0, `all` goes to 0, and every other interface keeps the mode it had
    // in effect (spoofing is antispoof's job in the ruleset).
    const all = Number(k.sysctlGet('net.ipv4.conf.all.rp_filter') ?? '0');
    const tuns = new Set(this.plan.interfaces.map((i) => i.tun));
    if (all !== 0) {
      for (const dev of k.ipv4ConfDevices()) {
        if (dev === 'all' || dev === 'default' || tuns.has(dev)) continue;
        const own = Number(k.sysctlGet(`net.ipv4.conf.${dev}.rp_filter`) ?? '0');
        this.setSysctl(`net.ipv4.conf.${dev}.rp_filter`, String(Math.max(all, own)));
      }
      this.setSysctl('net.ipv4.conf.all.rp_filter', '0');
    }
    for (const i of this.plan.interfaces) {
      this.setSysctl(`net.ipv4.conf.${i.tun}.rp_filter`, '0');
      for (const fam of ['-4', '-6']) {
        // Fail closed: if tunpf dies, the kernel removes its TUN and the route
        // through it, and the blackhole keeps the traffic from bypassing the filter.
        k.ip(fam, 'route', 'replace', 'blackhole', 'default', 'metric', '4294967295', 'table', String(i.table));
        k.ip(fam, 'route', 'replace', 'default', 'dev', i.tun, 'table', String(i.table));
        this.undoSteps.push(() => k.ipQuiet(fam, 'route', 'flush', 'table', String(i.table)));
        for (const dev of [i.ifname, ...i.aliases]) {
          k.ip(fam, 'rule', 'add', 'iif', dev, 'lookup', String(i.table), 'priority', String(i.priority));
          this.undoSteps.push(() =>
            k.ipQuiet(fam, 'rule', 'del', 'iif', dev, 'lookup', String(i.table), 'priority', String(i.priority)),
          );
        }
      }
    }
  }

  private setSysctl(name: string, value: string): void {
    this.sysctls.set(name, value);
  }

  /** Undoes everything apply() did, last change first. */
  undo(): void {
    while (this.undoSteps.length) {
      try {
        this.undoSteps.pop()!();
      } catch {
        // keep undoing the rest
      }
    }
  }
}
