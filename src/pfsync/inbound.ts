// pfsync's receiving side, sans I/O (shared/spec/pfsync.md §7): the
// sections of a packet that passed the transport checks are walked in place
// (codec.walkPacket) and each message is applied through the state engine,
// with origin PEER, so none of it is echoed back (the outbound side ignores
// what the peer did). Inserts import the peer's state under its identity;
// updates move windows, states and timeouts forward and never back (§7.1:
// stale ones are counted and answered with our newer copy); an update for an
// unknown state asks for it; deletes remove without echo; CLR removes what a
// creator made; UPD_REQ (0, 0) starts a bulk update; BUS drives our own
// bulk request; INS_ACK and updates release deferred packets.

import { IPPROTO } from '../packet/meta.js';
import { Origin, StateFlag } from '../state/constants.js';
import type { StateEngine } from '../state/state-engine.js';
import { StateImage } from '../state/state-image.js';
import type { StateTable } from '../state/state-table.js';
import { walkPacket } from './codec.js';
import {
  BusOffset,
  ClrOffset,
  IdMessageOffset,
  ImportErrorCounter,
  PFSYNC_DROP_CODES,
  PeerOffset,
  PfsyncAction,
  PfsyncDrop,
  StateOffset,
  UpdCOffset,
} from './constants.js';
import type { PfsyncOutbound } from './outbound.js';
import { findStateOf, readPeer, validateUpdate, validateUpdC, type StateImporter } from './state-record.js';
import { readName, readU32 } from './wire.js';

export class InboundCounters {
  packets = 0;
  bytes = 0;
  /** Messages received, by action. */
  readonly messages = new Float64Array(16);
  /** By PfsyncDrop code. */
  readonly dropped = new Float64Array(PFSYNC_DROP_CODES);
}

/** What the receiver hands on to the rest of pfsync. */
export interface InboundEvents {
  /** The peer asked for the whole table (UPD_REQ 0, 0). */
  bulkRequested(): void;
  /** A bulk status from the peer (1 START, 2 END). */
  bulkStatus(status: number, creator: number): void;
  /** The peer has state i now (INS_ACK, or an update of it): a packet held for it may go. */
  acknowledged(i: number): void;
}

const PROXY_SRC = 11; // pf's synproxy phases are 11 and 12

const seqGt = (a: number, b: number) => ((a - b) | 0) > 0;

/**
 * Whether our side p (state index * 2 + side) is newer than the peer's copy
 * at buf[off] (a pfsync_state_peer), by OpenBSD's rule: a higher state
 * level, unless ours is a synproxy phase and theirs is not; or, for TCP, the
 * same level and a later seqlo.
 */
function oursNewer(t: StateTable, p: number, tcp: boolean, buf: Uint8Array, off: number, src: boolean): boolean {
  const ours = t.peerState[p]!;
  const theirs = buf[off + PeerOffset.STATE]!;
  if (!tcp) return ours > theirs;
  if (ours > theirs && !(src && ours >= PROXY_SRC && theirs < PROXY_SRC)) return true;
  return ours === theirs && seqGt(t.seqlo[p]!, readU32(buf, off + PeerOffset.SEQLO));
}

export class PfsyncInbound {
  readonly counters = new InboundCounters();
  private now = 0;
  /** The peer's view of a state in an update, for the merge. */
  private readonly image = new StateImage();

  constructor(
    private readonly engine: StateEngine,
    private readonly importer: StateImporter,
    private readonly outbound: PfsyncOutbound,
    private readonly events: InboundEvents,
    /** Our own creator id: BUS and CLR of our own are ignored. */
    private readonly hostid: number,
    /** A floating interface name or an if-bound state's, for CLR with an interface. */
    private readonly ifName: (ifId: number) => string,
  ) {}

  /**
   * Applies the pfsync bytes of one packet (after the IP header). Returns
   * PfsyncDrop.OK or why (the rest of) it was dropped; the sections before a
   * fault have been applied, as in OpenBSD.
   */
  process(buf: Uint8Array, offset: number, length: number, now: number): number {
    const c = this.counters;
    this.now = now;
    c.packets++;
    c.bytes += length;
    const drop = walkPacket(buf, offset, length, this);
    if (drop !== PfsyncDrop.OK) c.dropped[drop]!++;
    return drop;
  }

  /** walkPacket's visitor: `count` messages of `action`, `stride` bytes apart. */
  section(action: number, buf: Uint8Array, offset: number, stride: number, count: number): void {
    this.counters.messages[action]! += count;
    for (let k = 0; k < count; k++) {
      const off = offset + k * stride;
      switch (action) {
        case PfsyncAction.INS:
          this.insert(buf, off);
          break;
        case PfsyncAction.UPD:
          this.update(buf, off);
          break;
        case PfsyncAction.UPD_C:
          this.updateCompressed(buf, off);
          break;
        case PfsyncAction.DEL:
        case PfsyncAction.DEL_C:
          this.remove(action, buf, off);
          break;
        case PfsyncAction.INS_ACK: {
          const i = this.find(action, buf, off);
          if (i >= 0) this.events.acknowledged(i);
          break;
        }
        case PfsyncAction.UPD_REQ:
          this.request(buf, off);
          break;
        case PfsyncAction.CLR:
          this.clear(buf, off);
          break;
        case PfsyncAction.BUS: {
          const creator = readU32(buf, off + BusOffset.CREATORID);
          if (creator !== this.hostid) this.events.bulkStatus(buf[off + BusOffset.STATUS]!, creator);
          break;
        }
        default:
          break; // TDB (IPsec) and EOF: nothing to do here
      }
    }
  }

