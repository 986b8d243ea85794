// The batch loop of router mode: a batch read from an interface's TUN is
// parsed, its states warmed, and every packet goes through the packet
// pipeline (`in` on that interface, `out` on the egress the routing table
// picks; from tpf-local, what the router sends, `out` only); passing
// packets get back the hop the kernel took twice and are
// written back to the same TUN in one batch, blocked ones are answered when
// their rule says `block return`, and pfsync may hold the first packet of a
// new state (defer). No allocation per packet.

import { BlockReply } from '../filter/compile-rules.js';
import type { PacketFilter } from '../filter/packet-filter.js';
import type { PacketLogSink } from '../log/pflog-writer.js';
import { formatAddress } from '../packet/address.js';
import { buildIcmpErrorFor, buildTcpResetFor } from '../packet/build.js';
import { incrementIpv4Ttl, incrementIpv6HopLimit } from '../packet/checksum.js';
import { ipv6FragmentCount, refragmentIpv6 } from '../packet/fragment.js';
import { Direction, PacketMeta } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import { FragStep } from '../state/fragment-cache.js';
import type { StateEngine } from '../state/state-engine.js';
import { PacketPipeline, type PacketOutcome } from './pipeline.js';
import { SynproxySender } from './synproxy-sender.js';
import type { RouteLookup } from './route-table.js';
import { SLOT_SIZE, type RxBatch, type TunDevice } from './tun-device.js';
import { VIRTIO_NET_HDR_LEN, VirtioFlag } from './virtio-net.js';

/** The interface id onBatch() is given for tpf-local's batches: what the router itself sends. */
export const FROM_ROUTER = -1;

export class ForwardCounters {
  batches = 0;
  packetsIn = 0;
  packetsOut = 0;
  bytesIn = 0;
  dropped = 0;
  noRoute = 0;
  /** RSTs and ICMP unreachables sent for `block return` rules. */
  replies = 0;
  /** First packets of new states held until the pfsync peer had the state (defer). */
  deferred = 0;
  /** Records handed to the pflog sink. */
  logged = 0;
  /** Packets sent by a route target (route-to, reply-to) and copies sent by dup-to. */
  routed = 0;
  duplicated = 0;
  /** Packets synproxy state had the router send (SYN-ACKs, SYNs, ACKs). */
  synproxy = 0;
}

export interface ForwarderOptions {
  filter: PacketFilter;
  /** The filter's peer: the batch's state slots are warmed in it. */
  states: StateEngine;
  /** Where a forwarded packet leaves: its `out` check is on that interface. */
  routes: RouteLookup;
  /** Packets per batch at most (the TUN's batch size). */
  batchSize: number;
  /** Seconds; read once per batch. */
  clock: () => number;
}

/** State replication (pfsync): `defer` returns true when it holds the packet; `afterBatch` runs after each batch. */
export interface ForwardSync {
  /** Holds buf[start, end) (copying it) until the peer has the state, or returns false at once. */
  defer(state: number, buf: Uint8Array, start: number, end: number, release: (packet: Uint8Array) => void): boolean;
  afterBatch(): void;
}

/** Where route-to, reply-to and dup-to send a packet: one output per route target (the filter's routeTargets). */
export interface RoutedOutput {
  /** Writes buf[start, end) (virtio header and packet) out by route target `target`; false when it cannot. */
  write(target: number, buf: Uint8Array, start: number, end: number): boolean;
}

export class Forwarder {
  readonly counters = new ForwardCounters();
  readonly pipeline: PacketPipeline;
  /** One parsed record per batch slot: the batch is parsed first, so state lookups can be warmed together. */
  private readonly metas: PacketMeta[];
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private readonly clock: () => number;
  /** The fragment cache's joined datagram as the TUN writes it (virtio header in front). */
  private readonly wholeBuf: Buffer;
  private sync: ForwardSync | null = null;
  private routed: RoutedOutput | null = null;
  private readonly synproxy: SynproxySender;

