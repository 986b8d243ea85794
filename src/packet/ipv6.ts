// IPv6 packet codec (fixed header, extension headers, payload) in the
// dns-packet style; see ipv4.ts for the conventions. Extension headers are
// listed in order; the Next Header fields are chained by encode. decode walks
// hop-by-hop, routing, fragment, destination options and AH headers and stops
// at anything else, or after a fragment header with a non-zero offset.

import { formatAddress, parseAddress, wordsFromBytes, wordsToBytes } from './address.js';

export const EXT_HOPOPTS = 0;
export const EXT_ROUTING = 43;
export const EXT_FRAGMENT = 44;
export const EXT_AH = 51;
export const EXT_DSTOPTS = 60;

/**
 * Hop-by-hop, routing or destination options: data is everything after Next Header and Hdr Ext Len
 * (length = 8n + 6).
 */
export interface Ipv6GenericExtension {
  type: 0 | 43 | 60;
  data: Uint8Array;
}
/** Fragment header (8 bytes); reserved fields are written as zero. */
export interface Ipv6FragmentExtension {
  type: 44;
  fragmentOffset: number; // bytes, a multiple of 8
  more: boolean;
  id: number;
}
/** Authentication header: data is everything after Next Header and Payload Len (length = 4n + 2, at least 6). */
export interface Ipv6AhExtension {
  type: 51;
  data: Uint8Array;
}
export type Ipv6Extension = Ipv6GenericExtension | Ipv6FragmentExtension | Ipv6AhExtension;

export interface Ipv6Packet {
  trafficClass?: number; // default 0
  flowLabel?: number; // default 0
  /** Default: extension headers + payload. */
  payloadLength?: number;
  hopLimit?: number; // default 64
  src: string;
  dst: string;
  extensions?: Ipv6Extension[];
  /** The upper-layer protocol: Next Header of the last extension header (or of the fixed header). */
  protocol: number;
  payload?: Uint8Array;
}

export type DecodedIpv6Packet = Required<Ipv6Packet>;

const EMPTY = new Uint8Array(0);

export function extensionLength(ext: Ipv6Extension): number {
  return ext.type === EXT_FRAGMENT ? 8 : 2 + ext.data.length;
}

export function encodingLength(obj: Ipv6Packet): number {
  let n = 40;
  for (const e of obj.extensions ?? []) n += extensionLength(e);
  return n + (obj.payload ? obj.payload.length : 0);
}

function addressWords(text: string): Uint32Array {
  const a = parseAddress(text);
  if (a === null || a.af !== 6) throw new RangeError(`not an IPv6 address: ${text}`);
  return a.words;
}

export function encode(obj: Ipv6Packet, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const len = encodingLength(obj);
  const out = buf ?? new Uint8Array(len);
  if (offset + len > out.length) throw new RangeError('ipv6: buffer too small');
  const exts = obj.extensions ?? [];
  const payload = obj.payload ?? EMPTY;
  const o = offset;
  const tc = obj.trafficClass ?? 0;
  const fl = obj.flowLabel ?? 0;
  out[o] = 0x60 | (tc >> 4);
  out[o + 1] = ((tc & 0x0f) << 4) | ((fl >>> 16) & 0x0f);
  out[o + 2] = (fl >>> 8) & 0xff;
  out[o + 3] = fl & 0xff;
  const plen = obj.payloadLength ?? len - 40;
  out[o + 4] = plen >>> 8;
  out[o + 5] = plen & 0xff;
  out[o + 6] = exts.length > 0 ? exts[0]!.type : obj.protocol;
  out[o + 7] = obj.hopLimit ?? 64;
  wordsToBytes(addressWords(obj.src), 6, out, o + 8);
  wordsToBytes(addressWords(obj.dst), 6, out, o + 24);
  let p = o + 40;
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i]!;
    out[p] = i + 1 < exts.length ? exts[i + 1]!.type : obj.protocol;
    if (e.type === EXT_FRAGMENT) {
      if (e.fragmentOffset % 8 !== 0 || e.fragmentOffset > 0xfff8) throw new RangeError('ipv6: bad fragment offset');
      out[p + 1] = 0;
      const offlg = e.fragmentOffset | (e.more ? 1 : 0);
      out[p + 2] = offlg >>> 8;
      out[p + 3] = offlg & 0xff;
      out[p + 4] = e.id >>> 24;
      out[p + 5] = (e.id >>> 16) & 0xff;
      out[p + 6] = (e.id >>> 8) & 0xff;
      out[p + 7] = e.id & 0xff;
      p += 8;
    } else if (e.type === EXT_AH) {
      const total = 2 + e.data.length;
      if (total % 4 !== 0 || total < 8) throw new RangeError('ipv6: AH length must be 4n, at least 8');
      out[p + 1] = total / 4 - 2;
      out.set(e.data, p + 2);
      p += total;
    } else {
      const total = 2 + e.data.length;
      if (total % 8 !== 0) throw new RangeError('ipv6: extension header length must be a multiple of 8');
      out[p + 1] = total / 8 - 1;
      out.set(e.data, p + 2);
      p += total;
    }
  }
  out.set(payload, p);
  encode.bytes = len;
  return out;
}
encode.bytes = 0;