  private drop(code: number): void {
    this.counters.dropped[code]!++;
  }

  private find(action: number, buf: Uint8Array, off: number): number {
    return findStateOf(this.engine.table, action, buf, off);
  }

  private insert(buf: Uint8Array, off: number): void {
    const known = this.find(PfsyncAction.INS, buf, off);
    if (known >= 0) {
      // an insert we have already (a bulk overlapping normal traffic): take it as an update
      this.merge(known, buf, off + StateOffset.SRC, off + StateOffset.DST, buf[off + StateOffset.TIMEOUT]!);
      return;
    }
    const i = this.importer.import(buf, off, this.now, true);
    if (i < 0) return this.drop(ImportErrorCounter[-i]!);
    if (this.importer.ackRequested) this.outbound.queueInsAck(i);
  }

  private update(buf: Uint8Array, off: number): void {
    const bad = validateUpdate(buf, off);
    if (bad) return this.drop(ImportErrorCounter[bad]!);
    const i = this.find(PfsyncAction.UPD, buf, off);
    if (i < 0) {
      // a state we do not have (a bulk update, or a missed insert): import it
      const n = this.importer.import(buf, off, this.now, true);
      if (n < 0) this.drop(ImportErrorCounter[-n]!);
      return;
    }
    this.merge(i, buf, off + StateOffset.SRC, off + StateOffset.DST, buf[off + StateOffset.TIMEOUT]!);
  }

  private updateCompressed(buf: Uint8Array, off: number): void {
    const bad = validateUpdC(buf, off);
    if (bad) return this.drop(ImportErrorCounter[bad]!);
    const i = this.find(PfsyncAction.UPD_C, buf, off);
    if (i < 0) {
      this.drop(PfsyncDrop.BADSTATE);
      this.outbound.requestState(
        readU32(buf, off + UpdCOffset.ID),
        readU32(buf, off + UpdCOffset.ID + 4),
        readU32(buf, off + UpdCOffset.CREATORID),
      );
      return;
    }
    this.merge(i, buf, off + UpdCOffset.SRC, off + UpdCOffset.DST, buf[off + UpdCOffset.TIMEOUT]!);
  }

  /**
   * §7.1: each side moves forward only (the sides where ours is newer are
   * kept); the timeout restarts unless both our sides were newer. When ours
   * was newer, our copy is sent back: an answer, not an echo.
   */
  private merge(i: number, buf: Uint8Array, srcOff: number, dstOff: number, timeout: number): void {
    const t = this.engine.table;
    const tcp = t.protoOf(i) === IPPROTO.TCP;
    let sides = 0;
    if (!oursNewer(t, i * 2, tcp, buf, srcOff, true)) sides |= 1;
    if (!oursNewer(t, i * 2 + 1, tcp, buf, dstOff, false)) sides |= 2;
    const img = this.image;
    readPeer(buf, srcOff, img.peer[0]);
    readPeer(buf, dstOff, img.peer[1]);
    img.timeoutClass = timeout;
    this.engine.updateFromImage(i, img, sides, this.now, Origin.PEER);
    if (sides !== 3) {
      this.drop(PfsyncDrop.STALE);
      this.outbound.queueUpdateBack(i);
    }
    this.events.acknowledged(i);
  }

  private remove(action: number, buf: Uint8Array, off: number): void {
    const i = this.find(action, buf, off);
    if (i < 0) return this.drop(PfsyncDrop.BADSTATE);
    this.engine.remove(i, Origin.PEER);
  }

  private request(buf: Uint8Array, off: number): void {
    const creator = readU32(buf, off + IdMessageOffset.CREATORID);
    const hi = readU32(buf, off + IdMessageOffset.ID);
    const lo = readU32(buf, off + IdMessageOffset.ID + 4);
    if (creator === 0 && hi === 0 && lo === 0) return this.events.bulkRequested();
    const i = this.engine.table.findById(creator, hi, lo);
    if (i < 0 || this.engine.table.flags[i]! & StateFlag.NOSYNC) return this.drop(PfsyncDrop.BADSTATE);
    this.outbound.queueFullUpdate(i);
  }

  private clear(buf: Uint8Array, off: number): void {
    const creator = readU32(buf, off + ClrOffset.CREATORID);
    if (creator === this.hostid) return;
    const ifname = readName(buf, off + ClrOffset.IFNAME);
    const t = this.engine.table;
    const victims: number[] = [];
    t.forEach((i) => {
      if (t.creator[i] !== creator) return;
      if (ifname && this.ifName(t.ifId[i]!) !== ifname) return;
      victims.push(i);
    });
    for (const i of victims) this.engine.remove(i, Origin.PEER);
  }
}
