// A routing table reduced to what filtering needs: the egress interface of a
// destination, by longest prefix. The kernel's main table fills it in the
// daemon (FibMirror); `--route PREFIX=IF` flags fill it in `tunpf replay`.
// Routes are kept longest prefix first; a router has tens of routes, and a
// lookup stops at the first (longest) match.

import { maskAddress, parsePrefix } from '../packet/address.js';

/** What lookup() answers for one of the router's own addresses (the kernel's local table): no egress. */
export const LOCAL_DELIVERY = -2;

/** What the packet pipeline asks of a routing table. */
export interface RouteLookup {
  /** The egress interface id for a destination, LOCAL_DELIVERY for the router's own, or -1 without a route. */
  lookup(af: number, dst: Uint32Array): number;
}

export interface Route {
  af: 4 | 6;
  /** The network, masked to `bits`. */
  net: Uint32Array;
  bits: number;
  mask: Uint32Array;
  dev: string;
  /** The egress interface id, or LOCAL_DELIVERY. */
  ifId: number;
}

const ALL_ONES = new Uint32Array(4).fill(0xffffffff);

/** A route from its prefix text ('default' is not a prefix: say 0.0.0.0/0 or ::/0); null when not a prefix. */
export function routeTo(prefix: string, dev: string, ifId: number): Route | null {
  const p = parsePrefix(prefix);
  if (!p) return null;
  return { af: p.af, net: maskAddress(p.words, p.bits), bits: p.bits, mask: maskAddress(ALL_ONES, p.bits), dev, ifId };
}

export class RouteTable implements RouteLookup {
  private routes: Route[] = [];

  /** Replaces every route (the order given does not matter). */
  replace(routes: readonly Route[]): void {
    this.routes = [...routes].sort((a, b) => b.bits - a.bits);
  }

  lookup(af: number, w: Uint32Array): number {
    const routes = this.routes;
    for (let k = 0; k < routes.length; k++) {
      const r = routes[k]!;
      if (r.af !== af) continue;
      const n = r.net;
      const m = r.mask;
      if (
        (w[0]! & m[0]!) >>> 0 === n[0] &&
        (w[1]! & m[1]!) >>> 0 === n[1] &&
        (w[2]! & m[2]!) >>> 0 === n[2] &&
        (w[3]! & m[3]!) >>> 0 === n[3]
      )
        return r.ifId;
    }
    return -1;
  }

  get size(): number {
    return this.routes.length;
  }
}
