// A copy of the kernel's main routing table, so tunpf knows a packet's egress
// interface before the kernel routes it and can evaluate `out on IF` rules.
// Loaded with `ip -json route show table main`, reloaded when `ip monitor
// route` reports a change. Routes are kept longest prefix first; a router has
// tens of routes, and a lookup stops at the first (longest) match.

import { spawn, type ChildProcess } from 'node:child_process';
import { maskAddress, parsePrefix } from '../packet/address.js';
import type { Kernel } from '../os/kernel.js';

interface Route {
  af: 4 | 6;
  net: Uint32Array;
  bits: number;
  mask: Uint32Array;
  dev: string;
  ifId: number;
}

interface IpRoute {
  dst: string;
  dev?: string;
  type?: string;
}

export class FibMirror {
  private routes: Route[] = [];
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
        const p = parsePrefix(text);
        if (!p || p.af !== af) continue;
        const mask = new Uint32Array(4).fill(0xffffffff);
        const net = maskAddress(p.words, p.bits);
        const m = maskAddress(mask, p.bits);
        next.push({ af, net, bits: p.bits, mask: m, dev: r.dev, ifId: this.intern(r.dev) });
      }
    }
    next.sort((a, b) => b.bits - a.bits);
    this.routes = next;
  }

  /** The egress interface id for a destination, or -1 without a route. */
  lookup(af: number, w: Uint32Array): number {
    const routes = this.routes;
    for (let k = 0; k < routes.length; k++) {
      const r = routes[k]!;
      if (r.af !== af) continue;
      const n = r.net;
      const m = r.mask;
      if (((w[0]! & m[0]!) >>> 0) === n[0] && ((w[1]! & m[1]!) >>> 0) === n[1] && ((w[2]! & m[2]!) >>> 0) === n[2] && ((w[3]! & m[3]!) >>> 0) === n[3]) return r.ifId;
    }
    return -1;
  }

  get size(): number {
    return this.routes.length;
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
