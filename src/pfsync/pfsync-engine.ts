// pfsync as one engine, sans I/O: the outbound queues, the receiver, the
// bulk update (both sides) and deferral, driven by the state table's hooks,
// received packets, a clock and tick(). The service (pfsync-service.ts)
// gives it a socket and timers; tests give it a fake clock and a fake wire.

import type { ShowPfsyncResult } from '../control/results.js';
import { StateFlag } from '../state/constants.js';
import type { StateEngine } from '../state/state-engine.js';
import { STATE_LENGTH } from './codec.js';
import { ActionName, PFSYNC, PfsyncDropName } from './constants.js';
import { BulkRequester, BulkResponder, BulkStateName } from './bulk.js';
import { Deferral } from './deferral.js';
import { PfsyncInbound } from './inbound.js';
import { PfsyncOutbound } from './outbound.js';
import type { PfsyncConfig } from './pfsync-config.js';
import { StateExporter, StateImporter } from './state-record.js';

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
  log?: (level: 'info' | 'warn', msg: string, detail: Record<string, unknown>) => void;
}

/** The bulk responder's pace: at most this much work per turn, a turn every BULK_TURN seconds. */
export const BULK_BUDGET_MS = 1;
export const BULK_TURN = 0.004;

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
    const exporter = StateExporter.forEngine(o.states, o.ifName);
    this.outbound = new PfsyncOutbound({ table: t, exporter, mtu: o.mtu, maxupd: o.config.maxupd, clock: o.clock, send: o.send });
    this.inbound = new PfsyncInbound(o.states, new StateImporter(o.states, o.ifId), this.outbound, {
      bulkRequested: () => this.bulkRequested(),
      bulkStatus: (status) => this.requester.status(status, o.clock()),
      acknowledged: (i) => this.deferral.acknowledged(i, t.idLo[i]!),
    }, this.hostid, (ifId) => (ifId === 0xff ? 'all' : o.ifName(ifId)));
    const statesPerPacket = Math.floor((o.mtu - PFSYNC.IP_HEADER_LENGTH - PFSYNC.HEADER_LENGTH - PFSYNC.SUBHEADER_LENGTH) / STATE_LENGTH);
    this.requester = new BulkRequester({
      demote: o.demote,
      request: () => this.outbound.sendBulkRequest(),
      stateLimit: t.capacity,
      statesPerPacket,
      log: (msg, d) => o.log?.('info', msg, d),
    });
    this.responder = new BulkResponder(() => t.extent, (i) => t.live(i) && !(t.flags[i]! & StateFlag.NOSYNC));
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
   * that are not synced.
   */
  defer(i: number, packet: Uint8Array, release: (packet: Uint8Array) => void): boolean {
    const t = this.o.states.table;
    if (!this.o.config.defer || t.flags[i]! & StateFlag.NOSYNC) return false;
    this.deferral.hold(i, t.idLo[i]!, packet, this.o.clock(), release);
    this.outbound.markDeferred(i);
    return true;
  }

  nextTimerAt(): number {
    return Math.min(this.outbound.deadline, this.requester.nextTimerAt(), this.bulkTurnAt, this.deferral.nextTimerAt(), this.outbound.urgent ? this.o.clock() : Infinity);
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
    this.o.log?.('info', fresh ? 'sending a bulk update' : 'bulk update requested again: starting over', { states: this.o.states.table.count });
  }

  /** One paced turn of the bulk answer: BUS START, the states, BUS END. */
  private bulkTurn(now: number): void {
    const r = this.responder;
    const t0 = performance.now();
    while (r.active && performance.now() - t0 < BULK_BUDGET_MS) {
      const start = !r.started;
      r.started = true;
      if (this.outbound.sendBulk(start, this.hostid, () => r.next(), () => r.hasMore())) {
        r.done();
        this.o.log?.('info', 'bulk update sent', { states: r.sentStates });
      }
    }
    this.bulkTurnAt = r.active ? now + BULK_TURN : Infinity;
  }

  /** `flush states`: every state goes, and the peer hears one CLR instead of a delete each. */
  flushStates(): number {
    const out = this.outbound;
    out.suppress = true;
    let n: number;
    try {
      n = this.o.states.flush();
    } finally {
      out.suppress = false;
    }
    out.sendClear(this.hostid);
    return n;
  }

  stop(): void {
    this.deferral.releaseAll();
    this.outbound.flush();
    this.requester.stop();
    if (this.o.states.hooks === this.outbound) this.o.states.hooks = null;
  }

  status(): ShowPfsyncResult {
    const c = this.o.config;
    const out = this.outbound.counters;
    const inc = this.inbound.counters;
    const byAction = (m: Float64Array) => Object.fromEntries(ActionName.map((n, a) => [n, m[a]!] as const).filter(([, v]) => v > 0));
    const rq = this.requester;
    const iso = (s: number | null) => (s === null ? null : new Date(s * 1000).toISOString());
    return {
      syncdev: c.syncdev,
      syncpeer: c.syncpeer,
      maxupd: c.maxupd,
      defer: c.defer,
      hostid: this.hostid.toString(16).padStart(8, '0'),
      bulk: { state: BulkStateName[rq.state]! + (rq.outcome && rq.outcome !== 'complete' ? ` (${rq.outcome})` : ''), started: iso(rq.startedAt), ended: iso(rq.endedAt) },
      queued: this.outbound.queued(),
      sent: { packets: out.packets, bytes: out.bytes, messages: byAction(out.messages), changes: out.changes },
      received: { packets: inc.packets, bytes: inc.bytes, messages: byAction(inc.messages) },
      dropped: Object.fromEntries(PfsyncDropName.map((n, k) => [n, inc.dropped[k]!] as const).filter(([n, v]) => n !== 'ok' && v > 0)),
      lagMs: this.outbound.lagStats(),
    };
  }
}
