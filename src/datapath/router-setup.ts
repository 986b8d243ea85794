// Router mode: what arrives on a filtered interface is steered into its TUN
// by a policy-routing rule, and what tunpf writes back is routed by the main
// table. The router's own traffic goes the same way: the kernel's `local`
// rule is moved after tunpf's `iif` rules, so packets to the router are
// filtered before they are delivered, and what the router sends is routed
// into the TUN `tpf-local` by a rule for `iif lo` after the moved `local`
// rule (traffic between the router's own addresses stays on lo). Planned as
// data, applied in order, undone in reverse; a start after a crash removes
// what a dead instance left (tunpf's rules sit in their own priority range
// and its tables in their own number range).

import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Kernel } from '../os/kernel.js';
import { SysctlJournal } from '../os/sysctl-journal.js';

/** The `iif DEV` rules: one priority per filtered interface. */
export const RULE_PRIORITY_BASE = 17000;
export const TABLE_BASE = 17000;
export const MAX_INTERFACES = 64;
/** IPv6: ICMPv6 and multicast for the router go to the local table on the interface they arrived on (ND). */
export const PRIORITY_ICMP6_LOCAL = 16990;
export const PRIORITY_MCAST6_LOCAL = 16991;
/** Where the kernel's `local` rule (priority 0) moves: after every `iif` rule. */
export const PRIORITY_LOCAL = 17100;
/**
 * A socket bound to a device (SO_BINDTODEVICE) only takes routes through that device, and would find
 * OWN_TABLE's blackholes: its traffic goes by the main table, unfiltered (a route cannot say "through tunpf,
 * then out of DEV").
 */
export const PRIORITY_BOUND = 17101;
/** The router's own traffic (`iif lo`), after the moved `local` rule: into tpf-local. */
export const PRIORITY_OWN = 17102;
export const OWN_TABLE = 17100;
export const OWN_TUN = 'tpf-local';
/** route-to's outputs: `iif tpf-rt-N lookup ROUTE_TABLE_BASE+N` (route-outputs.ts), at most MAX_ROUTE_OUTPUTS. */
export const PRIORITY_ROUTE = 16992;
export const ROUTE_TABLE_BASE = 17200;
export const MAX_ROUTE_OUTPUTS = 32;
/** Every rule tunpf adds has a priority in [RULE_PRIORITY_LOW, RULE_PRIORITY_HIGH). */
export const RULE_PRIORITY_LOW = 16990;
export const RULE_PRIORITY_HIGH = 17103;
/** pf's proxy port range (nat-to): reserved from the kernel's ephemeral ports. */
export const NAT_PORT_RANGE = '50001-65535';
/** Fewer ephemeral ports than this left outside the reserved range, and the range is moved below it. */
const MIN_EPHEMERAL_PORTS = 4096;

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

export type Family = '-4' | '-6';

/** One policy rule: the arguments of `ip FAM rule add|del ...`. */
export interface PlannedRule {
  fam: Family;
  args: string[];
}

/** tunpf's policy rules, in the order they are added (the kernel's own `local` rule is moved separately). */
export function planRules(plan: RouterPlan): PlannedRule[] {
  const out: PlannedRule[] = [];
  // ND must be received on the real interface (it is bound to it: hop limit 255, the neighbour cache), and
  // so must multicast; `lookup local` finds nothing for a destination that is not the router's, so forwarded
  // ICMPv6 and multicast go on to the `iif` rules
  out.push({ fam: '-6', args: ['ipproto', 'ipv6-icmp', 'lookup', 'local', 'priority', String(PRIORITY_ICMP6_LOCAL)] });
  out.push({ fam: '-6', args: ['to', 'ff00::/8', 'lookup', 'local', 'priority', String(PRIORITY_MCAST6_LOCAL)] });
  for (const fam of ['-4', '-6'] as const) {
    for (const i of plan.interfaces)
      for (const dev of [i.ifname, ...i.aliases])
        out.push({ fam, args: ['iif', dev, 'lookup', String(i.table), 'priority', String(i.priority)] });
  }
  for (const fam of ['-4', '-6'] as const) {
    out.push({ fam, args: ['lookup', 'local', 'priority', String(PRIORITY_LOCAL)] });
    for (const i of plan.interfaces)
      for (const dev of [i.ifname, ...i.aliases])
        out.push({ fam, args: ['iif', 'lo', 'oif', dev, 'lookup', 'main', 'priority', String(PRIORITY_BOUND)] });
    if (plan.interfaces.length > 0)
      out.push({ fam, args: ['iif', 'lo', 'lookup', String(OWN_TABLE), 'priority', String(PRIORITY_OWN)] });
  }
  return out;
}

