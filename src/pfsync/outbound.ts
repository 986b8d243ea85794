// pfsync's sending side, sans I/O (shared/spec/pfsync.md §6): every local
// insert, update and delete of a state lands in one of OpenBSD's queues (a
// state sits in at most one: INS, UPD_C, UPD or IACK; deletes become DEL_C
// identities, since the state is gone), and the queues become packets:
// when the next entry would overflow the MTU, when the 1-second timer that
// the first entry started runs out (100 ms for an insert), or at once for what cannot wait (maxupd
// updates of a TCP state, a state the peer touched in the last 2 seconds, an
// INS_ACK, a deferred packet's INS, an answer to UPD_REQ). Records are
// written when the packet is, so they carry the latest values. "At once"
// means at the end of the current batch: `urgent` asks the caller to flush
// before it waits again, so a burst of updates makes one packet, not many.

import { StateFlag } from '../state/constants.js';
import type { StateHooks } from '../state/state-engine.js';
import type { StateTable } from '../state/state-table.js';
import { PacketBuilder, writeBus, writeIdMessage, writeName, writeU32 } from './codec.js';
import { Action, MessageLength, PFSYNC, WireStateFlag } from './constants.js';
import type { StateExporter } from './state-record.js';

/** Which queue a state is in (StateTable.syncStatus). */
export const SyncQueue = { NONE: 0, INS: 1, UPD_C: 2, UPD: 3, IACK: 4 } as const;
const QUEUE_ACTION = [-1, Action.INS, Action.UPD_C, Action.UPD, Action.INS_ACK];
/** Sections in the order OpenBSD fills a packet; DEL_C has no state behind it. */
const QUEUES = [SyncQueue.IACK, SyncQueue.UPD_C, SyncQueue.INS, SyncQueue.UPD];

/** The timer a first queued entry starts (OpenBSD: one second). */
export const SEND_DELAY = 1;
/**
 * An insert waits at most this long (tunpf): a state made in the master's
 * last second should be on the backup when it takes over, and inserts are
 * few next to updates (at most ten extra packets a second when idle).
 */
export const INSERT_DELAY = 0.1;
/** A state the peer changed less than this long ago is pushed at every local change (both nodes are busy with it). */
export const PEER_ACTIVE = 2;

export interface OutboundOptions {
  table: StateTable;
  exporter: StateExporter;
  /** The sync interface's MTU, IP header included. */
  mtu: number;
  /** Coalesced updates of a TCP state before it is sent anyway (0: every update). */
  maxupd: number;
  /** Seconds, the same clock as the state engine's. */
  clock: () => number;
  /** Hands out one pfsync packet (header and sections; the socket adds the IP header). */
  send: (packet: Uint8Array) => void;
}

export class OutboundCounters {
  /** Local inserts, updates and deletes of synced states (what the queues coalesce). */
  changes = 0;
  packets = 0;
  bytes = 0;
  /** Messages sent, by action. */
  readonly messages = new Float64Array(16);
}

class StateQueue {
  n = 0;
  constructor(
    readonly idx: Int32Array,
    /** idLo of the state when queued: an index reused by a newer state is not the queued one. */
    readonly tag: Uint32Array,
  ) {}
}

class IdQueue {
  n = 0;
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly creator: Uint32Array;
  constructor(size: number) {
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.creator = new Uint32Array(size);
  }
  push(hi: number, lo: number, creator: number): void {
    this.hi[this.n] = hi;
    this.lo[this.n] = lo;
    this.creator[this.n] = creator;
    this.n++;
  }
}

