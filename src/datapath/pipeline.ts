// The work pf does for one packet, in one place for the datapath and for
// `tunpf replay`: a forwarded packet is checked `in` on the interface it
// arrived on, then `out` on the interface the routing table sends it to;
// a packet to the router is checked `in` only, one the router sends `out` only;
// the records of logging rules go to the pflog sink as each check saw the
// packet. The outcome is one record, reused for every packet (no allocation
// per packet): the caller writes, answers (`block return`) or defers
// (pfsync) from it, and replay prints both checks from it. Giving back the
// hop is the writing side's business (the batch loop), not the pipeline's.

import { BlockReply } from '../filter/compile-rules.js';
import { type PacketFilter, Verdict } from '../filter/packet-filter.js';
import type { PacketLogSink } from '../log/pflog-writer.js';
import { Direction, type PacketMeta } from '../packet/meta.js';
import { rewriteFromState } from '../state/rewrite-from-state.js';
import type { StateEngine } from '../state/state-engine.js';
import { LOCAL_DELIVERY, type RouteLookup } from './route-table.js';

/** What the pipeline made of one packet. */
export class PacketOutcome {
  /** The `in` check, when `inChecked`. */
  readonly inCheck = new Verdict();
  inChecked = false;
  /** Interface id of the `in` check (-1: none). */
  inIf = -1;
  /** The `out` check, when `outChecked`. */
  readonly outCheck = new Verdict();
  outChecked = false;
  /** Interface id of the `out` check: for a forwarded packet, the egress the route table picked (-1: none). */
  outIf = -1;
  /** A forwarded packet passed `in` but the route table has no route: no `out` check, the kernel answers. */
  noRoute = false;
  /** The packet is addressed to the router itself: no `out` check, the kernel delivers it. */
  local = false;
  /** The state a check created (the `out` check's when both did), -1 for none. */
  created = -1;
  /** The packet goes on. */
  pass = false;
  /** For a blocked packet: the answer its rule asks for (BlockReply). */
  reply: number = BlockReply.DROP;
  /** Records handed to the log sink for this packet. */
  logged = 0;

  reset(): void {
    this.inChecked = false;
    this.inIf = -1;
    this.outChecked = false;
    this.outIf = -1;
    this.noRoute = false;
    this.local = false;
    this.created = -1;
    this.pass = false;
    this.reply = BlockReply.DROP;
    this.logged = 0;
  }
}

export class PacketPipeline {
  /** Filled by forward() and checkOnce(); valid until the next call. */
  readonly outcome = new PacketOutcome();
  private logSink: PacketLogSink | null = null;

  constructor(
    private readonly filter: PacketFilter,
    private readonly states: StateEngine,
    private readonly routes: RouteLookup,
  ) {}

  /** Where the records of logging rules go (null: nowhere). */
  logTo(sink: PacketLogSink | null): void {
    this.logSink = sink;
  }

  /** Loads a parsed batch's state-table slots together, before its packets go through (the cache misses overlap). */
  warm(batch: readonly PacketMeta[], count: number): void {
    this.states.warm(batch, count);
  }

