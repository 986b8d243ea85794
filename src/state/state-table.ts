// The state table: struct-of-arrays storage in typed arrays, addressed by
// index, with an open-addressing hash index (linear probing, backward-shift
// deletion, no tombstones) over the flow key. No object per state, no string
// keys, no allocation per lookup.
//
// Key and orientation follow pf: a state's side 0 (addr/port index 0, peer
// "src") is the initiator, the host that sent the packet which created the
// state; side 1 ("dst") is the other end. The hash is symmetric, so a packet
// of either direction finds the state with one probe sequence, and `forward`
// says which way it went.
//
// Each state holds the wire key only; the stack key (what NAT would rewrite)
// lives in a sparse side table that is empty without translation, so adding
// NAT later adds entries there instead of 40 bytes to every state.
//
// The hash is keyed with random seeds chosen at start: nobody outside can
// compute which flows collide, so hash flooding cannot degrade the probes.
//
// Memory per state (bytes): addresses 32, ports 4, af+proto 2, peers 24
// (seqlo, seqhi 4+4, max_win 2, wscale 1, state 1, times two), rule 2,
// creation+last activity 8, timeout class 1, packets 8, bytes 16, interface
// and direction 2, flags 2, sync status 1, id+creator 12, source node 4, and
// the index at a load factor of at most 0.75 (4 bytes a slot): 126 at 1M states.

import { randomBytes } from 'node:crypto';
import { FLOATING, NO_RULE } from './constants.js';

export const MAX_LOAD = 0.75;

