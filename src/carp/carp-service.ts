// CARP at the edge: one state machine per vhid (machine.ts, sans I/O) wired
// to the sockets, the clock, the links and the addresses. Advertisements
// leave as whole Ethernet frames from the group's MAC (frames.ts), or to a
// unicast peer through a raw IP socket; they are received on raw IP sockets
// that report each packet's TTL, checked in OpenBSD's order (validate.ts)
// and handed to the machine. The machines' actions become frames and address
// changes here. Timers run on a monotonic clock as absolute deadlines, so a
// busy datapath delays an advertisement by one event-loop turn at most and
// never shifts the schedule. Like any packet, advertisements pass the
// rules (the daemon's admission) on the way in and out: a blocked one is
// counted and goes no further. A master answers ARP and neighbour
// solicitations for its virtual addresses here (the kernel does not: see
// address-owner.ts).

import { randomBytes } from 'node:crypto';
import type { Kernel } from '../os/kernel.js';
import { LinkMonitor } from '../os/link-monitor.js';
import type { IpJournal } from '../os/ip-journal.js';
import { NeighbourListener, PacketSocket, RawSocket, type RawReceived } from '../os/raw-socket.js';
import type { SysctlJournal } from '../os/sysctl-journal.js';
import type { Clock } from '../os/clock.js';
import type { Logger } from '../log/logger.js';
import { buildIpPacket } from '../packet/build.js';
import { encode as encodeAd } from './advertisement.js';
import { AddressOwner } from './address-owner.js';
import type { CarpGroupConfig } from './carp-config.js';
import { CARP, CarpDrop, CarpDropName } from './constants.js';
import type { Demotion } from './demotion.js';
import { advertisementFrame, encodeGratuitousArp, encodeUnsolicitedNa, ETHERNET_HEADER_LENGTH } from './frames.js';
import { carpHmac } from './hmac.js';
import { CarpMachine, CarpState, CarpStateName, type CarpAction, type CarpStateLabel } from './machine.js';
import {
  ANSWER_MAX_LENGTH,
  answerNeighbour,
  neighbourOwner,
  solicitedNodeMacs,
  type NeighbourOwner,
} from './neighbour-answer.js';
import { CarpCounters, validateAdvertisement, type ValidatingGroup } from './validate.js';

/**
 * The rules' say over CARP's own packets (the daemon checks them as the
 * datapath checks its packets). Packets are whole IP packets.
 */
export interface CarpAdmission {
  admitIn(packet: Uint8Array, ifname: string): boolean;
  admitOut(packet: Uint8Array, ifname: string): boolean;
}

/** Blocked advertisements are logged once per this many (per group and direction), not each one. */
export const BLOCKED_LOG_EVERY = 100;

const IPV6_HEADER_LENGTH = 40;

export interface CarpServiceOptions {
  groups: readonly CarpGroupConfig[];
  kernel: Kernel;
  sysctls: SysctlJournal;
  log: Logger;
  demotion: Demotion;
  /** Monotonic epoch seconds: timers run on it and it dates the transitions. */
  clock: Clock;
  /** Neighbour advertisements carry the Router flag when the node forwards. */
  router?: boolean;
  /** The rules' check of every advertisement received and sent; none: all pass. */
  admission?: CarpAdmission;
  /** Where the undo of the macvlans and carpdev's addresses and routes is recorded, for after a crash. */
  journal?: IpJournal;
}

/** What `show carp` and the metrics are made of; times in the clock's seconds. */
export interface CarpGroupStatus {
  name: string;
  carpdev: string;
  vhid: number;
  state: CarpStateLabel;
  advbase: number;
  advskew: number;
  preempt: boolean;
  lladdr: CarpGroupConfig['lladdr'];
  addresses: string[];
  /** When the group entered its state (or was configured). */
  since: number;
  reason: string;
  /** `blockedOut`: advertisements the rules kept from leaving (the ones kept out are dropped as `blocked`). */
  counters: {
    received: number;
    accepted: number;
    sent: number;
    blockedOut: number;
    dropped: Record<string, number>;
  };
}

export interface CarpStatus {
  demote: number;
  demoteReasons: Record<string, number>;
  groups: CarpGroupStatus[];
}

/** Longest a returning link keeps the node demoted while its IPv6 addresses settle (s). */
const SETTLE_MAX = 5;

