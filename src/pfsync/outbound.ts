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
// Changes the peer made (Origin.PEER) are never queued: they only mark the
// state as one the peer is busy with.

import { Origin, StateFlag, type OriginValue } from '../state/constants.js';
import type { StateHooks } from '../state/state-engine.js';
import type { StateTable } from '../state/state-table.js';
import { PacketBuilder, writeBus } from './codec.js';
import { BusStatus, ClrOffset, MessageLength, PFSYNC, PfsyncAction, WireStateFlag } from './constants.js';
import { writeIdMessage, type StateExporter } from './state-record.js';
import { SyncBook, SyncQueue } from './sync-book.js';
import { writeName, writeU32 } from './wire.js';

const QUEUE_ACTION = [-1, PfsyncAction.INS, PfsyncAction.UPD_C, PfsyncAction.UPD, PfsyncAction.INS_ACK];
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

/** Where a bulk packet's states come from (BulkResponder). */
export interface BulkSource {
  /** The next state to send, -1 when there are no more. */
  next(): number;
  /** Whether a state is left. */
  hasMore(): boolean;
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
  readonly book: SyncBook;
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
    this.book = new SyncBook(o.table.capacity);
    this.builder = new PacketBuilder(o.mtu);
    // a queue never holds more than a packet's worth: it is sent before it would overflow
    const most =
      Math.ceil(
        o.mtu /
          Math.min(
            ...[PfsyncAction.INS_ACK, PfsyncAction.UPD_C, PfsyncAction.INS, PfsyncAction.UPD].map(
              (a) => MessageLength[a]!,
            ),
          ),
      ) + 1;
    this.queues = QUEUE_ACTION.map(() => new StateQueue(new Int32Array(most), new Uint32Array(most)));
    const ids = Math.ceil(o.mtu / MessageLength[PfsyncAction.DEL_C]!) + 1;
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
    return {
      ins: live(SyncQueue.INS),
      upd: live(SyncQueue.UPD),
      updc: live(SyncQueue.UPD_C),
      del: this.dels.n,
      iack: live(SyncQueue.IACK),
    };
  }

  // -- state hooks (the state engine calls these for every change) ------------

  onInsert(i: number, origin: OriginValue): void {
    const b = this.book;
    b.clear(i);
    if (origin === Origin.PEER) {
      b.peerTouched[i] = Math.floor(this.o.clock());
      return;
    }
    if (this.o.table.flags[i]! & StateFlag.NOSYNC) return;
    this.counters.changes++;
    b.insAt[i] = this.o.clock();
    this.enqueue(i, SyncQueue.INS);
    this.arm(INSERT_DELAY);
  }

  onUpdate(i: number, origin: OriginValue): void {
    const t = this.o.table;
    const b = this.book;
    if (origin === Origin.PEER) {
      b.peerTouched[i] = Math.floor(this.o.clock());
      return;
    }
    if (t.flags[i]! & StateFlag.NOSYNC) return;
    this.counters.changes++;
    const q = b.queue[i]!;
    if (q === SyncQueue.UPD_C || q === SyncQueue.UPD) {
      // already queued: TCP counts its updates, and a busy state goes out before it is stale
      if (t.protoOf(i) === 6 && ++b.updates[i]! >= this.o.maxupd) this.urgent = true;
    } else if (q === SyncQueue.NONE || q === SyncQueue.IACK) {
      b.updates[i] = 0;
      this.enqueue(i, SyncQueue.UPD_C);
    } // INS: written when sent, with the latest values
    const touched = b.peerTouched[i]!;
    if (touched !== 0 && this.o.clock() - touched < PEER_ACTIVE) this.urgent = true;
  }

  onDelete(i: number, origin: OriginValue): void {
    const t = this.o.table;
    const q = this.book.queue[i]!;
    this.book.queue[i] = SyncQueue.NONE;
    if (origin === Origin.PEER || t.flags[i]! & StateFlag.NOSYNC) return;
    this.counters.changes++;
    if (q === SyncQueue.INS) return; // the peer never heard of it, and need not
    this.reserve(PfsyncAction.DEL_C);
    this.dels.push(t.idHi[i]!, t.idLo[i]!, t.creator[i]!);
    this.arm();
  }

  /** A local flush (`flush states`): the peer hears one CLR for all our states, not a delete each. */
  onFlush(origin: OriginValue): void {
    this.book.queue.fill(SyncQueue.NONE);
    if (origin === Origin.LOCAL) this.sendClear(this.o.table.hostid);
  }

  // -- what the receiver asks for --------------------------------------------

  /** The peer asked for state i (UPD_REQ), or must hear our newer copy: a full update, sent now. */
  queueFullUpdate(i: number): void {
    if (this.o.table.flags[i]! & StateFlag.NOSYNC) return;
    const q = this.book.queue[i]!;
    if (q !== SyncQueue.INS && q !== SyncQueue.UPD) this.enqueue(i, SyncQueue.UPD);
    this.urgent = true;
  }

  /** Our copy was newer than the peer's update: send ours back (UPD_C), so two active nodes converge. */
  queueUpdateBack(i: number): void {
    const q = this.book.queue[i]!;
    if (q === SyncQueue.NONE || q === SyncQueue.IACK) this.enqueue(i, SyncQueue.UPD_C);
  }

  /** The peer deferred the packet that made state i: acknowledge its insert now. */
  queueInsAck(i: number): void {
    if (this.book.queue[i] === SyncQueue.NONE) this.enqueue(i, SyncQueue.IACK);
    this.urgent = true;
  }

  /** The packet that made state i is held until the peer acknowledges: its INS carries the ACK flag and goes now. */
  markDeferred(i: number): void {
    this.book.wantsAck[i] = 1;
    this.urgent = true;
  }

  /** An update for a state we do not know: ask the peer for it (sent now, batched per packet). */
  requestState(hi: number, lo: number, creator: number): void {
    this.reserve(PfsyncAction.UPD_REQ);
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
    this.book.queue[i] = q;
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
    return t.live(i) && t.idLo[i] === sq.tag[k] && this.book.queue[i] === q ? i : -1;
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
    const book = this.book;
    const b = this.builder;
    const now = this.o.clock();
    b.reset();
    for (let k = 0; k < this.reqs.n; k++)
      writeIdMessage(b.buf, b.add(PfsyncAction.UPD_REQ), this.reqs.hi[k]!, this.reqs.lo[k]!, this.reqs.creator[k]!);
    for (let k = 0; k < this.dels.n; k++)
      writeIdMessage(b.buf, b.add(PfsyncAction.DEL_C), this.dels.hi[k]!, this.dels.lo[k]!, this.dels.creator[k]!);
    for (let n = 0; n < QUEUES.length; n++) {
      const q = QUEUES[n]!;
      const sq = this.queues[q]!;
      const action = QUEUE_ACTION[q]!;
      for (let k = 0; k < sq.n; k++) {
        const i = this.current(sq, k, q);
        if (i < 0) continue;
        const off = b.add(action);
        if (q === SyncQueue.INS) {
          this.o.exporter.writeState(i, now, b.buf, off, book.wantsAck[i] ? WireStateFlag.ACK : 0);
          this.recordLag(now - book.insAt[i]!);
        } else if (q === SyncQueue.UPD) this.o.exporter.writeState(i, now, b.buf, off);
        else if (q === SyncQueue.UPD_C) this.o.exporter.writeUpdC(i, b.buf, off);
        else this.o.exporter.writeIdentity(i, b.buf, off);
        book.queue[i] = SyncQueue.NONE;
        book.updates[i] = 0;
        book.wantsAck[i] = 0;
      }
      sq.n = 0;
    }
    this.dels.n = 0;
    this.reqs.n = 0;
    this.pending = PFSYNC.HEADER_LENGTH;
    this.sectionOpen.fill(0);
    if (!b.empty) this.emit(b);
  }

  /**
   * Starts a packet of its own (CLR, a bulk request, a bulk packet) after
   * what is queued, so the peer sees the changes in order; returns the
   * builder, empty.
   */
  private alone(): PacketBuilder {
    const b = this.builder;
    this.flush();
    b.reset();
    return b;
  }

  /** CLR for every state we created (the peer removes them all). */
  sendClear(creator: number): void {
    const b = this.alone();
    const off = b.add(PfsyncAction.CLR);
    writeName(b.buf, off + ClrOffset.IFNAME, '');
    writeU32(b.buf, off + ClrOffset.CREATORID, creator);
    this.emit(b);
  }

  /** UPD_REQ (0, 0): send me everything. */
  sendBulkRequest(): void {
    const b = this.alone();
    writeIdMessage(b.buf, b.add(PfsyncAction.UPD_REQ), 0, 0, 0);
    this.emit(b);
  }

  /**
   * A bulk packet: BUS START first when `start`, then as many full states
   * from `source` as fit, then BUS END when the states ran out and it fits.
   * Returns whether BUS END went out.
   */
  sendBulk(start: boolean, creator: number, source: BulkSource): boolean {
    const now = this.o.clock();
    const b = this.alone();
    if (start) writeBus(b.buf, b.add(PfsyncAction.BUS), creator, 0, BusStatus.START);
    while (b.room(PfsyncAction.UPD) > 0) {
      const i = source.next();
      if (i < 0) break;
      this.o.exporter.writeState(i, now, b.buf, b.add(PfsyncAction.UPD));
    }
    let ended = false;
    if (!source.hasMore() && b.room(PfsyncAction.BUS) > 0) {
      writeBus(b.buf, b.add(PfsyncAction.BUS), creator, 0, BusStatus.END);
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
    return {
      last: ms(this.lags[(this.lagCount - 1) % this.lags.length]!),
      p50: ms(xs[Math.floor(n / 2)]!),
      p99: ms(xs[Math.min(n - 1, Math.floor(n * 0.99))]!),
    };
  }
}
