// `scrub (reassemble tcp)`: pf's stateful TCP normalisation (pf_norm.c:
// pf_normalize_tcp_init, pf_normalize_tcp_stateful, pf_normalize_tcp_cleanup).
// Per state and side, pf keeps a pf_state_scrub: the highest TTL the side
// sent (its later packets are raised to it), a random offset its TCP
// timestamps are shifted by (and the other side's echoes shifted back), and
// the timestamps it sent and echoed, which make an extended PAWS check that
// drops stale or forged segments.
//
// Only states with reassemble tcp hold this data, so it lives in its own
// pool, reached from the state number through a small open-addressing map:
// a state without it pays no bytes. The pool grows by doubling when a state
// is given data (never per packet).
//
// Timestamps here are as the hosts send them (unmodulated); the packet is
// rewritten by the pipeline with what update() leaves in a TcpNormalization.

import { TCPFlag, type PacketMeta } from '../packet/meta.js';
import { TcpState } from './constants.js';

/** pfss_flags; PFSS_TIMESTAMP is the one pfsync carries. */
export const PfssFlag = {
  TIMESTAMP: 0x0001,
  PAWS: 0x0010,
  PAWS_IDLED: 0x0020,
  DATA_TS: 0x0040,
  DATA_NOTS: 0x0080,
} as const;
/** Not pf's: the side has its scrub data (pf: peer->scrub != NULL). */
export const PFSS_PRESENT = 0x8000;

/** pf: timestamps are not checked after this long idle (a 1 kHz clock wraps in 24 days)... */
const TS_MAX_IDLE = 24 * 24 * 60 * 60;
/** ...nor on connections older than this (the echo's lower bound only holds so long). */
const TS_MAX_CONN = 12 * 24 * 60 * 60;
/** The fastest timestamp clock RFC 1323 allows, 1 kHz, plus 10 %. */
const TS_MAXFREQ = 1100;

const seqLt = (a: number, b: number) => ((a - b) | 0) < 0;
const seqGt = (a: number, b: number) => ((a - b) | 0) > 0;
const seqGeq = (a: number, b: number) => ((a - b) | 0) >= 0;

/** What a passed packet of a normalised state is rewritten with (by the last update()). */
export class TcpNormalization {
  /** The packet is to be rewritten. */
  active = false;
  /** Its TTL / hop limit is raised to this. */
  ttl = 0;
  /** Added to its timestamp value, subtracted from its echo (0: that field stays). */
  tsvalAdd = 0;
  tsecrSub = 0;
}

export class TcpScrubTable {
  /** state -> slot: keys (state number, -1 empty) and slots, linear probing. */
  private keys: Int32Array;
  private slots: Int32Array;
  private mask: number;
  // per side: row = slot * 2 + side (0 the initiator)
  flags: Uint16Array;
  ttl: Uint8Array;
  tsMod: Uint32Array;
  tsval: Uint32Array;
  tsval0: Uint32Array;
  tsecr: Uint32Array;
  /** When the side's last timestamp was taken (seconds). */
  last: Float64Array;
  /** Free slots chain through here. */
  private nextFree: Int32Array;
  private freeHead = -1;
  private highWater = 0;
  count = 0;
  private readonly random = new Uint32Array(64);
  private randomLeft = 0;

  constructor(initial = 16) {
    const n = Math.max(4, initial);
    this.flags = new Uint16Array(n * 2);
    this.ttl = new Uint8Array(n * 2);
    this.tsMod = new Uint32Array(n * 2);
    this.tsval = new Uint32Array(n * 2);
    this.tsval0 = new Uint32Array(n * 2);
    this.tsecr = new Uint32Array(n * 2);
    this.last = new Float64Array(n * 2);
    this.nextFree = new Int32Array(n);
    const size = mapSize(n);
    this.keys = new Int32Array(size).fill(-1);
    this.slots = new Int32Array(size);
    this.mask = size - 1;
  }

  get capacity(): number {
    return this.nextFree.length;
  }

  /** Bytes of typed-array memory held. */
  get memoryBytes(): number {
    const a = [this.flags, this.ttl, this.tsMod, this.tsval, this.tsval0, this.tsecr, this.last, this.nextFree];
    return a.reduce((n, x) => n + x.byteLength, 0) + this.keys.byteLength + this.slots.byteLength;
  }

  private home(state: number): number {
    return (Math.imul(state, 0x9e3779b1) >>> 8) & this.mask;
  }

  /** State i's slot, -1 when it has no scrub data. */
  slotOf(state: number): number {
    if (this.count === 0) return -1;
    const keys = this.keys;
    for (let h = this.home(state); ; h = (h + 1) & this.mask) {
      const k = keys[h]!;
      if (k === state) return this.slots[h]!;
      if (k === -1) return -1;
    }
  }

