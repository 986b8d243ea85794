// Router mode: what arrives on a filtered interface is steered into its TUN
// by a policy-routing rule, and what tunpf writes back is routed by the main
// table. Planned as data, applied in order, undone in reverse; a start after
// a crash removes what a dead instance left (tunpf's rules sit in their own
// priority range and its tables in their own number range).

import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Kernel } from './kernel.js';

export const RULE_PRIORITY_BASE = 17000;
export const TABLE_BASE = 17000;
export const MAX_INTERFACES = 64;

export const tunName = (ifname: string) => `tpf-${ifname}`.slice(0, 15);

export interface RouterPlan {
  interfaces: { ifname: string; tun: string; table: number; priority: number }[];
}

export function planRouter(ifnames: readonly string[]): RouterPlan {
  if (ifnames.length > MAX_INTERFACES) throw new Error(`at most ${MAX_INTERFACES} filtered interfaces`);
  return { interfaces: ifnames.map((ifname, k) => ({ ifname, tun: tunName(ifname), table: TABLE_BASE + k, priority: RULE_PRIORITY_BASE + k })) };
}

/**
 * Removes tunpf's policy rules and tables, whoever left them, and puts back
 * the sysctls a dead instance changed (it wrote them to `journal` first).
 */
export function removeStale(kernel: Kernel, journal?: string): number {
  let removed = 0;
  if (journal) {
    try {
      const saved = JSON.parse(readFileSync(journal, 'utf8')) as [string, string][];
      for (const [name, value] of saved.reverse()) {
        try {
          kernel.sysctlSet(name, value);
        } catch {
          // the interface is gone
        }
      }
      unlinkSync(journal);
    } catch {
      // no journal: nothing was left
    }
  }
  for (const fam of ['-4', '-6']) {
    const rules = kernel.ipQuiet(fam, 'rule', 'show') ? kernel.ip(fam, 'rule', 'show') : '';
    for (const line of rules.split('\n')) {
      const prio = Number(line.split(':')[0]);
      if (prio >= RULE_PRIORITY_BASE && prio < RULE_PRIORITY_BASE + MAX_INTERFACES) {
        if (kernel.ipQuiet(fam, 'rule', 'del', 'priority', String(prio))) removed++;
      }
    }
    for (let k = 0; k < MAX_INTERFACES; k++) kernel.ipQuiet(fam, 'route', 'flush', 'table', String(TABLE_BASE + k));
  }
  return removed;
}

export class RouterSetup {
  private readonly undoSteps: (() => void)[] = [];
  /** Sysctls changed, with their old values, as written to the journal. */
  private readonly changed: [string, string][] = [];

  /** `journal`: a file where the sysctls' old values are kept, so a start after a crash can restore them. */
  constructor(
    private readonly kernel: Kernel,
    readonly plan: RouterPlan,
    private readonly journal?: string,
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
        k.ip(fam, 'route', 'replace', 'default', 'dev', i.tun, 'table', String(i.table));
        this.undoSteps.push(() => k.ipQuiet(fam, 'route', 'flush', 'table', String(i.table)));
        k.ip(fam, 'rule', 'add', 'iif', i.ifname, 'lookup', String(i.table), 'priority', String(i.priority));
        this.undoSteps.push(() => k.ipQuiet(fam, 'rule', 'del', 'priority', String(i.priority)));
      }
    }
  }

  private setSysctl(name: string, value: string): void {
    const old = this.kernel.sysctlGet(name);
    if (old === value) return;
    if (old !== null) {
      this.changed.push([name, old]);
      if (this.journal) writeFileSync(this.journal, JSON.stringify(this.changed));
      this.undoSteps.push(() => this.kernel.sysctlSet(name, old));
    }
    this.kernel.sysctlSet(name, value);
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
    if (this.journal) {
      try {
        unlinkSync(this.journal);
      } catch {
        // never written
      }
    }
  }
}