export class PfsyncOutbound implements StateHooks {
  readonly counters = new OutboundCounters();
  /** Set when something must go out before the caller waits again (call flush()). */
  urgent = false;
  /** While true, deletes are not announced (states removed because the peer said so). */
  suppress = false;
  /** Seconds when the peer last changed each state (0: never); drives the 2-second rule. */
  readonly peerTouched: Uint32Array;
  private readonly updates: Uint8Array;
  /** Per state: its INS must carry the ACK flag (the packet that made it is held). */
  private readonly wantsAck: Uint8Array;
  /** When each queued INS was queued, for the replication lag. */
  private readonly insAt: Float64Array;
  private readonly queues: StateQueue[];
  private readonly dels: IdQueue;
  private readonly reqs: IdQueue;
  private readonly builder: PacketBuilder;
  /** pfsync bytes the queued entries will take (header, subheaders, records). */
  private pending: number = PFSYNC.HEADER_LENGTH;
  private readonly sectionOpen = new Uint8Array(16);
  /** When the queued entries must go at the latest. */
  deadline = Infinity;
  /** Recent replication lags (s): queued INS to sent. */
  readonly lags = new Float64Array(4096);
  lagCount = 0;

  constructor(private readonly o: OutboundOptions) {
    const cap = o.table.capacity;
    this.peerTouched = new Uint32Array(cap);
    this.updates = new Uint8Array(cap);
    this.wantsAck = new Uint8Array(cap);
    this.insAt = new Float64Array(cap);
    this.builder = new PacketBuilder(o.mtu);
    // a queue never holds more than a packet's worth: it is sent before it would overflow
    const most = Math.ceil(o.mtu / Math.min(...[Action.INS_ACK, Action.UPD_C, Action.INS, Action.UPD].map((a) => MessageLength[a]!))) + 1;
    this.queues = QUEUE_ACTION.map(() => new StateQueue(new Int32Array(most), new Uint32Array(most)));
    const ids = Math.ceil(o.mtu / MessageLength[Action.DEL_C]!) + 1;
    this.dels = new IdQueue(ids);
    this.reqs = new IdQueue(ids);
  }

  get mtu(): number {
    return this.o.mtu;
  }

  /** Entries waiting, by queue (for `show pfsync`). */
  queued(): { ins: number; upd: number; updc: number; del: number; iack: number } {
    const live = (q: number) => {
      const sq = this.queues[q]!;
      let n = 0;
      for (let k = 0; k < sq.n; k++) if (this.current(sq, k, q) >= 0) n++;
      return n;
    };
    return { ins: live(SyncQueue.INS), upd: live(SyncQueue.UPD), updc: live(SyncQueue.UPD_C), del: this.dels.n, iack: live(SyncQueue.IACK) };
  }

  // -- state hooks (the datapath calls these for every change) ---------------

  onInsert(i: number): void {
    const t = this.o.table;
    if (t.flags[i]! & (StateFlag.NOSYNC | StateFlag.FROM_PEER)) return;
    this.counters.changes++;
    this.peerTouched[i] = 0;
    this.insAt[i] = this.o.clock();
    this.enqueue(i, SyncQueue.INS);
    this.arm(INSERT_DELAY);
  }

  onUpdate(i: number): void {
    const t = this.o.table;
    if (t.flags[i]! & StateFlag.NOSYNC) return;
    this.counters.changes++;
    const q = t.syncStatus[i]!;
    if (q === SyncQueue.UPD_C || q === SyncQueue.UPD) {
      // already queued: TCP counts its updates, and a busy state goes out before it is stale
      if (t.protoOf(i) === 6 && ++this.updates[i]! >= this.o.maxupd) this.urgent = true;
    } else if (q === SyncQueue.NONE || q === SyncQueue.IACK) {
      this.updates[i] = 0;
      this.enqueue(i, SyncQueue.UPD_C);
    } // INS: written when sent, with the latest values
    const touched = this.peerTouched[i]!;
    if (touched !== 0 && this.o.clock() - touched < PEER_ACTIVE) this.urgent = true;
  }

  onDelete(i: number): void {
    const t = this.o.table;
    const q = t.syncStatus[i]!;
    t.syncStatus[i] = SyncQueue.NONE;
    if (this.suppress || t.flags[i]! & StateFlag.NOSYNC) return;
    this.counters.changes++;
    if (q === SyncQueue.INS) return; // the peer never heard of it, and need not
    this.reserve(Action.DEL_C);
    this.dels.push(t.idHi[i]!, t.idLo[i]!, t.creator[i]!);
    this.arm();
  }

