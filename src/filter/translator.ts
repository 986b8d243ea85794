// Address translation as pf computes it for a new connection (pf_get_transaddr,
// pf_map_addr, pf_get_sport): while the rules are walked, a matching `match`
// rule's nat-to / rdr-to rewrites a view of the packet at once, so later rules
// see the translated addresses; the deciding pass rule's translation goes on
// top. When the state is made, nat-to's source port is searched so that no
// state holds the translated key. Runs per new connection, never per packet
// of a known one.

import { randomInt } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { formatAddress } from '../packet/address.js';
import { Direction, IPPROTO, PacketMeta } from '../packet/meta.js';
import {
  NAT_PROXY_PORT_HIGH,
  NAT_PROXY_PORT_LOW,
  type PoolHost,
  type Prefix,
  type Rule,
  type Translation,
} from '../rules/ast.js';
import { isLinkLocal6 } from '../rules/parse-hosts.js';
import { KeyUse, type StateTable } from '../state/state-table.js';
import type { StateTranslation } from '../state/state-engine.js';
import type { InterfaceRegistry } from './interface-registry.js';
import type { TableStore } from './table-store.js';

/** Source addresses remembered by sticky-address pools at most (the oldest are forgotten first). */
export const STICKY_ENTRIES = 65536;

/**
 * Pool addresses nat-to tries when the ports of one run out (pf tries until
 * the first comes round again; a bound keeps a random pick over a big
 * network from scanning the port range without end).
 */
export const MAX_NAT_ADDRESS_TRIES = 16;

const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
const ICMP6_ECHO_REQUEST = 128;
const ICMP6_ECHO_REPLY = 129;

/** What a pool keeps between connections: the round-robin position and the source-hash key. */
class PoolState {
  counter = 0;
  readonly key: Uint32Array;
  constructor(tr: Translation) {
    this.key = tr.hashKey ?? Uint32Array.from({ length: 4 }, () => randomInt(0x100000000));
  }
}

export class Translator implements StateTranslation {
  /** The packet as the rules translated it (pf's nsaddr/nsport/ndaddr/ndport). */
  readonly view = new PacketMeta();
  /** A rule translated the packet. */
  active = false;
  /** A rule's pool had no address of the packet's family: pf drops the packet (reason translate). */
  failed = false;
  /** The last rule whose nat-to / rdr-to applies (null: none). */
  natRule: Rule | null = null;
  rdrRule: Rule | null = null;
  private readonly pools = new Map<Translation, PoolState>();
  private readonly sticky = new LRUCache<string, Uint32Array>({ max: STICKY_ENTRIES });
  private readonly candidates: Prefix[] = [];
  /** The source nat-to's pool picked for (its hash and sticky input), and its first pick. */
  private readonly natSource = new Uint32Array(4);
  private readonly firstAddress = new Uint32Array(4);

  constructor(
    private readonly interfaces: InterfaceRegistry,
    private readonly tables: () => TableStore,
    /** Uniform integer in [0, n): crypto-strong by default, fixed in tests. */
    private readonly random: (n: number) => number = (n) => randomInt(n),
  ) {}

  /** Before a packet's rules are walked. */
  begin(): void {
    this.active = false;
    this.failed = false;
    this.natRule = null;
    this.rdrRule = null;
  }

  /** A matching rule's translations applied to `pm` (the packet, or the view already): returns the view. */
  apply(rule: Rule, pm: PacketMeta): PacketMeta {
    const v = this.view;
    if (pm !== v) copyFlow(pm, v);
    // rdr-to first: both pools hash the client's original source
    if (rule.rdr !== null && rule.rdr.af === v.af) {
      if (this.pick(rule, rule.rdr, v.src, v.dst, v.dst)) {
        const p = rdrPort(rule, rule.rdr, v.dstPort);
        if (hasPorts(v.proto)) v.dstPort = p;
        this.rdrRule = rule;
        this.active = true;
      } else this.failed = true;
    }
    if (rule.nat !== null && rule.nat.af === v.af) {
      this.natSource.set(v.src);
      if (this.pick(rule, rule.nat, v.src, v.src, v.src)) {
        this.natRule = rule;
        this.active = true;
      } else this.failed = true;
    }
    return v;
  }

