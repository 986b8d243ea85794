// Connection tracking over the state table, with pf's semantics: lookup of a
// packet's state (ICMP errors are matched to the state of the packet they
// quote), tracking (TCP windows, UDP/other/ICMP progress), creation with the
// limits (set limit states, max, max-src-*), timeouts and a bounded purge.
// The clock is an input (seconds), so tests drive it deterministically.

import { IPPROTO, TCPFlag, Direction, type DirectionOrAny, type PacketMeta } from '../packet/meta.js';
import { DEFAULT_LIMITS, type Prefix, type Rule, type Ruleset } from '../rules/ast.js';
import {
  FLOATING,
  NO_RULE,
  Origin,
  PeerState,
  RESYNC,
  ScrubFlag,
  StateFlag,
  StateReason,
  StateReasonName,
  TcpState,
  Timeout,
  type OriginValue,
} from './constants.js';
import { SourceTracker } from './source-tracker.js';
import type { PeerImage, StateImage } from './state-image.js';
import { KeyUse, StateTable, type StateTableOptions } from './state-table.js';
import { PFSS_PRESENT, PfssFlag, TcpNormalization } from './tcp-scrub.js';
import { tcpInitState, tcpSeqInWindow, tcpTrack, tcpTrackResync, tcpTrackSloppy } from './tcp-window.js';
import { TimeoutTable } from './timeouts.js';
import { cryptoRandom32 } from './random32.js';
import { SynproxyOut, synproxyStart, synproxyTrack } from './synproxy.js';

/**
 * Observers of state changes (pfsync), told who made each change. Unset
 * hooks cost one null check.
 */
export interface StateHooks {
  onInsert(i: number, origin: OriginValue): void;
  onUpdate(i: number, origin: OriginValue): void;
  /** Before state i goes. */
  onDelete(i: number, origin: OriginValue): void;
  /** Every state went at once (flush), instead of an onDelete each. */
  onFlush(origin: OriginValue): void;
}

export class StateCounters {
  searches = 0;
  inserts = 0;
  removals = 0;
  expired = 0;
  /** Drops and refusals by StateReason. */
  readonly byReason = new Float64Array(StateReasonName.length);
}

/** The table's options but its size, which is the state limit. */
export type StateTableSetup = Omit<StateTableOptions, 'capacity'>;

export interface StateEngineOptions extends StateTableSetup {
  /** `set limit states`. */
  limit: number;
  /** `set limit src-nodes` (pf's default without it); setRules() follows the ruleset's. */
  srcNodes?: number;
  statePolicyIfBound?: boolean;
  /** Uniform 32-bit numbers for modulated and proxied sequence numbers; crypto-strong by default. */
  random32?: () => number;
}

/** What `overload <table>` needs of a pf table: the filter's tables satisfy it. */
/**
 * A translation to make a state with (the filter computes it from the
 * rules): `view` is the packet as translated (pf's nsaddr/ndaddr), whose
 * key becomes the state's wire key for an outbound packet and its stack key
 * for an inbound one.
 */
export interface StateTranslation {
  readonly view: PacketMeta;
  /** Completes `view` (nat-to's source port) so that its key is free in `t`; false when none is. */
  complete(t: StateTable, m: PacketMeta, direction: Direction, bound: number): boolean;
}

export interface OverloadTable {
  add(entries: Iterable<{ prefix: Prefix; neg: boolean }>): number;
}

/** How the state engine finds a table by name for `overload`. */
export type OverloadTables = (name: string) => OverloadTable | undefined;

function isIcmp(proto: number): boolean {
  return proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;
}