export function decode(buf: Uint8Array, offset: number = 0): DecodedIpv6Packet {
  const o = offset;
  const avail = buf.length - o;
  if (avail < 40) throw new RangeError('ipv6: shorter than a header');
  if (buf[o]! >> 4 !== 6) throw new RangeError('ipv6: version is not 6');
  const plen = (buf[o + 4]! << 8) | buf[o + 5]!;
  if (40 + plen > avail) throw new RangeError('ipv6: payload length beyond the buffer');
  const end = o + 40 + plen;
  const w = new Uint32Array(4);
  const src = formatAddress(6, wordsFromBytes(buf, o + 8, 6, w));
  const dst = formatAddress(6, wordsFromBytes(buf, o + 24, 6, w));
  const extensions: Ipv6Extension[] = [];
  let nh = buf[o + 6]!;
  let p = o + 40;
  for (;;) {
    if (nh === EXT_FRAGMENT) {
      if (p + 8 > end) throw new RangeError('ipv6: truncated fragment header');
      const offlg = (buf[p + 2]! << 8) | buf[p + 3]!;
      const id = ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
      extensions.push({ type: EXT_FRAGMENT, fragmentOffset: offlg & 0xfff8, more: (offlg & 1) !== 0, id });
      nh = buf[p]!;
      p += 8;
      if ((offlg & 0xfff8) !== 0) break; // later fragment: the rest is data
    } else if (nh === EXT_HOPOPTS || nh === EXT_ROUTING || nh === EXT_DSTOPTS || nh === EXT_AH) {
      if (p + 2 > end) throw new RangeError('ipv6: truncated extension header');
      const total = nh === EXT_AH ? (buf[p + 1]! + 2) * 4 : (buf[p + 1]! + 1) * 8;
      if (p + total > end) throw new RangeError('ipv6: truncated extension header');
      extensions.push({ type: nh, data: buf.subarray(p + 2, p + total) } as Ipv6GenericExtension | Ipv6AhExtension);
      nh = buf[p]!;
      p += total;
    } else {
      break;
    }
  }
  decode.bytes = 40 + plen;
  return {
    trafficClass: ((buf[o]! & 0x0f) << 4) | (buf[o + 1]! >> 4),
    flowLabel: ((buf[o + 1]! & 0x0f) << 16) | (buf[o + 2]! << 8) | buf[o + 3]!,
    payloadLength: plen,
    hopLimit: buf[o + 7]!,
    src,
    dst,
    extensions,
    protocol: nh,
    payload: buf.subarray(p, end),
  };
}
decode.bytes = 0;

/**
 * The data of a hop-by-hop or destination options header holding these options (type, value), padded with
 * Pad1/PadN so that the header is a multiple of 8 bytes long.
 */
export function encodeOptionsData(options: ReadonlyArray<{ type: number; value?: Uint8Array }>): Uint8Array {
  let n = 0;
  for (const opt of options) n += opt.type === 0 ? 1 : 2 + (opt.value ? opt.value.length : 0);
  const pad = (8 - ((2 + n) % 8)) % 8;
  const out = new Uint8Array(n + pad);
  let p = 0;
  for (const opt of options) {
    out[p++] = opt.type;
    if (opt.type === 0) continue;
    const v = opt.value ?? EMPTY;
    out[p++] = v.length;
    out.set(v, p);
    p += v.length;
  }
  if (pad === 1)
    out[p] = 0; // Pad1
  else if (pad > 1) {
    out[p] = 1;
    out[p + 1] = pad - 2;
  } // PadN
  return out;
}