/** Consecutive send failures before the node demotes itself (OpenBSD: 3 per vhid). */
const SEND_ERRORS_TO_DEMOTE = 3;

class Group {
  readonly machine: CarpMachine;
  readonly validating: ValidatingGroup;
  readonly cookieBytes: Uint8Array;
  readonly hmac: Uint8Array;
  readonly counters = new CarpCounters();
  sent = 0;
  blockedOut = 0;
  sendErrors = 0;
  reason = 'configured';
  /** The state last reported, so one transition is logged once. */
  reported = -1;
  src4: string | null = null;
  src6: string | null = null;
  peerSocket: RawSocket | null = null;
  /** Our address on carpdev that a unicast peer's IPv6 advertisements go to (the socket does not say). */
  local6: string | null = null;
  /** What the master answers ARP and neighbour solicitations for (lladdr virtual only). */
  readonly neighbours: NeighbourOwner;
  neighbourListener: NeighbourListener | null = null;
  answerErrors = 0;

  constructor(
    readonly cfg: CarpGroupConfig,
    readonly owner: AddressOwner,
    public since: number,
  ) {
    const families = [...new Set(cfg.addresses.map((a) => a.af))].sort();
    this.machine = new CarpMachine({
      vhid: cfg.vhid,
      advbase: cfg.advbase,
      advskew: cfg.advskew,
      preempt: cfg.preempt,
      families,
      skewDemotion: cfg.skewDemotion,
    });
    // OpenBSD's replay cookie: random, never 0, the same in every advertisement
    let cookie = 0n;
    let bytes = new Uint8Array(8);
    while (cookie === 0n) {
      bytes = randomBytes(8);
      cookie = Buffer.from(bytes).readBigUInt64BE(0);
    }
    this.cookieBytes = bytes;
    const auth = { vhid: cfg.vhid, addresses: cfg.addresses.map((a) => a.address), passphrase: cfg.pass.reveal() };
    this.validating = { ...auth, cookie };
    this.hmac = carpHmac(auth, bytes);
    this.neighbours = neighbourOwner(owner.mac, cfg.addresses);
  }
}

/** The sockets of one carp parent interface, shared by its vhids. */
class Parent {
  readonly groups = new Map<number, Group>();
  /**
   * What validation may match: vhids with a unicast peer take only unicast
   * advertisements, the others only multicast (OpenBSD).
   */
  readonly multicastVhids = new Map<number, ValidatingGroup>();
  readonly unicastVhids = new Map<number, ValidatingGroup>();
  readonly allVhids = new Map<number, ValidatingGroup>();
  recv4: RawSocket | null = null;
  recv6: RawSocket | null = null;
  frames: PacketSocket | null = null;
  /** An IPv6 advertisement with the header the socket does not deliver, rebuilt for the rules' check. */
  rebuilt6: Uint8Array | null = null;
  constructor(readonly ifname: string) {}
}

export class CarpService {
  private readonly groups: Group[] = [];
  private readonly parents = new Map<string, Parent>();
  private links: LinkMonitor | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly clock: Clock;
  private stopped = false;
  private readonly answer = new Uint8Array(ANSWER_MAX_LENGTH);

  constructor(private readonly opts: CarpServiceOptions) {
    this.clock = opts.clock;
    const now = this.clock();
    for (const cfg of opts.groups) {
      const g = new Group(cfg, new AddressOwner(opts.kernel, cfg, opts.sysctls, opts.journal), now);
      this.groups.push(g);
      let p = this.parents.get(cfg.carpdev);
      if (!p) this.parents.set(cfg.carpdev, (p = new Parent(cfg.carpdev)));
      p.groups.set(cfg.vhid, g);
      (cfg.peer ? p.unicastVhids : p.multicastVhids).set(cfg.vhid, g.validating);
      p.allVhids.set(cfg.vhid, g.validating);
    }
  }

  /** The macvlans that receive what is sent to the virtual MACs, by carp parent (router mode steers them too). */
  static virtualDevices(groups: readonly CarpGroupConfig[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const g of groups) if (g.lladdr === 'virtual') out.set(g.carpdev, [...(out.get(g.carpdev) ?? []), g.name]);
    return out;
  }

