// The pflog header (LINKTYPE_PFLOG, 117) in the dns-packet style:
// decode(buf, offset), encode(obj, buf?, offset?), encodingLength(obj), with
// .bytes. Layout (every multi-byte field in network order):
//
//   0 length  1 af  2 action  3 reason  4 ifname[16]  20 ruleset[16]
//  36 rulenr  40 subrulenr  44 uid  48 pid  52 rule_uid  56 rule_pid  60 dir
//  61 .. the end of the minimal header (length 61, padded to 64 on the wire),
//     or OpenBSD's tail (length 100): 61 rewritten  62 naf  63 pad
//     64 saddr[16]  80 daddr[16]  96 sport  98 dport
//
// tunpf writes OpenBSD's 100-byte form: its action and reason numbers are
// OpenBSD's, and readers that tell the flavours apart by the length (newer
// tcpdump, Wireshark) then name them right ("match" is 12 only on OpenBSD).
// Debian's tcpdump 4.99 reads both forms alike. The address family is BSD's
// numbering: 2 for IPv4 and OpenBSD's 24 for IPv6; tcpdump on Linux accepts
// 24, 28 and 30 for IPv6 but not Linux's own AF_INET6 (10), whose packets it
// only hex-dumps. pf writes uid and pid in host order; no reader relies on
// that and tunpf has no socket owners to report, so they are -1.

import { ANY_DIRECTION, Direction } from './meta.js';
import { readU32, writeU32 } from './pcap.js';

export const LINKTYPE_PFLOG = 117;
export const PFLOG_IFNAMSIZ = 16;
export const PFLOG_RULESET_NAME_SIZE = 16;
/** OpenBSD's header length (and its size on the wire). */
export const PFLOG_HEADER_LENGTH_OPENBSD = 100;
/** The minimal header every pflog flavour shares (64 bytes on the wire). */
export const PFLOG_HEADER_LENGTH_MIN = 61;
/** The largest header a reader accepts (tcpdump's bound too). */
export const PFLOG_HEADER_LENGTH_MAX = 100;
/** A rule inside an anchor, as pflog names it: its number there and the anchor's name. */
export interface AnchorLogPlace {
  readonly subrulenr: number;
  readonly ruleset: string;
}

/** rulenr / subrulenr of no rule: pf's default rule, and "not in an anchor". */
export const PFLOG_NO_RULE = 0xffffffff;
/** uid of no socket owner (UINT_MAX: tcpdump prints no uid then). */
export const PFLOG_NO_UID = 0xffffffff;

/** pf's actions (PF_*, OpenBSD numbering). */
export const PfAction = {
  PASS: 0,
  DROP: 1,
  SCRUB: 2,
  NOSCRUB: 3,
  NAT: 4,
  NONAT: 5,
  BINAT: 6,
  NOBINAT: 7,
  RDR: 8,
  NORDR: 9,
  SYNPROXY_DROP: 10,
  DEFER: 11,
  MATCH: 12,
  DIVERT: 13,
  RT: 14,
  AFRT: 15,
} as const;
export const PfActionName: readonly string[] = [
  'pass',
  'block',
  'scrub',
  'noscrub',
  'nat',
  'nonat',
  'binat',
  'nobinat',
  'rdr',
  'nordr',
  'synproxy-drop',
  'defer',
  'match',
  'divert',
  'rt',
  'afrt',
];