interface IpRule {
  priority: number;
  src?: string;
  table?: string;
  [selector: string]: unknown;
}

/** The priorities of the kernel's own `from all lookup local` rules before tunpf's range (normally just 0). */
export function localRulePriorities(rules: readonly IpRule[]): number[] {
  return rules
    .filter((r) => r.table === 'local' && r.priority < RULE_PRIORITY_LOW && Object.keys(r).length === 3)
    .filter((r) => r.src === 'all')
    .map((r) => r.priority);
}

/** ip_local_reserved_ports with pf's proxy range added. */
export function reservedPortsWithNat(current: string): string {
  const cur = current.trim();
  return cur ? `${cur},${NAT_PORT_RANGE}` : NAT_PORT_RANGE;
}

/** A new ip_local_port_range when the current one leaves too few ports outside the reserved range, else null. */
export function ephemeralRangeBesideNat(current: string): string | null {
  const [low, high] = current.trim().split(/\s+/).map(Number) as [number, number];
  const natLow = Number(NAT_PORT_RANGE.split('-')[0]);
  const usable = low < natLow ? Math.min(high, natLow - 1) - low + 1 : 0;
  return usable >= MIN_EPHEMERAL_PORTS ? null : `32768 ${natLow - 1}`;
}

const readRules = (kernel: Kernel, fam: Family): IpRule[] =>
  kernel.ipQuiet(fam, 'rule', 'show') ? (JSON.parse(kernel.ip('-json', fam, 'rule', 'show') || '[]') as IpRule[]) : [];

/**
 * Removes tunpf's policy rules and tables, whoever left them, puts the
 * kernel's `local` rule back where it was (`localRuleJournal` says where; 0
 * without it), and puts back the sysctls a dead instance changed (it wrote
 * them to `journal` first).
 */
export function removeStale(kernel: Kernel, journal?: string, localRuleJournal?: string): number {
  let removed = 0;
  if (journal) SysctlJournal.recover(kernel, journal);
  const moved = localRuleJournal ? readLocalJournal(localRuleJournal) : null;
  for (const fam of ['-4', '-6'] as const) {
    const rules = readRules(kernel, fam);
    const ours = (r: IpRule) => r.priority >= RULE_PRIORITY_LOW && r.priority < RULE_PRIORITY_HIGH;
    // the local table's rule first, so there is never a moment without one
    if (rules.some((r) => ours(r) && r.table === 'local') && localRulePriorities(rules).length === 0) {
      for (const prio of moved?.[fam] ?? [0])
        kernel.ipQuiet(fam, 'rule', 'add', 'lookup', 'local', 'priority', String(prio));
    }
    for (const prio of new Set(rules.filter(ours).map((r) => r.priority))) {
      // several rules may share a priority (an interface and its aliases)
      while (kernel.ipQuiet(fam, 'rule', 'del', 'priority', String(prio))) removed++;
    }
    for (let k = 0; k < MAX_INTERFACES; k++) kernel.ipQuiet(fam, 'route', 'flush', 'table', String(TABLE_BASE + k));
    kernel.ipQuiet(fam, 'route', 'flush', 'table', String(OWN_TABLE));
    const routeTables = Array.from({ length: MAX_ROUTE_OUTPUTS }, (_, k) => String(ROUTE_TABLE_BASE + 1 + k));
    kernel.ipBatch(
      routeTables.map((t) => ['route', 'flush', 'table', t]),
      { family: fam, force: true },
    );
  }
  if (localRuleJournal) removeFile(localRuleJournal);
  return removed + removeStaleProxyNeighbours(kernel);
}