  /**
   * Clears what a killed instance left (its macvlans were up, with the
   * addresses) and sets up this one's, down: before the datapath starts, so
   * nothing reaches it through a virtual MAC while this node is no master.
   */
  prepare(): void {
    const { kernel } = this.opts;
    for (const g of this.groups) {
      if (!kernel.linkExists(g.cfg.carpdev)) throw new Error(`carp ${g.cfg.name}: no such interface: ${g.cfg.carpdev}`);
      g.owner.prepare();
    }
    this.prepared = true;
  }
  private prepared = false;

  start(): void {
    const { kernel, log, demotion } = this.opts;
    if (!this.prepared) this.prepare();
    for (const g of this.groups) {
      const c = g.cfg;
      const own = kernel.addresses(c.carpdev).filter((a) => !c.addresses.some((v) => v.address === a.address));
      g.src4 = own.find((a) => a.af === 4 && a.scope === 'global')?.address ?? null;
      g.src6 =
        own.find((a) => a.af === 6 && a.scope === 'link')?.address ??
        own.find((a) => a.af === 6 && a.scope === 'global')?.address ??
        null;
      if (g.machine.cfg.families.includes(4) && !g.src4)
        throw new Error(`carp ${c.name}: ${c.carpdev} has no IPv4 address to send advertisements from`);
      if (g.machine.cfg.families.includes(6) && !g.src6)
        throw new Error(`carp ${c.name}: ${c.carpdev} has no IPv6 address to send advertisements from`);
      g.local6 =
        own.find((a) => a.af === 6 && (a.scope === 'link') === (c.peer?.startsWith('fe80:') ?? false))?.address ??
        g.src6;
    }
    for (const p of this.parents.values()) this.openParent(p);
    this.links = new LinkMonitor(kernel, this.parents.keys(), (name, up) => this.linkChanged(name, up));
    this.links.start();
    demotion.onChange((total) => {
      const now = this.clock();
      for (const g of this.groups) g.machine.setDemote(total, now);
      this.runActions();
    });
    const now = this.clock();
    for (const [name, p] of this.parents) {
      const up = this.links.isUp(name);
      if (!up) demotion.set(`link:${name}`, 1);
      else this.settle(name);
      for (const g of p.groups.values()) {
        g.machine.setDemote(demotion.total, now);
        if (up) g.machine.start(now);
        else g.machine.linkDown(now);
      }
    }
    this.runActions();
    log.info(
      { groups: this.groups.map((g) => `${g.cfg.name} vhid ${g.cfg.vhid} on ${g.cfg.carpdev}`) },
      'carp started',
    );
  }

  private openParent(p: Parent): void {
    const fams = new Set([...p.groups.values()].flatMap((g) => g.machine.cfg.families));
    const onPacket = (af: 4 | 6) => (data: Uint8Array, info: RawReceived) => this.receive(p, af, data, info);
    const onError = (e: Error) => this.opts.log.error({ err: e.message, interface: p.ifname }, 'carp receive failed');
    if (fams.has(4)) {
      p.recv4 = RawSocket.open(4, CARP.PROTO).bindDevice(p.ifname).join(CARP.GROUP_V4, p.ifname).multicastLoop(false);
      p.recv4.start(onPacket(4), onError);
    }
    if (fams.has(6)) {
      p.recv6 = RawSocket.open(6, CARP.PROTO).bindDevice(p.ifname).join(CARP.GROUP_V6, p.ifname).multicastLoop(false);
      p.recv6.start(onPacket(6), onError);
    }
    p.frames = PacketSocket.open(p.ifname);
    for (const g of p.groups.values()) {
      if (g.cfg.lladdr === 'virtual') {
        g.neighbourListener = NeighbourListener.open(g.cfg.name, solicitedNodeMacs(g.neighbours));
        g.neighbourListener.start(
          (frame, length) => this.answerNeighbour(p, g, frame, length),
          (e) => this.opts.log.error({ err: e.message, interface: g.cfg.name }, 'carp: neighbour receive failed'),
        );
      }
      if (!g.cfg.peer) continue;
      const af = g.cfg.peer.includes(':') ? 6 : 4;
      g.peerSocket = RawSocket.open(af, CARP.PROTO).bindDevice(p.ifname).tos(CARP.TOS);
      const src = af === 4 ? g.src4 : g.src6;
      if (src && af === 4) g.peerSocket.bindAddress(src);
    }
  }