  /**
   * nat-to's source port (or ICMP echo id) for the view, searched as
   * pf_get_sport does: from a random start upwards, then downwards, the
   * first for which no state holds the translated key. With static-port, or
   * a protocol without ports, the key as it stands must be free. When a
   * round-robin or random pool's address has no port left, the pool's next
   * pick is tried, until the first address comes round again.
   */
  complete(t: StateTable, _m: PacketMeta, direction: Direction, bound: number): boolean {
    const v = this.view;
    const rule = this.natRule;
    // without nat-to pf searches nothing: a taken key fails the state insert
    if (rule === null) return true;
    const nat = rule.nat!;
    this.firstAddress.set(v.src);
    for (let tries = 0; tries < MAX_NAT_ADDRESS_TRIES; tries++) {
      if (this.searchPort(t, nat, direction, bound)) return true;
      if (nat.type !== 'round-robin' && nat.type !== 'random') return false;
      if (!this.pick(rule, nat, this.natSource, this.natSource, v.src)) return false;
      if (sameAddress(v.src, this.firstAddress)) return false;
    }
    return false;
  }

  /** The source port search for the view's current address. */
  private searchPort(t: StateTable, nat: Translation, direction: Direction, bound: number): boolean {
    const v = this.view;
    // the translated key is the wire key of an outbound state, the stack key of an inbound one
    const use = direction === Direction.OUT ? KeyUse.WIRE : KeyUse.STACK;
    const echo = isEcho(v);
    const free = (port: number): boolean =>
      echo
        ? t.keyFree(v.af, v.proto, v.src, port, v.dst, port, bound, direction, use)
        : t.keyFree(v.af, v.proto, v.src, port, v.dst, v.dstPort, bound, direction, use);
    if (!(echo || hasPorts(v.proto)) || (nat.staticPort && !echo)) return free(echo ? v.icmpId : v.srcPort);
    let low = echo ? 1 : nat.portLow || NAT_PROXY_PORT_LOW;
    let high = echo ? 0xffff : nat.portHigh || NAT_PROXY_PORT_HIGH;
    if (low > high) [low, high] = [high, low];
    const cut = low + this.random(high - low + 1);
    for (let p = cut; p <= high; p++) if (free(p)) return this.setSourcePort(v, echo, p);
    for (let p = cut - 1; p >= low; p--) if (free(p)) return this.setSourcePort(v, echo, p);
    return false;
  }

  private setSourcePort(v: PacketMeta, echo: boolean, p: number): boolean {
    if (echo) v.icmpId = p;
    else v.srcPort = p;
    return true;
  }

  /**
   * Picks the pool's address for a connection from `source` into `out`
   * (`original` gives bitmask its host bits). False when the pool has no
   * address of the family (an interface without one, an empty table).
   */
  private pick(rule: Rule, tr: Translation, source: Uint32Array, original: Uint32Array, out: Uint32Array): boolean {
    const stickyKey = tr.sticky ? `${rule.nr}/${tr === rule.rdr ? 'r' : 'n'}/${formatAddress(tr.af, source)}` : '';
    if (tr.sticky) {
      const known = this.sticky.get(stickyKey);
      if (known !== undefined) {
        out.set(known);
        return true;
      }
    }
    const c = this.collect(tr);
    if (c.length === 0) return false;
    let pool = this.pools.get(tr);
    if (pool === undefined) this.pools.set(tr, (pool = new PoolState(tr)));
    const tmp = scratch;
    switch (tr.type) {
      case 'bitmask':
        combine(c[0]!, original, tmp);
        break;
      case 'random': {
        const p = c[this.random(c.length)]!;
        combine(p, randomWords(this.random, tmp), tmp);
        break;
      }
      case 'source-hash': {
        const h = keyedHash(pool.key, source);
        const p = c[h % c.length]!;
        hostBits(tr.af, h, tmp);
        combine(p, tmp, tmp);
        break;
      }
      case 'round-robin': {
        const n = pool.counter++;
        if (c.length > 1) tmp.set(c[n % c.length]!.words);
        else {
          // one network: its addresses in turn, the network address first (pf's counter)
          hostBits(tr.af, n, tmp);
          combine(c[0]!, tmp, tmp);
        }
        break;
      }
      default:
        tmp.set(c[0]!.words);
    }
    out.set(tmp);
    if (tr.sticky) this.sticky.set(stickyKey, Uint32Array.from(tmp));
    return true;
  }

  /** The pool's addresses of its family, in order: as written, then interfaces' and tables' current ones. */
  private collect(tr: Translation): Prefix[] {
    const c = this.candidates;
    c.length = 0;
    for (const h of tr.hosts) addHost(h, tr.af, c, this.interfaces, this.tables());
    return c;
  }
}

const scratch = new Uint32Array(4);

