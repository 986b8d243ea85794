// pfsync as one engine, sans I/O: the outbound queues, the receiver, the
// bulk update (both sides) and deferral, driven by the state table's hooks,
// received packets, a clock and tick(). The service (pfsync-service.ts)
// gives it a socket and timers; tests give it a fake clock and a fake wire.

import { FLOATING, Origin, StateFlag } from '../state/constants.js';
import type { StateEngine } from '../state/state-engine.js';
import { PFSYNC, PfsyncActionName, PfsyncDropName, STATE_LENGTH } from './constants.js';
import { BulkRequester, BulkResponder, BulkStateName } from './bulk.js';
import { Deferral } from './deferral.js';
import { PfsyncInbound } from './inbound.js';
import { PfsyncOutbound } from './outbound.js';
import type { PfsyncConfig } from './pfsync-config.js';
import { StateExporter, StateImporter, type StateRoutes } from './state-record.js';

export interface PfsyncEngineOptions {
  states: StateEngine;
  config: PfsyncConfig;
  /** The sync interface's MTU (IP header included). */
  mtu: number;
  /** Seconds; the state table's clock. */
  clock: () => number;
  /** One pfsync packet out (the socket adds the IP header). */
  send: (packet: Uint8Array) => void;
  /** Raises or lowers the node's CARP demotion. */
  demote: (delta: number) => void;
  ifName: (ifId: number) => string;
  ifId: (name: string) => number;
  /** What states' routes point into (pfsync's rt, rt_addr); without it they are not carried. */
  routes?: () => StateRoutes;
  log?: (level: 'info' | 'warn', msg: string, detail: Record<string, unknown>) => void;
}

/**
 * The bulk responder's pace: at most BULK_PACKETS_PER_TURN packets a turn
 * (about a millisecond of work), a turn every BULK_TURN seconds, so the
 * datapath keeps running while the peer gets thousands of states a second.
 */
export const BULK_PACKETS_PER_TURN = 32;
export const BULK_TURN = 0.004;

export interface PfsyncMessageCounts {
  packets: number;
  bytes: number;
  /** Messages by action name (actions with none left out). */
  messages: Record<string, number>;
}

/** What pfsync reports of itself: plain data, times in seconds on the engine's clock. */
export interface PfsyncStatus {
  syncdev: string;
  syncpeer: string | null;
  maxupd: number;
  defer: boolean;
  hostid: number;
  /** The bulk update this node asked for: its BulkStateName, how it ended, when it started and ended. */
  bulk: { state: string; outcome: string | null; startedAt: number | null; endedAt: number | null };
  queued: { ins: number; upd: number; updc: number; del: number; iack: number };
  /** `changes`: the local state changes the messages carried (inserts, updates, deletes). */
  sent: PfsyncMessageCounts & { changes: number };
  received: PfsyncMessageCounts;
  /** By drop reason (pfsyncstats), reasons with none left out. */
  dropped: Record<string, number>;
  /** Replication lag (queued insert to sent), ms. */
  lagMs: { last: number | null; p50: number | null; p99: number | null };
  /** Packets the rules kept from leaving (counted in `sent` too); the service counts them. */
  blockedOut: number;
}

export class PfsyncEngine {
  readonly outbound: PfsyncOutbound;
  readonly inbound: PfsyncInbound;
  readonly requester: BulkRequester;
  readonly responder: BulkResponder;
  readonly deferral = new Deferral();
  private bulkTurnAt = Infinity;
  private readonly hostid: number;

  constructor(private readonly o: PfsyncEngineOptions) {
    const t = o.states.table;
    this.hostid = t.hostid;
    const exporter = StateExporter.forEngine(o.states, o.ifName, o.routes);
    this.outbound = new PfsyncOutbound({
      table: t,
      exporter,
      mtu: o.mtu,
      maxupd: o.config.maxupd,
      clock: o.clock,
      send: o.send,
    });
    this.inbound = new PfsyncInbound(
      o.states,
      new StateImporter(o.states, o.ifId, o.routes),
      this.outbound,
      {
        bulkRequested: () => this.bulkRequested(),
        bulkStatus: (status) => this.requester.status(status, o.clock()),
        acknowledged: (i) => this.deferral.acknowledged(i, t.idLo[i]!),
      },
      this.hostid,
      (ifId) => (ifId === FLOATING ? PFSYNC.IFNAME_FLOATING : o.ifName(ifId)),
    );
    const statesPerPacket = Math.floor(
      (o.mtu - PFSYNC.IP_HEADER_LENGTH - PFSYNC.HEADER_LENGTH - PFSYNC.SUBHEADER_LENGTH) / STATE_LENGTH,
    );
    this.requester = new BulkRequester({
      demote: o.demote,
      request: () => this.outbound.sendBulkRequest(),
      stateLimit: t.capacity,
      statesPerPacket,
      log: (msg, d) => o.log?.('info', msg, d),
    });
    this.responder = new BulkResponder(
      () => t.extent,
      (i) => t.live(i) && !(t.flags[i]! & StateFlag.NOSYNC),
    );
    o.states.hooks = this.outbound;
  }

