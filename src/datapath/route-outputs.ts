// Where route-to, reply-to and dup-to send packets on Linux. A packet written
// back into a TUN is routed by the main table, and a TUN cannot mark it, so
// each route target gets a TUN of its own (tpf-rt-N, only ever written) and
// a policy rule `iif tpf-rt-N lookup TABLE_N`, where TABLE_N holds the
// target's route: `default via NEXTHOP [dev IF]`, or `default dev IF` for an
// interface without a next hop. The kernel still forwards the packet and does
// ARP/ND for the next hop. A blackhole behind the route keeps a packet whose
// target has no route (its interface went away) from falling through to the
// main table. Every change is undone by undo(); a start after a crash removes
// the rules and tables (removeStale: the priority is in tunpf's range, the
// tables in ROUTE_TABLE_BASE's), and the TUNs go with the process.

import type { RouteTargets } from '../filter/route-targets.js';
import { formatAddress } from '../packet/address.js';
import type { Kernel } from '../os/kernel.js';
import type { SysctlJournal } from '../os/sysctl-journal.js';
import type { RoutedOutput } from './forwarder.js';
import type { Family } from './router-setup.js';
import { MAX_ROUTE_OUTPUTS, PRIORITY_ROUTE, ROUTE_TABLE_BASE } from './router-setup.js';
import type { TunDevice } from './tun-device.js';

export const routeTunName = (target: number) => `tpf-rt-${target}`;

/** The `ip` commands that give route target `target` its table and rule; `undo` takes them away. */
export function planRouteOutput(
  targets: RouteTargets,
  target: number,
): { fam: Family; args: string[]; undo: string[] | null }[] {
  const table = String(ROUTE_TABLE_BASE + target);
  const tun = routeTunName(target);
  const af = targets.af[target]!;
  const ifname = targets.ifname[target];
  const words = targets.nexthop[target];
  const hop = words ? formatAddress(af, words) : null;
  const out: { fam: Family; args: string[]; undo: string[] | null }[] = [];
  for (const fam of af === 4 ? (['-4'] as const) : af === 6 ? (['-6'] as const) : (['-4', '-6'] as const)) {
    const via = hop ? ['via', hop] : [];
    const dev = ifname !== null ? ['dev', ifname] : [];
    out.push({
      fam,
      args: ['route', 'replace', 'blackhole', 'default', 'metric', '4294967295', 'table', table],
      undo: ['route', 'flush', 'table', table],
    });
    out.push({ fam, args: ['route', 'replace', 'default', ...via, ...dev, 'table', table], undo: null });
    const rule = ['iif', tun, 'lookup', table, 'priority', String(PRIORITY_ROUTE)];
    out.push({ fam, args: ['rule', 'add', ...rule], undo: ['rule', 'del', ...rule] });
  }
  return out;
}

export class RouteOutputs implements RoutedOutput {
  /** By target number: its TUN, once opened. */
  private readonly tuns: (TunDevice | null)[] = [];
  private readonly undoSteps: { fam: Family; args: string[] }[] = [];
  private readonly offsets = new Uint32Array(1);
  private readonly lengths = new Uint32Array(1);
  /** Targets past MAX_ROUTE_OUTPUTS, refused once each. */
  private readonly refused = new Set<number>();

  constructor(
    private readonly kernel: Kernel,
    private readonly sysctls: SysctlJournal,
    private readonly openTun: (name: string) => TunDevice,
    private readonly warn: (message: string, target: string) => void,
  ) {}

  /** Gives every target of `targets` not yet set up its TUN, table and rule (targets are never renumbered). */
  sync(targets: RouteTargets): void {
    for (let n = 1; n <= targets.count; n++) {
      if (this.tuns[n] || this.refused.has(n)) continue;
      if (n > MAX_ROUTE_OUTPUTS) {
        this.refused.add(n);
        this.warn(`more than ${MAX_ROUTE_OUTPUTS} route targets: packets routed to this one are dropped`, '');
        continue;
      }
      const tun = this.openTun(routeTunName(n));
      this.tuns[n] = tun;
      // packets come back from the TUN with foreign sources (see RouterSetup)
      this.sysctls.set(`net.ipv4.conf.${tun.name}.rp_filter`, '0');
      const steps: Record<Family, string[][]> = { '-4': [], '-6': [] };
      for (const s of planRouteOutput(targets, n)) {
        steps[s.fam].push(s.args);
        if (s.undo) this.undoSteps.push({ fam: s.fam, args: s.undo });
      }
      for (const fam of ['-4', '-6'] as const) {
        try {
          this.kernel.ipBatch(steps[fam], { family: fam });
        } catch (e) {
          this.warn(`route target's kernel route failed: ${(e as Error).message}`, targets.describe(n));
        }
      }
    }
  }

  write(target: number, buf: Uint8Array, start: number, end: number): boolean {
    const tun = this.tuns[target];
    if (!tun) return false;
    this.offsets[0] = start;
    this.lengths[0] = end - start;
    return tun.write(buf as Buffer, this.offsets, this.lengths, 1) === 1;
  }

  /** The TUN names (the routing-table mirror leaves their routes alone). */
  names(): string[] {
    return this.tuns.filter((t): t is TunDevice => t !== null && t !== undefined).map((t) => t.name);
  }

  /** Takes the rules and tables away, last first, and closes the TUNs. */
  undo(): void {
    const batch: Record<Family, string[][]> = { '-4': [], '-6': [] };
    while (this.undoSteps.length) {
      const s = this.undoSteps.pop()!;
      batch[s.fam].push(s.args);
    }
    for (const fam of ['-4', '-6'] as const) this.kernel.ipBatch(batch[fam], { family: fam, force: true });
    for (const t of this.tuns.splice(0)) t?.close();
  }
}
