// IPv4 packet codec (header, options, payload) in the dns-packet style:
// decode(buf, offset) -> object, encode(obj, buf?, offset?) -> buf,
// encodingLength(obj); decode.bytes / encode.bytes tell how many bytes were
// read / written. Not for the hot path (parse.ts is): it allocates and throws
// a RangeError on malformed input. Decoded payload and options alias buf.

import { formatAddress, parseAddress, wordsFromBytes, wordsToBytes } from './address.js';
import { ipv4HeaderChecksum } from './checksum.js';

/** Bits of `flags` (the top 3 bits of the fragment word). */
export const IPV4_FLAG_RESERVED = 4;
export const IPV4_FLAG_DF = 2;
export const IPV4_FLAG_MF = 1;

export interface Ipv4Packet {
  tos?: number; // default 0
  /** Default: header + payload length. */
  totalLength?: number;
  id?: number; // default 0
  flags?: number; // IPV4_FLAG_*, default 0
  /** In bytes, a multiple of 8. Default 0. */
  fragmentOffset?: number;
  ttl?: number; // default 64
  protocol: number;
  /** Default: computed. */
  checksum?: number;
  src: string;
  dst: string;
  /** Raw option bytes, padded with zeros (end of options) to a multiple of 4; at most 40. */
  options?: Uint8Array;
  payload?: Uint8Array;
}

export interface DecodedIpv4Packet extends Required<Ipv4Packet> {
  headerLength: number;
}

const EMPTY = new Uint8Array(0);

function optionsLength(obj: Ipv4Packet): number {
  const n = obj.options ? obj.options.length : 0;
  return (n + 3) & ~3;
}

export function encodingLength(obj: Ipv4Packet): number {
  return 20 + optionsLength(obj) + (obj.payload ? obj.payload.length : 0);
}

function addressWords(text: string): Uint32Array {
  const a = parseAddress(text);
  if (a === null || a.af !== 4) throw new RangeError(`not an IPv4 address: ${text}`);
  return a.words;
}

export function encode(obj: Ipv4Packet, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const len = encodingLength(obj);
  const out = buf ?? new Uint8Array(len);
  if (offset + len > out.length) throw new RangeError('ipv4: buffer too small');
  const optLen = optionsLength(obj);
  if (optLen > 40) throw new RangeError('ipv4: options longer than 40 bytes');
  const hl = 20 + optLen;
  const payload = obj.payload ?? EMPTY;
  const frag = obj.fragmentOffset ?? 0;
  if (frag % 8 !== 0 || frag > 0xfff8)
    throw new RangeError('ipv4: fragment offset must be a multiple of 8 below 65536');
  const tot = obj.totalLength ?? hl + payload.length;
  const o = offset;
  out[o] = 0x40 | (hl >> 2);
  out[o + 1] = obj.tos ?? 0;
  out[o + 2] = tot >>> 8;
  out[o + 3] = tot & 0xff;
  const id = obj.id ?? 0;
  out[o + 4] = id >>> 8;
  out[o + 5] = id & 0xff;
  const fw = ((obj.flags ?? 0) << 13) | (frag >>> 3);
  out[o + 6] = fw >>> 8;
  out[o + 7] = fw & 0xff;
  out[o + 8] = obj.ttl ?? 64;
  out[o + 9] = obj.protocol;
  out[o + 10] = 0;
  out[o + 11] = 0;
  wordsToBytes(addressWords(obj.src), 4, out, o + 12);
  wordsToBytes(addressWords(obj.dst), 4, out, o + 16);
  out.fill(0, o + 20, o + hl);
  if (obj.options) out.set(obj.options, o + 20);
  const c = obj.checksum ?? ipv4HeaderChecksum(out, o);
  out[o + 10] = c >>> 8;
  out[o + 11] = c & 0xff;
  out.set(payload, o + hl);
  encode.bytes = hl + payload.length;
  return out;
}
encode.bytes = 0;

export function decode(buf: Uint8Array, offset: number = 0): DecodedIpv4Packet {
  const o = offset;
  const avail = buf.length - o;
  if (avail < 20) throw new RangeError('ipv4: shorter than a header');
  if (buf[o]! >> 4 !== 4) throw new RangeError('ipv4: version is not 4');
  const hl = (buf[o]! & 0x0f) << 2;
  if (hl < 20 || hl > avail) throw new RangeError('ipv4: bad header length');
  const tot = (buf[o + 2]! << 8) | buf[o + 3]!;
  if (tot < hl || tot > avail) throw new RangeError('ipv4: bad total length');
  const fw = (buf[o + 6]! << 8) | buf[o + 7]!;
  const w = new Uint32Array(4);
  const src = formatAddress(4, wordsFromBytes(buf, o + 12, 4, w));
  const dst = formatAddress(4, wordsFromBytes(buf, o + 16, 4, w));
  decode.bytes = tot;
  return {
    headerLength: hl,
    tos: buf[o + 1]!,
    totalLength: tot,
    id: (buf[o + 4]! << 8) | buf[o + 5]!,
    flags: fw >>> 13,
    fragmentOffset: (fw & 0x1fff) << 3,
    ttl: buf[o + 8]!,
    protocol: buf[o + 9]!,
    checksum: (buf[o + 10]! << 8) | buf[o + 11]!,
    src,
    dst,
    options: buf.subarray(o + 20, o + hl),
    payload: buf.subarray(o + hl, o + tot),
  };
}
decode.bytes = 0;