export class StateEngine {
  readonly table: StateTable;
  readonly counters = new StateCounters();
  readonly sources: SourceTracker;
  timeouts: TimeoutTable;
  hooks: StateHooks | null = null;
  statePolicyIfBound: boolean;
  /** Distinct sources holding states, per rule number (max-src-nodes). */
  private readonly sourcesPerRule = new Uint32Array(NO_RULE + 1);
  /** States per rule number (for `max`, and `show rules`). */
  readonly perRule = new Uint32Array(NO_RULE + 1);
  private purgeCursor = 0;
  private overloadTable: OverloadTables = () => undefined;
  /** The rules that created states, by number (for source limits at establishment). */
  private rulesByNr: readonly Rule[] = [];
  /** After lookup(): whether the packet went initiator -> responder; for ICMP errors, whether the quoted packet did. */
  forward = true;
  /** After lookup(): the packet is an ICMP error matched through the packet it quotes. */
  viaIcmpError = false;
  /** After lookup(): the packet (an error's quoted one: the reply it stands for) matched the stack key. */
  matchedStack = false;
  /** After track() or startTcpScrub(): how `scrub (reassemble tcp)` rewrites the packet (inactive: not at all). */
  readonly normalization = new TcpNormalization();
  /** After track() or create() kept a packet for synproxy: what the router is to send. */
  readonly proxy = new SynproxyOut();

  /** Uniform 32-bit numbers (modulate state's offsets, synproxy's sequence numbers). */
  readonly random32: () => number;

  constructor(opts: StateEngineOptions) {
    this.random32 = opts.random32 ?? cryptoRandom32();
    this.table = new StateTable({ ...opts, capacity: opts.limit });
    this.sources = new SourceTracker(opts.limit, undefined, opts.srcNodes ?? DEFAULT_LIMITS.srcNodes);
    this.timeouts = new TimeoutTable(null, opts.limit);
    this.statePolicyIfBound = opts.statePolicyIfBound ?? false;
  }

  /** A state engine sized by the ruleset's `set limit states`. */
  static forRuleset(ruleset: Ruleset, opts: StateTableSetup & { random32?: () => number }): StateEngine {
    return new StateEngine({
      ...opts,
      limit: ruleset.options.limits.states,
      srcNodes: ruleset.options.limits.srcNodes,
      hostid: ruleset.options.hostid ?? opts.hostid,
    });
  }

  /**
   * A new ruleset: its timeouts apply to every state, per-rule counts follow
   * rule numbers, `set limit src-nodes` bounds new source nodes, and
   * `overload` finds its tables through `tables`. (The state limit is fixed
   * when the engine starts.)
   */
  setRules(ruleset: Ruleset, tables: OverloadTables): void {
    this.rulesByNr = ruleset.rules;
    this.sources.setLimit(ruleset.options.limits.srcNodes);
    this.timeouts = new TimeoutTable(ruleset, this.table.capacity);
    this.statePolicyIfBound = ruleset.options.statePolicy === 'if-bound';
    this.overloadTable = tables;
    this.recountRules();
  }

  /** Seconds until state i expires (0 when due), adaptive scaling included. */
  expiresIn(i: number, now: number): number {
    const t = this.table;
    const timeout = this.timeouts.timeout(t.rule[i]!, t.timeoutClass[i]!, t.count);
    return Math.max(0, t.lastActive[i]! + timeout - Math.floor(now));
  }

  private expired(i: number, now: number): boolean {
    const t = this.table;
    return Math.floor(now) >= t.lastActive[i]! + this.timeouts.timeout(t.rule[i]!, t.timeoutClass[i]!, t.count);
  }

  private readonly warmHashes = new Uint32Array(256);

  /**
   * Prepares lookups for a batch of parsed packets: their index slots and
   * keys are loaded together so the cache misses overlap (see
   * StateTable.warm). Call before lookup() on each packet of the batch.
   */
  warm(batch: readonly PacketMeta[], count: number): void {
    const t = this.table;
    const n = Math.min(count, this.warmHashes.length);
    let k = 0;
    for (let j = 0; j < n; j++) {
      const m = batch[j]!;
      if (m.error !== 0 || m.icmpIsError) continue;
      this.warmHashes[k++] = t.hash(m.af, m.proto, m.src, 0, m.srcPort, m.dst, 0, m.dstPort);
    }
    this.warmSink ^= t.warm(this.warmHashes, k);
  }
  /** Keeps the warm-up loads observable, so the compiler cannot drop them. */
  warmSink = 0;