  /**
   * A packet the router forwards: `m` parsed from buf[start, end) (the IP
   * packet), arrived on interface `ifIn` at `now` (seconds).
   */
  forward(m: PacketMeta, buf: Uint8Array, start: number, end: number, ifIn: number, now: number): PacketOutcome {
    const o = this.outcome;
    const filter = this.filter;
    o.reset();
    o.inChecked = true;
    o.inIf = ifIn;
    // the checks are written out here rather than through check(): the hot path stays one call deep into the filter
    const vin = filter.test(m, Direction.IN, ifIn, now, o.inCheck);
    if (vin.created) o.created = vin.state;
    // rdr-to and replies to nat-to: rewritten before the route lookup, which then sees the new destination
    if (vin.rewrite && vin.pass) this.rewrite(vin, buf, m);
    if (vin.log && this.logSink !== null) this.log(this.logSink, buf, start, end, m.af, Direction.IN, ifIn, now, vin);
    if (!vin.pass) {
      o.reply = vin.reply;
      return o;
    }
    o.pass = true;
    const ifOut = this.routes.lookup(m.af, m.dst);
    if (ifOut < 0) {
      if (ifOut === LOCAL_DELIVERY) o.local = true;
      else o.noRoute = true;
      return o;
    }
    o.outChecked = true;
    o.outIf = ifOut;
    const vout = filter.test(m, Direction.OUT, ifOut, now, o.outCheck);
    if (vout.created) o.created = vout.state;
    if (vout.rewrite && vout.pass) this.rewrite(vout, buf, m);
    if (vout.log && this.logSink !== null)
      this.log(this.logSink, buf, start, end, m.af, Direction.OUT, ifOut, now, vout);
    if (!vout.pass) {
      o.pass = false;
      o.reply = vout.reply;
    }
    return o;
  }

  /**
   * A packet the router sends itself: checked `out` on the interface the
   * route table sends it to; without one (or to the router's own address)
   * it passes unchecked, and the kernel answers or delivers.
   */
  send(m: PacketMeta, buf: Uint8Array, start: number, end: number, now: number): PacketOutcome {
    const o = this.outcome;
    o.reset();
    const ifOut = this.routes.lookup(m.af, m.dst);
    if (ifOut < 0) {
      if (ifOut === LOCAL_DELIVERY) o.local = true;
      else o.noRoute = true;
      o.pass = true;
      return o;
    }
    o.outChecked = true;
    o.outIf = ifOut;
    this.check(m, buf, start, end, Direction.OUT, ifOut, now, o.outCheck);
    return o;
  }

  /** One check only: a packet seen in one direction on one interface (a capture taken on that interface). */
  checkOnce(
    m: PacketMeta,
    buf: Uint8Array,
    start: number,
    end: number,
    direction: Direction,
    ifId: number,
    now: number,
  ): PacketOutcome {
    const o = this.outcome;
    o.reset();
    const inbound = direction === Direction.IN;
    if (inbound) {
      o.inChecked = true;
      o.inIf = ifId;
    } else {
      o.outChecked = true;
      o.outIf = ifId;
    }
    this.check(m, buf, start, end, direction, ifId, now, inbound ? o.inCheck : o.outCheck);
    return o;
  }

  private check(
    m: PacketMeta,
    buf: Uint8Array,
    start: number,
    end: number,
    direction: Direction,
    ifId: number,
    now: number,
    v: Verdict,
  ): boolean {
    const o = this.outcome;
    this.filter.test(m, direction, ifId, now, v);
    if (v.created) o.created = v.state;
    if (v.rewrite && v.pass) this.rewrite(v, buf, m);
    if (v.log && this.logSink !== null) this.log(this.logSink, buf, start, end, m.af, direction, ifId, now, v);
    o.pass = v.pass;
    if (!v.pass) o.reply = v.reply;
    return v.pass;
  }

  /** A translated state's packet, rewritten to its other key (nat-to, rdr-to). */
  private rewrite(v: Verdict, buf: Uint8Array, m: PacketMeta): void {
    rewriteFromState(this.states.table, v.state, v.toStack, v.forward, v.viaIcmpError, buf, m);
  }

  /** Hands one check's log records to the sink (logged packets are few: the view may allocate). */
  private log(
    sink: PacketLogSink,
    buf: Uint8Array,
    start: number,
    end: number,
    af: number,
    direction: number,
    ifId: number,
    now: number,
    v: Verdict,
  ): void {
    const packet = buf.subarray(start, end);
    const ifname = ifId < 0 ? '' : this.filter.interfaces.name(ifId);
    const logs = v.logs;
    for (let k = 0; k < logs.count; k++)
      sink.logPacket(now, packet, af, direction, ifname, logs.rule[k]!, logs.action[k]!, logs.reason[k]!);
    this.outcome.logged += logs.count;
  }
}
