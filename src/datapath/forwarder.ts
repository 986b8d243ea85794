// The per-batch work of router mode: every packet read from an interface's
// TUN is checked `in` on that interface, then `out` on the interface the
// routing table will send it to, as pf checks forwarded packets; passing
// packets get back the hop the kernel took twice and are written back to the
// same TUN in one batch. No allocation per packet. Packets that a rule
// logs go to the pflog sink as the check saw them (before the hop is given
// back); the others cost one flag test.

import { BlockReply } from '../filter/compile-rules.js';
import { PacketFilter, Verdict } from '../filter/packet-filter.js';
import type { PacketLogSink } from '../log/pflog-writer.js';
import { formatAddress } from '../packet/address.js';
import { buildIcmpErrorFor, buildTcpResetFor } from '../packet/build.js';
import { incrementIpv4Ttl, incrementIpv6HopLimit } from '../packet/checksum.js';
import { PacketMeta } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import type { FibMirror } from './fib-mirror.js';
import { SLOT_SIZE, type RxBatch, type TunDevice } from './tun-device.js';
import { VIRTIO_NET_HDR_LEN } from './virtio-net.js';
import type { StateEngine } from '../state/state-engine.js';

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
}

export class Forwarder {
  readonly counters = new ForwardCounters();
  /** One parsed record per batch slot: the batch is parsed first, so state lookups can be warmed together. */
  private readonly metas: PacketMeta[];
  private readonly verdict = new Verdict();
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private logSink: PacketLogSink | null = null;

  constructor(
    private filter: PacketFilter,
    private readonly states: StateEngine,
    private readonly fib: FibMirror,
    batchSize: number,
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {
    this.offsets = new Uint32Array(batchSize);
    this.lengths = new Uint32Array(batchSize);
    this.metas = Array.from({ length: batchSize }, () => new PacketMeta());
  }

  setFilter(filter: PacketFilter): void {
    this.filter = filter;
  }

  /** Where the packets that rules log go (null: nowhere). */
  /**
   * State replication (pfsync): `defer` may hold the packet that created a
   * state until the peer has it (it returns true when it keeps the packet);
   * `afterBatch` runs once each batch is done.
   */
  syncWith(sync: { defer(state: number, packet: Uint8Array, release: (packet: Uint8Array) => void): boolean; afterBatch(): void } | null): void {
    this.sync = sync;
  }
  private sync: { defer(state: number, packet: Uint8Array, release: (packet: Uint8Array) => void): boolean; afterBatch(): void } | null = null;

  logTo(sink: PacketLogSink | null): void {
    this.logSink = sink;
  }

  /** Filters one batch read from `tun` (interface id `ifId`) and writes the passing packets back. */
  onBatch(tun: TunDevice, ifId: number, rx: RxBatch): void {
    const c = this.counters;
    const v = this.verdict;
    const f = this.filter;
    const now = this.clock();
    const count = Math.min(rx.count, this.metas.length);
    c.batches++;
    // parse the whole batch, then load its state-table slots together (their cache misses overlap)
    for (let k = 0; k < count; k++) {
      const len = rx.lengths[k]!;
      const m = this.metas[k]!;
      if (len <= VIRTIO_NET_HDR_LEN) m.reset();
      else parsePacket(rx.buf, k * SLOT_SIZE + VIRTIO_NET_HDR_LEN, len - VIRTIO_NET_HDR_LEN, m);
    }
    this.states.warm(this.metas, count);
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
      const passedIn = f.test(m, 1, ifId, now, v).pass;
      let created = v.created ? v.state : -1;
      if (v.log) this.log(rx.buf, ip, at + len, m.af, 1, ifId, now, v);
      if (!passedIn) {
        c.dropped++;
        if (v.reply !== BlockReply.DROP) this.answer(tun, rx.buf.subarray(ip, at + len), m, v.reply);
        continue;
      }
      const out = this.fib.lookup(m.af, m.dst);
      if (out < 0) c.noRoute++; // the kernel will answer with an unreachable
      else {
        const passedOut = f.test(m, 2, out, now, v).pass;
        if (v.created) created = v.state;
        if (v.log) this.log(rx.buf, ip, at + len, m.af, 2, out, now, v);
        if (!passedOut) {
          c.dropped++;
          if (v.reply !== BlockReply.DROP) this.answer(tun, rx.buf.subarray(ip, at + len), m, v.reply);
          continue;
        }
      }
      if (m.af === 4) incrementIpv4Ttl(rx.buf, ip);
      else incrementIpv6HopLimit(rx.buf, ip);
      if (created >= 0 && this.sync !== null && !isMulticast(m) && this.sync.defer(created, rx.buf.subarray(at, at + len), this.releaserFor(tun))) {
        c.deferred++;
        continue;
      }
      this.offsets[n] = at;
      this.lengths[n] = len;
      n++;
    }
    if (n > 0) c.packetsOut += tun.write(rx.buf, this.offsets, this.lengths, n);
    if (this.sync !== null) this.sync.afterBatch();
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

  /** Hands one packet's log records to the sink (logged packets are few: the view may allocate). */
  private log(buf: Uint8Array, start: number, end: number, af: number, direction: number, ifId: number, now: number, v: Verdict): void {
    const sink = this.logSink;
    if (sink === null) return;
    const packet = buf.subarray(start, end);
    const ifname = this.filter.interfaces.name(ifId);
    const logs = v.logs;
    for (let k = 0; k < logs.count; k++) sink.logPacket(now, packet, af, direction, ifname, logs.rule[k]!, logs.action[k]!, logs.reason[k]!);
    this.counters.logged += logs.count;
  }

  /**
   * `block return`: a RST for TCP, an ICMP port unreachable otherwise, sent
   * back to the sender from the address it wrote to, as pf does. Written
   * into the ingress TUN, so the kernel routes it to the sender. Blocked
   * packets are rare next to passing ones; building the answer allocates.
   */
  private answer(tun: TunDevice, packet: Uint8Array, m: PacketMeta, reply: number): void {
    if (m.error !== 0) return;
    let pkt: Uint8Array | null = null;
    if (reply === BlockReply.RETURN_RST) pkt = buildTcpResetFor(m);
    else if (reply === BlockReply.RETURN_ICMP && !m.icmpIsError && !m.isLaterFragment)
      pkt = buildIcmpErrorFor(packet, { type: m.af === 4 ? 3 : 1, code: m.af === 4 ? 3 : 4, src: formatAddress(m.af, m.dst) });
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