  /** State i's slot, made (both sides without data yet) when it has none. */
  attach(state: number): number {
    const known = this.slotOf(state);
    if (known >= 0) return known;
    let slot: number;
    if (this.freeHead >= 0) {
      slot = this.freeHead;
      this.freeHead = this.nextFree[slot]!;
    } else {
      if (this.highWater === this.capacity) this.grow();
      slot = this.highWater++;
    }
    this.flags[slot * 2] = 0;
    this.flags[slot * 2 + 1] = 0;
    this.put(state, slot);
    this.count++;
    return slot;
  }

  private put(state: number, slot: number): void {
    let h = this.home(state);
    while (this.keys[h] !== -1) h = (h + 1) & this.mask;
    this.keys[h] = state;
    this.slots[h] = slot;
  }

  /** Frees state i's data, if any (pf_normalize_tcp_cleanup). */
  release(state: number): void {
    if (this.count === 0) return;
    const keys = this.keys;
    let h = this.home(state);
    for (; keys[h] !== state; h = (h + 1) & this.mask) if (keys[h] === -1) return;
    const slot = this.slots[h]!;
    this.nextFree[slot] = this.freeHead;
    this.freeHead = slot;
    this.count--;
    // backward-shift deletion: later entries of the chain move into the hole unless their home lies past it
    let hole = h;
    for (let j = (h + 1) & this.mask; keys[j] !== -1; j = (j + 1) & this.mask) {
      const home = this.home(keys[j]!);
      if (((j - home) & this.mask) >= ((j - hole) & this.mask)) {
        keys[hole] = keys[j]!;
        this.slots[hole] = this.slots[j]!;
        hole = j;
      }
    }
    keys[hole] = -1;
  }

  clear(): void {
    this.keys.fill(-1);
    this.freeHead = -1;
    this.highWater = 0;
    this.count = 0;
  }

