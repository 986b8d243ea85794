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
// A translated state (nat-to, rdr-to) has two keys, as pf keeps them: the
// wire key (what the interface's wire carries) and the stack key (what the
// router's side sees). Both are indexed: an inbound packet matches a wire
// key, an outbound one a stack key, and the state says how to rewrite it to
// the other. An untranslated state has one key, matched from both sides.
//
// The hash is keyed with random seeds chosen at start: nobody outside can
// compute which flows collide, so hash flooding cannot degrade the probes.
//
// A lookup touches two cache lines: the index slot, which carries an 8-bit
// fingerprint of the hash beside the state number (so probing past other
// flows rarely reads their keys), and the state's key, which is 40
// contiguous bytes: both addresses, both ports, family and protocol.
//
// A second index of the same kind finds a state by its pfsync identity
// (creator id, 64-bit id) in O(1): received pfsync messages name states that
// way. It is seeded too (a peer chooses the ids it sends), and only insert
// and remove touch it, so the packet path pays nothing for it.
//
// Memory per state (bytes): key 40, stack key 36, peers 24 (seqlo, seqhi 4+4, max_win 2,
// wscale 1, state 1, times two), rule 2, creation+last activity 8, timeout
// class 1, packets 8, bytes 16, interface and direction 2, flags 2, log 1,
// id+creator 12, source node 4, route 2, scrub profile 2, the flow index (4 bytes a slot, room for two
// keys a state at a load factor of at most 0.75: 10.7) and the id index (5.3):
// about 176 in all. (pfsync keeps its own per-state bookkeeping beside the
// table.)

import { randomBytes } from 'node:crypto';
import { MAX_STATE_LIMIT } from '../rules/ast.js';
import { ANY_DIRECTION, Direction, reverse, type DirectionOrAny } from '../packet/meta.js';
import { FLOATING, NO_RULE } from './constants.js';
import { TcpScrubTable } from './tcp-scrub.js';

export const MAX_LOAD = 0.75;
/** State numbers live in the low 24 bits of an index slot, a 7-bit fingerprint above, the key's kind in the top bit. */
export const MAX_CAPACITY = MAX_STATE_LIMIT;
const IDX_MASK = 0xffffff;
/** Words of key per state (see `key`). */
export const KEY_WORDS = 10;
/** Words of stack key per state (see `stackKey`). */
export const STACK_WORDS = 9;
/** In key word 9: the state is translated (its stack key differs and is indexed too). */
const TRANSLATED = 0x40000000;
/** In an index slot: the entry is a stack key. */
const STACK_ENTRY = 0x80000000 | 0;

/** Which packets a key serves (KeyUse): inbound ones read the wire key, outbound ones the stack key. */
export const KeyUse = { WIRE: 1, STACK: 2, BOTH: 3 } as const;

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
  /** Seconds since the epoch when the table started (from the caller's clock): the high word of local state ids. */
  startSeconds: number;
  /** Hash seeds; random by default. Tests pass fixed ones. */
  seeds?: Uint32Array;
}

export class StateTable {
  readonly capacity: number;
  /** Slots of the flow index: room for two keys per state (a translated state has two). */
  readonly slots: number;
  /** Slots of the id index: one identity per state. */
  readonly idSlots: number;
  /** Per slot: -1 empty, else stack entry bit | fingerprint << 24 | state number. */
  readonly index: Int32Array;
  /** The same over (creator, idHi, idLo). */
  readonly idIndex: Int32Array;