  /**
   * The state a packet belongs to, or -1. For ICMP errors the quoted packet's
   * flow is looked up, and the quoted TCP sequence number must lie in the
   * window. An expired state is removed and not found.
   */
  lookup(m: PacketMeta, direction: DirectionOrAny, ifId: number, now: number): number {
    const t = this.table;
    this.counters.searches++;
    this.viaIcmpError = false;
    this.normalization.active = false;
    let i: number;
    if (m.icmpIsError && isIcmp(m.proto)) {
      if (!m.innerValid) return -1;
      // the quoted packet travelled the other way: looked up as the reply it quotes would be, in this
      // direction (so a translated state's wire key serves an inbound error, as in pf)
      const iproto = m.innerProto;
      const ip = isIcmp(iproto);
      i = this.findFlow(
        m.af,
        iproto,
        m.innerDst,
        ip ? m.innerIcmpId : m.innerDstPort,
        m.innerSrc,
        ip ? m.innerIcmpId : m.innerSrcPort,
        ifId,
        direction,
      );
      if (i < 0) return -1;
      // forward: the reply travels side 0 -> 1, so the quoted packet went side 1 -> 0
      // a modulated sender's quoted sequence number is checked as the sender wrote it
      const innerSeq = t.modulatedStates > 0 ? (m.innerSeq - t.seqDiff(i, t.forward ? 1 : 0)) >>> 0 : m.innerSeq;
      if (iproto === IPPROTO.TCP && !tcpSeqInWindow(t, i, !t.forward, innerSeq)) {
        this.counters.byReason[StateReason.BAD_STATE]!++;
        return -1;
      }
      this.viaIcmpError = true;
    } else {
      i = this.findFlow(m.af, m.proto, m.src, m.srcPort, m.dst, m.dstPort, ifId, direction);
      if (i < 0) return -1;
    }
    if (this.expired(i, now)) {
      this.remove(i);
      this.counters.expired++;
      return -1;
    }
    // for an error, the quoted packet went the other way than the reply it was looked up as
    this.forward = this.viaIcmpError ? !t.forward : t.forward;
    this.matchedStack = t.matchedStack;
    return i;
  }

  /** States bound to an interface (state-policy if-bound): only then is the second probe needed. */
  private boundStates = 0;

  /** A floating state of the flow, else one bound to this interface (pf looks up both). */
  private findFlow(
    af: number,
    proto: number,
    a: Uint32Array,
    ap: number,
    b: Uint32Array,
    bp: number,
    ifId: number,
    dir: DirectionOrAny,
  ): number {
    const t = this.table;
    const i = t.find(af, proto, a, ap, b, bp, FLOATING, dir);
    if (i >= 0 || this.boundStates === 0 || ifId < 0 || ifId >= FLOATING) return i;
    return t.find(af, proto, a, ap, b, bp, ifId, dir);
  }

