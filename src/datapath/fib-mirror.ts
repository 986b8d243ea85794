// A copy of the kernel's main routing table, so tunpf knows a packet's egress
// interface before the kernel routes it and can evaluate `out on IF` rules.
// Loaded with `ip -json route show table main` into a RouteTable, reloaded
// when `ip monitor route` reports a change.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Kernel } from '../os/kernel.js';
import { routeTo, RouteTable, type Route } from './route-table.js';

interface IpRoute {
  dst: string;
  dev?: string;
  type?: string;
}

export class FibMirror {
  /** What lookups read: the pipeline is given this table. */
  readonly routes = new RouteTable();
  private monitor: ChildProcess | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  /** Routes through these devices are ignored (the TUNs themselves). */
  private readonly ignore: Set<string>;

  constructor(
    private readonly kernel: Kernel,
    private readonly intern: (ifname: string) => number,
    ignoreDevices: Iterable<string> = [],
  ) {
    this.ignore = new Set(ignoreDevices);
  }

  load(): void {
    const next: Route[] = [];
    for (const fam of ['-4', '-6'] as const) {
      const list = JSON.parse(this.kernel.ip('-json', fam, 'route', 'show', 'table', 'main') || '[]') as IpRoute[];
      for (const r of list) {
        if (!r.dev || this.ignore.has(r.dev) || (r.type && r.type !== 'unicast')) continue;
        const af = fam === '-4' ? 4 : 6;
        const text = r.dst === 'default' ? (af === 4 ? '0.0.0.0/0' : '::/0') : r.dst;
        const route = routeTo(text, r.dev, this.intern(r.dev));
        if (route && route.af === af) next.push(route);
      }
    }
    this.routes.replace(next);
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