function nextPow2(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface StateTableOptions {
  capacity: number;
  /** 32-bit creator id of this node (pf's hostid); random and non-zero by default. */
  hostid?: number;
  /** Seconds since the epoch when the table started: the high word of local state ids. */
  startSeconds?: number;
  /** Hash seeds; random by default. Tests pass fixed ones. */
  seeds?: Uint32Array;
}

export class StateTable {
  readonly capacity: number;
  readonly slots: number;
  private readonly mask: number;
  readonly index: Int32Array;

  readonly af: Uint8Array;
  readonly proto: Uint8Array;
  /** 8 words per state: side 0 address, then side 1 address. */
  readonly addr: Uint32Array;
  /** 2 per state: side 0 port, side 1 port (ICMP: the echo id in both). */
  readonly port: Uint16Array;
  // peers: 2 per state, [0] = src (initiator), [1] = dst
  readonly seqlo: Uint32Array;
  readonly seqhi: Uint32Array;
  readonly maxWin: Uint16Array;
  /** Window shift in the low 4 bits, 0x80 when the option was seen (pf's PF_WSCALE_FLAG). */
  readonly wscale: Uint8Array;
  readonly peerState: Uint8Array;
  readonly rule: Uint16Array;
  readonly creation: Uint32Array;
  readonly lastActive: Uint32Array;
  readonly timeoutClass: Uint8Array;
  /** 2 per state: [0] in the creating packet's direction, [1] the reverse. */
  readonly packets: Uint32Array;
  readonly bytes: Float64Array;
  /** Interface id for if-bound states, FLOATING otherwise. */
  readonly ifId: Uint8Array;
  /** Direction of the creating packet: 1 in, 2 out. */
  readonly direction: Uint8Array;
  readonly flags: Uint16Array;
  /** pfsync's queue membership; 0 = none. */
  readonly syncStatus: Uint8Array;
  readonly idHi: Uint32Array;
  readonly idLo: Uint32Array;
  readonly creator: Uint32Array;
  /** Source-tracking node, or -1. Free states chain the free list through it. */
  readonly srcNode: Int32Array;

  /** Sparse: stack keys of translated states (none without NAT). */
  readonly stackKeys = new Map<number, { addr: Uint32Array; port: Uint16Array }>();
  /** Sparse: sequence modulation offsets (modulate state). */
  readonly seqDiff = new Map<number, Uint32Array>();

  count = 0;
  private freeHead = -1;
  private highWater = 0;
  private idCounter = 0;
  readonly hostid: number;
  readonly startSeconds: number;
  private readonly s0: number;
  private readonly s1: number;
  private readonly s2: number;
  /** After find(): true when the packet travelled from side 0 to side 1. */
  forward = true;
  /** Probes done by the last find() (the hash-flooding test reads it). */
  lastProbes = 0;

  constructor(opts: StateTableOptions) {
    if (!(opts.capacity >= 1)) throw new RangeError('state table capacity must be at least 1');
    const cap = (this.capacity = Math.floor(opts.capacity));
    this.slots = nextPow2(Math.ceil(cap / MAX_LOAD));
    this.mask = this.slots - 1;
    this.index = new Int32Array(this.slots).fill(-1);
    this.af = new Uint8Array(cap);
    this.proto = new Uint8Array(cap);
    this.addr = new Uint32Array(cap * 8);
    this.port = new Uint16Array(cap * 2);
    this.seqlo = new Uint32Array(cap * 2);
    this.seqhi = new Uint32Array(cap * 2);
    this.maxWin = new Uint16Array(cap * 2);
    this.wscale = new Uint8Array(cap * 2);
    this.peerState = new Uint8Array(cap * 2);
    this.rule = new Uint16Array(cap);
    this.creation = new Uint32Array(cap);
    this.lastActive = new Uint32Array(cap);
    this.timeoutClass = new Uint8Array(cap);
    this.packets = new Uint32Array(cap * 2);
    this.bytes = new Float64Array(cap * 2);
    this.ifId = new Uint8Array(cap);
    this.direction = new Uint8Array(cap);
    this.flags = new Uint16Array(cap);
    this.syncStatus = new Uint8Array(cap);
    this.idHi = new Uint32Array(cap);
    this.idLo = new Uint32Array(cap);
    this.creator = new Uint32Array(cap);
    this.srcNode = new Int32Array(cap).fill(-1);
    const rb = randomBytes(12);
    const seeds = opts.seeds ?? Uint32Array.of(rb.readUInt32LE(0), rb.readUInt32LE(4), rb.readUInt32LE(8));
    this.s0 = seeds[0]! >>> 0;
    this.s1 = seeds[1]! >>> 0;
    this.s2 = seeds[2]! >>> 0;
    let hostid = opts.hostid ?? 0;
    while (hostid === 0) hostid = randomBytes(4).readUInt32BE(0);
    this.hostid = hostid >>> 0;
    this.startSeconds = (opts.startSeconds ?? Math.floor(Date.now() / 1000)) >>> 0;
  }

  /** Bytes of typed-array memory the table holds (the index included). */
  get memoryBytes(): number {
    const arrays = [this.index, this.af, this.proto, this.addr, this.port, this.seqlo, this.seqhi, this.maxWin, this.wscale, this.peerState, this.rule, this.creation, this.lastActive, this.timeoutClass, this.packets, this.bytes, this.ifId, this.direction, this.flags, this.syncStatus, this.idHi, this.idLo, this.creator, this.srcNode];
    return arrays.reduce((n, a) => n + a.byteLength, 0);
  }

  private sideHash(w: ArrayLike<number>, o: number, port: number): number {
    let h = this.s0;
    h = Math.imul(h ^ w[o]!, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ w[o + 1]!, 0xc2b2ae35);
    h ^= h >>> 16;
    h = Math.imul(h ^ w[o + 2]!, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ w[o + 3]!, 0xc2b2ae35);
    h ^= h >>> 16;
    h = Math.imul(h ^ port ^ this.s1, 0x27d4eb2f);
    h ^= h >>> 15;
    return h;
  }

  /** Symmetric in the two sides: (a, b) and (b, a) hash alike. */
  hash(af: number, proto: number, a: ArrayLike<number>, ao: number, aport: number, b: ArrayLike<number>, bo: number, bport: number): number {
    const sum = (this.sideHash(a, ao, aport) + this.sideHash(b, bo, bport)) | 0;
    return fmix(sum ^ Math.imul(proto | (af << 8), 0x9e3779b1) ^ this.s2);
  }

  private hashOf(i: number): number {
    return this.hash(this.af[i]!, this.proto[i]!, this.addr, i * 8, this.port[i * 2]!, this.addr, i * 8 + 4, this.port[i * 2 + 1]!);
  }

  private sideEquals(i: number, side: number, w: ArrayLike<number>, port: number): boolean {
    const o = i * 8 + side * 4;
    const a = this.addr;
    return this.port[i * 2 + side] === port && a[o] === w[0] && a[o + 1] === w[1] && a[o + 2] === w[2] && a[o + 3] === w[3];
  }

  /** The state of a flow, from either direction; -1 when there is none. Sets `forward`. */
  find(af: number, proto: number, src: ArrayLike<number>, sport: number, dst: ArrayLike<number>, dport: number): number {
    let slot = this.hash(af, proto, src, 0, sport, dst, 0, dport) & this.mask;
    let probes = 1;
    for (;;) {
      const i = this.index[slot]!;
      if (i < 0) {
        this.lastProbes = probes;
        return -1;
      }
      if (this.proto[i] === proto && this.af[i] === af) {
        if (this.sideEquals(i, 0, src, sport) && this.sideEquals(i, 1, dst, dport)) {
          this.forward = true;
          this.lastProbes = probes;
          return i;
        }
        if (this.sideEquals(i, 0, dst, dport) && this.sideEquals(i, 1, src, sport)) {
          this.forward = false;
          this.lastProbes = probes;
          return i;
        }
      }
      slot = (slot + 1) & this.mask;
      probes++;
    }
  }

  /**
   * A new state for the flow src:sport -> dst:dport (the initiator first),
   * with zeroed fields. Returns its index, -1 when the table is full, -2 when
   * the flow has a state already.
   */
  insert(af: number, proto: number, src: ArrayLike<number>, sport: number, dst: ArrayLike<number>, dport: number): number {
    if (this.count >= this.capacity) return -1;
    if (this.find(af, proto, src, sport, dst, dport) >= 0) return -2;
    let i: number;
    if (this.freeHead >= 0) {
      i = this.freeHead;
      this.freeHead = this.srcNode[i]!;
    } else i = this.highWater++;
    this.af[i] = af;
    this.proto[i] = proto;
    const o = i * 8;
    for (let k = 0; k < 4; k++) {
      this.addr[o + k] = src[k]!;
      this.addr[o + 4 + k] = dst[k]!;
    }
    this.port[i * 2] = sport;
    this.port[i * 2 + 1] = dport;
    for (let p = i * 2; p < i * 2 + 2; p++) {
      this.seqlo[p] = 0;
      this.seqhi[p] = 0;
      this.maxWin[p] = 0;
      this.wscale[p] = 0;
      this.peerState[p] = 0;
      this.packets[p] = 0;
      this.bytes[p] = 0;
    }
    this.rule[i] = NO_RULE;
    this.creation[i] = 0;
    this.lastActive[i] = 0;
    this.timeoutClass[i] = 0;
    this.ifId[i] = FLOATING;
    this.direction[i] = 0;
    this.flags[i] = 0;
    this.syncStatus[i] = 0;
    this.idHi[i] = this.startSeconds;
    this.idLo[i] = ++this.idCounter >>> 0;
    this.creator[i] = this.hostid;
    this.srcNode[i] = -1;
    let slot = this.hashOf(i) & this.mask;
    while (this.index[slot]! >= 0) slot = (slot + 1) & this.mask;
    this.index[slot] = i;
    this.count++;
    return i;
  }

  /** Removes state i. Backward-shift deletion keeps every probe chain intact without tombstones. */
  remove(i: number): void {
    let slot = this.hashOf(i) & this.mask;
    while (this.index[slot] !== i) {
      if (this.index[slot]! < 0) throw new Error(`state ${i} is not in the index`);
      slot = (slot + 1) & this.mask;
    }
    let hole = slot;
    let next = (hole + 1) & this.mask;
    for (;;) {
      const j = this.index[next]!;
      if (j < 0) break;
      const home = this.hashOf(j) & this.mask;
      // j may move into the hole if its home is not in (hole, next]
      const inRange = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!inRange) {
        this.index[hole] = j;
        hole = next;
      }
      next = (next + 1) & this.mask;
    }
    this.index[hole] = -1;
    this.af[i] = 0;
    this.stackKeys.delete(i);
    this.seqDiff.delete(i);
    this.srcNode[i] = this.freeHead;
    this.freeHead = i;
    this.count--;
  }

  /** Whether index i holds a live state. */
  live(i: number): boolean {
    return i >= 0 && i < this.highWater && this.af[i] !== 0;
  }

  /** Upper bound of state indices ever used (for iteration). */
  get extent(): number {
    return this.highWater;
  }

  /** Calls fn for every live state; fn may not remove states (collect first). */
  forEach(fn: (i: number) => void): void {
    for (let i = 0; i < this.highWater; i++) if (this.af[i] !== 0) fn(i);
  }

  /** Removes every state; returns how many went. */
  clear(): number {
    const n = this.count;
    this.index.fill(-1);
    this.af.fill(0);
    this.stackKeys.clear();
    this.seqDiff.clear();
    this.freeHead = -1;
    this.highWater = 0;
    this.count = 0;
    return n;
  }

  /** Finds a state by its pfsync identity (creator id + 64-bit id); -1 if none. Linear: not for the packet path. */
  findById(creator: number, idHi: number, idLo: number): number {
    for (let i = 0; i < this.highWater; i++) {
      if (this.af[i] !== 0 && this.idLo[i] === idLo && this.idHi[i] === idHi && this.creator[i] === creator) return i;
    }
    return -1;
  }
}
