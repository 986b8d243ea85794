// Source tracking for max-src-states, max-src-nodes, max-src-conn and
// max-src-conn-rate: one node per source address with its state count,
// established connection count and connection rate (pf's threshold: a count
// that decays linearly over the rate's period). Touched when a state is made,
// when a TCP connection becomes established and when a state goes, never per
// packet; even then nothing is allocated: the nodes are a struct of arrays
// with a seeded open-addressing index over the address, as the state table.

import { randomBytes } from 'node:crypto';

const THRESHOLD_MULT = 1000;
const MAX_LOAD = 0.75;

export class SourceTracker {
  /** Nodes the arrays hold: `set limit src-nodes` or the state limit, whichever is smaller. */
  capacity = 0;
  /** The most nodes the arrays may grow to: one per state. */
  private readonly ceiling: number;
  /** `set limit src-nodes`: no new node beyond it (pf's PF_LIMIT_SRC_NODES). */
  limit: number;
  /** Per node: address family (0 for a free node) and the address, 4 words. */
  af = new Uint8Array(0);
  words = new Uint32Array(0);
  /** States the source holds, and its established TCP connections. */
  states = new Uint32Array(0);
  conns = new Uint32Array(0);
  /** max-src-conn-rate: the decaying count (times THRESHOLD_MULT) and when it last grew. */
  private rateCount = new Float64Array(0);
  private rateLast = new Float64Array(0);
  /** Open addressing over the address: -1 empty, else a node id. */
  private index = new Int32Array(0);
  /** Free nodes, a stack. */
  private free = new Int32Array(0);
  private freeTop = 0;
  private readonly seed: number;
  size = 0;

  /** `ceiling`: the most sources at once (no more than the states that can hold them); `limit`: set limit src-nodes. */
  constructor(ceiling: number, seed = randomBytes(4).readUInt32LE(0), limit = ceiling) {
    this.ceiling = ceiling;
    this.limit = limit;
    this.seed = seed >>> 0;
    this.grow(Math.min(ceiling, limit));
  }

  /** A new `set limit src-nodes`: nodes held stay; the arrays grow if the new limit needs more (never shrink). */
  setLimit(limit: number): void {
    this.limit = limit;
    const want = Math.min(this.ceiling, limit);
    if (want > this.capacity) this.grow(want);
  }

  /** Bigger arrays with the nodes at the same ids, the index rebuilt for its new size. */
  private grow(capacity: number): void {
    const old = this.capacity;
    const af = new Uint8Array(capacity);
    af.set(this.af);
    this.af = af;
    const words = new Uint32Array(capacity * 4);
    words.set(this.words);
    this.words = words;
    const states = new Uint32Array(capacity);
    states.set(this.states);
    this.states = states;
    const conns = new Uint32Array(capacity);
    conns.set(this.conns);
    this.conns = conns;
    const rateCount = new Float64Array(capacity);
    rateCount.set(this.rateCount);
    this.rateCount = rateCount;
    const rateLast = new Float64Array(capacity);
    rateLast.set(this.rateLast);
    this.rateLast = rateLast;
    // the new ids under the free ones, so the old free ids go first; lowest of the new ones first after them
    const added = capacity - old;
    const free = new Int32Array(capacity);
    for (let k = 0; k < added; k++) free[k] = capacity - 1 - k;
    free.set(this.free.subarray(0, this.freeTop), added);
    this.free = free;
    this.freeTop += added;
    this.capacity = capacity;
    this.index = new Int32Array(Math.max(16, Math.ceil(capacity / MAX_LOAD))).fill(-1);
    const slots = this.index.length;
    for (let id = 0; id < old; id++) {
      if (this.af[id] === 0) continue;
      let s = this.hash(this.af[id]!, this.words, id * 4);
      while (this.index[s]! >= 0) s = s + 1 === slots ? 0 : s + 1;
      this.index[s] = id;
    }
  }

  /** The home slot of the address at w[o, o+4). */
  private hash(af: number, w: ArrayLike<number>, o: number): number {
    let h = this.seed ^ af;
    for (let k = 0; k < 4; k++) {
      h = Math.imul(h ^ w[o + k]!, 0x85ebca6b);
      h ^= h >>> 13;
    }
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return (h >>> 0) % this.index.length;
  }

  private same(id: number, af: number, w: ArrayLike<number>): boolean {
    const o = id * 4;
    const ws = this.words;
    return (
      this.af[id] === af &&
      ws[o] === w[0]! >>> 0 &&
      ws[o + 1] === w[1]! >>> 0 &&
      ws[o + 2] === w[2]! >>> 0 &&
      ws[o + 3] === w[3]! >>> 0
    );
  }

  /** The node id for a source address, created on first use; -1 when every node is taken. */
  acquire(af: number, words: ArrayLike<number>): number {
    const slots = this.index.length;
    let s = this.hash(af, words, 0);
    for (;;) {
      const id = this.index[s]!;
      if (id < 0) break;
      if (this.same(id, af, words)) return id;
      s = s + 1 === slots ? 0 : s + 1;
    }
    if (this.freeTop === 0 || this.size >= this.limit) return -1;
    const id = this.free[--this.freeTop]!;
    this.af[id] = af;
    for (let k = 0; k < 4; k++) this.words[id * 4 + k] = words[k]! >>> 0;
    this.states[id] = 0;
    this.conns[id] = 0;
    this.rateCount[id] = 0;
    this.rateLast[id] = 0;
    this.index[s] = id;
    this.size++;
    return id;
  }

  /** Drops a node once no state refers to it. */
  release(id: number): void {
    if (this.af[id] === 0 || this.states[id]! > 0) return;
    const slots = this.index.length;
    let s = this.hash(this.af[id]!, this.words, id * 4);
    while (this.index[s] !== id) s = s + 1 === slots ? 0 : s + 1;
    // backward-shift deletion: later members of the probe run move up, so no tombstones
    let hole = s;
    for (let j = s + 1 === slots ? 0 : s + 1; this.index[j]! >= 0; j = j + 1 === slots ? 0 : j + 1) {
      const other = this.index[j]!;
      const home = this.hash(this.af[other]!, this.words, other * 4);
      // `other` may fill the hole unless its home lies cyclically in (hole, j]
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        this.index[hole] = other;
        hole = j;
      }
    }
    this.index[hole] = -1;
    this.af[id] = 0;
    this.free[this.freeTop++] = id;
    this.size--;
  }

  /** The address of node id, for overload and killing its states. */
  address(id: number): Uint32Array {
    return this.words.subarray(id * 4, id * 4 + 4);
  }

  /** Records one new connection; returns whether the rate now exceeds count/seconds. */
  addConnection(id: number, now: number, count: number, seconds: number): boolean {
    const diff = now - this.rateLast[id]!;
    if (diff >= seconds) this.rateCount[id] = 0;
    else this.rateCount[id]! -= (this.rateCount[id]! * diff) / seconds;
    this.rateCount[id]! += THRESHOLD_MULT;
    this.rateLast[id] = now;
    return this.rateCount[id]! > count * THRESHOLD_MULT;
  }
}
