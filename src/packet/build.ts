// Builders of whole raw IP packets (what a TUN frame carries), correctly
// checksummed: for tests, for `tunpf replay`, and for the packets the
// datapath sends itself (TCP resets, ICMP errors). The family comes from the
// address strings (IPv4 dotted quad or IPv6). They allocate; not per-packet code.

import { formatAddress, parseAddress, wordsFromBytes } from './address.js';
import { writeIpv4HeaderChecksum, writeL4Checksum } from './checksum.js';
import * as icmp from './icmp.js';
import * as ipv4 from './ipv4.js';
import * as ipv6 from './ipv6.js';
import { TCPFlag, type PacketMeta } from './meta.js';
import * as tcp from './tcp.js';
import * as udp from './udp.js';

const P_ICMP = 1;
const P_TCP = 6;
const P_UDP = 17;
const P_ICMPV6 = 58;

/** IP header fields shared by all builders. */
export interface IpFields {
  src: string;
  dst: string;
  ttl?: number; // IPv4 TTL / IPv6 hop limit, default 64
  tos?: number; // IPv4 TOS / IPv6 traffic class, default 0
  /** IPv4 only: identification, DF, options. */
  ipId?: number;
  df?: boolean;
  ipOptions?: Uint8Array;
  /** IPv6 only. */
  flowLabel?: number;
  extensions?: ipv6.Ipv6Extension[];
}

export interface TcpOptionFields {
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  ts?: [number, number]; // [tsVal, tsEcr]
  sack?: Array<[number, number]>;
}

export interface TcpFields extends IpFields {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** pf letters ('S', 'SA', 'FPA', ...) or TCPFlag bits; default ACK. */
  flags?: string | number;
  window?: number; // default 65535
  urgentPointer?: number;
  /** Named options (laid out as Linux does) or an explicit option list. */
  options?: TcpOptionFields | tcp.TcpOption[];
  payload?: Uint8Array;
}

export interface UdpFields extends IpFields {
  sport: number;
  dport: number;
  payload?: Uint8Array;
  /** false: send no checksum (IPv4 only; IPv6 requires one). Default true. */
  checksum?: boolean;
}

export interface IcmpFields extends IpFields {
  type: number;
  code?: number;
  /** The 32-bit rest of header (MTU, pointer, gateway, id << 16 | seq). */
  rest?: number;
  payload?: Uint8Array;
}

export interface IcmpEchoFields extends IpFields {
  id: number;
  seq?: number;
  reply?: boolean; // default: a request
  payload?: Uint8Array;
}

export interface IcmpErrorFields extends IpFields {
  type: number;
  code: number;
  /** The offending packet, from its IP header, as much of it as the caller wants to quote. */
  quoted: Uint8Array;
  rest?: number;
}

/** 4 or 6 for a pair of addresses of one family; throws otherwise. */
export function familyOf(src: string, dst: string): 4 | 6 {
  const a = parseAddress(src);
  const b = parseAddress(dst);
  if (a === null) throw new RangeError(`bad address: ${src}`);
  if (b === null) throw new RangeError(`bad address: ${dst}`);
  if (a.af !== b.af) throw new RangeError(`address families differ: ${src} ${dst}`);
  return a.af;
}

/**
 * An IP packet around an upper-layer message (whose checksum field, if any, is recomputed unless fixChecksum is
 * false). The L4 checksum of a packet that is itself a fragment would be wrong: build whole packets and split them
 * with fragmentPacket.
 */
export function buildIpPacket(
  f: IpFields & { protocol: number; payload: Uint8Array; fixChecksum?: boolean },
): Uint8Array {
  const af = familyOf(f.src, f.dst);
  let pkt: Uint8Array;
  if (af === 4) {
    pkt = ipv4.encode({
      src: f.src,
      dst: f.dst,
      protocol: f.protocol,
      payload: f.payload,
      ttl: f.ttl ?? 64,
      tos: f.tos ?? 0,
      id: f.ipId ?? 0,
      flags: f.df ? ipv4.IPV4_FLAG_DF : 0,
      options: f.ipOptions,
    });
  } else {
    pkt = ipv6.encode({
      src: f.src,
      dst: f.dst,
      protocol: f.protocol,
      payload: f.payload,
      hopLimit: f.ttl ?? 64,
      trafficClass: f.tos ?? 0,
      flowLabel: f.flowLabel ?? 0,
      extensions: f.extensions,
    });
  }
  if (f.fixChecksum !== false) {
    const l4 = pkt.length - f.payload.length;
    writeL4Checksum(pkt, 0, af, f.protocol, l4, f.payload.length);
  }
  return pkt;
}