  /**
   * Tracks a packet of state i (found by lookup). Returns StateReason.PASS or
   * a drop reason (BAD_STATE: outside the TCP window; SRC_LIMIT: the
   * connection broke a source limit when it became established).
   */
  track(i: number, m: PacketMeta, now: number): number {
    const t = this.table;
    const fwd = this.forward;
    if (this.viaIcmpError) {
      t.lastActive[i] = Math.floor(now);
      return StateReason.PASS;
    }
    const proto = m.proto;
    let reason: number = StateReason.PASS;
    if (proto === IPPROTO.TCP && t.peerState[i * 2]! >= TcpState.PROXY_SRC) {
      // the router completes the handshake itself: nothing of it passes
      if (synproxyTrack(t, i, m, fwd, this.random32, this.proxy)) {
        const limit = this.established(i, now);
        if (limit !== StateReason.PASS) reason = limit;
        else {
          reason = StateReason.SYNPROXY;
          if (this.hooks) this.hooks.onUpdate(i, Origin.LOCAL);
        }
      } else reason = StateReason.SYNPROXY;
    } else if (proto === IPPROTO.TCP) {
      const dstPeer = fwd ? i * 2 + 1 : i * 2;
      const wasOpening = t.peerState[dstPeer]! < TcpState.ESTABLISHED;
      // the windows count each side's own sequence numbers: the ack is taken back to the other side's
      const ackShift = t.modulatedStates > 0 ? this.modulation(i, m, fwd) : 0;
      const f = t.flags[i]!;
      // reassemble tcp: pf checks the timestamps of a segment the windows accept (pf_normalize_tcp_stateful);
      // checked first, so that a segment dropped for them moves no window
      const scrubSlot =
        (f & StateFlag.SLOPPY) === 0 && t.scrubWord(t.scrub[i]!) & ScrubFlag.REASSEMBLE_TCP
          ? this.tcpScrubCheck(i, m, fwd, now)
          : -1;
      if (scrubSlot === -2) reason = StateReason.BAD_TIMESTAMP;
      else if (f & StateFlag.SLOPPY) reason = tcpTrackSloppy(t, i, m, fwd);
      else if (f & (fwd ? StateFlag.RESYNC_SRC : StateFlag.RESYNC_DST)) {
        reason = tcpTrackResync(t, i, m, fwd, ackShift);
        t.flags[i] = f & ~(fwd ? StateFlag.RESYNC_SRC : StateFlag.RESYNC_DST);
      } else reason = tcpTrack(t, i, m, fwd, ackShift);
      if (reason === StateReason.PASS && scrubSlot >= 0) {
        const s = scrubSlot * 2;
        t.tcpScrub.update(fwd ? s : s + 1, fwd ? s + 1 : s, m, now, this.normalization);
      }
      if (
        reason === StateReason.PASS &&
        wasOpening &&
        t.peerState[i * 2]! >= TcpState.ESTABLISHED &&
        t.peerState[i * 2 + 1]! >= TcpState.ESTABLISHED
      )
        reason = this.established(i, now);
    } else {
      const src = fwd ? i * 2 : i * 2 + 1;
      const dst = fwd ? i * 2 + 1 : i * 2;
      if (t.peerState[src]! < PeerState.SINGLE) t.peerState[src] = PeerState.SINGLE;
      if (t.peerState[dst] === PeerState.SINGLE) t.peerState[dst] = PeerState.MULTIPLE;
      const both = t.peerState[src] === PeerState.MULTIPLE && t.peerState[dst] === PeerState.MULTIPLE;
      if (proto === IPPROTO.UDP) t.timeoutClass[i] = both ? Timeout.UDP_MULTIPLE : Timeout.UDP_SINGLE;
      else if (isIcmp(proto))
        t.timeoutClass[i] = Timeout.ICMP_ERROR; // pf: replies and later echoes
      else t.timeoutClass[i] = both ? Timeout.OTHER_MULTIPLE : Timeout.OTHER_SINGLE;
    }
    if (reason !== StateReason.PASS) {
      this.counters.byReason[reason]!++;
      return reason;
    }
    const d = fwd ? i * 2 : i * 2 + 1;
    t.packets[d]!++;
    t.bytes[d]! += m.totalLength;
    t.lastActive[i] = Math.floor(now);
    if (this.hooks) this.hooks.onUpdate(i, Origin.LOCAL);
    return StateReason.PASS;
  }

  /**
   * The reassemble tcp data of state i before its packet `m` is tracked:
   * the sender's side starts from its first packet (pf_normalize_tcp_init).
   * Returns the state's scrub slot, or -2 when the packet's timestamps fail
   * the checks.
   */
  private tcpScrubCheck(i: number, m: PacketMeta, fwd: boolean, now: number): number {
    const t = this.table;
    const sc = t.tcpScrub;
    const slot = sc.attach(i);
    const src = fwd ? slot * 2 : slot * 2 + 1;
    const dst = fwd ? slot * 2 + 1 : slot * 2;
    if ((sc.flags[src]! & PFSS_PRESENT) === 0) sc.initSide(src, m, now);
    const srcState = t.peerState[fwd ? i * 2 : i * 2 + 1]!;
    const dstState = t.peerState[fwd ? i * 2 + 1 : i * 2]!;
    const tsDiff = this.timeouts.tsDiff(t.rule[i]!);
    return sc.check(src, dst, m, srcState, dstState, t.creation[i]!, now, tsDiff) ? slot : -2;
  }