/** Why pf logged or dropped a packet (PFRES_*, OpenBSD numbering). */
export const PfReason = {
  MATCH: 0, // explicit match of a rule
  BADOFF: 1, // bad offset for pull_hdr
  FRAG: 2, // dropping following fragment
  SHORT: 3, // dropping short packet
  NORM: 4, // dropping by normalizer
  MEMORY: 5, // dropped for lack of memory
  TS: 6, // bad TCP timestamp (RFC 1323)
  CONGEST: 7, // congestion
  IPOPTIONS: 8, // IP option
  PROTCKSUM: 9, // protocol checksum invalid
  BADSTATE: 10, // state mismatch
  STATEINS: 11, // state insertion failure
  MAXSTATES: 12, // state limit
  SRCLIMIT: 13, // source node / connection limit
  SYNPROXY: 14, // SYN proxy
  TRANSLATE: 15, // no translation address available
  NOROUTE: 16, // no route for a route-to action
} as const;
/** As tcpdump prints them (it adds the number: "10(state-mismatch)"). */
export const PfReasonName: readonly string[] = [
  'match',
  'bad-offset',
  'fragment',
  'short',
  'normalize',
  'memory',
  'bad-timestamp',
  'congestion',
  'ip-option',
  'proto-cksum',
  'state-mismatch',
  'state-insert',
  'state-limit',
  'src-limit',
  'synproxy',
  'translate',
  'no-route',
];

/** The header's dir field on the wire: PF_INOUT, PF_IN, PF_OUT (Direction's numbers) and OpenBSD's PF_FWD. */
export const PfDirection = { INOUT: ANY_DIRECTION, IN: Direction.IN, OUT: Direction.OUT, FWD: 3 } as const;
export const PfDirectionName: readonly string[] = ['in/out', 'in', 'out', 'fwd'];

/** Address families in a pflog header: BSD's AF_INET and OpenBSD's AF_INET6. */
export const PflogAf = { INET: 2, INET6: 24 } as const;

/** The pflog af of an IP version. */
export function pflogAf(ipVersion: number): number {
  return ipVersion === 6 ? PflogAf.INET6 : PflogAf.INET;
}

export interface PflogHeader {
  /**
   * PFLOG_HEADER_LENGTH_OPENBSD (100, the default) or PFLOG_HEADER_LENGTH_MIN
   * (61); a decoded header may carry another.
   */
  length?: number;
  af: number;
  action: number;
  reason: number;
  /** At most 15 bytes of UTF-8. */
  ifname: string;
  /** The anchor, '' for the main ruleset (the default). */
  ruleset?: string;
  rulenr: number;
  /** Default PFLOG_NO_RULE. */
  subrulenr?: number;
  /** Default PFLOG_NO_UID. */
  uid?: number;
  /** Default -1. */
  pid?: number;
  /** Default 0. */
  ruleUid?: number;
  /** Default -1. */
  rulePid?: number;
  dir: number;
  // OpenBSD's tail (length 100); zero unless `rewritten`
  rewritten?: boolean;
  /** Default: af. */
  naf?: number;
  saddr?: Uint8Array;
  daddr?: Uint8Array;
  sport?: number;
  dport?: number;
}

const ZERO16 = new Uint8Array(16);
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

function wireLength(length: number): number {
  return (length + 3) & ~3;
}

export function encodingLength(h: PflogHeader): number {
  return wireLength(h.length ?? PFLOG_HEADER_LENGTH_OPENBSD);
}

/** A NUL-padded name field; ASCII names (all Linux interface names in practice) are written without allocating. */
function writeName(out: Uint8Array, o: number, size: number, s: string, what: string): void {
  let ascii = true;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) ascii = false;
  if (ascii) {
    if (s.length >= size) throw new RangeError(`pflog: ${what} '${s}' longer than ${size - 1} bytes`);
    for (let i = 0; i < s.length; i++) out[o + i] = s.charCodeAt(i);
    out.fill(0, o + s.length, o + size);
    return;
  }
  const b = utf8.encode(s);
  if (b.length >= size) throw new RangeError(`pflog: ${what} '${s}' longer than ${size - 1} bytes`);
  out.set(b, o);
  out.fill(0, o + b.length, o + size);
}

function readName(buf: Uint8Array, o: number, size: number): string {
  let e = o;
  while (e < o + size && buf[e] !== 0) e++;
  return utf8d.decode(buf.subarray(o, e));
}