  constructor(opts: ForwarderOptions) {
    this.pipeline = new PacketPipeline(opts.filter, opts.states, opts.routes);
    this.synproxy = new SynproxySender(this.pipeline, opts.states);
    this.clock = opts.clock;
    this.offsets = new Uint32Array(opts.batchSize);
    this.lengths = new Uint32Array(opts.batchSize);
    this.metas = Array.from({ length: opts.batchSize }, () => new PacketMeta());
    const out = this.pipeline.fragments.out;
    this.wholeBuf = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }

  /** State replication (pfsync), or null. */
  syncWith(sync: ForwardSync | null): void {
    this.sync = sync;
  }

  /** The outputs of route targets; without them a routed packet is dropped (it must not leave by the main table). */
  routeWith(routed: RoutedOutput | null): void {
    this.routed = routed;
  }

  /** Where the packets that rules log go (null: nowhere). */
  logTo(sink: PacketLogSink | null): void {
    this.pipeline.logTo(sink);
  }

  /**
   * Filters one batch read from `tun` (interface id `ifId`, or FROM_ROUTER
   * for tpf-local) and writes the passing packets back.
   */
  onBatch(tun: TunDevice, ifId: number, rx: RxBatch): void {
    const c = this.counters;
    const pipeline = this.pipeline;
    const now = this.clock();
    const count = Math.min(rx.count, this.metas.length);
    c.batches++;
    // parse the whole batch, then load its state-table slots together (their cache misses overlap)
    for (let k = 0; k < count; k++) {
      const len = rx.lengths[k]!;
      const m = this.metas[k]!;
      if (len <= VIRTIO_NET_HDR_LEN) m.reset();
      else {
        parsePacket(rx.buf, k * SLOT_SIZE + VIRTIO_NET_HDR_LEN, len - VIRTIO_NET_HDR_LEN, m);
        // the device completes this packet's L4 checksum: translation patches only its pseudo-header part
        m.checksumPartial = (rx.buf[k * SLOT_SIZE]! & VirtioFlag.NEEDS_CSUM) !== 0;
      }
    }
    pipeline.warm(this.metas, count);
    let n = 0;
    for (let k = 0; k < count; k++) {
      const at = k * SLOT_SIZE;
      const len = rx.lengths[k]!;
      const m = this.metas[k]!;
      c.packetsIn++;
      c.bytesIn += len;
      const ip = at + VIRTIO_NET_HDR_LEN;
      if (len <= VIRTIO_NET_HDR_LEN) {
        c.dropped++;
        continue;
      }
      if (m.isFragment) {
        const step = pipeline.defragment(m, rx.buf, ip, ifId !== FROM_ROUTER ? Direction.IN : Direction.OUT, now);
        if (step !== FragStep.PASS) {
          if (step === FragStep.DROP) c.dropped++;
          else if (step === FragStep.COMPLETE) this.onWhole(tun, ifId, now);
          continue;
        }
      }
      const o =
        ifId !== FROM_ROUTER
          ? pipeline.forward(m, rx.buf, ip, at + len, ifId, now)
          : pipeline.send(m, rx.buf, ip, at + len, now);
      if (!this.deliver(tun, o, m, rx.buf, at, len, true, now)) continue;
      this.offsets[n] = at;
      this.lengths[n] = len;
      n++;
    }
    if (n > 0) c.packetsOut += tun.write(rx.buf, this.offsets, this.lengths, n);
    if (this.sync !== null) this.sync.afterBatch();
  }

