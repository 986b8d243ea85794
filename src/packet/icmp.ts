// ICMP and ICMPv6 message codec (the two share a layout: type, code,
// checksum, 4 bytes of rest-of-header, body) in the dns-packet style; see
// ipv4.ts for the conventions. encode writes `checksum` as given (default 0);
// build.ts fills it in (ICMPv6 needs the IP pseudo-header).

export const ICMP_ECHO_REPLY = 0;
export const ICMP_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAM_PROBLEM = 12;

export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_NEEDFRAG = 4;
export const ICMP_UNREACH_FILTER_PROHIB = 13;

export const ICMP6_DST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_PARAM_PROB = 4;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

export const ICMP6_DST_UNREACH_NOROUTE = 0;
export const ICMP6_DST_UNREACH_ADMIN = 1;
export const ICMP6_DST_UNREACH_ADDR = 3;
export const ICMP6_DST_UNREACH_NOPORT = 4;

export interface IcmpMessage {
  type: number;
  code?: number; // default 0
  checksum?: number; // default 0
  /** The 32-bit rest of header (unused / MTU / pointer / gateway). Default: id << 16 | sequence. */
  rest?: number;
  /** Echo and other queries: identifier and sequence number, the two halves of `rest`. */
  id?: number;
  sequence?: number;
  /** Echo data, or the quoted packet of an error. */
  payload?: Uint8Array;
}

export type DecodedIcmpMessage = Required<IcmpMessage>;

const EMPTY = new Uint8Array(0);

export function encodingLength(obj: IcmpMessage): number {
  return 8 + (obj.payload ? obj.payload.length : 0);
}

export function encode(obj: IcmpMessage, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const len = encodingLength(obj);
  const out = buf ?? new Uint8Array(len);
  if (offset + len > out.length) throw new RangeError('icmp: buffer too small');
  const o = offset;
  const rest = obj.rest ?? ((((obj.id ?? 0) & 0xffff) << 16) | ((obj.sequence ?? 0) & 0xffff)) >>> 0;
  const c = obj.checksum ?? 0;
  out[o] = obj.type;
  out[o + 1] = obj.code ?? 0;
  out[o + 2] = c >>> 8;
  out[o + 3] = c & 0xff;
  out[o + 4] = rest >>> 24;
  out[o + 5] = (rest >>> 16) & 0xff;
  out[o + 6] = (rest >>> 8) & 0xff;
  out[o + 7] = rest & 0xff;
  out.set(obj.payload ?? EMPTY, o + 8);
  encode.bytes = len;
  return out;
}
encode.bytes = 0;

/** Decodes the message in buf[offset, offset+length) (default: to the end of buf). */
export function decode(buf: Uint8Array, offset: number = 0, length: number = buf.length - offset): DecodedIcmpMessage {
  const o = offset;
  if (length < 8 || o + length > buf.length) throw new RangeError('icmp: shorter than a header');
  const rest = ((buf[o + 4]! << 24) | (buf[o + 5]! << 16) | (buf[o + 6]! << 8) | buf[o + 7]!) >>> 0;
  decode.bytes = length;
  return {
    type: buf[o]!,
    code: buf[o + 1]!,
    checksum: (buf[o + 2]! << 8) | buf[o + 3]!,
    rest,
    id: rest >>> 16,
    sequence: rest & 0xffff,
    payload: buf.subarray(o + 8, o + length),
  };
}
decode.bytes = 0;
