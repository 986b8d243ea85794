// pfsync at the edge: a raw IPv4 socket for protocol 240 on the sync
// interface (multicast group 224.0.0.240, or a unicast syncpeer), TTL 255
// and TOS 0x10 on send; the transport checks of OpenBSD on receive (the sync
// interface, TTL 255, and with a syncpeer its source); the engine's timers;
// the sync link's state (the node is demoted by 1 while it is down); and
// the bulk update's demotion while the table is being fetched. Like any
// packet, pfsync's pass the rules (the daemon's admission) on the way in and
// out: a blocked one is counted and goes no further.

import type { Kernel } from '../os/kernel.js';
import { LinkMonitor } from '../os/link-monitor.js';
import { RawSocket, type RawReceived } from '../os/raw-socket.js';
import type { Logger } from '../log/logger.js';
import { parseAddress, wordsToBytes } from '../packet/address.js';
import { writeIpv4HeaderChecksum } from '../packet/checksum.js';
import type { StateEngine } from '../state/state-engine.js';
import type { StateRoutes } from './state-record.js';
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

/**
 * The rules' say over pfsync's own packets (the daemon checks them as the
 * datapath checks its packets). Packets are whole IP packets.
 */
export interface PfsyncAdmission {
  admitIn(packet: Uint8Array, ifname: string): boolean;
  admitOut(packet: Uint8Array, ifname: string): boolean;
}

/** Blocked packets are logged once per this many (per direction), not each one. */
export const BLOCKED_LOG_EVERY = 100;

const IPV4_HEADER_LENGTH = 20;

export interface PfsyncServiceOptions {
  config: PfsyncConfig;
  states: StateEngine;
  kernel: Kernel;
  log: Logger;
  demotion: DemotionCounter;
  ifName: (ifId: number) => string;
  ifId: (name: string) => number;
  /** What states' routes point into (pfsync's rt, rt_addr); without it they are not carried. */
  routes?: () => StateRoutes;
  /** Seconds, the daemon's clock (the state engine's). */
  clock: () => number;
  /** The rules' check of every packet received and sent; none: all pass. */
  admission?: PfsyncAdmission;
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
  private blockedOut = 0;
  /** What leaves, with the IP header the kernel will put in front of it, for the rules' `out` check. */
  private framed: Uint8Array = new Uint8Array(0);

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
      routes: o.routes,
      log: (level, msg, d) => o.log[level](d, `pfsync: ${msg}`),
    });
  }

  start(): void {
    const { config: c, kernel, log, demotion } = this.o;
    if (this.o.admission) this.framed = this.headerTemplate();
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
    // pf's check comes first (IPv4 raw sockets deliver the header)
    if (this.o.admission && !this.o.admission.admitIn(data, this.o.config.syncdev)) {
      const blocked = ++dropped[PfsyncDrop.BLOCKED]!;
      if (blocked % BLOCKED_LOG_EVERY === 1)
        this.o.log.warn(
          { interface: this.o.config.syncdev, source: info.source, blocked },
          'pfsync: the rules block pfsync in',
        );
      return;
    }
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
    if (this.o.admission && !this.o.admission.admitOut(this.withHeader(packet), this.o.config.syncdev)) {
      const blocked = ++this.blockedOut;
      if (blocked % BLOCKED_LOG_EVERY === 1)
        this.o.log.warn(
          { interface: this.o.config.syncdev, destination: this.destination, blocked },
          'pfsync: the rules block pfsync out; not sent',
        );
      return;
    }
    try {
      this.socket?.send(this.destination, packet);
      this.sendErrors = 0;
    } catch (e) {
      if (++this.sendErrors <= 3) this.o.log.warn({ err: (e as Error).message }, 'pfsync packet not sent');
    }
  }

  /** The IPv4 header the socket puts in front of what it sends: TTL 255, TOS 0x10, from the sync interface. */
  private headerTemplate(): Uint8Array {
    const b = new Uint8Array(1500);
    b[0] = 0x45;
    b[1] = PFSYNC.TOS;
    b[6] = 0x40; // DF: Linux sends raw packets with path-MTU discovery on
    b[8] = PFSYNC.TTL;
    b[9] = PFSYNC.PROTO;
    const own = this.o.kernel.addresses(this.o.config.syncdev).find((a) => a.af === 4)?.address ?? '0.0.0.0';
    wordsToBytes(parseAddress(own)!.words, 4, b, 12);
    wordsToBytes(parseAddress(this.destination)!.words, 4, b, 16);
    return b;
  }

  /**
   * The packet as it will leave, the socket's IPv4 header in front, in one
   * buffer reused for every packet.
   */
  private withHeader(packet: Uint8Array): Uint8Array {
    const length = IPV4_HEADER_LENGTH + packet.length;
    if (this.framed.length < length) {
      const grown = new Uint8Array(length);
      grown.set(this.framed.subarray(0, IPV4_HEADER_LENGTH));
      this.framed = grown;
    }
    const b = this.framed;
    b[2] = length >> 8;
    b[3] = length & 0xff;
    b.set(packet, IPV4_HEADER_LENGTH);
    writeIpv4HeaderChecksum(b, 0);
    return b.subarray(0, length);
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
    return { ...this.engine.status(), blockedOut: this.blockedOut };
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