/**
 * Proxy neighbour entries for a device's own address: only tunpf makes them
 * (the kernel answers ARP for its own addresses without), so a start after a
 * crash removes them all.
 */
export function removeStaleProxyNeighbours(kernel: Kernel): number {
  const entries = JSON.parse(kernel.ip('-json', '-4', 'neigh', 'show', 'proxy') || '[]') as {
    dst: string;
    dev: string;
  }[];
  let removed = 0;
  const own = new Map<string, Set<string>>();
  for (const e of entries) {
    let mine = own.get(e.dev);
    if (!mine) own.set(e.dev, (mine = new Set(kernel.addresses(e.dev).map((a) => a.address))));
    if (mine.has(e.dst) && kernel.ipQuiet('neigh', 'del', 'proxy', e.dst, 'dev', e.dev)) removed++;
  }
  return removed;
}

function readLocalJournal(path: string): Record<Family, number[]> | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<Family, number[]>;
  } catch {
    return null;
  }
}

function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never written
  }
}

export class RouterSetup {
  /** What apply() did, undone last first: `ip` commands (batched by family) or other steps. */
  private readonly undoSteps: ({ fam: Family; args: string[] } | (() => void))[] = [];

  /**
   * `sysctls` keeps the old values, so a stop or a start after a crash can
   * restore them; `localRuleJournal` (a file) keeps where the kernel's
   * `local` rule was, for the same reason.
   */
  constructor(
    private readonly kernel: Kernel,
    readonly plan: RouterPlan,
    private readonly sysctls: SysctlJournal,
    private readonly localRuleJournal?: string,
  ) {}