function addHost(h: PoolHost, af: 4 | 6, c: Prefix[], ifs: InterfaceRegistry, tables: TableStore): void {
  switch (h.kind) {
    case 'prefix':
      if (h.prefix.af === af) c.push(h.prefix);
      break;
    case 'dynamic':
      for (const a of ifs.addressesOf(h.ifname)) {
        // a link-local address needs its scope and routes nowhere: `(if)` in a pool skips it, as in the rules
        if (a.af !== af || isLinkLocal6(a)) continue;
        c.push({ af, words: a.words, bits: af === 4 ? 32 : 128 });
        if (h.noAlias) break;
      }
      break;
    case 'table':
      for (const e of tables.get(h.name)?.entries.values() ?? []) if (!e.neg && e.prefix.af === af) c.push(e.prefix);
      break;
  }
}

/** Network bits from the pool prefix, host bits from `host`, into `out` (which may be `host`). */
function combine(p: Prefix, host: Uint32Array, out: Uint32Array): void {
  const words = p.af === 4 ? 1 : 4;
  for (let w = 0; w < 4; w++) {
    if (w >= words) {
      out[w] = 0;
      continue;
    }
    const bitsHere = Math.max(0, Math.min(32, p.bits - w * 32));
    const mask = bitsHere === 0 ? 0 : bitsHere === 32 ? 0xffffffff : (0xffffffff << (32 - bitsHere)) >>> 0;
    out[w] = ((p.words[w]! & mask) | (host[w]! & ~mask)) >>> 0;
  }
}

/** A 32-bit value as host bits of a family's address: the low word (IPv6 pools vary their last 32 bits). */
function hostBits(af: 4 | 6, h: number, out: Uint32Array): void {
  out.fill(0);
  out[af === 4 ? 0 : 3] = h >>> 0;
}

function sameAddress(a: Uint32Array, b: Uint32Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

function randomWords(random: (n: number) => number, out: Uint32Array): Uint32Array {
  for (let w = 0; w < 4; w++) out[w] = (random(0x10000) << 16) | random(0x10000);
  return out;
}

/**
 * source-hash: a keyed 32-bit hash of the source address. pf uses
 * SipHash-2-4; this is another keyed hash, so a key picks the same address
 * for a source on every tunpf node, not the one OpenBSD would pick.
 */
export function keyedHash(key: Uint32Array, a: Uint32Array): number {
  let h = key[0]! ^ 0x9e3779b9;
  for (let w = 0; w < 4; w++) {
    h = Math.imul(h ^ a[w]! ^ key[(w + 1) & 3]!, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return (h ^ key[3]!) >>> 0;
}

/**
 * rdr-to's destination port: unchanged without a port; one port for all;
 * a range maps the rule's destination range onto it one to one, wrapping.
 */
export function rdrPort(rule: Rule, tr: Translation, original: number): number {
  if (tr.portLow === 0) return original;
  if (tr.portHigh <= tr.portLow) return tr.portLow;
  const base = rule.to.port?.low ?? original;
  const width = tr.portHigh - tr.portLow + 1;
  const off = (((original - base) % width) + width) % width;
  return (tr.portLow + off) & 0xffff;
}

function hasPorts(proto: number): boolean {
  return proto === IPPROTO.TCP || proto === IPPROTO.UDP;
}

/** An ICMP query whose id is its "port" (pf translates echo ids). */
function isEcho(m: PacketMeta): boolean {
  if (m.proto === IPPROTO.ICMP) return m.icmpType === ICMP_ECHO_REQUEST || m.icmpType === ICMP_ECHO_REPLY;
  if (m.proto === IPPROTO.ICMPV6) return m.icmpType === ICMP6_ECHO_REQUEST || m.icmpType === ICMP6_ECHO_REPLY;
  return false;
}

/** The fields rules and state keys read. */
function copyFlow(from: PacketMeta, to: PacketMeta): void {
  to.error = from.error;
  to.af = from.af;
  to.proto = from.proto;
  to.src.set(from.src);
  to.dst.set(from.dst);
  to.srcPort = from.srcPort;
  to.dstPort = from.dstPort;
  to.icmpId = from.icmpId;
  to.icmpType = from.icmpType;
  to.icmpCode = from.icmpCode;
  to.icmpIsError = from.icmpIsError;
  to.tcpFlags = from.tcpFlags;
  to.totalLength = from.totalLength;
  to.isFragment = from.isFragment;
  to.isLaterFragment = from.isLaterFragment;
  to.ttl = from.ttl;
  to.tos = from.tos;
}