  /**
   * `scrub (reassemble tcp)` for a TCP state just made by `m` (pf_create_state):
   * the initiator's side starts from it, and `normalization` says how to
   * rewrite it. A sloppy state is not normalised (pf's sloppy tracking never
   * calls the normaliser, so its later packets would go unmodulated).
   */
  startTcpScrub(i: number, m: PacketMeta, now: number): void {
    const t = this.table;
    if (m.proto !== IPPROTO.TCP || t.flags[i]! & StateFlag.SLOPPY) return;
    const sc = t.tcpScrub;
    const slot = sc.attach(i);
    sc.initSide(slot * 2, m, now);
    sc.update(slot * 2, slot * 2 + 1, m, now, this.normalization);
  }

  /**
   * The offset the sender's acks carry (the other side's seqdiff). The
   * responder of a modulated state gets its own offset with its first
   * packet (pf's deferred modulator).
   */
  private modulation(i: number, m: PacketMeta, fwd: boolean): number {
    const t = this.table;
    if (!t.modulated(i)) return 0;
    const src = fwd ? 0 : 1;
    const dstDiff = t.seqDiff(i, 1 - src);
    if (dstDiff !== 0 && t.seqlo[i * 2 + src] === 0 && t.seqDiff(i, src) === 0)
      t.setSeqDiff(i, src, this.seqOffset(m.seq));
    return dstDiff;
  }

  /** A random non-zero offset from `seq` (pf: a fresh ISN less the sender's own). */
  private seqOffset(seq: number): number {
    const d = (this.random32() - seq) >>> 0;
    return d === 0 ? 1 : d;
  }

  /**
   * pf's state reuse: a SYN for a connection whose state is closing on both
   * sides ends that state, so the SYN can make a new one through the rules.
   */
  reusable(i: number, m: PacketMeta): boolean {
    const t = this.table;
    return (
      m.proto === IPPROTO.TCP &&
      (m.tcpFlags & (TCPFlag.SYN | TCPFlag.ACK)) === TCPFlag.SYN &&
      t.peerState[i * 2]! >= TcpState.FIN_WAIT_2 &&
      t.peerState[i * 2 + 1]! >= TcpState.FIN_WAIT_2
    );
  }

  /** A TCP connection completed its handshake: count it for max-src-conn(-rate), overload if over. */
  private established(i: number, now: number): number {
    const node = this.table.srcNode[i]!;
    const rule = this.rulesByNr[this.table.rule[i]!];
    if (node < 0 || !rule) return StateReason.PASS;
    const o = rule.stateOptions;
    const src = this.sources;
    const conns = ++src.conns[node]!;
    let over = o.maxSrcConn !== null && conns > o.maxSrcConn;
    if (o.maxSrcConnRate && this.sources.addConnection(node, now, o.maxSrcConnRate.count, o.maxSrcConnRate.seconds))
      over = true;
    if (!over) return StateReason.PASS;
    if (o.overload) {
      const table = this.overloadTable(o.overload.table);
      const af = src.af[node] as 4 | 6;
      const words = Uint32Array.from(src.address(node));
      table?.add([{ prefix: { af, words, bits: af === 4 ? 32 : 128 }, neg: false }]);
      if (o.overload.flush) this.killSource(af, words, o.overload.global ? -1 : this.table.rule[i]!);
    }
    if (this.table.live(i)) this.remove(i);
    return StateReason.SRC_LIMIT;
  }

  /** Removes the states from a source (of one rule, or all with rule -1). */
  killSource(af: number, words: ArrayLike<number>, rule: number): number {
    const t = this.table;
    const victims: number[] = [];
    t.forEach((i) => {
      if (t.afOf(i) !== af || (rule >= 0 && t.rule[i] !== rule)) return;
      const a = t.addressOf(i, 0);
      if (a[0] === words[0] && a[1] === words[1] && a[2] === words[2] && a[3] === words[3]) victims.push(i);
    });
    for (const i of victims) this.remove(i);
    return victims.length;
  }

