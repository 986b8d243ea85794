// TCP segment codec (header, options, payload) in the dns-packet style; see
// ipv4.ts for the conventions. The checksum needs the IP pseudo-header, so
// encode writes `checksum` as given (default 0) and build.ts fills it in.
// Also pf's flag letters (FSRPAUEW) to and from bit masks.

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

/**
 * One option. Known kinds with their usual length decode to the named shapes; anything else (unknown kinds,
 * known kinds of an unusual length) to { kind, data } with data = the bytes after kind and length.
 */
export type TcpOption =
  | { kind: 0 } // end of option list: decode stops there
  | { kind: 1 }
  | { kind: 2; mss: number }
  | { kind: 3; shift: number }
  | { kind: 4 }
  | { kind: 5; blocks: Array<[number, number]> }
  | { kind: 8; tsVal: number; tsEcr: number }
  | { kind: number; data: Uint8Array };

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq?: number; // default 0
  ack?: number; // default 0
  /** Header length in 32-bit words; default: the smallest that holds the options. */
  dataOffset?: number;
  /** The 4 bits between data offset and flags (reserved / AccECN AE); default 0. */
  reserved?: number;
  flags?: number; // TCPFlag bits, default 0
  window?: number; // default 65535
  checksum?: number; // default 0
  urgentPointer?: number; // default 0
  options?: TcpOption[];
  payload?: Uint8Array;
}

export type DecodedTcpSegment = Required<TcpSegment>;

const EMPTY = new Uint8Array(0);

function optionLength(opt: TcpOption): number {
  if ('data' in opt) return 2 + opt.data.length;
  switch (opt.kind) {
    case 0:
    case 1:
      return 1;
    case 2:
      return 4;
    case 3:
      return 3;
    case 4:
      return 2;
    case 5:
      return 2 + 8 * (opt as { blocks: Array<[number, number]> }).blocks.length;
    case 8:
      return 10;
    default:
      throw new RangeError(`tcp: option kind ${(opt as { kind: number }).kind} needs data`);
  }
}

/** Header length in bytes for these options (padded to 4) or the given data offset, whichever is larger. */
export function headerLength(obj: TcpSegment): number {
  let n = 0;
  for (const opt of obj.options ?? []) n += optionLength(opt);
  const hl = 20 + ((n + 3) & ~3);
  const given = (obj.dataOffset ?? 0) * 4;
  if (given !== 0 && given < hl) throw new RangeError('tcp: data offset too small for the options');
  if (hl > 60) throw new RangeError('tcp: options longer than 40 bytes');
  return given > hl ? given : hl;
}