  /**
   * 10 words per state: side 0 address (4), side 1 address (4), ports
   * (side 0 << 16 | side 1; ICMP: the echo id in both), and
   * dir << 24 | bound << 16 | af << 8 | proto (0 for a free state), where
   * `bound` is the interface id of an if-bound state or FLOATING (an
   * if-bound state is another key than a floating one, as pf keeps them) and
   * `dir` the direction of the packet that made it (see find()); dir is not
   * hashed, so both states of a forwarded flow share one probe sequence.
   * This is pf's wire key; TRANSLATED (bit 30) says the state has a stack
   * key of its own.
   */
  readonly key: Uint32Array;
  /** 9 words per state: the stack key's addresses and ports, oriented as `key` (meaningful when translated). */
  readonly stackKey: Uint32Array;
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
  /** Direction of the creating packet (a Direction; 0 when a peer's state gave none). */
  readonly direction: Uint8Array;
  readonly flags: Uint16Array;
  /** pf's log byte (pfsync_state.log): LogFlag.ALL when every packet of the state is logged. */
  readonly log: Uint8Array;
  /** route-to, reply-to, dup-to: the routing kind (pf's PF_ROUTETO...) and its target, packed by routeOf(); 0: none. */
  readonly route: Uint16Array;
  /** The scrub profile the state's packets get (scrubProfile()), 0 for none. */
  readonly scrub: Uint16Array;
  /** Scrub profiles: [0] is none; each a scrub word (ScrubFlag bits, min-ttl, tos) and a max-mss. Never freed. */
  private profileWords = new Uint32Array(8);
  private profileMss = new Uint16Array(8);
  private profiles = 1;
  readonly idHi: Uint32Array;
  readonly idLo: Uint32Array;
  readonly creator: Uint32Array;
  /** Source-tracking node, or -1. Free states chain the free list through it. */
  readonly srcNode: Int32Array;

  /** `scrub (reassemble tcp)` data of the states that have it (pf_state_scrub), outside the per-state arrays. */
  readonly tcpScrub = new TcpScrubTable();

  /**
   * Sparse: sequence modulation offsets (modulate state, synproxy, or a
   * peer's), pf's seqdiff per peer. Few states have them, so they live in a
   * pool of pairs that grows by doubling, found through a map from state to
   * pair (no allocation on lookup); `modulatedStates` lets packets of tables
   * without any skip the map.
   */
  private readonly diffSlotOf = new Map<number, number>();
  private diffWords = new Uint32Array(32);
  /** Free pairs chain through their first word; -1 ends the chain. */
  private diffFree = -1;
  private diffHighWater = 0;
  modulatedStates = 0;

  count = 0;
  private freeHead = -1;
  private highWater = 0;
  /** The last local id handed out (OpenBSD's scheme: start seconds << 32 | counter, as one 64-bit counter). */
  private lastIdHi: number;
  private lastIdLo = 0;
  readonly hostid: number;
  readonly startSeconds: number;
  private readonly s0: number;
  private readonly s1: number;
  private readonly s2: number;
  private readonly t0: number;
  private readonly t1: number;
  private readonly t2: number;
  /** After find(): true when the packet travelled from side 0 to side 1. */
  forward = true;
  /** After find(): the packet matched the state's stack key (else its wire key). */
  matchedStack = false;
  /** Probes done by the last find() (the hash-flooding test reads it). */
  lastProbes = 0;
  /** Probes done by the last findById(). */
  lastIdProbes = 0;

  constructor(opts: StateTableOptions) {
    if (!(opts.capacity >= 1 && opts.capacity <= MAX_CAPACITY))
      throw new RangeError(`state table capacity must be 1..${MAX_CAPACITY}`);
    const cap = (this.capacity = Math.floor(opts.capacity));
    this.slots = Math.max(16, Math.ceil((2 * cap) / MAX_LOAD));
    this.idSlots = Math.max(16, Math.ceil(cap / MAX_LOAD));
    this.index = new Int32Array(this.slots).fill(-1);
    this.idIndex = new Int32Array(this.idSlots).fill(-1);
    this.key = new Uint32Array(cap * KEY_WORDS);
    this.stackKey = new Uint32Array(cap * STACK_WORDS);
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
    this.log = new Uint8Array(cap);
    this.route = new Uint16Array(cap);
    this.scrub = new Uint16Array(cap);
    this.idHi = new Uint32Array(cap);
    this.idLo = new Uint32Array(cap);
    this.creator = new Uint32Array(cap);
    this.srcNode = new Int32Array(cap).fill(-1);
    const rb = randomBytes(12);
    const seeds = opts.seeds ?? Uint32Array.of(rb.readUInt32LE(0), rb.readUInt32LE(4), rb.readUInt32LE(8));
    this.s0 = seeds[0]! >>> 0;
    this.s1 = seeds[1]! >>> 0;
    this.s2 = seeds[2]! >>> 0;
    // the id index's seeds, derived so that a test's fixed seeds fix both
    this.t0 = fmix(this.s0 ^ 0x6a09e667);
    this.t1 = fmix(this.s1 ^ 0xbb67ae85);
    this.t2 = fmix(this.s2 ^ 0x3c6ef372);
    let hostid = opts.hostid ?? 0;
    while (hostid === 0) hostid = randomBytes(4).readUInt32BE(0);
    this.hostid = hostid >>> 0;
    this.startSeconds = opts.startSeconds >>> 0;
    this.lastIdHi = this.startSeconds;
  }