  // -- what the receiver asks for --------------------------------------------

  /** The peer asked for state i (UPD_REQ), or must hear our newer copy: a full update, sent now. */
  queueFullUpdate(i: number): void {
    if (this.o.table.flags[i]! & StateFlag.NOSYNC) return;
    const q = this.o.table.syncStatus[i]!;
    if (q !== SyncQueue.INS && q !== SyncQueue.UPD) this.enqueue(i, SyncQueue.UPD);
    this.urgent = true;
  }

  /** Our copy was newer than the peer's update: send ours back (UPD_C), so two active nodes converge. */
  queueUpdateBack(i: number): void {
    const q = this.o.table.syncStatus[i]!;
    if (q === SyncQueue.NONE || q === SyncQueue.IACK) this.enqueue(i, SyncQueue.UPD_C);
  }

  /** The peer deferred the packet that made state i: acknowledge its insert now. */
  queueInsAck(i: number): void {
    if (this.o.table.syncStatus[i] === SyncQueue.NONE) this.enqueue(i, SyncQueue.IACK);
    this.urgent = true;
  }

  /** The packet that made state i is held until the peer acknowledges: its INS carries the ACK flag and goes now. */
  markDeferred(i: number): void {
    this.wantsAck[i] = 1;
    this.urgent = true;
  }

  /** An update for a state we do not know: ask the peer for it (sent now, batched per packet). */
  requestState(hi: number, lo: number, creator: number): void {
    this.reserve(Action.UPD_REQ);
    this.reqs.push(hi, lo, creator);
    this.urgent = true;
  }

  // -- packets ---------------------------------------------------------------

  private enqueue(i: number, q: number): void {
    const t = this.o.table;
    this.reserve(QUEUE_ACTION[q]!);
    const sq = this.queues[q]!;
    sq.idx[sq.n] = i;
    sq.tag[sq.n] = t.idLo[i]!;
    sq.n++;
    t.syncStatus[i] = q;
    this.arm();
  }

  /** Makes room for one more message of an action: the packet goes first when it would not fit. */
  private reserve(action: number): void {
    const add = MessageLength[action]! + (this.sectionOpen[action] ? 0 : PFSYNC.SUBHEADER_LENGTH);
    if (this.pending + add > this.o.mtu - PFSYNC.IP_HEADER_LENGTH) {
      this.flush();
      this.reserve(action);
      return;
    }
    this.pending += add;
    this.sectionOpen[action] = 1;
  }

  private arm(delay: number = SEND_DELAY): void {
    const at = this.o.clock() + delay;
    if (at < this.deadline) this.deadline = at;
  }

  /** The queued entry k of queue q, if it still stands for the state it was queued for; else -1. */
  private current(sq: StateQueue, k: number, q: number): number {
    const t = this.o.table;
    const i = sq.idx[k]!;
    return t.live(i) && t.idLo[i] === sq.tag[k] && t.syncStatus[i] === q ? i : -1;
  }

  /** Runs the 1-second timer. */
  tick(now: number): void {
    if (now >= this.deadline) this.flush();
  }

  get empty(): boolean {
    return this.pending === PFSYNC.HEADER_LENGTH;
  }

