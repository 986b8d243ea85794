// The targets of a ruleset's route-to, reply-to and dup-to options, numbered
// from 1 so a state keeps its route in 14 bits (state/constants.ts routeOf):
// pf keeps rt_addr and rt_kif per state; tunpf keeps the target's number and
// looks the interface and next hop up here. Numbers survive reloads (a target
// written again keeps its number), so the states of a reloaded ruleset still
// leave where they left. Each routing rule has a pool: the state's target is
// chosen when it is created, as pf_map_addr chooses rt_addr.

import { randomInt } from 'node:crypto';
import { formatAddress } from '../packet/address.js';
import type { PoolType, RouteKind, RouteTarget, Ruleset } from '../rules/ast.js';
import { ROUTE_TARGET_MAX, RouteCode, routeOf, routeTarget } from '../state/constants.js';
import type { InterfaceRegistry } from './interface-registry.js';
import { keyedHash } from './translator.js';

const CODES: Record<RouteKind, number> = {
  'route-to': RouteCode.ROUTE_TO,
  'dup-to': RouteCode.DUP_TO,
  'reply-to': RouteCode.REPLY_TO,
};

/** One rule's routing pool. */
class RoutePool {
  next = 0; // round-robin position
  constructor(
    readonly code: number,
    readonly targets: Uint16Array,
    readonly type: PoolType,
    readonly key: Uint32Array,
  ) {}
}

export class RouteTargets {
  /** By target number (index 0 unused): the interface's id, or -1 (reached by the route to the next hop). */
  readonly ifId: number[] = [-1];
  readonly ifname: (string | null)[] = [null];
  /** 0 when the target has no next hop (the packet's destination is the next hop). */
  readonly af: number[] = [0];
  /** The next hop's address words, null when the target has none. */
  readonly nexthop: (Uint32Array | null)[] = [null];
  private readonly numbers = new Map<string, number>();
  private readonly pools: (RoutePool | null)[] = [];

  /** The targets of `ruleset`; those `previous` knew keep their numbers. */
  constructor(
    ruleset: Ruleset,
    interfaces: InterfaceRegistry,
    previous: RouteTargets | null = null,
    private readonly random: (n: number) => number = (n) => randomInt(n),
  ) {
    if (previous) {
      for (const [k, n] of previous.numbers) this.numbers.set(k, n);
      this.ifId = [...previous.ifId];
      this.ifname = [...previous.ifname];
      this.af = [...previous.af];
      this.nexthop = [...previous.nexthop];
    }
    for (const r of ruleset.rules) {
      if (!r.route) {
        this.pools.push(null);
        continue;
      }
      const targets = Uint16Array.from(r.route.targets, (t) => this.number(t, interfaces));
      const key = r.route.hashKey ?? Uint32Array.from({ length: 4 }, () => randomInt(0x100000000));
      this.pools.push(new RoutePool(CODES[r.route.kind], targets, r.route.type, key));
    }
  }

  /** How many targets are numbered. */
  get count(): number {
    return this.ifId.length - 1;
  }

  /** A target as text, `(if nexthop)`, `if` or `nexthop`, for logs and the datapath's setup. */
  describe(target: number): string {
    const words = this.nexthop[target];
    const hop = words ? formatAddress(this.af[target]!, words) : '';
    const ifname = this.ifname[target];
    return ifname === null ? hop : hop ? `(${ifname} ${hop})` : ifname!;
  }

  /**
   * The route a new state of rule `nr` keeps (routeOf), 0 when the rule routes nothing:
   * round-robin in turn, random, source-hash by the keyed hash of the source.
   */
  choose(nr: number, src: Uint32Array): number {
    const pool = this.pools[nr];
    if (!pool) return 0;
    const n = pool.targets.length;
    let k = 0;
    if (n > 1) {
      if (pool.type === 'random') k = this.random(n);
      else if (pool.type === 'source-hash') k = keyedHash(pool.key, src) % n;
      else {
        k = pool.next;
        pool.next = (k + 1) % n;
      }
    }
    return routeOf(pool.code, pool.targets[k]!);
  }

  /** The next hop of a state's route (pfsync's rt_addr), null when its target has none. */
  nexthopOf(route: number): Uint32Array | null {
    return this.nexthop[routeTarget(route)] ?? null;
  }

  /** The route for a peer's state (pfsync's rt, rt_addr): the first target with that next hop, 0 when none has it. */
  find(code: number, af: number, addr: Uint32Array): number {
    if (code < RouteCode.ROUTE_TO || code > RouteCode.REPLY_TO) return 0;
    for (let n = 1; n < this.af.length; n++) {
      const hop = this.nexthop[n];
      if (
        hop &&
        this.af[n] === af &&
        hop[0] === addr[0] &&
        hop[1] === addr[1] &&
        hop[2] === addr[2] &&
        hop[3] === addr[3]
      )
        return routeOf(code, n);
    }
    return 0;
  }

  private number(t: RouteTarget, interfaces: InterfaceRegistry): number {
    const hop = t.nexthop ? formatAddress(t.nexthop.af, t.nexthop.words) : '';
    const key = `${t.ifname ?? ''} ${hop}`;
    let n = this.numbers.get(key);
    if (n !== undefined) return n;
    n = this.ifId.length;
    if (n > ROUTE_TARGET_MAX) throw new Error(`more than ${ROUTE_TARGET_MAX} route targets`);
    this.numbers.set(key, n);
    this.ifId.push(t.ifname === null ? -1 : interfaces.intern(t.ifname));
    this.ifname.push(t.ifname);
    this.af.push(t.nexthop ? t.nexthop.af : 0);
    this.nexthop.push(t.nexthop ? Uint32Array.from(t.nexthop.words) : null);
    return n;
  }
}