  /**
   * Creates the state for a packet that a rule passed with keep state.
   * `log` is pf's state log byte (PF_LOG_ALL: log every packet of the state).
   * Returns the state index, or minus a StateReason when a limit refuses it.
   */
  create(
    m: PacketMeta,
    direction: Direction,
    ifId: number,
    rule: Rule,
    now: number,
    log: number = 0,
    xlat: StateTranslation | null = null,
  ): number {
    const t = this.table;
    const o = rule.stateOptions;
    if (o.max !== null && this.perRule[rule.nr]! >= o.max) return this.refuse(StateReason.RULE_LIMIT);
    let node = -1;
    if (
      o.maxSrcStates !== null ||
      o.maxSrcNodes !== null ||
      o.maxSrcConn !== null ||
      o.maxSrcConnRate !== null ||
      o.sourceTrack !== 'none'
    ) {
      node = this.sources.acquire(m.af, m.src);
      if (node < 0) return this.refuse(StateReason.SRC_LIMIT);
      const held = this.sources.states[node]!;
      const fresh = held === 0;
      // max-src-nodes: how many distinct sources may hold states of this rule at once
      const nodes = this.sourcesPerRule[rule.nr]!;
      if (
        (o.maxSrcStates !== null && held >= o.maxSrcStates) ||
        (o.maxSrcNodes !== null && fresh && nodes >= o.maxSrcNodes)
      ) {
        this.sources.release(node);
        return this.refuse(StateReason.SRC_LIMIT);
      }
      if (fresh) this.sourcesPerRule[rule.nr] = nodes + 1;
    }
    const icmp = isIcmp(m.proto);
    const ifBound = o.ifBound ?? this.statePolicyIfBound;
    const bound = ifBound && ifId >= 0 && ifId < FLOATING ? ifId : FLOATING;
    const sport = icmp ? m.icmpId : m.srcPort;
    const dport = icmp ? m.icmpId : m.dstPort;
    let i: number;
    if (xlat === null) i = t.insert(m.af, m.proto, m.src, sport, m.dst, dport, bound, direction);
    else if (!xlat.complete(t, m, direction, bound)) i = -3;
    else {
      // pf: the packet as it is and as translated; inbound, the wire carries it as it is
      const b = xlat.view;
      const bs = icmp ? b.icmpId : b.srcPort;
      const bd = icmp ? b.icmpId : b.dstPort;
      const inbound = direction === Direction.IN;
      i = inbound
        ? t.insert(m.af, m.proto, m.src, sport, m.dst, dport, bound, direction, KeyUse.WIRE)
        : t.insert(m.af, m.proto, b.src, bs, b.dst, bd, bound, direction, KeyUse.WIRE);
      if (
        i >= 0 &&
        !(inbound ? t.setStackKey(i, b.src, bs, b.dst, bd) : t.setStackKey(i, m.src, sport, m.dst, dport))
      ) {
        t.remove(i);
        i = -2;
      }
    }
    if (i < 0) {
      if (node >= 0) this.sources.release(node);
      return this.refuse(
        i === -1 ? StateReason.STATE_LIMIT : i === -2 ? StateReason.STATE_INSERT : StateReason.TRANSLATE,
      );
    }
    const sec = Math.floor(now);
    t.rule[i] = rule.nr;
    t.creation[i] = sec;
    t.lastActive[i] = sec;
    t.direction[i] = direction;
    if (bound !== FLOATING) this.boundStates++;
    let flags = 0;
    if (o.sloppy) flags |= StateFlag.SLOPPY;
    if (o.noSync || m.proto === IPPROTO.PFSYNC) flags |= StateFlag.NOSYNC;
    if (o.pflow) flags |= StateFlag.PFLOW;
    if (rule.allowOpts) flags |= StateFlag.ALLOWOPTS;
    t.flags[i] = flags;
    t.log[i] = log;
    if (m.proto === IPPROTO.TCP) {
      tcpInitState(t, i, m);
      // modulate state: the initiator's sequence numbers start at a random ISN (pf: only from a SYN)
      const syn = (m.tcpFlags & (TCPFlag.SYN | TCPFlag.ACK)) === TCPFlag.SYN;
      if (rule.state === 'modulate' && syn) t.setSeqDiff(i, 0, this.seqOffset(m.seq));
      else if (rule.state === 'synproxy' && syn) synproxyStart(t, i, m, this.random32(), this.proxy);
    } else {
      t.peerState[i * 2] = PeerState.SINGLE;
      t.peerState[i * 2 + 1] = PeerState.NO_TRAFFIC;
      t.timeoutClass[i] = m.proto === IPPROTO.UDP ? Timeout.UDP_FIRST : icmp ? Timeout.ICMP_FIRST : Timeout.OTHER_FIRST;
    }
    t.packets[i * 2] = 1;
    t.bytes[i * 2] = m.totalLength;
    if (node >= 0) {
      t.srcNode[i] = node;
      this.sources.states[node]!++;
    }
    this.perRule[rule.nr]!++;
    this.counters.inserts++;
    if (this.hooks) this.hooks.onInsert(i, Origin.LOCAL);
    return i;
  }

