// The reusable per-packet metadata record. The parser fills one of these in
// place for every packet (no allocation per packet); the filter, the state
// table and the datapath read it. Addresses are kept as 32-bit words in
// network order of significance: IPv4 uses word 0 only, IPv6 words 0..3.

/** Why a packet could not be parsed; 0 means it parsed. Counted by callers. */
export const ParseError = {
  OK: 0,
  SHORT: 1, // fewer bytes than the smallest header
  BAD_VERSION: 2, // IP version nibble is neither 4 nor 6
  BAD_HEADER_LENGTH: 3, // IPv4 IHL < 5 or beyond the buffer
  BAD_TOTAL_LENGTH: 4, // IP length field lies about the bytes present
  BAD_OPTIONS: 5, // IPv4 options malformed
  EXTENSION_CHAIN: 6, // IPv6 extension headers truncated or too many
  SHORT_L4: 7, // upper-layer header truncated
  BAD_TCP_OFFSET: 8, // TCP data offset < 5 or beyond the segment
  BAD_TCP_OPTIONS: 9,
  BAD_UDP_LENGTH: 10,
  SHORT_ICMP_INNER: 11, // an ICMP error quotes too little of the offending packet
} as const;
export type ParseErrorCode = (typeof ParseError)[keyof typeof ParseError];

export const ParseErrorName: readonly string[] = [
  'ok',
  'short',
  'bad-version',
  'bad-header-length',
  'bad-total-length',
  'bad-options',
  'extension-chain',
  'short-l4',
  'bad-tcp-offset',
  'bad-tcp-options',
  'bad-udp-length',
  'short-icmp-inner',
];

export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  IGMP: 2,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  CARP: 112,
  SCTP: 132,
  PFSYNC: 240,
} as const;

/** TCP flag bits as in the TCP header (and as pf's `flags` uses them). */
export const TCPFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PUSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export class PacketMeta {
  /** ParseError code; 0 when the packet parsed. */
  error: number = 0;
  /** 4 or 6; 0 when the IP header could not be read. */
  af: number = 0;
  /** Offset of the IP header in the buffer and its length (IPv6: fixed 40). */
  l3Offset: number = 0;
  l3HeaderLength: number = 0;
  /** IP total length in bytes (header + payload), as the packet says. */
  totalLength: number = 0;
  ttl: number = 0;
  tos: number = 0;
  /** Upper-layer protocol (after IPv6 extension headers). */
  proto: number = 0;
  /** Offset and length of the upper-layer header + payload. */
  l4Offset: number = 0;
  l4Length: number = 0;
  src: Uint32Array = new Uint32Array(4);
  dst: Uint32Array = new Uint32Array(4);

  /** Fragments: any fragment (first or later), and later ones carry no L4 header. */
  isFragment: boolean = false;
  isLaterFragment: boolean = false;
  fragmentOffset: number = 0; // in bytes
  moreFragments: boolean = false;
  fragmentId: number = 0;
  /** IPv4 options present / IPv6 hop-by-hop, routing etc. present (pf's allow-opts). */
  hasIpOptions: boolean = false;

  /** TCP/UDP ports; for ICMP echo both carry the echo id (pf does the same). */
  srcPort: number = 0;
  dstPort: number = 0;

  // TCP
  tcpFlags: number = 0;
  seq: number = 0; // unsigned 32-bit
  ack: number = 0; // unsigned 32-bit
  window: number = 0;
  tcpHeaderLength: number = 0;
  /** Bytes of TCP/UDP payload (for a GSO super-packet: the whole payload). */
  payloadLength: number = 0;
  mss: number = 0; // 0 = option absent
  wscale: number = -1; // -1 = option absent; clamped to 14 (RFC 7323)
  wscaleRaw: number = -1; // the shift count as sent, before the clamp
  sackPermitted: boolean = false;
  hasTimestamp: boolean = false;
  tsVal: number = 0;
  tsEcr: number = 0;

  // ICMP / ICMPv6
  icmpType: number = -1;
  icmpCode: number = -1;
  icmpId: number = 0;
  /** true for error messages (unreachable, time exceeded, too big, param problem, ...). */
  icmpIsError: boolean = false;
  /** For ICMP errors: the quoted packet's header fields (as it travelled, i.e. reversed). */
  innerValid: boolean = false;
  innerProto: number = 0;
  innerSrc: Uint32Array = new Uint32Array(4);
  innerDst: Uint32Array = new Uint32Array(4);
  innerSrcPort: number = 0;
  innerDstPort: number = 0;
  innerSeq: number = 0;
  innerIcmpType: number = -1;
  innerIcmpId: number = 0;
  /** Offset of the quoted IP header inside the buffer. */
  innerL3Offset: number = 0;
  /** Offset of the quoted upper-layer header; meaningful only when innerValid (not reset: parseInner sets it). */
  innerL4Offset: number = 0;

  /**
   * The L4 checksum is left for the device to finish (virtio-net NEEDS_CSUM, Linux CHECKSUM_PARTIAL): its field
   * holds the pseudo-header sum, not inverted. parsePacket resets it; the datapath sets it from the virtio header.
   */
  checksumPartial: boolean = false;

  reset(): void {
    this.error = 0;
    this.af = 0;
    this.l3Offset = 0;
    this.l3HeaderLength = 0;
    this.totalLength = 0;
    this.ttl = 0;
    this.tos = 0;
    this.proto = 0;
    this.l4Offset = 0;
    this.l4Length = 0;
    zero4(this.src);
    zero4(this.dst);
    this.isFragment = false;
    this.isLaterFragment = false;
    this.fragmentOffset = 0;
    this.moreFragments = false;
    this.fragmentId = 0;
    this.hasIpOptions = false;
    this.srcPort = 0;
    this.dstPort = 0;
    this.tcpFlags = 0;
    this.seq = 0;
    this.ack = 0;
    this.window = 0;
    this.tcpHeaderLength = 0;
    this.payloadLength = 0;
    this.mss = 0;
    this.wscale = -1;
    this.wscaleRaw = -1;
    this.sackPermitted = false;
    this.hasTimestamp = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    this.icmpType = -1;
    this.icmpCode = -1;
    this.icmpId = 0;
    this.icmpIsError = false;
    this.innerValid = false;
    this.innerProto = 0;
    zero4(this.innerSrc);
    zero4(this.innerDst);
    this.innerSrcPort = 0;
    this.innerDstPort = 0;
    this.innerSeq = 0;
    this.innerIcmpType = -1;
    this.innerIcmpId = 0;
    this.innerL3Offset = 0;
    this.checksumPartial = false;
  }
}

// Index writes: TypedArray.prototype.fill costs ~15 ns a call, too much per packet.
function zero4(a: Uint32Array): void {
  a[0] = 0;
  a[1] = 0;
  a[2] = 0;
  a[3] = 0;
}

/** Direction of a packet through an interface, with pf's numbering (PF_IN=1, PF_OUT=2). */
export const Direction = { IN: 1, OUT: 2 } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];

/** Where no direction is given: a rule without in/out, a lookup that takes either (pf's PF_INOUT). */
export const ANY_DIRECTION = 0;
export type DirectionOrAny = Direction | typeof ANY_DIRECTION;

/** The way a reply travels. */
export function reverse(d: Direction): Direction {
  return d === Direction.IN ? Direction.OUT : Direction.IN;
}
