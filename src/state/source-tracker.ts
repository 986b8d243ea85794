// Source tracking for max-src-states, max-src-conn and max-src-conn-rate:
// one node per source address with its state count, established
// connection count and connection rate (pf's threshold: a count that decays
// linearly over the rate's period). Touched when a state is made, when a TCP
// connection becomes established and when a state goes, never per packet.

import { formatAddress } from '../packet/address.js';

const THRESHOLD_MULT = 1000;

export class SourceNode {
  states = 0;
  conns = 0;
  rateCount = 0;
  rateLast = 0;
  constructor(
    readonly key: string,
    readonly af: number,
    readonly words: Uint32Array,
  ) {}
}

export class SourceTracker {
  private readonly byKey = new Map<string, SourceNode>();
  private readonly byId: (SourceNode | null)[] = [];
  private readonly freeIds: number[] = [];
  private readonly ids = new Map<SourceNode, number>();

  get size(): number {
    return this.byKey.size;
  }

  /** The node id for a source address, created on first use. */
  acquire(af: number, words: ArrayLike<number>): number {
    const key = `${af}:${formatAddress(af, words)}`;
    let node = this.byKey.get(key);
    if (!node) {
      node = new SourceNode(key, af, Uint32Array.from({ length: 4 }, (_, i) => words[i]! >>> 0));
      this.byKey.set(key, node);
      const id = this.freeIds.pop() ?? this.byId.length;
      this.byId[id] = node;
      this.ids.set(node, id);
    }
    return this.ids.get(node)!;
  }

  node(id: number): SourceNode {
    return this.byId[id]!;
  }

  /** Drops a node once nothing refers to it. */
  release(id: number): void {
    const node = this.byId[id];
    if (!node || node.states > 0) return;
    this.byKey.delete(node.key);
    this.ids.delete(node);
    this.byId[id] = null;
    this.freeIds.push(id);
  }

  /** Records one new connection; returns whether the rate now exceeds count/seconds. */
  addConnection(id: number, now: number, count: number, seconds: number): boolean {
    const n = this.node(id);
    const diff = now - n.rateLast;
    if (diff >= seconds) n.rateCount = 0;
    else n.rateCount -= (n.rateCount * diff) / seconds;
    n.rateCount += THRESHOLD_MULT;
    n.rateLast = now;
    return n.rateCount > count * THRESHOLD_MULT;
  }
}