  /**
   * Inserts the state an image describes, under the image's identity (a
   * state another node made: pfsync). It belongs to no rule (pf attaches
   * such states to the default rule) and is counted; with Origin.PEER it is
   * flagged FROM_PEER. Returns the index, or -1 (table full), -2 (the flow
   * has a state), -3 (the identity is taken), as StateTable.insertWithId.
   */
  insertImage(img: StateImage, origin: OriginValue): number {
    const t = this.table;
    const i = t.insertWithId(
      img.af,
      img.proto,
      img.addr0,
      img.port0,
      img.addr1,
      img.port1,
      img.bound,
      img.creator,
      img.idHi,
      img.idLo,
      img.direction,
      img.hasStackKey ? KeyUse.WIRE : KeyUse.BOTH,
    );
    if (i < 0) return i;
    if (img.hasStackKey) {
      const sa = img.stackAddr;
      if (!t.setStackKey(i, sa.subarray(0, 4), img.stackPort[0]!, sa.subarray(4, 8), img.stackPort[1]!)) {
        t.remove(i);
        return -2;
      }
    }
    if (img.bound !== FLOATING) this.boundStates++;
    this.counters.inserts++;
    t.direction[i] = img.direction;
    t.creation[i] = img.creation;
    t.lastActive[i] = img.lastActive;
    t.timeoutClass[i] = img.timeoutClass;
    t.log[i] = img.log;
    t.route[i] = img.route;
    t.packets[i * 2] = img.packets[0]!;
    t.packets[i * 2 + 1] = img.packets[1]!;
    t.bytes[i * 2] = img.bytes[0]!;
    t.bytes[i * 2 + 1] = img.bytes[1]!;
    this.setPeer(i, 0, img.peer[0]);
    this.setPeer(i, 1, img.peer[1]);
    t.flags[i] = origin === Origin.PEER ? img.flags | StateFlag.FROM_PEER : img.flags;
    if (this.hooks) this.hooks.onInsert(i, origin);
    return i;
  }

  /**
   * Another node's view of state i: the sides in `sides` (bit 0 the src
   * peer, bit 1 the dst peer) take the image's peers, and when any did, the
   * timeout restarts at `now` with the image's class (and a TCP state
   * re-anchors its windows, which came from elsewhere). Which sides to take
   * is the caller's rule (pfsync's merge). The hooks hear of it either way.
   */
  updateFromImage(i: number, img: StateImage, sides: number, now: number, origin: OriginValue): void {
    const t = this.table;
    if (sides & 1) this.setPeer(i, 0, img.peer[0]);
    if (sides & 2) this.setPeer(i, 1, img.peer[1]);
    if (sides !== 0) {
      t.lastActive[i] = Math.floor(now);
      t.timeoutClass[i] = img.timeoutClass;
      if (t.protoOf(i) === IPPROTO.TCP) t.flags[i]! |= RESYNC;
    }
    if (this.hooks) this.hooks.onUpdate(i, origin);
  }