  /**
   * A datagram the fragment cache joined goes through the checks as one packet. IPv4 is written whole (its
   * fragments had no DF, so the kernel fragments it again for the egress MTU as it forwards it); IPv6 is cut
   * back to the largest fragment it came in (pf_refragment6): Linux does not fragment IPv6 it forwards.
   * Reassembled datagrams are rare next to whole packets: the IPv6 fragments' buffer is allocated.
   */
  private onWhole(tun: TunDevice, ifId: number, now: number): void {
    const p = this.pipeline;
    const f = p.fragments;
    const m = p.whole;
    const buf = this.wholeBuf;
    const o =
      ifId !== FROM_ROUTER
        ? p.forward(m, buf, f.wholeStart, f.wholeEnd, ifId, now)
        : p.send(m, buf, f.wholeStart, f.wholeEnd, now);
    const v4 = m.af === 4;
    if (!this.deliver(tun, o, m, buf, 0, f.wholeEnd, v4, now)) return;
    if (v4) {
      this.replyOffsets[0] = 0;
      this.replyLengths[0] = f.wholeEnd;
      if (tun.write(buf, this.replyOffsets, this.replyLengths, 1) === 1) this.counters.packetsOut++;
      return;
    }
    const cut = this.refragmented();
    if (cut === null) this.counters.dropped++;
    else this.counters.packetsOut += tun.write(cut.out, cut.offsets, cut.lengths, cut.count);
  }

  /**
   * The joined IPv6 datagram cut back into fragments (pf_refragment6), each with a virtio header in front;
   * null when pf could not cut it (its largest fragment carried less than 8 bytes).
   */
  private refragmented(): { out: Buffer; offsets: Uint32Array; lengths: Uint32Array; count: number } | null {
    const f = this.pipeline.fragments;
    const len = f.wholeEnd - f.wholeStart;
    const count = ipv6FragmentCount(len, f.wholeHdrlen, f.wholeMaxlen);
    if (count < 0) return null;
    const out = Buffer.alloc(count * (VIRTIO_NET_HDR_LEN + f.wholeHdrlen + 8) + len - f.wholeHdrlen);
    const offsets = new Uint32Array(count);
    const lengths = new Uint32Array(count);
    refragmentIpv6(
      this.wholeBuf,
      f.wholeStart,
      len,
      f.wholeHdrlen,
      f.wholeNxtAt,
      f.wholeMaxlen,
      f.wholeId,
      out,
      VIRTIO_NET_HDR_LEN,
      offsets,
      lengths,
    );
    return { out, offsets, lengths, count };
  }

  /** Writes buf[at, at + len) out by a route target; a joined IPv6 datagram as its fragments. */
  private routeWrite(target: number, buf: Buffer, at: number, len: number, m: PacketMeta): boolean {
    const routed = this.routed;
    if (routed === null) return false;
    if (buf !== this.wholeBuf || m.af !== 6) return routed.write(target, buf, at, at + len);
    const cut = this.refragmented();
    if (cut === null) return false;
    let ok = true;
    for (let k = 0; k < cut.count; k++)
      ok = routed.write(target, cut.out, cut.offsets[k]!, cut.offsets[k]! + cut.lengths[k]!) && ok;
    return ok;
  }