  /** Bytes of typed-array memory the table holds (the index included). */
  get memoryBytes(): number {
    const arrays = [
      this.index,
      this.idIndex,
      this.key,
      this.stackKey,
      this.seqlo,
      this.seqhi,
      this.maxWin,
      this.wscale,
      this.peerState,
      this.rule,
      this.creation,
      this.lastActive,
      this.timeoutClass,
      this.packets,
      this.bytes,
      this.ifId,
      this.direction,
      this.flags,
      this.log,
      this.route,
      this.scrub,
      this.idHi,
      this.idLo,
      this.creator,
      this.srcNode,
    ];
    return arrays.reduce((n, a) => n + a.byteLength, 0) + this.tcpScrub.memoryBytes;
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
  hash(
    af: number,
    proto: number,
    a: ArrayLike<number>,
    ao: number,
    aport: number,
    b: ArrayLike<number>,
    bo: number,
    bport: number,
    bound: number = FLOATING,
  ): number {
    const sum = (this.sideHash(a, ao, aport) + this.sideHash(b, bo, bport)) | 0;
    return fmix(sum ^ Math.imul(proto | (af << 8) | (bound << 16), 0x9e3779b1) ^ this.s2);
  }

  private hashOf(i: number): number {
    const k = this.key;
    const o = i * KEY_WORDS;
    const ports = k[o + 8]!;
    const ap = k[o + 9]!;
    return this.hash((ap >>> 8) & 0xff, ap & 0xff, k, o, ports >>> 16, k, o + 4, ports & 0xffff, (ap >>> 16) & 0xff);
  }

  private stackHashOf(i: number): number {
    const k = this.stackKey;
    const o = i * STACK_WORDS;
    const ports = k[o + 8]!;
    const ap = this.key[i * KEY_WORDS + 9]!;
    return this.hash((ap >>> 8) & 0xff, ap & 0xff, k, o, ports >>> 16, k, o + 4, ports & 0xffff, (ap >>> 16) & 0xff);
  }

  /** The hash of an index entry's key. */
  private entryHash(e: number): number {
    return (e & STACK_ENTRY) !== 0 ? this.stackHashOf(e & IDX_MASK) : this.hashOf(e & IDX_MASK);
  }

  /** The home slot of a hash: multiply-shift range reduction (any table size works). */
  private home(h: number, slots: number = this.slots): number {
    return Math.floor((h / 4294967296) * slots);
  }

  /**
   * The state of a flow, from either end; -1 when there is none. Sets
   * `forward`. With `dir` (the packet's Direction) as pf keys
   * states: a state made by an inbound packet matches inbound packets from
   * its initiator and outbound ones from its responder, and the other way
   * round for a state made outbound. So a forwarded connection has a state
   * on each side, as in pf: `in on lan` and `out on wan` each decide once.
   * ANY_DIRECTION matches a state of either direction. Of a translated
   * state, inbound packets match the wire key and outbound ones the stack
   * key (pf's rule); `matchedStack` says which.
   */
  find(
    af: number,
    proto: number,
    src: ArrayLike<number>,
    sport: number,
    dst: ArrayLike<number>,
    dport: number,
    bound: number = FLOATING,
    dir: DirectionOrAny = ANY_DIRECTION,
  ): number {
    return this.findHashed(
      this.hash(af, proto, src, 0, sport, dst, 0, dport, bound),
      af,
      proto,
      src,
      sport,
      dst,
      dport,
      bound,
      dir,
    );
  }

  /**
   * Reads the index slots and keys that a batch of lookups will need, one
   * batch at a time, so their cache misses overlap instead of queueing: on a
   * table far larger than the CPU caches most of a lookup's time is two
   * memory loads. Returns a value only so the loads are not optimised away.
   */
  warm(hashes: Uint32Array, count: number): number {
    const index = this.index;
    let acc = 0;
    for (let k = 0; k < count; k++) acc ^= index[this.home(hashes[k]!)]!;
    for (let k = 0; k < count; k++) {
      const e = index[this.home(hashes[k]!)]!;
      if (e !== -1) acc ^= this.key[(e & IDX_MASK) * KEY_WORDS + 9]!;
    }
    return acc;
  }

  /** find() with the hash already computed (by hash(), for a warmed batch). */
  findHashed(
    h: number,
    af: number,
    proto: number,
    src: ArrayLike<number>,
    sport: number,
    dst: ArrayLike<number>,
    dport: number,
    bound: number = FLOATING,
    dir: DirectionOrAny = ANY_DIRECTION,
  ): number {
    const fp = h & 0x7f;
    const ap = ((bound << 16) | (af << 8) | proto) >>> 0;
    const back = dir === ANY_DIRECTION ? ANY_DIRECTION : reverse(dir); // a reply travels the other way
    const fwdPorts = ((sport << 16) | dport) >>> 0;
    const revPorts = ((dport << 16) | sport) >>> 0;
    const index = this.index;
    const slots = this.slots;
    let slot = this.home(h);
    let probes = 1;
    for (; ; probes++) {
      const e = index[slot]!;
      if (e === -1) {
        this.lastProbes = probes;
        return -1;
      }
      if (((e >>> 24) & 0x7f) === fp) {
        const i = e & IDX_MASK;
        const kw = this.key[i * KEY_WORDS + 9]!;
        const stack = (e & STACK_ENTRY) !== 0;
        // of a translated state, the stack key serves outbound packets and the wire key inbound ones
        const serves = stack ? dir !== Direction.IN : (kw & TRANSLATED) === 0 || dir !== Direction.OUT;
        if ((kw & 0xffffff) === ap && serves) {
          const k = stack ? this.stackKey : this.key;
          const o = stack ? i * STACK_WORDS : i * KEY_WORDS;
          const ports = k[o + 8];
          const made = (kw >>> 24) & 3; // the direction that made the state, 0 for none
          if (
            (dir === ANY_DIRECTION || made === ANY_DIRECTION || made === dir) &&
            ports === fwdPorts &&
            k[o] === src[0] &&
            k[o + 1] === src[1] &&
            k[o + 2] === src[2] &&
            k[o + 3] === src[3] &&
            k[o + 4] === dst[0] &&
            k[o + 5] === dst[1] &&
            k[o + 6] === dst[2] &&
            k[o + 7] === dst[3]
          ) {
            this.forward = true;
            this.matchedStack = stack;
            this.lastProbes = probes;
            return i;
          }
          if (
            (dir === ANY_DIRECTION || made === ANY_DIRECTION || made === back) &&
            ports === revPorts &&
            k[o] === dst[0] &&
            k[o + 1] === dst[1] &&
            k[o + 2] === dst[2] &&
            k[o + 3] === dst[3] &&
            k[o + 4] === src[0] &&
            k[o + 5] === src[1] &&
            k[o + 6] === src[2] &&
            k[o + 7] === src[3]
          ) {
            this.forward = false;
            this.matchedStack = stack;
            this.lastProbes = probes;
            return i;
          }
        }
      }
      if (++slot === slots) slot = 0;
    }
  }

  /** Whether state i has a stack key of its own (it is translated). */
  translated(i: number): boolean {
    return (this.key[i * KEY_WORDS + 9]! & TRANSLATED) !== 0;
  }

  /** Port (or ICMP id) of side 0 or 1 of the stack key (the wire key's when untranslated). */
  stackPortOf(i: number, side: number): number {
    const p = this.translated(i) ? this.stackKey[i * STACK_WORDS + 8]! : this.key[i * KEY_WORDS + 8]!;
    return side === 0 ? p >>> 16 : p & 0xffff;
  }

  /** Side 0's or 1's address in the stack key (the wire key's when untranslated), as a view. */
  stackAddressOf(i: number, side: number): Uint32Array {
    if (!this.translated(i)) return this.addressOf(i, side);
    const o = i * STACK_WORDS + side * 4;
    return this.stackKey.subarray(o, o + 4);
  }

  /**
   * Whether no state holds this key, oriented as a state made by a packet of
   * direction `dir` holds it, for the packets the key would serve (`use`):
   * KeyUse.WIRE inbound packets, STACK outbound ones, BOTH.
   */
  keyFree(
    af: number,
    proto: number,
    src: ArrayLike<number>,
    sport: number,
    dst: ArrayLike<number>,
    dport: number,
    bound: number,
    dir: DirectionOrAny,
    use: number,
  ): boolean {
    if (dir === ANY_DIRECTION) return this.find(af, proto, src, sport, dst, dport, bound, ANY_DIRECTION) < 0;
    // packets of the state's own direction carry the key as it is, replies carry it reversed
    if ((use & KeyUse.WIRE) !== 0) {
      const hit =
        dir === Direction.IN
          ? this.find(af, proto, src, sport, dst, dport, bound, Direction.IN)
          : this.find(af, proto, dst, dport, src, sport, bound, Direction.IN);
      if (hit >= 0) return false;
    }
    if ((use & KeyUse.STACK) !== 0) {
      const hit =
        dir === Direction.OUT
          ? this.find(af, proto, src, sport, dst, dport, bound, Direction.OUT)
          : this.find(af, proto, dst, dport, src, sport, bound, Direction.OUT);
      if (hit >= 0) return false;
    }
    return true;
  }

  /**
   * Gives state i, inserted with its wire key (KeyUse.WIRE), a stack key
   * oriented as the wire key, and indexes it. False, and nothing changed,
   * when another state holds that key for outbound packets.
   */
  setStackKey(i: number, src: ArrayLike<number>, sport: number, dst: ArrayLike<number>, dport: number): boolean {
    const kw = this.key[i * KEY_WORDS + 9]!;
    if ((kw & TRANSLATED) !== 0) return false;
    const af = (kw >>> 8) & 0xff;
    const bound = (kw >>> 16) & 0xff;
    const dir = ((kw >>> 24) & 3) as DirectionOrAny;
    if (!this.keyFree(af, kw & 0xff, src, sport, dst, dport, bound, dir, KeyUse.STACK)) return false;
    const o = i * STACK_WORDS;
    for (let k = 0; k < 4; k++) {
      this.stackKey[o + k] = src[k]!;
      this.stackKey[o + 4 + k] = dst[k]!;
    }
    this.stackKey[o + 8] = ((sport << 16) | dport) >>> 0;
    this.key[i * KEY_WORDS + 9] = (kw | TRANSLATED) >>> 0;
    this.indexEntry(this.stackHashOf(i), i | STACK_ENTRY);
    return true;
  }

  /** Puts an entry into the flow index at its hash's first free slot. */
  private indexEntry(h: number, entry: number): void {
    let slot = this.home(h);
    while (this.index[slot] !== -1) if (++slot === this.slots) slot = 0;
    this.index[slot] = entry | ((h & 0x7f) << 24);
  }

  afOf(i: number): number {
    return (this.key[i * KEY_WORDS + 9]! >>> 8) & 0xff;
  }

  protoOf(i: number): number {
    return this.key[i * KEY_WORDS + 9]! & 0xff;
  }

  /** Port (or ICMP id) of side 0 (the initiator) or side 1. */
  portOf(i: number, side: number): number {
    const p = this.key[i * KEY_WORDS + 8]!;
    return side === 0 ? p >>> 16 : p & 0xffff;
  }

  /** The address of side 0 or 1 as 4 words (a view: copy it to keep it). */
  addressOf(i: number, side: number): Uint32Array {
    const o = i * KEY_WORDS + side * 4;
    return this.key.subarray(o, o + 4);
  }

  /**
   * A new state for the flow src:sport -> dst:dport (the initiator first),
   * with zeroed fields. Returns its index, -1 when the table is full, -2 when
   * the flow has a state already. `use`: KeyUse.WIRE when the state will be
   * translated (setStackKey gives it the key outbound packets match).
   */
  insert(
    af: number,
    proto: number,
    src: ArrayLike<number>,
    sport: number,
    dst: ArrayLike<number>,
    dport: number,
    bound: number = FLOATING,
    dir: DirectionOrAny = ANY_DIRECTION,
    use: number = KeyUse.BOTH,
  ): number {
    if (this.count >= this.capacity) return -1;
    if (!this.keyFree(af, proto, src, sport, dst, dport, bound, dir, use)) return -2;
    const i = this.place(af, proto, src, sport, dst, dport, bound, dir);
    this.creator[i] = this.hostid;
    // the next local id; one still held (the counter went round) is passed over
    do {
      this.lastIdLo = (this.lastIdLo + 1) >>> 0;
      if (this.lastIdLo === 0) this.lastIdHi = (this.lastIdHi + 1) >>> 0;
      this.idHi[i] = this.lastIdHi;
      this.idLo[i] = this.lastIdLo;
    } while (!this.indexId(i));
    return i;
  }

  /**
   * insert() for a state another node created (pfsync): it keeps that node's
   * identity. Returns the index, -1 when the table is full, -2 when the flow
   * has a state already, -3 when a state has this identity already.
   */
  insertWithId(
    af: number,
    proto: number,
    src: ArrayLike<number>,
    sport: number,
    dst: ArrayLike<number>,
    dport: number,
    bound: number,
    creator: number,
    idHi: number,
    idLo: number,
    dir: DirectionOrAny = ANY_DIRECTION,
    use: number = KeyUse.BOTH,
  ): number {
    if (this.count >= this.capacity) return -1;
    if (this.findById(creator, idHi, idLo) >= 0) return -3;
    if (!this.keyFree(af, proto, src, sport, dst, dport, bound, dir, use)) return -2;
    const i = this.place(af, proto, src, sport, dst, dport, bound, dir);
    this.creator[i] = creator >>> 0;
    this.idHi[i] = idHi >>> 0;
    this.idLo[i] = idLo >>> 0;
    this.indexId(i);
    return i;
  }

  /** Takes a free slot for a new state, fills its key, zeroes the rest and indexes the flow. */
  private place(
    af: number,
    proto: number,
    src: ArrayLike<number>,
    sport: number,
    dst: ArrayLike<number>,
    dport: number,
    bound: number,
    dir: DirectionOrAny,
  ): number {
    let i: number;
    if (this.freeHead >= 0) {
      i = this.freeHead;
      this.freeHead = this.srcNode[i]!;
    } else i = this.highWater++;
    const o = i * KEY_WORDS;
    for (let k = 0; k < 4; k++) {
      this.key[o + k] = src[k]!;
      this.key[o + 4 + k] = dst[k]!;
    }
    this.key[o + 8] = ((sport << 16) | dport) >>> 0;
    this.key[o + 9] = ((dir << 24) | (bound << 16) | (af << 8) | proto) >>> 0;
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
    this.ifId[i] = bound;
    this.direction[i] = 0;
    this.flags[i] = 0;
    this.log[i] = 0;
    this.route[i] = 0;
    this.scrub[i] = 0;
    this.srcNode[i] = -1;
    this.indexEntry(this.hashOf(i), i);
    this.count++;
    return i;
  }

  /**
   * The profile number of a scrub word and max-mss (0 for none): states keep
   * 2 bytes, not the options. Rulesets make few distinct profiles, so a scan
   * finds them (no allocation); at 65535 profiles the last is reused.
   */
  scrubProfile(word: number, mss: number): number {
    if (word === 0) return 0;
    const n = this.profiles;
    for (let p = 1; p < n; p++) if (this.profileWords[p] === word && this.profileMss[p] === mss) return p;
    if (n === 0xffff) return n - 1;
    if (n === this.profileWords.length) {
      const words = new Uint32Array(n * 2);
      const mssList = new Uint16Array(n * 2);
      words.set(this.profileWords);
      mssList.set(this.profileMss);
      this.profileWords = words;
      this.profileMss = mssList;
    }
    this.profileWords[n] = word;
    this.profileMss[n] = mss;
    this.profiles = n + 1;
    return n;
  }

  /** A scrub profile's word (0 for profile 0). */
  scrubWord(profile: number): number {
    return this.profileWords[profile]!;
  }

  /** A scrub profile's max-mss (0: none). */
  scrubMss(profile: number): number {
    return this.profileMss[profile]!;
  }

  /** The id index's hash of a pfsync identity. */
  idHash(creator: number, idHi: number, idLo: number): number {
    let h = this.t0;
    h = Math.imul(h ^ creator, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ idHi ^ this.t1, 0xc2b2ae35);
    h ^= h >>> 16;
    h = Math.imul(h ^ idLo, 0x27d4eb2f);
    h ^= h >>> 15;
    return fmix(h ^ this.t2);
  }

  private idHashOf(i: number): number {
    return this.idHash(this.creator[i]!, this.idHi[i]!, this.idLo[i]!);
  }

  /** Adds state i to the id index; false (and nothing added) when its identity is taken. */
  private indexId(i: number): boolean {
    const creator = this.creator[i]!;
    const idHi = this.idHi[i]!;
    const idLo = this.idLo[i]!;
    const h = this.idHash(creator, idHi, idLo);
    const fp = h & 0xff;
    const index = this.idIndex;
    let slot = this.home(h, this.idSlots);
    for (;;) {
      const e = index[slot]!;
      if (e === -1) break;
      if (e >>> 24 === fp) {
        const j = e & IDX_MASK;
        if (this.idLo[j] === idLo && this.idHi[j] === idHi && this.creator[j] === creator) return false;
      }
      if (++slot === this.idSlots) slot = 0;
    }
    index[slot] = (fp << 24) | i;
    return true;
  }

  /** Removes state i. Backward-shift deletion keeps every probe chain intact without tombstones. */
  remove(i: number): void {
    if (this.translated(i)) this.unindex(this.index, i | STACK_ENTRY, false);
    this.unindex(this.index, i, false);
    this.unindex(this.idIndex, i, true);
    this.key[i * KEY_WORDS + 9] = 0;
    if (this.modulatedStates > 0) this.dropSeqDiff(i);
    this.tcpScrub.release(i);
    this.srcNode[i] = this.freeHead;
    this.freeHead = i;
    this.count--;
  }

  /**
   * Takes an entry out of one index (byId: the id index; in the flow index
   * `entry` is a state number, with STACK_ENTRY for its stack key), shifting
   * later entries of its chain back.
   */
  private unindex(index: Int32Array, entry: number, byId: boolean): void {
    const slots = byId ? this.idSlots : this.slots;
    const i = entry & IDX_MASK;
    const want = byId ? i : entry & (STACK_ENTRY | IDX_MASK);
    const mask = byId ? IDX_MASK : STACK_ENTRY | IDX_MASK;
    let slot = this.home(byId ? this.idHashOf(i) : this.entryHash(entry), slots);
    while ((index[slot]! & mask) !== want || index[slot] === -1) {
      if (index[slot] === -1) throw new Error(`state ${i} is not in the ${byId ? 'id ' : ''}index`);
      if (++slot === slots) slot = 0;
    }
    let hole = slot;
    let next = hole + 1 === slots ? 0 : hole + 1;
    for (;;) {
      const e = index[next]!;
      if (e === -1) break;
      const home = this.home(byId ? this.idHashOf(e & IDX_MASK) : this.entryHash(e), slots);
      // the entry may move into the hole unless its home lies in (hole, next]
      const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
      if (!stays) {
        index[hole] = e;
        hole = next;
      }
      next = next + 1 === slots ? 0 : next + 1;
    }
    index[hole] = -1;
  }

  /** Whether index i holds a live state. */
  live(i: number): boolean {
    return i >= 0 && i < this.highWater && this.key[i * KEY_WORDS + 9] !== 0;
  }

  /** Upper bound of state indices ever used (for iteration). */
  get extent(): number {
    return this.highWater;
  }

  /** Calls fn for every live state; fn may not remove states (collect first). */
  forEach(fn: (i: number) => void): void {
    for (let i = 0; i < this.highWater; i++) if (this.key[i * KEY_WORDS + 9] !== 0) fn(i);
  }

  /** Removes every state; returns how many went. */
  clear(): number {
    const n = this.count;
    this.index.fill(-1);
    this.idIndex.fill(-1);
    this.key.fill(0);
    this.tcpScrub.clear();
    this.diffSlotOf.clear();
    this.diffFree = -1;
    this.diffHighWater = 0;
    this.modulatedStates = 0;
    this.freeHead = -1;
    this.highWater = 0;
    this.count = 0;
    return n;
  }

  /** Whether state i has a sequence offset on either side. */
  modulated(i: number): boolean {
    return this.modulatedStates > 0 && this.diffSlotOf.has(i);
  }

  /** pf's seqdiff of side `side` (0 src, 1 dst) of state i: what is added to that side's sequence numbers. */
  seqDiff(i: number, side: number): number {
    if (this.modulatedStates === 0) return 0;
    const slot = this.diffSlotOf.get(i);
    return slot === undefined ? 0 : this.diffWords[slot * 2 + side]!;
  }

  /** Sets a side's seqdiff; the pair goes when both sides are back to 0. */
  setSeqDiff(i: number, side: number, diff: number): void {
    let slot = this.diffSlotOf.get(i);
    if (slot === undefined) {
      if (diff >>> 0 === 0) return;
      slot = this.takeDiffSlot();
      this.diffSlotOf.set(i, slot);
      this.modulatedStates++;
    }
    const w = this.diffWords;
    w[slot * 2 + side] = diff >>> 0;
    if (w[slot * 2] === 0 && w[slot * 2 + 1] === 0) this.dropSeqDiff(i);
  }

  private takeDiffSlot(): number {
    const w = this.diffWords;
    let slot = this.diffFree;
    if (slot >= 0) this.diffFree = w[slot * 2]! | 0;
    else {
      slot = this.diffHighWater++;
      if (slot * 2 >= w.length) {
        this.diffWords = new Uint32Array(w.length * 2);
        this.diffWords.set(w);
      }
    }
    this.diffWords[slot * 2] = 0;
    this.diffWords[slot * 2 + 1] = 0;
    return slot;
  }

  private dropSeqDiff(i: number): void {
    const slot = this.diffSlotOf.get(i);
    if (slot === undefined) return;
    this.diffSlotOf.delete(i);
    this.diffWords[slot * 2] = this.diffFree >>> 0;
    this.diffFree = slot;
    this.modulatedStates--;
  }

  /** Finds a state by its pfsync identity (creator id, 64-bit id as two words); -1 if none. */
  findById(creator: number, idHi: number, idLo: number): number {
    creator >>>= 0;
    idHi >>>= 0;
    idLo >>>= 0;
    const h = this.idHash(creator, idHi, idLo);
    const fp = h & 0xff;
    const index = this.idIndex;
    let slot = this.home(h, this.idSlots);
    let probes = 1;
    for (;;) {
      const e = index[slot]!;
      if (e === -1) break;
      if (e >>> 24 === fp) {
        const i = e & IDX_MASK;
        if (this.idLo[i] === idLo && this.idHi[i] === idHi && this.creator[i] === creator) {
          this.lastIdProbes = probes;
          return i;
        }
      }
      if (++slot === this.idSlots) slot = 0;
      probes++;
    }
    this.lastIdProbes = probes;
    return -1;
  }
}