  /**
   * Side `side` (0 src, 1 dst) of state i from an image; the sparse modulation entry follows its seqdiff, and
   * reassemble tcp data the image has is taken (the state is then normalised, as its creator did).
   */
  private setPeer(i: number, side: number, p: PeerImage): void {
    const t = this.table;
    const k = i * 2 + side;
    t.seqlo[k] = p.seqlo;
    t.seqhi[k] = p.seqhi;
    t.maxWin[k] = p.maxWin;
    t.wscale[k] = p.wscale;
    t.peerState[k] = p.state;
    if (p.scrubValid && t.protoOf(i) === IPPROTO.TCP) {
      // pf_state_peer_ntoh: only the timestamp flag crosses, so PAWS learns again from the next timestamps
      const sc = t.tcpScrub;
      const row = sc.attach(i) * 2 + side;
      sc.flags[row] = PFSS_PRESENT | (p.scrubFlags & PfssFlag.TIMESTAMP);
      sc.ttl[row] = p.scrubTtl;
      sc.tsMod[row] = p.scrubTsMod;
      const profile = t.scrub[i]!;
      const word = t.scrubWord(profile);
      if ((word & ScrubFlag.REASSEMBLE_TCP) === 0)
        t.scrub[i] = t.scrubProfile(word | ScrubFlag.REASSEMBLE_TCP, t.scrubMss(profile));
    }
    t.setSeqDiff(i, side, p.seqdiff);
  }

  private refuse(reason: number): number {
    this.counters.byReason[reason]!++;
    return -reason;
  }

  /** Removes state i and releases what it held; `origin` says who removed it (for the hooks). */
  remove(i: number, origin: OriginValue = Origin.LOCAL): void {
    if (this.hooks) this.hooks.onDelete(i, origin);
    this.release(i);
  }

  private release(i: number): void {
    const t = this.table;
    const node = t.srcNode[i]!;
    if (node >= 0) {
      const src = this.sources;
      if (--src.states[node]! === 0) {
        const r = t.rule[i]!;
        if (this.sourcesPerRule[r]! > 0) this.sourcesPerRule[r]!--;
      }
      const established =
        t.peerState[i * 2]! >= TcpState.ESTABLISHED && t.peerState[i * 2 + 1]! >= TcpState.ESTABLISHED;
      if (t.protoOf(i) === IPPROTO.TCP && established && src.conns[node]! > 0) src.conns[node]!--;
      src.release(node);
    }
    if (t.rule[i] !== NO_RULE && this.perRule[t.rule[i]!]! > 0) this.perRule[t.rule[i]!]!--;
    if (t.ifId[i] !== FLOATING) this.boundStates--;
    t.remove(i);
    this.counters.removals++;
  }

  /**
   * Purges expired states, looking at no more than `budget` states, so a
   * tick never stalls the datapath; the cursor goes round the table.
   * Returns how many states were removed.
   */
  expire(now: number, budget: number): number {
    const t = this.table;
    const extent = t.extent;
    if (extent === 0) return 0;
    let removed = 0;
    for (let k = 0; k < budget && k < extent; k++) {
      if (this.purgeCursor >= extent) this.purgeCursor = 0;
      const i = this.purgeCursor++;
      if (t.live(i) && this.expired(i, now)) {
        this.remove(i);
        this.counters.expired++;
        removed++;
      }
    }
    return removed;
  }

  /** How many states a purge tick should examine so the whole table is seen once per `interval`. */
  purgeBudget(tickSeconds: number): number {
    return Math.max(64, Math.ceil((this.table.extent * tickSeconds) / this.timeouts.interval));
  }

  /** Recounts states per rule after a reload (states keep their rule numbers). */
  recountRules(): void {
    this.perRule.fill(0);
    this.table.forEach((i) => {
      const r = this.table.rule[i]!;
      if (r !== NO_RULE) this.perRule[r]!++;
    });
  }

  /** Removes every state; the hooks hear of it once (onFlush), not per state. Returns how many went. */
  flush(origin: OriginValue = Origin.LOCAL): number {
    const t = this.table;
    let n = 0;
    // release() frees a slot without moving other states, so the walk can remove as it goes
    for (let i = 0; i < t.extent; i++) {
      if (!t.live(i)) continue;
      this.release(i);
      n++;
    }
    if (this.hooks) this.hooks.onFlush(origin);
    return n;
  }
}