  /** Sends everything queued, in one packet (the queues never hold more). */
  flush(): void {
    this.urgent = false;
    this.deadline = Infinity;
    if (this.empty) return;
    const t = this.o.table;
    const b = this.builder;
    const now = this.o.clock();
    b.reset();
    for (let k = 0; k < this.reqs.n; k++) writeIdMessage(b.buf, b.add(Action.UPD_REQ), this.reqs.hi[k]!, this.reqs.lo[k]!, this.reqs.creator[k]!);
    for (let k = 0; k < this.dels.n; k++) writeIdMessage(b.buf, b.add(Action.DEL_C), this.dels.hi[k]!, this.dels.lo[k]!, this.dels.creator[k]!);
    for (const q of QUEUES) {
      const sq = this.queues[q]!;
      const action = QUEUE_ACTION[q]!;
      for (let k = 0; k < sq.n; k++) {
        const i = this.current(sq, k, q);
        if (i < 0) continue;
        const off = b.add(action);
        if (q === SyncQueue.INS) {
          this.o.exporter.writeState(i, now, b.buf, off, this.wantsAck[i] ? WireStateFlag.ACK : 0);
          this.recordLag(now - this.insAt[i]!);
        } else if (q === SyncQueue.UPD) this.o.exporter.writeState(i, now, b.buf, off);
        else if (q === SyncQueue.UPD_C) this.o.exporter.writeUpdC(i, b.buf, off);
        else this.o.exporter.writeIdentity(i, b.buf, off);
        t.syncStatus[i] = SyncQueue.NONE;
        this.updates[i] = 0;
        this.wantsAck[i] = 0;
      }
      sq.n = 0;
    }
    this.dels.n = 0;
    this.reqs.n = 0;
    this.pending = PFSYNC.HEADER_LENGTH;
    this.sectionOpen.fill(0);
    if (!b.empty) this.emit(b);
  }

  /** A packet of its own: CLR (a flush of our states), a bulk request, a bulk status. */
  sendAlone(action: typeof Action.CLR | typeof Action.UPD_REQ | typeof Action.BUS, fill: (buf: Uint8Array, off: number) => void): void {
    const b = this.builder;
    // what is queued goes first, so the peer sees the changes in order
    this.flush();
    b.reset();
    fill(b.buf, b.add(action));
    this.emit(b);
  }

  /** CLR for every state we created (the peer removes them all). */
  sendClear(creator: number): void {
    this.sendAlone(Action.CLR, (buf, off) => {
      writeName(buf, off, '');
      writeU32(buf, off + 16, creator);
    });
  }

  /** UPD_REQ (0, 0): send me everything. */
  sendBulkRequest(): void {
    this.sendAlone(Action.UPD_REQ, (buf, off) => writeIdMessage(buf, off, 0, 0, 0));
  }

  /**
   * A bulk packet: BUS START first when `start`, then as many full states
   * from `next()` as fit (it returns -1 when there are no more), then BUS END
   * when the states ran out (`more()` says whether any are left) and it
   * fits. Returns whether BUS END went out.
   */
  sendBulk(start: boolean, creator: number, next: () => number, more: () => boolean): boolean {
    const b = this.builder;
    const now = this.o.clock();
    this.flush();
    b.reset();
    if (start) writeBus(b.buf, b.add(Action.BUS), creator, 0, 1);
    while (b.room(Action.UPD) > 0) {
      const i = next();
      if (i < 0) break;
      this.o.exporter.writeState(i, now, b.buf, b.add(Action.UPD));
    }
    let ended = false;
    if (!more() && b.room(Action.BUS) > 0) {
      writeBus(b.buf, b.add(Action.BUS), creator, 0, 2);
      ended = true;
    }
    if (!b.empty) this.emit(b);
    return ended;
  }

  private emit(b: PacketBuilder): void {
    const pkt = b.finish();
    const c = this.counters;
    c.packets++;
    c.bytes += pkt.length + PFSYNC.IP_HEADER_LENGTH;
    for (let a = 0; a < 16; a++) c.messages[a]! += b.count(a);
    this.o.send(pkt);
  }

  private recordLag(seconds: number): void {
    this.lags[this.lagCount++ % this.lags.length] = seconds;
  }

  /** p50 and p99 of the recent replication lags, in ms (null before any). */
  lagStats(): { last: number | null; p50: number | null; p99: number | null } {
    const n = Math.min(this.lagCount, this.lags.length);
    if (n === 0) return { last: null, p50: null, p99: null };
    const xs = Array.from(this.lags.subarray(0, n)).sort((a, b) => a - b);
    const ms = (x: number) => Math.round(x * 10000) / 10;
    return { last: ms(this.lags[(this.lagCount - 1) % this.lags.length]!), p50: ms(xs[Math.floor(n / 2)]!), p99: ms(xs[Math.min(n - 1, Math.floor(n * 0.99))]!) };
  }
}