function tcpOptionList(o: TcpOptionFields | tcp.TcpOption[] | undefined): tcp.TcpOption[] {
  if (o === undefined) return [];
  if (Array.isArray(o)) return o;
  const list: tcp.TcpOption[] = [];
  if (o.mss !== undefined) list.push({ kind: 2, mss: o.mss });
  if (o.sackOk) {
    if (o.ts === undefined) list.push({ kind: 1 }, { kind: 1 });
    list.push({ kind: 4 });
  }
  if (o.ts !== undefined) {
    if (!o.sackOk) list.push({ kind: 1 }, { kind: 1 });
    list.push({ kind: 8, tsVal: o.ts[0], tsEcr: o.ts[1] });
  }
  if (o.wscale !== undefined) list.push({ kind: 1 }, { kind: 3, shift: o.wscale });
  if (o.sack !== undefined && o.sack.length > 0) list.push({ kind: 1 }, { kind: 1 }, { kind: 5, blocks: o.sack });
  return list;
}

/** TCPFlag bits from pf letters or a number; throws on bad letters. */
export function tcpFlags(flags: string | number | undefined): number {
  if (flags === undefined) return TCPFlag.ACK;
  if (typeof flags === 'number') return flags & 0xff;
  const v = tcp.tcpFlagsFromString(flags);
  if (v < 0) throw new RangeError(`bad TCP flags: ${flags}`);
  return v;
}

export function buildTcp(f: TcpFields): Uint8Array {
  const seg = tcp.encode({
    srcPort: f.sport,
    dstPort: f.dport,
    seq: (f.seq ?? 0) >>> 0,
    ack: (f.ack ?? 0) >>> 0,
    flags: tcpFlags(f.flags),
    window: f.window ?? 65535,
    urgentPointer: f.urgentPointer ?? 0,
    options: tcpOptionList(f.options),
    payload: f.payload,
  });
  return buildIpPacket({ ...f, protocol: P_TCP, payload: seg });
}

export function buildUdp(f: UdpFields): Uint8Array {
  const dgram = udp.encode({ srcPort: f.sport, dstPort: f.dport, payload: f.payload });
  const fix = f.checksum !== false || familyOf(f.src, f.dst) === 6;
  return buildIpPacket({ ...f, protocol: P_UDP, payload: dgram, fixChecksum: fix });
}

/** Any ICMP (IPv4) or ICMPv6 (IPv6) message. */
export function buildIcmp(f: IcmpFields): Uint8Array {
  const af = familyOf(f.src, f.dst);
  const msg = icmp.encode({ type: f.type, code: f.code ?? 0, rest: (f.rest ?? 0) >>> 0, payload: f.payload });
  return buildIpPacket({ ...f, protocol: af === 4 ? P_ICMP : P_ICMPV6, payload: msg });
}

export function buildIcmpEcho(f: IcmpEchoFields): Uint8Array {
  const af = familyOf(f.src, f.dst);
  const type =
    af === 4
      ? f.reply
        ? icmp.ICMP_ECHO_REPLY
        : icmp.ICMP_ECHO
      : f.reply
        ? icmp.ICMP6_ECHO_REPLY
        : icmp.ICMP6_ECHO_REQUEST;
  const rest = (((f.id & 0xffff) << 16) | ((f.seq ?? 0) & 0xffff)) >>> 0;
  return buildIcmp({ ...f, type, code: 0, rest, payload: f.payload });
}

export function buildIcmpError(f: IcmpErrorFields): Uint8Array {
  return buildIcmp({ ...f, payload: f.quoted });
}

/**
 * Most of an offending packet an error may quote: the result fits 576 bytes (IPv4, RFC 1812 4.3.2.3)
 * / 1280 (IPv6, RFC 4443 2.4).
 */
export function maxIcmpQuote(af: number): number {
  return af === 4 ? 576 - 20 - 8 : 1280 - 40 - 8;
}

/**
 * An ICMP error about `offending` (a raw IP packet), sent from `src` to the offending packet's source, quoting as
 * much as fits (maxIcmpQuote). Whether an error may be sent at all (not about an ICMP error, a later fragment, a
 * broadcast...) is the caller's decision.
 */
export function buildIcmpErrorFor(
  offending: Uint8Array,
  f: { type: number; code: number; src: string; rest?: number; ttl?: number },
): Uint8Array {
  const af = offending.length > 0 ? offending[0]! >> 4 : 0;
  if (af !== 4 && af !== 6) throw new RangeError('offending packet is not IPv4 or IPv6');
  const w = wordsFromBytes(offending, af === 4 ? 12 : 8, af, new Uint32Array(4));
  const dst = formatAddress(af, w);
  let len = offending.length;
  // quote no more than the packet itself claims
  const claimed = af === 4 ? (offending[2]! << 8) | offending[3]! : 40 + ((offending[4]! << 8) | offending[5]!);
  if (claimed < len) len = claimed;
  if (len > maxIcmpQuote(af)) len = maxIcmpQuote(af);
  return buildIcmpError({
    src: f.src,
    dst,
    type: f.type,
    code: f.code,
    rest: f.rest,
    ttl: f.ttl,
    quoted: offending.subarray(0, len),
  });
}