export function encode(h: PflogHeader, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const length = h.length ?? PFLOG_HEADER_LENGTH_OPENBSD;
  if (length !== PFLOG_HEADER_LENGTH_OPENBSD && length !== PFLOG_HEADER_LENGTH_MIN)
    throw new RangeError(`pflog: header length ${length} (61 or 100)`);
  const n = wireLength(length);
  const out = buf ?? new Uint8Array(n);
  if (offset + n > out.length) throw new RangeError('pflog: buffer too small');
  const o = offset;
  out[o] = length;
  out[o + 1] = h.af;
  out[o + 2] = h.action;
  out[o + 3] = h.reason;
  writeName(out, o + 4, PFLOG_IFNAMSIZ, h.ifname, 'interface name');
  writeName(out, o + 20, PFLOG_RULESET_NAME_SIZE, h.ruleset ?? '', 'ruleset name');
  writeU32(out, o + 36, h.rulenr >>> 0, false);
  writeU32(out, o + 40, (h.subrulenr ?? PFLOG_NO_RULE) >>> 0, false);
  writeU32(out, o + 44, (h.uid ?? PFLOG_NO_UID) >>> 0, false);
  writeU32(out, o + 48, (h.pid ?? -1) >>> 0, false);
  writeU32(out, o + 52, (h.ruleUid ?? 0) >>> 0, false);
  writeU32(out, o + 56, (h.rulePid ?? -1) >>> 0, false);
  out[o + 60] = h.dir;
  if (length === PFLOG_HEADER_LENGTH_OPENBSD) {
    out[o + 61] = h.rewritten ? 1 : 0;
    out[o + 62] = h.naf ?? h.af;
    out[o + 63] = 0;
    out.set(h.saddr ?? ZERO16, o + 64);
    out.set(h.daddr ?? ZERO16, o + 80);
    const sp = h.sport ?? 0;
    const dp = h.dport ?? 0;
    out[o + 96] = sp >>> 8;
    out[o + 97] = sp & 0xff;
    out[o + 98] = dp >>> 8;
    out[o + 99] = dp & 0xff;
  } else out.fill(0, o + 61, o + 64);
  encode.bytes = n;
  return out;
}
encode.bytes = 0;

/**
 * Reads any header of length 61..100 (the fields every flavour shares;
 * OpenBSD's tail at length 100). Names are copied, addresses alias buf.
 */
export function decode(buf: Uint8Array, offset: number = 0): Required<PflogHeader> {
  const o = offset;
  if (buf.length - o < 1) throw new RangeError('pflog: empty');
  const length = buf[o]!;
  if (length < PFLOG_HEADER_LENGTH_MIN || length > PFLOG_HEADER_LENGTH_MAX)
    throw new RangeError(`pflog: header length ${length} (61..100)`);
  const n = wireLength(length);
  if (buf.length - o < n) throw new RangeError(`pflog: header of ${n} bytes, ${buf.length - o} present`);
  const openbsd = length === PFLOG_HEADER_LENGTH_OPENBSD;
  const af = buf[o + 1]!;
  decode.bytes = n;
  return {
    length,
    af,
    action: buf[o + 2]!,
    reason: buf[o + 3]!,
    ifname: readName(buf, o + 4, PFLOG_IFNAMSIZ),
    ruleset: readName(buf, o + 20, PFLOG_RULESET_NAME_SIZE),
    rulenr: readU32(buf, o + 36, false),
    subrulenr: readU32(buf, o + 40, false),
    uid: readU32(buf, o + 44, false),
    pid: readU32(buf, o + 48, false) | 0,
    ruleUid: readU32(buf, o + 52, false),
    rulePid: readU32(buf, o + 56, false) | 0,
    dir: buf[o + 60]!,
    rewritten: openbsd ? buf[o + 61] !== 0 : false,
    naf: openbsd ? buf[o + 62]! : af,
    saddr: openbsd ? buf.subarray(o + 64, o + 80) : new Uint8Array(16),
    daddr: openbsd ? buf.subarray(o + 80, o + 96) : new Uint8Array(16),
    sport: openbsd ? (buf[o + 96]! << 8) | buf[o + 97]! : 0,
    dport: openbsd ? (buf[o + 98]! << 8) | buf[o + 99]! : 0,
  };
}
decode.bytes = 0;
