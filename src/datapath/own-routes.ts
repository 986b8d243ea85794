// The router's own traffic: OWN_TABLE (looked up for `iif lo`, after the
// kernel's `local` rule) mirrors the main table's unicast routes through the
// filtered interfaces, each through the TUN tpf-local instead, so what the
// router sends reaches tunpf first; tunpf writes it back and the kernel
// routes it by the main table. Each route carries the source address the
// kernel would have picked through the real interface (a TUN has none), and
// a blackhole of the same prefix sits behind it, so nothing leaves unfiltered
// while tunpf is dead. Link-local and multicast destinations are thrown back
// to the main table: they belong to one link, not to a route.

import type { InterfaceAddress, Kernel } from '../os/kernel.js';
import { maskAddress, parseAddress, parsePrefix } from '../packet/address.js';
import { OWN_TABLE, OWN_TUN } from './router-setup.js';

/** A route of `ip -json route show table main`, as far as OWN_TABLE needs it. */
export interface MainRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  prefsrc?: string;
  metric?: number;
  type?: string;
}

const BLACKHOLE_METRIC = '4294967295';
const THROWN: Record<4 | 6, string[]> = { 4: ['224.0.0.0/4', '255.255.255.255/32'], 6: ['fe80::/10', 'ff00::/8'] };

/**
 * The source Linux gives a packet routed by `r` when the socket has none:
 * the route's preferred source; else, IPv4: the egress interface's primary
 * address in the gateway's subnet, else its first primary address; IPv6:
 * the interface's global address sharing the longest prefix with the route's
 * destination (RFC 6724 rules 5 and 8: tpf-local has no address of its own,
 * so the kernel would look at every interface's). Null: the kernel decides.
 */
export function sourceFor(af: 4 | 6, r: MainRoute, addresses: readonly InterfaceAddress[]): string | null {
  if (r.prefsrc) return r.prefsrc;
  if (af === 6) return closestGlobal6(r.dst, addresses);
  const primary = addresses.filter((a) => a.af === 4 && !a.secondary && a.scope !== 'host');
  const gw = r.gateway ? parseAddress(r.gateway) : null;
  if (gw && gw.af === 4) {
    const inSubnet = primary.find((a) => {
      const p = parsePrefix(`${a.address}/${a.bits}`);
      return p !== null && maskAddress(p.words, a.bits)[0] === maskAddress(gw.words, a.bits)[0];
    });
    if (inSubnet) return inSubnet.address;
  }
  return primary[0]?.address ?? null;
}

function closestGlobal6(dst: string, addresses: readonly InterfaceAddress[]): string | null {
  const net = parsePrefix(dst === 'default' ? '::/0' : dst);
  let best: string | null = null;
  let bestBits = -1;
  for (const a of addresses) {
    if (a.af !== 6 || a.scope !== 'global') continue;
    const w = parseAddress(a.address);
    if (!w || !net) continue;
    let bits = 0;
    while (bits < net.bits && bitAt(w.words, bits) === bitAt(net.words, bits)) bits++;
    if (bits > bestBits) [best, bestBits] = [a.address, bits];
  }
  return best;
}

const bitAt = (w: ArrayLike<number>, k: number) => (w[k >>> 5]! >>> (31 - (k & 31))) & 1;

/** Whether the destination belongs to one link (link-local, multicast, limited broadcast). */
function linkScoped(af: 4 | 6, dst: string): boolean {
  if (dst === 'default') return false;
  const p = parsePrefix(dst);
  if (!p) return true;
  const w = p.words[0]!;
  return af === 4 ? w >>> 28 === 0xe || w === 0xffffffff : w >>> 22 === 0x3fa || w >>> 24 === 0xff;
}

/**
 * OWN_TABLE's routes for one family, as `ip route replace` arguments:
 * `managed` are the devices whose routes lead into tunpf.
 */
export function planOwnRoutes(
  af: 4 | 6,
  main: readonly MainRoute[],
  managed: ReadonlySet<string>,
  addressesOf: (dev: string) => readonly InterfaceAddress[],
): string[][] {
  const table = String(OWN_TABLE);
  const out: string[][] = THROWN[af].map((p) => ['throw', p, 'table', table]);
  const blackholes = new Set<string>();
  for (const r of main) {
    if (!r.dev || !managed.has(r.dev) || (r.type && r.type !== 'unicast') || linkScoped(af, r.dst)) continue;
    const src = sourceFor(af, r, addressesOf(r.dev));
    // the prefix says the family (`ip -batch` takes no -4/-6)
    const dst = r.dst !== 'default' ? r.dst : af === 4 ? '0.0.0.0/0' : '::/0';
    out.push([
      dst,
      'dev',
      OWN_TUN,
      ...(src ? ['src', src] : []),
      ...(r.metric !== undefined ? ['metric', String(r.metric)] : []),
      'table',
      table,
    ]);
    blackholes.add(dst);
  }
  for (const dst of blackholes) out.push(['blackhole', dst, 'metric', BLACKHOLE_METRIC, 'table', table]);
  return out;
}

/**
 * ARP asks the routing table whether the target is the router's, as if an
 * IP packet had arrived: with the `iif` rules the answer is "unicast through
 * the TUN", and the kernel stays silent. A proxy neighbour entry for each of
 * the device's own IPv4 addresses has it answer (with the device's MAC) for
 * exactly those: as `ip neigh replace proxy ADDR dev DEV` arguments.
 */
export function planProxyNeighbours(
  managed: ReadonlySet<string>,
  addressesOf: (dev: string) => readonly InterfaceAddress[],
): string[][] {
  const out: string[][] = [];
  for (const dev of managed)
    for (const a of addressesOf(dev)) if (a.af === 4 && a.scope !== 'host') out.push([a.address, 'dev', dev]);
  return out;
}

/**
 * Keeps OWN_TABLE in step with the main table, and the proxy neighbours with
 * the addresses: what is new goes in before what is stale goes out.
 */
export class OwnRoutes {
  private current = new Map<string, string[]>();

  constructor(
    private readonly kernel: Kernel,
    private readonly managed: ReadonlySet<string>,
  ) {}

  sync(main: { 4: readonly MainRoute[]; 6: readonly MainRoute[] }): void {
    const addresses = new Map<string, InterfaceAddress[]>();
    const addressesOf = (dev: string) => {
      let a = addresses.get(dev);
      if (!a) addresses.set(dev, (a = this.kernel.addresses(dev)));
      return a;
    };
    const next = new Map<string, string[]>();
    for (const af of [4, 6] as const)
      for (const args of planOwnRoutes(af, main[af], this.managed, addressesOf))
        next.set(`route ${args.join(' ')}`, ['route', ...args]);
    for (const args of planProxyNeighbours(this.managed, addressesOf))
      next.set(`neigh proxy ${args.join(' ')}`, ['neigh', 'proxy', ...args]);
    const add = [...next]
      .filter(([key]) => !this.current.has(key))
      .map(([, [what, ...args]]) => [what!, 'replace', ...args]);
    const del = [...this.current]
      .filter(([key]) => !next.has(key))
      .map(([, [what, ...args]]) => [what!, 'del', ...args]);
    this.kernel.ipBatch(add);
    this.kernel.ipBatch(del, { force: true });
    this.current = next;
  }

  /** Removes the proxy neighbours (the routes go with OWN_TABLE's flush). */
  clear(): void {
    const neighbours = [...this.current.values()].filter(([what]) => what === 'neigh');
    this.kernel.ipBatch(
      neighbours.map(([, ...args]) => ['neigh', 'del', ...args]),
      { force: true },
    );
    this.current.clear();
  }
}