/**
 * The RST pf sends for `block return-rst` in answer to the TCP packet described by meta (as parsePacket filled
 * it): to the sender, from the address it wrote to. Null if meta is not a TCP packet or is itself a RST.
 */
export function buildTcpResetFor(meta: PacketMeta, f: { ttl?: number } = {}): Uint8Array | null {
  if (meta.error !== 0 || meta.proto !== P_TCP || meta.isLaterFragment || (meta.tcpFlags & TCPFlag.RST) !== 0)
    return null;
  const src = formatAddress(meta.af, meta.dst);
  const dst = formatAddress(meta.af, meta.src);
  const base = { src, dst, sport: meta.dstPort, dport: meta.srcPort, window: 0, ttl: f.ttl ?? 64 };
  if (meta.tcpFlags & TCPFlag.ACK) return buildTcp({ ...base, seq: meta.ack, ack: 0, flags: TCPFlag.RST });
  let ack = meta.seq + meta.payloadLength;
  if (meta.tcpFlags & TCPFlag.SYN) ack++;
  if (meta.tcpFlags & TCPFlag.FIN) ack++;
  return buildTcp({ ...base, seq: 0, ack: ack >>> 0, flags: TCPFlag.RST | TCPFlag.ACK });
}

/**
 * Splits a whole IPv4 or IPv6 packet into fragments carrying at most `maxData` bytes of fragmentable data each
 * (rounded down to a multiple of 8). IPv4 fragments repeat the header (options included); IPv6 ones get a fragment
 * header after the hop-by-hop and routing headers (RFC 8200 4.5), with the given id.
 */
export function fragmentPacket(packet: Uint8Array, maxData: number, id: number = 0x1234): Uint8Array[] {
  const step = maxData & ~7;
  if (step < 8) throw new RangeError('fragment data must be at least 8 bytes');
  const v = packet[0]! >> 4;
  if (v === 4) return fragment4(packet, step);
  if (v === 6) return fragment6(packet, step, id >>> 0);
  throw new RangeError('not an IP packet');
}

function fragment4(packet: Uint8Array, step: number): Uint8Array[] {
  const hl = (packet[0]! & 0x0f) << 2;
  const tot = (packet[2]! << 8) | packet[3]!;
  const fw = (packet[6]! << 8) | packet[7]!;
  const baseOff = (fw & 0x1fff) << 3;
  const lastMf = (fw & 0x2000) !== 0;
  const data = packet.subarray(hl, tot);
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += step) {
    const n = Math.min(step, data.length - at);
    const last = at + n >= data.length;
    const frag = new Uint8Array(hl + n);
    frag.set(packet.subarray(0, hl));
    frag.set(data.subarray(at, at + n), hl);
    frag[2] = (hl + n) >>> 8;
    frag[3] = (hl + n) & 0xff;
    const w = (fw & 0xc000) | (last && !lastMf ? 0 : 0x2000) | ((baseOff + at) >>> 3);
    frag[6] = w >>> 8;
    frag[7] = w & 0xff;
    writeIpv4HeaderChecksum(frag, 0);
    out.push(frag);
  }
  return out;
}

function fragment6(packet: Uint8Array, step: number, id: number): Uint8Array[] {
  const end = 40 + ((packet[4]! << 8) | packet[5]!);
  // the unfragmentable part ends after hop-by-hop and the last routing header
  let nhAt = 6; // the Next Header byte that will point at the fragment header
  let unfragEnd = 40;
  let p = 40;
  let nh = packet[6]!;
  while (nh === 0 || nh === 43 || nh === 60) {
    const len = (packet[p + 1]! + 1) * 8;
    if (nh === 0 || nh === 43) {
      nhAt = p;
      unfragEnd = p + len;
    }
    nh = packet[p]!;
    p += len;
  }
  const nextAfter = packet[nhAt]!;
  const data = packet.subarray(unfragEnd, end);
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += step) {
    const n = Math.min(step, data.length - at);
    const last = at + n >= data.length;
    const frag = new Uint8Array(unfragEnd + 8 + n);
    frag.set(packet.subarray(0, unfragEnd));
    frag[nhAt] = 44;
    const fh = unfragEnd;
    frag[fh] = nextAfter;
    const offlg = at | (last ? 0 : 1);
    frag[fh + 2] = offlg >>> 8;
    frag[fh + 3] = offlg & 0xff;
    frag[fh + 4] = id >>> 24;
    frag[fh + 5] = (id >>> 16) & 0xff;
    frag[fh + 6] = (id >>> 8) & 0xff;
    frag[fh + 7] = id & 0xff;
    frag.set(data.subarray(at, at + n), fh + 8);
    const plen = frag.length - 40;
    frag[4] = plen >>> 8;
    frag[5] = plen & 0xff;
    out.push(frag);
  }
  return out;
}