  /** pfsync comes up: ask the peer for its table (demoted until it is here). */
  start(linkUp: boolean): void {
    this.requester.start(this.o.clock(), linkUp);
  }

  linkChanged(up: boolean): void {
    if (up) this.requester.linkUp(this.o.clock());
  }

  /** The pfsync bytes of a packet that passed the transport checks. */
  receive(buf: Uint8Array, offset: number, length: number): number {
    const drop = this.inbound.process(buf, offset, length, this.o.clock());
    if (this.outbound.urgent) this.outbound.flush();
    return drop;
  }

  /** After a batch of packets: what cannot wait goes now, in one packet. */
  afterBatch(): void {
    if (this.outbound.urgent) this.outbound.flush();
  }

  /**
   * With `defer`: holds the packet that created state i until the peer has
   * the state; returns false (send it now) without defer, or for states
   * that are not synced. The packet is buf[start, end); only a held one is
   * copied, so a state that is not deferred costs nothing.
   */
  defer(i: number, buf: Uint8Array, start: number, end: number, release: (packet: Uint8Array) => void): boolean {
    const t = this.o.states.table;
    if (!this.o.config.defer || t.flags[i]! & StateFlag.NOSYNC) return false;
    this.deferral.hold(i, t.idLo[i]!, buf.subarray(start, end), this.o.clock(), release);
    this.outbound.markDeferred(i);
    return true;
  }

  nextTimerAt(): number {
    return Math.min(
      this.outbound.deadline,
      this.requester.nextTimerAt(),
      this.bulkTurnAt,
      this.deferral.nextTimerAt(),
      this.outbound.urgent ? this.o.clock() : Infinity,
    );
  }

  tick(): void {
    const now = this.o.clock();
    this.outbound.tick(now);
    if (this.outbound.urgent) this.outbound.flush();
    this.requester.tick(now);
    this.deferral.tick(now);
    if (now >= this.bulkTurnAt) this.bulkTurn(now);
  }

  private bulkRequested(): void {
    const fresh = !this.responder.active;
    this.responder.begin();
    this.bulkTurnAt = this.o.clock();
    this.o.log?.('info', fresh ? 'sending a bulk update' : 'bulk update requested again: starting over', {
      states: this.o.states.table.count,
    });
  }

  /** One paced turn of the bulk answer: BUS START, the states, BUS END. */
  private bulkTurn(now: number): void {
    const r = this.responder;
    for (let n = 0; r.active && n < BULK_PACKETS_PER_TURN; n++) {
      const start = !r.started;
      r.started = true;
      if (this.outbound.sendBulk(start, this.hostid, r)) {
        r.done();
        this.o.log?.('info', 'bulk update sent', { states: r.sentStates });
      }
    }
    this.bulkTurnAt = r.active ? now + BULK_TURN : Infinity;
  }

  /** `flush states`: every state goes, and the peer hears one CLR instead of a delete each (PfsyncOutbound.onFlush). */
  flushStates(): number {
    return this.o.states.flush(Origin.LOCAL);
  }

  stop(): void {
    this.deferral.releaseAll();
    this.outbound.flush();
    this.requester.stop();
    if (this.o.states.hooks === this.outbound) this.o.states.hooks = null;
  }

  status(): Omit<PfsyncStatus, 'blockedOut'> {
    const c = this.o.config;
    const out = this.outbound.counters;
    const inc = this.inbound.counters;
    const byAction = (m: Float64Array) =>
      Object.fromEntries(PfsyncActionName.map((n, a) => [n, m[a]!] as const).filter(([, v]) => v > 0));
    const rq = this.requester;
    return {
      syncdev: c.syncdev,
      syncpeer: c.syncpeer,
      maxupd: c.maxupd,
      defer: c.defer,
      hostid: this.hostid,
      bulk: { state: BulkStateName[rq.state]!, outcome: rq.outcome, startedAt: rq.startedAt, endedAt: rq.endedAt },
      queued: this.outbound.queued(),
      sent: { packets: out.packets, bytes: out.bytes, messages: byAction(out.messages), changes: out.changes },
      received: { packets: inc.packets, bytes: inc.bytes, messages: byAction(inc.messages) },
      dropped: Object.fromEntries(
        PfsyncDropName.map((n, k) => [n, inc.dropped[k]!] as const).filter(([n, v]) => n !== 'ok' && v > 0),
      ),
      lagMs: this.outbound.lagStats(),
    };
  }
}