  private grow(): void {
    const n = this.capacity * 2;
    const widen = <T extends Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array>(
      a: T,
      len: number,
    ): T => {
      const b = new (a.constructor as new (n: number) => T)(len);
      b.set(a);
      return b;
    };
    this.flags = widen(this.flags, n * 2);
    this.ttl = widen(this.ttl, n * 2);
    this.tsMod = widen(this.tsMod, n * 2);
    this.tsval = widen(this.tsval, n * 2);
    this.tsval0 = widen(this.tsval0, n * 2);
    this.tsecr = widen(this.tsecr, n * 2);
    this.last = widen(this.last, n * 2);
    this.nextFree = widen(this.nextFree, n);
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    const size = mapSize(n);
    this.keys = new Int32Array(size).fill(-1);
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let h = 0; h < oldKeys.length; h++) if (oldKeys[h] !== -1) this.put(oldKeys[h]!, oldSlots[h]!);
  }

  /** A random timestamp offset (pf: arc4random), from a buffer refilled in place. */
  private randomMod(): number {
    if (this.randomLeft === 0) {
      crypto.getRandomValues(this.random);
      this.randomLeft = this.random.length;
    }
    return this.random[--this.randomLeft]!;
  }

  /**
   * pf_normalize_tcp_init: side `row` gets its data from its first packet
   * seen: its TTL, and when that packet is a SYN with a timestamp, a random
   * modulation and the timestamps PAWS starts from.
   */
  initSide(row: number, m: PacketMeta, now: number): void {
    let flags = PFSS_PRESENT;
    this.ttl[row] = m.ttl;
    if (m.tcpFlags & TCPFlag.SYN && m.hasTimestamp) {
      flags |= PfssFlag.TIMESTAMP;
      this.tsMod[row] = this.randomMod();
      this.tsval0[row] = m.tsVal;
      this.tsval[row] = m.tsVal;
      this.tsecr[row] = m.tsEcr;
      this.last[row] = now;
    }
    this.flags[row] = flags;
  }

  /** Whether the packet carries a timestamp pf looks at: one side or the other modulates. */
  private gotTs(src: number, dst: number, m: PacketMeta): boolean {
    return m.hasTimestamp && ((this.flags[src]! | this.flags[dst]!) & PfssFlag.TIMESTAMP) !== 0;
  }

  /** The packet's echo as the other side sent it, on that side's own clock (unmodulated). */
  private echo(dst: number, m: PacketMeta): number {
    const e = m.tsEcr;
    return e !== 0 && this.flags[dst]! & PfssFlag.TIMESTAMP ? (e - this.tsMod[dst]!) >>> 0 : e;
  }

  /**
   * pf_normalize_tcp_stateful's checks, for a packet from side `src` to
   * `dst` (rows) of a state made at `creation` (seconds), whose peer states
   * are `srcState`/`dstState` (before this packet): false when the packet is
   * to be dropped for its timestamps (pf's PFRES_TS). `tsDiff`: the rule's
   * tcp.tsdiff, how far a timestamp may run ahead of the clock.
   */
  check(
    src: number,
    dst: number,
    m: PacketMeta,
    srcState: number,
    dstState: number,
    creation: number,
    now: number,
    tsDiff: number,
  ): boolean {
    const srcHas = (this.flags[src]! & PFSS_PRESENT) !== 0;
    const dstHas = (this.flags[dst]! & PFSS_PRESENT) !== 0;
    if (!srcHas || !dstHas) return true;
    // PAWS stops on a side idle so long that its clock may have wrapped
    const sf = this.flags[src]!;
    if (sf & PfssFlag.PAWS && (now - this.last[src]! > TS_MAX_IDLE || now - creation > TS_MAX_CONN))
      this.flags[src] = (sf & ~PfssFlag.PAWS) | PfssFlag.PAWS_IDLED;
    const df = this.flags[dst]!;
    if (df & PfssFlag.PAWS && now - this.last[dst]! > TS_MAX_IDLE)
      this.flags[dst] = (df & ~PfssFlag.PAWS) | PfssFlag.PAWS_IDLED;
    if ((this.flags[src]! & this.flags[dst]! & PfssFlag.PAWS) === 0) return true;
    if (this.gotTs(src, dst, m)) {
      if (srcState < TcpState.ESTABLISHED || dstState < TcpState.ESTABLISHED) return true;
      const tsval = m.tsVal;
      const tsecr = this.echo(dst, m);
      const ahead = Math.floor((Math.max(0, now - this.last[src]!) + tsDiff) * TS_MAXFREQ) >>> 0;
      // older than what the other side last echoed, further ahead than the sender's clock can have run,
      // or echoing a timestamp never sent
      return !(
        seqLt(tsval, this.tsecr[dst]!) ||
        seqGt(tsval, (this.tsval[src]! + ahead) >>> 0) ||
        (tsecr !== 0 && (seqGt(tsecr, this.tsval[dst]!) || seqLt(tsecr, this.tsval0[dst]!)))
      );
    }
    // a side that timestamps its data must keep doing so (resets aside)
    return !((m.tcpFlags & TCPFlag.RST) === 0 && m.payloadLength > 0 && this.flags[src]! & PfssFlag.DATA_TS);
  }

  /**
   * The rest of pf_normalize_tcp_stateful, for a packet that passed: the
   * sender's highest TTL and timestamps move on, and `out` says how to
   * rewrite the packet.
   */
  update(src: number, dst: number, m: PacketMeta, now: number, out: TcpNormalization): void {
    const gotTs = this.gotTs(src, dst, m);
    let f = this.flags[src]!;
    const srcHas = (f & PFSS_PRESENT) !== 0;
    out.active = srcHas || gotTs;
    out.ttl = 0;
    out.tsvalAdd = 0;
    out.tsecrSub = 0;
    if (gotTs) {
      if (m.tsVal !== 0 && f & PfssFlag.TIMESTAMP) out.tsvalAdd = this.tsMod[src]!;
      if (m.tsEcr !== 0 && this.flags[dst]! & PfssFlag.TIMESTAMP) out.tsecrSub = this.tsMod[dst]!;
    }
    if (!srcHas) return;
    if (m.ttl > this.ttl[src]!) this.ttl[src] = m.ttl;
    out.ttl = this.ttl[src]!;
    // whether this side timestamps its data is learnt from its first data segment
    if (
      m.payloadLength > 0 &&
      (f & (PfssFlag.TIMESTAMP | PfssFlag.DATA_TS | PfssFlag.DATA_NOTS)) === PfssFlag.TIMESTAMP
    )
      f |= gotTs ? PfssFlag.DATA_TS : PfssFlag.DATA_NOTS;
    if (gotTs && (f & (PfssFlag.PAWS_IDLED | PfssFlag.TIMESTAMP)) === PfssFlag.TIMESTAMP) {
      const learning = (f & PfssFlag.PAWS) === 0;
      const tsval = m.tsVal;
      const tsecr = this.echo(dst, m);
      this.last[src] = now;
      if (learning || seqGeq(tsval, this.tsval[src]!)) this.tsval[src] = tsval;
      if (tsecr !== 0) {
        if (learning || seqGeq(tsecr, this.tsecr[src]!)) this.tsecr[src] = tsecr;
        // tsval0 is the lowest timestamp; PAWS holds once a timestamp was echoed
        if (learning && (seqLt(tsval, this.tsval0[src]!) || this.tsval0[src] === 0)) this.tsval0[src] = tsval;
        f |= PfssFlag.PAWS;
      }
    }
    this.flags[src] = f;
  }
}

/** A power of two at least twice the pool's slots (load at most one half). */
function mapSize(slots: number): number {
  let n = 8;
  while (n < slots * 2) n *= 2;
  return n;
}