  private receive(p: Parent, af: 4 | 6, data: Uint8Array, info: RawReceived): void {
    if (this.opts.admission && !this.admitIn(p, af, data, info)) return;
    let payload = data;
    let vhids = p.allVhids; // IPv6: the destination is not reported; either kind is taken
    if (af === 4) {
      // IPv4 raw sockets deliver the IP header too
      const ihl = data.length >= 20 ? (data[0]! & 0x0f) * 4 : 0;
      const total = ihl ? (data[2]! << 8) | data[3]! : 0;
      if (ihl < 20 || total < ihl || data.length < ihl) {
        const c = p.groups.values().next().value!.counters;
        c.received++;
        c.dropped[CarpDrop.BAD_LENGTH]!++;
        return;
      }
      payload = data.subarray(ihl, Math.min(total, data.length));
      vhids = data[16]! >= 224 && data[16]! <= 239 ? p.multicastVhids : p.unicastVhids;
    }
    // counted on the vhid the packet names, or on the first of this interface when it names none of ours
    const named = payload.length > 1 ? p.groups.get(payload[1]!) : undefined;
    const counters = (named ?? p.groups.values().next().value!).counters;
    const r = validateAdvertisement(payload, info.ttl, vhids, counters);
    if (!r.ad) return;
    const target = p.groups.get(r.ad.vhid)!;
    const before = target.machine.state;
    target.machine.receive({ advbase: r.ad.advbase, advskew: r.ad.advskew, demote: r.ad.demote }, af, this.clock());
    if (target.machine.state !== before || target.machine.actions.length) this.runActions();
  }

  /** An ARP request or neighbour solicitation that reached a vhid's macvlan: its master answers. */
  private answerNeighbour(p: Parent, g: Group, frame: Uint8Array, length: number): void {
    const master = g.machine.state === CarpState.MASTER && g.owner.owns;
    const n = answerNeighbour(frame, length, g.neighbours, master, this.opts.router ?? true, this.answer);
    if (n === 0) return;
    try {
      p.frames!.send(this.answer.subarray(0, n));
    } catch (e) {
      if (++g.answerErrors % BLOCKED_LOG_EVERY === 1)
        this.opts.log.warn({ carp: g.cfg.name, err: (e as Error).message }, 'carp: neighbour answer not sent');
    }
  }

  /**
   * The rules' `in` check, before CARP's own (pf runs before carp_input).
   * IPv6 raw sockets deliver no header: one is rebuilt from what the socket
   * reports, to the group, or to our address for a vhid with a unicast peer.
   */
  private admitIn(p: Parent, af: 4 | 6, data: Uint8Array, info: RawReceived): boolean {
    let packet = data;
    let vhidAt = af === 4 && data.length >= 20 ? (data[0]! & 0x0f) * 4 + 1 : 1;
    if (af === 6) {
      const named = data.length > 1 ? p.groups.get(data[1]!) : undefined;
      const dst = named?.cfg.peer ? named.local6 : CARP.GROUP_V6;
      const length = IPV6_HEADER_LENGTH + data.length;
      if (!p.rebuilt6 || p.rebuilt6.length < length) p.rebuilt6 = new Uint8Array(Math.max(length, 1500));
      packet = p.rebuilt6.subarray(0, length);
      packet.set(data, IPV6_HEADER_LENGTH);
      packet.set(
        buildIpPacket({
          src: info.source,
          dst: dst ?? CARP.GROUP_V6,
          ttl: info.ttl,
          protocol: CARP.PROTO,
          payload: new Uint8Array(0),
          fixChecksum: false,
        }),
      );
      packet[4] = data.length >> 8;
      packet[5] = data.length & 0xff;
      vhidAt = IPV6_HEADER_LENGTH + 1;
    }
    if (this.opts.admission!.admitIn(packet, p.ifname)) return true;
    const named = vhidAt < packet.length ? p.groups.get(packet[vhidAt]!) : undefined;
    const g = named ?? p.groups.values().next().value!;
    g.counters.received++;
    const blocked = ++g.counters.dropped[CarpDrop.BLOCKED]!;
    if (blocked % BLOCKED_LOG_EVERY === 1)
      this.opts.log.warn(
        { carp: g.cfg.name, interface: p.ifname, source: info.source, blocked },
        'carp: the rules block advertisements in',
      );
    return false;
  }

  private linkChanged(name: string, up: boolean): void {
    const p = this.parents.get(name);
    if (!p) return;
    this.opts.log.warn({ interface: name, link: up ? 'up' : 'down' }, 'carp interface link changed');
    const now = this.clock();
    for (const g of p.groups.values()) g.machine.linkChanged(up, now);
    this.runActions();
    if (up) this.settle(name);
    else this.opts.demotion.set(`link:${name}`, 1);
  }