  /**
   * Routes each interface's traffic into its TUN, and the router's own into
   * OWN_TUN (the TUNs must exist and be up; OWN_TABLE is filled by OwnRoutes).
   */
  apply(): void {
    const k = this.kernel;
    const own = this.plan.interfaces.length > 0;
    this.setSysctl('net.ipv4.ip_forward', '1');
    this.setSysctl('net.ipv6.conf.all.forwarding', '1');
    // Packets come back from a TUN with foreign source addresses, and the
    // kernel's reverse-path filter, in any mode, drops those on a device
    // without addresses. The effective mode is max(all, device): so the TUNs
    // get 0, `all` goes to 0, and every other interface keeps the mode it had
    // in effect (spoofing is antispoof's job in the ruleset).
    const all = Number(k.sysctlGet('net.ipv4.conf.all.rp_filter') ?? '0');
    const tuns = new Set([...this.plan.interfaces.map((i) => i.tun), ...(own ? [OWN_TUN] : [])]);
    if (all !== 0) {
      for (const dev of k.ipv4ConfDevices()) {
        if (dev === 'all' || dev === 'default' || tuns.has(dev)) continue;
        const own = Number(k.sysctlGet(`net.ipv4.conf.${dev}.rp_filter`) ?? '0');
        this.setSysctl(`net.ipv4.conf.${dev}.rp_filter`, String(Math.max(all, own)));
      }
      this.setSysctl('net.ipv4.conf.all.rp_filter', '0');
    }
    for (const tun of tuns) this.setSysctl(`net.ipv4.conf.${tun}.rp_filter`, '0');
    // ARP for the router's addresses is answered through proxy entries (OwnRoutes): at once, as the kernel would
    for (const i of this.plan.interfaces)
      for (const dev of [i.ifname, ...i.aliases]) this.setSysctl(`net.ipv4.neigh.${dev}.proxy_delay`, '0');
    if (own) {
      // what the router sent comes back from tpf-local with one of its own addresses as source
      this.setSysctl(`net.ipv4.conf.${OWN_TUN}.accept_local`, '1');
      // early demux hands a packet for a local socket its socket before routing, and the kernel will not forward
      // a packet that has one: it could not be steered into the TUN (this one sysctl covers IPv6 too)
      this.setSysctl('net.ipv4.ip_early_demux', '0');
      this.reserveNatPorts();
    }
    // one `ip -batch` per family: a CARP node's stop and start should not wait for a fork per rule
    const steps: Record<Family, string[][]> = { '-4': [], '-6': [] };
    const step = (fam: Family, args: string[], undo: string[]) => {
      steps[fam].push(args);
      this.undoSteps.push({ fam, args: undo });
    };
    for (const i of this.plan.interfaces) {
      for (const fam of ['-4', '-6'] as const) {
        // Fail closed: if tunpf dies, the kernel removes its TUN and the route
        // through it, and the blackhole keeps the traffic from bypassing the filter.
        const table = String(i.table);
        steps[fam].push(['route', 'replace', 'blackhole', 'default', 'metric', '4294967295', 'table', table]);
        step(fam, ['route', 'replace', 'default', 'dev', i.tun, 'table', table], ['route', 'flush', 'table', table]);
      }
    }
    if (own)
      for (const fam of ['-4', '-6'] as const)
        this.undoSteps.push({ fam, args: ['route', 'flush', 'table', String(OWN_TABLE)] });
    const kernelLocal = new Map((['-4', '-6'] as const).map((fam) => [fam, localRulePriorities(readRules(k, fam))]));
    if (this.localRuleJournal) {
      writeFileSync(this.localRuleJournal, JSON.stringify(Object.fromEntries(kernelLocal)));
      const path = this.localRuleJournal;
      this.undoSteps.push(() => removeFile(path));
    }
    for (const r of planRules(this.plan)) {
      step(r.fam, ['rule', 'add', ...r.args], ['rule', 'del', ...r.args]);
      if (r.args[0] === 'lookup' && r.args[1] === 'local') {
        // the moved `local` rule is in place: the kernel's goes (and comes back on undo; the kernel refuses a
        // duplicate rule, so putting back one that was never removed changes nothing)
        for (const prio of kernelLocal.get(r.fam)!) {
          const kernels = ['lookup', 'local', 'priority', String(prio)];
          step(r.fam, ['rule', 'del', ...kernels], ['rule', 'add', ...kernels]);
        }
      }
    }
    for (const fam of ['-4', '-6'] as const) k.ipBatch(steps[fam], { family: fam });
  }

  /** nat-to's ports never collide with the router's own connections: the kernel leaves them alone. */
  private reserveNatPorts(): void {
    const k = this.kernel;
    const reserved = k.sysctlGet('net.ipv4.ip_local_reserved_ports');
    if (reserved === null) return;
    this.setSysctl('net.ipv4.ip_local_reserved_ports', reservedPortsWithNat(reserved));
    const range = ephemeralRangeBesideNat(k.sysctlGet('net.ipv4.ip_local_port_range') ?? '32768 60999');
    if (range) this.setSysctl('net.ipv4.ip_local_port_range', range);
  }

  private setSysctl(name: string, value: string): void {
    this.sysctls.set(name, value);
  }

  /** Undoes everything apply() did, last change first (each family's `ip` commands in one batch). */
  undo(): void {
    const batch: Record<Family, string[][]> = { '-4': [], '-6': [] };
    const flush = () => {
      for (const fam of ['-4', '-6'] as const) this.kernel.ipBatch(batch[fam].splice(0), { family: fam, force: true });
    };
    while (this.undoSteps.length) {
      const s = this.undoSteps.pop()!;
      if (typeof s !== 'function') {
        batch[s.fam].push(s.args);
        continue;
      }
      flush();
      try {
        s();
      } catch {
        // keep undoing the rest
      }
    }
    flush();
  }
}
