// A copy of the kernel's main routing table, so tunpf knows a packet's egress
// interface before the kernel routes it and can evaluate `out on IF` rules,
// and of its local table, so it knows which packets the router keeps (their
// `in` check is the only one). Loaded with `ip -json route show table main`
// and `... table local` into a RouteTable, reloaded when `ip monitor route`
// reports a change (an address change is one too).

import { spawn, type ChildProcess } from 'node:child_process';
import type { Kernel } from '../os/kernel.js';
import type { MainRoute } from './own-routes.js';
import { LOCAL_DELIVERY, routeTo, RouteTable, type Route } from './route-table.js';

/** The local table's kinds of route the router receives itself (multicast is delivered before tunpf). */
const DELIVERED = new Set(['local', 'broadcast', 'anycast']);

export class FibMirror {
  /** What lookups read: the pipeline is given this table. */
  readonly routes = new RouteTable();
  private monitor: ChildProcess | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  /** Routes through these devices are ignored (the TUNs themselves). */
  private readonly ignore: Set<string>;

  /** `onLoad` is given the main table's routes each time they are loaded (the router's own routes follow them). */
  constructor(
    private readonly kernel: Kernel,
    private readonly intern: (ifname: string) => number,
    ignoreDevices: Iterable<string> = [],
    private readonly onLoad: (main: { 4: MainRoute[]; 6: MainRoute[] }) => void = () => {},
  ) {
    this.ignore = new Set(ignoreDevices);
  }

  load(): void {
    const next: Route[] = [];
    const main = { 4: [] as MainRoute[], 6: [] as MainRoute[] };
    for (const af of [4, 6] as const) {
      const fam = af === 4 ? '-4' : '-6';
      const list = this.table(fam, 'main');
      main[af] = list;
      for (const r of list) {
        if (!r.dev || this.ignore.has(r.dev) || (r.type && r.type !== 'unicast')) continue;
        const route = routeTo(prefixText(af, r.dst), r.dev, this.intern(r.dev));
        if (route && route.af === af) next.push(route);
      }
      for (const r of this.table(fam, 'local')) {
        if (!r.type || !DELIVERED.has(r.type)) continue;
        const route = routeTo(prefixText(af, r.dst), r.dev ?? '', LOCAL_DELIVERY);
        if (route && route.af === af) next.push(route);
      }
    }
    this.routes.replace(next);
    this.onLoad(main);
  }

  /** A table's routes; none when the kernel has no such table yet (no address, lo down). */
  private table(fam: string, name: string): MainRoute[] {
    let text: string;
    try {
      text = this.kernel.ip('-json', fam, 'route', 'show', 'table', name);
    } catch {
      return [];
    }
    return JSON.parse(text || '[]') as MainRoute[];
  }

  get size(): number {
    return this.routes.size;
  }

  /** Follows route changes until stop(). */
  watch(onError: (e: Error) => void = () => {}): void {
    this.monitor = spawn('ip', ['monitor', 'route'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor.stdout!.on('data', () => {
      if (this.reloadTimer) return;
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = null;
        try {
          this.load();
        } catch (e) {
          onError(e as Error);
        }
      }, 50);
    });
    this.monitor.on('error', onError);
  }

  stop(): void {
    this.monitor?.kill();
    this.monitor = null;
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
  }
}

/** A route's destination as a prefix ('default' is none). */
function prefixText(af: 4 | 6, dst: string): string {
  return dst !== 'default' ? dst : af === 4 ? '0.0.0.0/0' : '::/0';
}