  /**
   * A link that came back stays counted as down (demoted) until its IPv6
   * addresses are out of duplicate address detection, at most SETTLE_MAX
   * seconds: before that the kernel cannot resolve IPv6 neighbours there,
   * and a node that took the gateway back at once would drop IPv6 for a
   * second or more.
   */
  private settle(name: string): void {
    const { kernel, demotion } = this.opts;
    clearTimeout(this.settling.get(name));
    const until = this.clock() + SETTLE_MAX;
    const check = () => {
      this.settling.delete(name);
      if (this.stopped || !this.links?.isUp(name)) return;
      if (kernel.ipv6Tentative(name) && this.clock() < until) {
        demotion.set(`link:${name}`, 1);
        this.settling.set(name, setTimeout(check, 100));
      } else demotion.set(`link:${name}`, 0);
    };
    check();
  }
  private readonly settling = new Map<string, NodeJS.Timeout>();

  /**
   * Drains every machine's actions and re-arms the timer. A new master takes
   * its addresses before its first advertisement goes out (OpenBSD sends the
   * advertisement first, but its addresses change in no time, and ours take
   * an `ip` command): so the old master, which steps down on hearing it,
   * never leaves a gap; then the announcements, then the rest.
   */
  private runActions(): void {
    for (const g of this.groups) {
      const acts = g.machine.drain();
      for (const a of acts) if (a.kind === 'master') this.tryAddresses(g, () => g.owner.own());
      for (const a of acts) if (a.kind === 'advertise') this.advertise(g, a);
      for (const a of acts) if (a.kind !== 'advertise') this.act(g, a);
    }
    this.schedule();
  }

  private tryAddresses(g: Group, change: () => void): void {
    try {
      change();
    } catch (e) {
      this.opts.log.error({ carp: g.cfg.name, err: (e as Error).message }, 'carp: changing the addresses failed');
    }
  }

  private act(g: Group, a: Exclude<CarpAction, { kind: 'advertise' }>): void {
    const log = this.opts.log;
    if (a.kind === 'master' || a.kind === 'announce-again') this.announce(g);
    else if (a.kind === 'backup') this.tryAddresses(g, () => g.owner.release());
    if ((a.kind === 'master' || a.kind === 'backup' || a.kind === 'init') && g.reported !== g.machine.state) {
      g.reported = g.machine.state;
      const to = CarpStateName[g.machine.state]!;
      g.since = this.clock();
      g.reason = a.reason;
      log.info(
        { carp: g.cfg.name, vhid: g.cfg.vhid, state: to, reason: a.reason, demote: g.machine.demote },
        `carp ${g.cfg.name} is ${to}`,
      );
    }
  }

  private advertise(g: Group, a: Extract<CarpAction, { kind: 'advertise' }>): void {
    const carp = encodeAd({
      version: CARP.VERSION,
      type: CARP.TYPE_ADVERTISEMENT,
      vhid: g.cfg.vhid,
      advskew: a.advskew,
      authlen: CARP.AUTHLEN,
      demote: a.demote,
      advbase: a.advbase,
      counter: g.validating.cookie!,
      hmac: g.hmac,
    });
    const p = this.parents.get(g.cfg.carpdev)!;
    const admission = this.opts.admission;
    try {
      if (g.peerSocket) {
        if ((g.cfg.peer!.includes(':') ? 6 : 4) !== a.family) return; // the unicast peer speaks one family
        const src = (a.family === 4 ? g.src4 : g.src6)!;
        const ip = { src, dst: g.cfg.peer!, ttl: CARP.TTL, tos: CARP.TOS, protocol: CARP.PROTO, payload: carp };
        if (admission && !admission.admitOut(buildIpPacket({ ...ip, fixChecksum: false }), p.ifname))
          return this.blockedOut(g);
        g.peerSocket.send(g.cfg.peer!, carp);
      } else {
        const src = a.family === 4 ? g.src4! : g.src6!;
        const dst = a.family === 4 ? CARP.GROUP_V4 : CARP.GROUP_V6;
        const frame = advertisementFrame.encode({
          srcMac: g.owner.mac,
          src,
          dst,
          ipId: randomBytes(2).readUInt16BE(0),
          carp,
        });
        if (admission && !admission.admitOut(frame.subarray(ETHERNET_HEADER_LENGTH), p.ifname))
          return this.blockedOut(g);
        p.frames!.send(frame);
      }
      g.sent++;
      if (g.sendErrors >= SEND_ERRORS_TO_DEMOTE) this.opts.demotion.adjust(`send:${g.cfg.name}`, -1);
      g.sendErrors = 0;
    } catch (e) {
      if (++g.sendErrors === SEND_ERRORS_TO_DEMOTE) this.opts.demotion.adjust(`send:${g.cfg.name}`, 1);
      if (g.sendErrors <= SEND_ERRORS_TO_DEMOTE)
        this.opts.log.warn({ carp: g.cfg.name, err: (e as Error).message }, 'carp advertisement not sent');
    }
  }