  /**
   * What becomes of a packet the pipeline checked (`o`), buf[at, at + len) with its virtio header: answered,
   * given back its hop, sent by a route target, or held by pfsync (`deferrable`); true when the caller is to
   * write it to `tun`.
   */
  private deliver(
    tun: TunDevice,
    o: PacketOutcome,
    m: PacketMeta,
    buf: Buffer,
    at: number,
    len: number,
    deferrable: boolean,
    now: number,
  ): boolean {
    const c = this.counters;
    const ip = at + VIRTIO_NET_HDR_LEN;
    c.logged += o.logged;
    if (!o.pass) {
      c.dropped++;
      if (o.reply !== BlockReply.DROP)
        this.answer(tun, buf.subarray(ip, at + len), m, o.reply, { icmp: o.replyCode, ttl: o.replyTtl });
      // synproxy kept it: the router answers (the outcome is reused by the sends, so it is read first)
      const kept = o.inChecked && o.inCheck.proxy !== 0 ? o.inCheck : o.outChecked ? o.outCheck : null;
      if (kept !== null && kept.proxy !== 0) {
        const before = this.synproxy.sent;
        this.synproxy.send(tun, kept, m, now);
        c.synproxy += this.synproxy.sent - before;
      }
      return false;
    }
    if (o.noRoute) c.noRoute++; // the kernel will answer with an unreachable
    // one hop back: taken forwarding into the TUN, or (what the router sends) forwarding it out of tpf-local
    if (m.af === 4) incrementIpv4Ttl(buf, ip);
    else incrementIpv6HopLimit(buf, ip);
    if (o.dupTarget !== 0 && this.routeWrite(o.dupTarget, buf, at, len, m)) c.duplicated++;
    if (o.routeTarget !== 0) {
      if (this.routeWrite(o.routeTarget, buf, at, len, m)) c.routed++;
      else c.dropped++;
      return false;
    }
    const sync = this.sync;
    const defer = deferrable && o.created >= 0 && sync !== null && !isMulticast(m);
    if (defer && sync.defer(o.created, buf, at, at + len, this.releaserFor(tun))) {
      c.deferred++;
      return false;
    }
    return true;
  }

  private readonly releasers = new Map<TunDevice, (packet: Uint8Array) => void>();

  /** One release function per TUN, made once (not per held packet). */
  private releaserFor(tun: TunDevice): (packet: Uint8Array) => void {
    let r = this.releasers.get(tun);
    if (!r) this.releasers.set(tun, (r = (p) => this.release(tun, p)));
    return r;
  }

  /** A packet pfsync held (defer) goes on: virtio header and all, as it was read. */
  private release(tun: TunDevice, packet: Uint8Array): void {
    this.replyOffsets[0] = 0;
    this.replyLengths[0] = packet.length;
    const buf = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    if (tun.write(buf, this.replyOffsets, this.replyLengths, 1) === 1) this.counters.packetsOut++;
  }

  /**
   * `block return`: a RST for TCP (with the rule's TTL), an ICMP unreachable with the rule's code otherwise, sent
   * back to the sender from the address it wrote to, as pf does. Written
   * into the ingress TUN, so the kernel routes it to the sender. Blocked
   * packets are rare next to passing ones; building the answer allocates.
   */
  private answer(
    tun: TunDevice,
    packet: Uint8Array,
    m: PacketMeta,
    reply: number,
    code: { icmp: number; ttl: number },
  ): void {
    if (m.error !== 0) return;
    let pkt: Uint8Array | null = null;
    // written into the TUN, the RST is forwarded by the kernel (one hop): one more than the rule's TTL leaves with it
    if (reply === BlockReply.RETURN_RST)
      pkt = buildTcpResetFor(m, code.ttl ? { ttl: Math.min(255, code.ttl + 1) } : {});
    else if (reply === BlockReply.RETURN_ICMP && !m.icmpIsError && !m.isLaterFragment)
      pkt = buildIcmpErrorFor(packet, {
        type: m.af === 4 ? 3 : 1,
        code: code.icmp,
        src: formatAddress(m.af, m.dst),
      });
    if (!pkt) return;
    const out = Buffer.alloc(VIRTIO_NET_HDR_LEN + pkt.length);
    out.set(pkt, VIRTIO_NET_HDR_LEN);
    this.replyOffsets[0] = 0;
    this.replyLengths[0] = out.length;
    if (tun.write(out, this.replyOffsets, this.replyLengths, 1) === 1) this.counters.replies++;
  }
  private readonly replyOffsets = new Uint32Array(1);
  private readonly replyLengths = new Uint32Array(1);
}

/** Deferral is for unicast flows only (OpenBSD). */
function isMulticast(m: PacketMeta): boolean {
  return m.af === 4 ? m.dst[0]! >>> 28 === 0xe : m.dst[0]! >>> 24 === 0xff;
}