export function encodingLength(obj: TcpSegment): number {
  return headerLength(obj) + (obj.payload ? obj.payload.length : 0);
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function get16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function get32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function encode(obj: TcpSegment, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const hl = headerLength(obj);
  const payload = obj.payload ?? EMPTY;
  const len = hl + payload.length;
  const out = buf ?? new Uint8Array(len);
  if (offset + len > out.length) throw new RangeError('tcp: buffer too small');
  const o = offset;
  put16(out, o, obj.srcPort);
  put16(out, o + 2, obj.dstPort);
  put32(out, o + 4, obj.seq ?? 0);
  put32(out, o + 8, obj.ack ?? 0);
  out[o + 12] = ((hl >> 2) << 4) | ((obj.reserved ?? 0) & 0x0f);
  out[o + 13] = obj.flags ?? 0;
  put16(out, o + 14, obj.window ?? 65535);
  put16(out, o + 16, obj.checksum ?? 0);
  put16(out, o + 18, obj.urgentPointer ?? 0);
  out.fill(0, o + 20, o + hl); // padding: end of option list
  let p = o + 20;
  for (const opt of obj.options ?? []) {
    out[p] = opt.kind;
    if ('data' in opt) {
      out[p + 1] = 2 + opt.data.length;
      out.set(opt.data, p + 2);
    } else if (opt.kind === 2) {
      out[p + 1] = 4;
      put16(out, p + 2, (opt as { mss: number }).mss);
    } else if (opt.kind === 3) {
      out[p + 1] = 3;
      out[p + 2] = (opt as { shift: number }).shift;
    } else if (opt.kind === 4) {
      out[p + 1] = 2;
    } else if (opt.kind === 5) {
      const blocks = (opt as { blocks: Array<[number, number]> }).blocks;
      out[p + 1] = 2 + 8 * blocks.length;
      for (let i = 0; i < blocks.length; i++) {
        put32(out, p + 2 + 8 * i, blocks[i]![0]);
        put32(out, p + 6 + 8 * i, blocks[i]![1]);
      }
    } else if (opt.kind === 8) {
      out[p + 1] = 10;
      put32(out, p + 2, (opt as { tsVal: number }).tsVal);
      put32(out, p + 6, (opt as { tsEcr: number }).tsEcr);
    }
    p += optionLength(opt);
  }
  out.set(payload, o + hl);
  encode.bytes = len;
  return out;
}
encode.bytes = 0;

/** Decodes the segment in buf[offset, offset+length) (default: to the end of buf). */
export function decode(buf: Uint8Array, offset: number = 0, length: number = buf.length - offset): DecodedTcpSegment {
  const o = offset;
  if (length < 20 || o + length > buf.length) throw new RangeError('tcp: shorter than a header');
  const hl = (buf[o + 12]! >> 4) << 2;
  if (hl < 20 || hl > length) throw new RangeError('tcp: bad data offset');
  const options: TcpOption[] = [];
  const oend = o + hl;
  let p = o + 20;
  while (p < oend) {
    const kind = buf[p]!;
    if (kind === 0) {
      options.push({ kind: 0 });
      break;
    }
    if (kind === 1) {
      options.push({ kind: 1 });
      p++;
      continue;
    }
    if (p + 2 > oend) throw new RangeError('tcp: truncated option');
    const olen = buf[p + 1]!;
    if (olen < 2 || p + olen > oend) throw new RangeError('tcp: bad option length');
    if (kind === 2 && olen === 4) options.push({ kind: 2, mss: get16(buf, p + 2) });
    else if (kind === 3 && olen === 3) options.push({ kind: 3, shift: buf[p + 2]! });
    else if (kind === 4 && olen === 2) options.push({ kind: 4 });
    else if (kind === 5 && olen % 8 === 2) {
      const blocks: Array<[number, number]> = [];
      for (let q = p + 2; q < p + olen; q += 8) blocks.push([get32(buf, q), get32(buf, q + 4)]);
      options.push({ kind: 5, blocks });
    } else if (kind === 8 && olen === 10) options.push({ kind: 8, tsVal: get32(buf, p + 2), tsEcr: get32(buf, p + 6) });
    else options.push({ kind, data: buf.slice(p + 2, p + olen) });
    p += olen;
  }
  decode.bytes = length;
  return {
    srcPort: get16(buf, o),
    dstPort: get16(buf, o + 2),
    seq: get32(buf, o + 4),
    ack: get32(buf, o + 8),
    dataOffset: hl >> 2,
    reserved: buf[o + 12]! & 0x0f,
    flags: buf[o + 13]!,
    window: get16(buf, o + 14),
    checksum: get16(buf, o + 16),
    urgentPointer: get16(buf, o + 18),
    options,
    payload: buf.subarray(o + hl, o + length),
  };
}
decode.bytes = 0;

// -- flag letters, as pf writes them (flags S/SA) ------------------------------------------------

const FLAG_LETTERS = 'FSRPAUEW'; // bit 0 .. bit 7

/** 'SA' -> SYN|ACK. Letters FSRPAUEW in any order; -1 on any other character or a repeat. */
export function tcpFlagsFromString(text: string): number {
  let v = 0;
  for (const ch of text) {
    const i = FLAG_LETTERS.indexOf(ch);
    if (i < 0 || (v & (1 << i)) !== 0) return -1;
    v |= 1 << i;
  }
  return v;
}

/** SYN|ACK -> 'SA' (pf's order: FSRPAUEW). */
export function tcpFlagsToString(flags: number): string {
  let s = '';
  for (let i = 0; i < 8; i++) if (flags & (1 << i)) s += FLAG_LETTERS[i];
  return s;
}