  /**
   * An advertisement the rules kept in: not sent, counted, and a send error
   * as OpenBSD counts it (pf's refusal fails ip_output), so a node that
   * cannot advertise demotes itself after three.
   */
  private blockedOut(g: Group): void {
    const n = ++g.blockedOut;
    if (n % BLOCKED_LOG_EVERY === 1)
      this.opts.log.warn(
        { carp: g.cfg.name, interface: g.cfg.carpdev, blocked: n },
        'carp: the rules block advertisements out; not sent',
      );
    if (++g.sendErrors === SEND_ERRORS_TO_DEMOTE) this.opts.demotion.adjust(`send:${g.cfg.name}`, 1);
  }

  /** Makes the neighbours learn where the addresses live: gratuitous ARP and unsolicited NA. */
  private announce(g: Group): void {
    const p = this.parents.get(g.cfg.carpdev)!;
    for (const a of g.cfg.addresses) {
      try {
        p.frames!.send(
          a.af === 4
            ? encodeGratuitousArp(g.owner.mac, a.address)
            : encodeUnsolicitedNa(g.owner.mac, a.address, this.opts.router ?? true),
        );
      } catch (e) {
        this.opts.log.warn(
          { carp: g.cfg.name, address: a.address, err: (e as Error).message },
          'carp announcement not sent',
        );
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    let next = Infinity;
    for (const g of this.groups) next = Math.min(next, g.machine.nextTimerAt());
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (next === Infinity) return;
    const delay = Math.max(0, (next - this.clock()) * 1000);
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = this.clock();
      for (const g of this.groups) g.machine.tick(now);
      this.runActions();
    }, delay);
  }

  /** `tunpf ctl carp demote N` / `promote N`: the operator's share of the demotion counter. */
  adminDemote(delta: number): number {
    this.opts.demotion.adjust('admin', delta);
    return this.opts.demotion.total;
  }

  status(): CarpStatus {
    const d = this.opts.demotion;
    return {
      demote: d.total,
      demoteReasons: d.snapshot(),
      groups: this.groups.map((g) => ({
        name: g.cfg.name,
        carpdev: g.cfg.carpdev,
        vhid: g.cfg.vhid,
        state: CarpStateName[g.machine.state]!,
        advbase: g.cfg.advbase,
        advskew: g.machine.effectiveSkew,
        preempt: g.cfg.preempt,
        lladdr: g.cfg.lladdr,
        addresses: g.cfg.addresses.map((a) => `${a.address}/${a.bits}`),
        since: g.since,
        reason: g.reason,
        counters: {
          received: g.counters.received,
          accepted: g.counters.accepted,
          sent: g.sent,
          blockedOut: g.blockedOut,
          dropped: Object.fromEntries(
            CarpDropName.map((n, k) => [n, g.counters.dropped[k]!] as const).filter(([n, v]) => n !== 'ok' && v > 0),
          ),
        },
      })),
    };
  }

  /** Going down: masters bow out (255/255) so a backup takes over at once; every address and macvlan goes. */
  stop(): void {
    if (this.stopped) return;
    const now = this.clock();
    for (const g of this.groups) g.machine.shutdown(now);
    this.runActions();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.settling.values()) clearTimeout(t);
    this.links?.stop();
    for (const g of this.groups) {
      g.neighbourListener?.close();
      g.owner.destroy();
      g.peerSocket?.close();
    }
    this.opts.journal?.clear();
    for (const p of this.parents.values()) {
      p.recv4?.close();
      p.recv6?.close();
      p.frames?.close();
    }
    this.opts.log.info({}, 'carp stopped');
  }
}
