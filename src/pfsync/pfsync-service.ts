// pfsync at the edge: a raw IPv4 socket for protocol 240 on the sync
// interface (multicast group 224.0.0.240, or a unicast syncpeer), TTL 255
// and TOS 0x10 on send; the transport checks of OpenBSD on receive (the sync
// interface, TTL 255, and with a syncpeer its source); the engine's timers;
// the sync link's state (the node is demoted by 1 while it is down); and
// the bulk update's demotion while the table is being fetched.

import type { Kernel } from '../os/kernel.js';
import { LinkMonitor } from '../os/link-monitor.js';
import { RawSocket, type RawReceived } from '../os/raw-socket.js';
import type { Logger } from '../log/logger.js';
import type { StateEngine } from '../state/state-engine.js';
import { PFSYNC, PfsyncDrop } from './constants.js';
import { PfsyncEngine, type PfsyncStatus } from './pfsync-engine.js';
import type { PfsyncConfig } from './pfsync-config.js';

/** The node's demotion counter (CARP's), as pfsync uses it: a share per named reason. */
export interface DemotionCounter {
  /** Sets one reason's share (0 removes it). */
  set(reason: string, value: number): void;
  /** Adds to one reason's share. */
  adjust(reason: string, delta: number): void;
}

export interface PfsyncServiceOptions {
  config: PfsyncConfig;
  states: StateEngine;
  kernel: Kernel;
  log: Logger;
  demotion: DemotionCounter;
  ifName: (ifId: number) => string;
  ifId: (name: string) => number;
  /** Seconds, the daemon's clock (the state engine's). */
  clock: () => number;
}

export class PfsyncService {
  readonly engine: PfsyncEngine;
  private socket: RawSocket | null = null;
  private links: LinkMonitor | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private readonly destination: string;
  private sendErrors = 0;
  private stopped = false;

  constructor(private readonly o: PfsyncServiceOptions) {
    const c = o.config;
    if (!o.kernel.linkExists(c.syncdev)) throw new Error(`pfsync: no such interface: ${c.syncdev}`);
    const mtu = Math.min(o.kernel.mtu(c.syncdev), 0xffff);
    this.destination = c.syncpeer ?? PFSYNC.GROUP_V4;
    this.engine = new PfsyncEngine({
      states: o.states,
      config: c,
      mtu,
      clock: o.clock,
      send: (p) => this.send(p),
      demote: (delta) => o.demotion.adjust('pfsync-bulk', delta),
      ifName: o.ifName,
      ifId: o.ifId,
      log: (level, msg, d) => o.log[level](d, `pfsync: ${msg}`),
    });
  }

  start(): void {
    const { config: c, kernel, log, demotion } = this.o;
    const s = RawSocket.open(4, PFSYNC.PROTO).bindDevice(c.syncdev).tos(PFSYNC.TOS).multicastLoop(false);
    if (!c.syncpeer) s.join(PFSYNC.GROUP_V4, c.syncdev);
    s.start(
      (data, info) => this.receive(data, info),
      (e) => log.error({ err: e.message }, 'pfsync receive failed'),
    );
    this.socket = s;
    this.links = new LinkMonitor(kernel, [c.syncdev], (_name, up) => {
      log.warn({ interface: c.syncdev, link: up ? 'up' : 'down' }, 'pfsync link changed');
      demotion.set('pfsync-link', up ? 0 : 1);
      this.engine.linkChanged(up);
      this.schedule();
    });
    this.links.start();
    const up = this.links.isUp(c.syncdev);
    if (!up) demotion.set('pfsync-link', 1);
    this.engine.start(up);
    this.schedule();
    const hostid = this.o.states.table.hostid.toString(16).padStart(8, '0');
    log.info(
      { syncdev: c.syncdev, syncpeer: c.syncpeer ?? PFSYNC.GROUP_V4, maxupd: c.maxupd, defer: c.defer, hostid },
      'pfsync started',
    );
  }

  private receive(data: Uint8Array, info: RawReceived): void {
    const e = this.engine;
    const dropped = e.inbound.counters.dropped;
    // OpenBSD's transport checks, then the engine's (spec §2)
    if (info.ttl !== PFSYNC.TTL) return void dropped[PfsyncDrop.BADTTL]!++;
    if (this.o.config.syncpeer && info.source !== this.o.config.syncpeer) return void dropped[PfsyncDrop.BADSRC]!++;
    const ihl = data.length >= 20 ? (data[0]! & 0x0f) * 4 : 0;
    const total = ihl ? (data[2]! << 8) | data[3]! : 0;
    if (ihl < 20 || total < ihl || data.length < ihl) return void dropped[PfsyncDrop.HDROPS]!++;
    e.receive(data, ihl, Math.min(total, data.length) - ihl);
    this.schedule();
  }

  private send(packet: Uint8Array): void {
    try {
      this.socket?.send(this.destination, packet);
      this.sendErrors = 0;
    } catch (e) {
      if (++this.sendErrors <= 3) this.o.log.warn({ err: (e as Error).message }, 'pfsync packet not sent');
    }
  }

  /** The datapath calls this after each batch: urgent updates leave now, and the timer follows the queue. */
  afterBatch(): void {
    this.engine.afterBatch();
    const next = this.engine.nextTimerAt();
    if (next < this.timerAt) this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.engine.nextTimerAt();
    if (next === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = next;
    if (next === Infinity) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.engine.tick();
        this.schedule();
      },
      Math.max(0, (next - this.o.clock()) * 1000),
    );
  }

  /** `defer`: holds the packet that created state i until the peer has the state (see PfsyncEngine.defer). */
  defer(i: number, buf: Uint8Array, start: number, end: number, release: (packet: Uint8Array) => void): boolean {
    return this.engine.defer(i, buf, start, end, release);
  }

  /** `flush states` with pfsync: one CLR to the peer instead of a delete per state. */
  flushStates(): number {
    const n = this.engine.flushStates();
    this.schedule();
    return n;
  }

  status(): PfsyncStatus {
    return this.engine.status();
  }

  stop(): void {
    if (this.stopped) return;
    this.engine.stop();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.links?.stop();
    this.socket?.close();
    this.o.demotion.set('pfsync-link', 0);
    this.o.log.info({}, 'pfsync stopped');
  }
}
