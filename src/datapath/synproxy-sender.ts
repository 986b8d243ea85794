// The packets synproxy state has the router send (pf_synproxy's
// pf_send_tcp calls), built with the packet builders and written into a TUN
// for the kernel to route, as `block return` answers are. What goes back to
// the initiator (the SYN-ACK, the closing window update) is not filtered, as
// pf tags it generated; what goes on to the responder (the SYN, the ACK of
// its SYN-ACK) is checked `out` like the router's own traffic, so the
// egress makes its state (and translation) for the connection. What goes
// on as the kept packet went gets the state's translation as that packet
// would have (an rdr-to: the SYN goes to the server's address). Handshakes
// are rare next to packets: building them allocates.

import { formatAddress } from '../packet/address.js';
import { buildTcp } from '../packet/build.js';
import { PacketMeta, TCPFlag } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import type { Verdict } from '../filter/packet-filter.js';
import { rewriteFromState } from '../state/rewrite-from-state.js';
import type { StateEngine } from '../state/state-engine.js';
import { ProxySend } from '../state/synproxy.js';
import type { PacketPipeline } from './pipeline.js';
import type { TunDevice } from './tun-device.js';
import { VIRTIO_NET_HDR_LEN } from './virtio-net.js';

export class SynproxySender {
  /** Packets sent for synproxy (SYN-ACKs, SYNs, ACKs). */
  sent = 0;
  private readonly meta = new PacketMeta();
  private readonly offsets = new Uint32Array(1);
  private readonly lengths = new Uint32Array(1);

  constructor(
    private readonly pipeline: PacketPipeline,
    private readonly states: StateEngine,
  ) {}

  /**
   * Sends what synproxy asked for about packet `m`, the one it kept: `v` is
   * the check that kept it (v.proxy a ProxySend; the values are in the state
   * engine's `proxy`). Everything is read before the sends reuse the pipeline.
   */
  send(tun: TunDevice, v: Verdict, m: PacketMeta, now: number): void {
    const { seq, ack, window, mss, seq2, ack2, window2 } = this.states.proxy;
    const kind = v.proxy;
    const state = v.state;
    const toStack = v.toStack;
    const forward = v.forward;
    switch (kind) {
      case ProxySend.SYN_ACK:
        this.write(tun, this.build(m, true, seq, ack, TCPFlag.SYN | TCPFlag.ACK, window, mss));
        break;
      case ProxySend.SYN: {
        const syn = this.onwards(this.build(m, false, seq, 0, TCPFlag.SYN, window, mss), state, toStack, forward);
        if (syn !== null) this.checkAndWrite(tun, syn, now);
        break;
      }
      case ProxySend.ACKS: {
        this.checkAndWrite(tun, this.build(m, true, seq, ack, TCPFlag.ACK, window, 0), now);
        const update = this.onwards(this.build(m, false, seq2, ack2, TCPFlag.ACK, window2, 0), state, toStack, forward);
        if (update !== null) this.write(tun, update);
        break;
      }
      default:
        break;
    }
  }

  /** A packet going on as the kept one went: translated as that packet would have been. */
  private onwards(out: Buffer, state: number, toStack: boolean, forward: boolean): Buffer | null {
    const t = this.states.table;
    if (!t.live(state) || !t.translated(state)) return out;
    const m = this.meta;
    if (parsePacket(out, VIRTIO_NET_HDR_LEN, out.length - VIRTIO_NET_HDR_LEN, m) !== 0) return null;
    rewriteFromState(t, state, toStack, forward, false, out, m);
    return out;
  }

  /** A segment between m's ends: back to its sender (`back`) or on as m went; virtio header first. */
  private build(
    m: PacketMeta,
    back: boolean,
    seq: number,
    ack: number,
    flags: number,
    window: number,
    mss: number,
  ): Buffer {
    const a = formatAddress(m.af, m.src);
    const b = formatAddress(m.af, m.dst);
    const pkt = buildTcp({
      src: back ? b : a,
      dst: back ? a : b,
      sport: back ? m.dstPort : m.srcPort,
      dport: back ? m.srcPort : m.dstPort,
      seq,
      ack,
      flags,
      window,
      options: mss > 0 ? { mss } : undefined,
    });
    const out = Buffer.alloc(VIRTIO_NET_HDR_LEN + pkt.length);
    out.set(pkt, VIRTIO_NET_HDR_LEN);
    return out;
  }

  /** Through the `out` check of its egress first (which may translate it); dropped if that blocks it. */
  private checkAndWrite(tun: TunDevice, out: Buffer, now: number): void {
    const m = this.meta;
    if (parsePacket(out, VIRTIO_NET_HDR_LEN, out.length - VIRTIO_NET_HDR_LEN, m) !== 0) return;
    if (!this.pipeline.send(m, out, VIRTIO_NET_HDR_LEN, out.length, now).pass) return;
    this.write(tun, out);
  }

  private write(tun: TunDevice, out: Buffer): void {
    this.offsets[0] = 0;
    this.lengths[0] = out.length;
    if (tun.write(out, this.offsets, this.lengths, 1) === 1) this.sent++;
  }
}
