// The work pf does for one packet, in one place for the datapath and for
// `tunpf replay`: a forwarded packet is checked `in` on the interface it
// arrived on, then `out` on the interface the routing table sends it to;
// a packet to the router is checked `in` only, one the router sends `out` only;
// the records of logging rules go to the pflog sink as each check saw the
// packet. The outcome is one record, reused for every packet (no allocation
// per packet): the caller writes, answers (`block return`) or defers
// (pfsync) from it, and replay prints both checks from it. Giving back the
// hop is the writing side's business (the batch loop), not the pipeline's.
// A state's route-to / reply-to replaces the route table's egress (the `out`
// check is then on the route target's interface); dup-to asks for a copy.
// Fragments go through defragment() first (pf_normalize_ip, `set
// reassemble`): held until their datagram is whole, which then goes through
// the checks as one packet.

import { randomBytes } from 'node:crypto';
import { BlockReply } from '../filter/compile-rules.js';
import { type PacketFilter, Verdict } from '../filter/packet-filter.js';
import type { PacketLogSink } from '../log/pflog-writer.js';
import { Direction, PacketMeta, TCPFlag } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import { PfReason } from '../packet/pflog.js';
import { DEFAULT_TIMEOUTS } from '../rules/ast.js';
import { clampMss, clearDf, setIpId, setMinTtl, setTos } from '../packet/scrub.js';
import { shiftTimestamps } from '../packet/tcp-timestamps.js';
import { RouteCode, routeCode, routeTarget, ScrubFlag } from '../state/constants.js';
import { modulateFromState } from '../state/modulate-from-state.js';
import { rewriteFromState } from '../state/rewrite-from-state.js';
import { FragmentCache, FragStep } from '../state/fragment-cache.js';
import type { StateEngine } from '../state/state-engine.js';
import { LOCAL_DELIVERY, type RouteLookup } from './route-table.js';
import { VIRTIO_NET_HDR_LEN } from './virtio-net.js';

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
  /**
   * route-to / reply-to: the packet leaves by this route target (a number of the filter's routeTargets),
   * not by the main table; 0: by the main table.
   */
  routeTarget = 0;
  /** dup-to: a copy of the packet leaves by this route target; 0: none. */
  dupTarget = 0;
  /** The packet is addressed to the router itself: no `out` check, the kernel delivers it. */
  local = false;
  /** The state a check created (the `out` check's when both did), -1 for none. */
  created = -1;
  /** The packet goes on. */
  pass = false;
  /** For a blocked packet: the answer its rule asks for (BlockReply). */
  reply: number = BlockReply.DROP;
  /** For a blocked packet answered with ICMP: the unreachable code of its family. */
  replyCode = 0;
  /** For a blocked packet answered with a RST: its TTL (0: the default). */
  replyTtl = 0;
  /** Records handed to the log sink for this packet. */
  logged = 0;

  reset(): void {
    this.inChecked = false;
    this.inIf = -1;
    this.outChecked = false;
    this.outIf = -1;
    this.noRoute = false;
    this.routeTarget = 0;
    this.dupTarget = 0;
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
  /** Fragments held for reassembly; a joined datagram leaves room for a virtio header in front. */
  readonly fragments = new FragmentCache(VIRTIO_NET_HDR_LEN);
  /** The datagram defragment() joined last: parsed from fragments.out[wholeStart, wholeEnd). */
  readonly whole = new PacketMeta();
  /** For a fragment defragment() dropped: pf's reason. */
  fragmentDropReason: number = PfReason.FRAG;
  /** xorshift32 state for `scrub (random-id)`: seeded once, never 0. */
  private idState = (randomBytes(4).readUInt32LE(0) | 1) >>> 0;

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
   * pf_normalize_ip / pf_normalize_ip6 for a fragment (callers test m.isFragment, so whole packets pay one
   * branch): an IPv4 fragment with DF is dropped, or loses DF under `no-df`; with `set reassemble yes` (pf's
   * default) the fragment is held (HELD), dropped (DROP, fragmentDropReason) or completes its datagram
   * (COMPLETE: `whole` describes it, in fragments.out); PASS: it goes on as it is (reassembly off, or a
   * fragment the parser refused, which the filter drops as malformed).
   */
  defragment(m: PacketMeta, buf: Uint8Array, start: number, direction: Direction, now: number): number {
    if (m.error !== 0) return FragStep.PASS;
    const options = this.filter.rules.ruleset.options;
    const re = options.reassemble;
    if (m.af === 4 && (buf[start + 6]! & 0x40) !== 0) {
      if (re?.noDf) clearDf(buf, m);
      else {
        this.fragments.counters.badFragments++;
        this.fragmentDropReason = PfReason.FRAG;
        return FragStep.DROP;
      }
    }
    if (re !== null && !re.on) return FragStep.PASS;
    const step = this.fragments.add(m, buf, start, direction, now, options.limits.frags, this.fragmentTimeout());
    if (step === FragStep.DROP) this.fragmentDropReason = this.fragments.reason;
    else if (step === FragStep.COMPLETE) {
      const f = this.fragments;
      parsePacket(f.out, f.wholeStart, f.wholeEnd - f.wholeStart, this.whole);
    }
    return step;
  }

  /** Drops the datagrams held past `timeout frag` (pf's purge; fragments that come expire them too). */
  expireFragments(now: number): void {
    if (this.fragments.pending > 0) this.fragments.expire(now, this.fragmentTimeout());
  }

  private fragmentTimeout(): number {
    return this.filter.rules.ruleset.options.timeouts['frag'] ?? DEFAULT_TIMEOUTS['frag']!;
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
    if (vin.modulate && vin.pass)
      modulateFromState(this.states.table, vin.state, vin.forward, vin.viaIcmpError, buf, m);
    if (vin.scrub !== 0 && vin.pass) this.scrub(vin, buf, m);
    if (vin.log && this.logSink !== null) this.log(this.logSink, buf, start, end, m.af, Direction.IN, ifIn, now, vin);
    if (!vin.pass) {
      this.refuse(vin, m.af);
      return o;
    }
    o.pass = true;
    // pf_route: the in-state's route-to (or reply-to, for the state's replies) picks the egress
    let ifOut: number;
    if (vin.route !== 0 && this.takeRoute(vin.route, vin.state, Direction.IN)) {
      ifOut = this.targetInterface(o.routeTarget, m.af);
      if (ifOut < 0) {
        o.pass = false; // pf: no route to the next hop, the packet is dropped
        return o;
      }
    } else ifOut = this.routes.lookup(m.af, m.dst);
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
    if (vout.modulate && vout.pass)
      modulateFromState(this.states.table, vout.state, vout.forward, vout.viaIcmpError, buf, m);
    if (vout.scrub !== 0 && vout.pass) this.scrub(vout, buf, m);
    if (vout.log && this.logSink !== null)
      this.log(this.logSink, buf, start, end, m.af, Direction.OUT, ifOut, now, vout);
    if (!vout.pass) {
      o.pass = false;
      this.refuse(vout, m.af);
    } else if (vout.route !== 0) this.outRoute(vout, m.af);
    return o;
  }

  /**
   * Whether a state's route applies to a packet seen in `direction`, as pf_route decides: route-to the
   * state's own direction, reply-to the reverse; dup-to always, as a copy (outcome.dupTarget).
   * Sets outcome.routeTarget when the packet itself is routed.
   */
  private takeRoute(route: number, state: number, direction: Direction): boolean {
    const code = routeCode(route);
    if (code === RouteCode.DUP_TO) {
      this.outcome.dupTarget = routeTarget(route);
      return false;
    }
    if ((code === RouteCode.REPLY_TO) === (this.states.table.direction[state] === direction)) return false;
    this.outcome.routeTarget = routeTarget(route);
    return true;
  }

  /** A route taken by the `out` check's state: the packet leaves by it with no further check (pf_route, dir out). */
  private outRoute(v: Verdict, af: number): void {
    const o = this.outcome;
    if (!this.takeRoute(v.route, v.state, Direction.OUT)) return;
    if (this.targetInterface(o.routeTarget, af) < 0) o.pass = false;
  }

  /** The interface a route target leaves by: its own, else the one the route table reaches its next hop by. */
  private targetInterface(target: number, af: number): number {
    const t = this.filter.routeTargets;
    const ifId = t.ifId[target]!;
    if (ifId >= 0) return ifId;
    const hop = t.nexthop[target];
    return hop && t.af[target] === af ? this.routes.lookup(af, hop) : -1;
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
    if (this.check(m, buf, start, end, Direction.OUT, ifOut, now, o.outCheck) && o.outCheck.route !== 0)
      this.outRoute(o.outCheck, m.af);
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
    if (v.modulate && v.pass) modulateFromState(this.states.table, v.state, v.forward, v.viaIcmpError, buf, m);
    if (v.scrub !== 0 && v.pass) this.scrub(v, buf, m);
    if (v.log && this.logSink !== null) this.log(this.logSink, buf, start, end, m.af, direction, ifId, now, v);
    o.pass = v.pass;
    if (!v.pass) this.refuse(v, m.af);
    return v.pass;
  }

  /** A blocked packet's answer, as its rule says (blocks are rare: the rule is looked up). */
  private refuse(v: Verdict, af: number): void {
    const o = this.outcome;
    o.reply = v.reply;
    if (v.reply === BlockReply.DROP) return;
    const r = v.rule >= 0 ? this.filter.rules.rules[v.rule] : undefined;
    o.replyCode = r === undefined ? 0 : af === 4 ? r.returnIcmp : r.returnIcmp6;
    o.replyTtl = r === undefined ? 0 : r.returnTtl;
  }

  /**
   * The scrub options of the packet's state or rules (pf_scrub,
   * pf_normalize_mss): no-df before random-id, which skips fragments; the
   * MSS is clamped on segments with SYN (SYN and SYN-ACK). reassemble tcp
   * first, as pf normalises during state tracking: the TTL raised to the
   * highest the sender used, the timestamps modulated (the state engine
   * decided how when it tracked the packet).
   */
  private scrub(v: Verdict, buf: Uint8Array, m: PacketMeta): void {
    const table = this.states.table;
    const w = table.scrubWord(v.scrub);
    if (w & ScrubFlag.REASSEMBLE_TCP) {
      const n = this.states.normalization;
      if (n.active) {
        if (n.ttl !== 0) setMinTtl(buf, m, n.ttl);
        shiftTimestamps(buf, m, n.tsvalAdd, n.tsecrSub);
      }
    }
    if (w & ScrubFlag.NO_DF) clearDf(buf, m);
    if (w & ScrubFlag.RANDOM_ID && !m.isFragment) setIpId(buf, m, this.nextId());
    if (w & ScrubFlag.MIN_TTL) setMinTtl(buf, m, (w >>> 8) & 0xff);
    if (w & ScrubFlag.SET_TOS) setTos(buf, m, (w >>> 16) & 0xff);
    if (w & ScrubFlag.MAX_MSS && (m.tcpFlags & TCPFlag.SYN) !== 0) clampMss(buf, m, table.scrubMss(v.scrub));
  }

  /** The next IPv4 id for random-id (xorshift32: unpredictable enough to hide a host's id counter, no allocation). */
  private nextId(): number {
    let x = this.idState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.idState = x >>> 0;
    return x & 0xffff;
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
    const rules = this.filter.rules;
    for (let k = 0; k < logs.count; k++) {
      const id = logs.rule[k]!;
      const rulenr = id < 0 ? -1 : rules.logRulenr[id]!;
      const anchor = id < 0 ? undefined : rules.logAnchor[id];
      sink.logPacket(now, packet, af, direction, ifname, rulenr, logs.action[k]!, logs.reason[k]!, anchor);
    }
    this.outcome.logged += logs.count;
  }
}
