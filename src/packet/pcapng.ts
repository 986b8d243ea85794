// pcapng files (draft-ietf-opsawg-pcapng) in the dns-packet style: codecs
// for the section header, interface description and enhanced packet blocks
// (decode(buf, offset[, littleEndian]), encode(obj, buf?, offset?[, le]),
// encodingLength(obj), with .bytes); a reader that steps over a file in
// memory one packet at a time without allocating per packet (sections in
// either byte order, several interfaces with names and timestamp
// resolutions, directions from epb_flags, simple packets, other blocks
// skipped); and a writer producing SHB + IDB + EPB for a sink. No file I/O.

import { CaptureFormatError, readU16, readU32, writeU16, writeU32 } from './pcap.js';

export const BlockType = {
  SHB: 0x0a0d0d0a, // section header
  IDB: 1, // interface description
  SPB: 3, // simple packet
  EPB: 6, // enhanced packet
} as const;

export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const OPT_ENDOFOPT = 0;
export const IF_NAME = 2;
export const IF_TSRESOL = 9;
export const EPB_FLAGS = 2;

/** epb_flags bits 0-1: 0 unknown, 1 inbound, 2 outbound (the same numbers as pf's PF_IN / PF_OUT). */
export const EPB_DIRECTION_MASK = 0x3;

const pad4 = (n: number): number => (n + 3) & ~3;
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

function optionString(buf: Uint8Array, at: number, len: number): string {
  let e = at + len;
  while (e > at && buf[e - 1] === 0) e--; // some writers count a terminating NUL
  return utf8d.decode(buf.subarray(at, e));
}

/** Start of the next option, or -1 at opt_endofopt / the end; throws when an option overruns `end`. */
function nextOption(buf: Uint8Array, o: number, end: number, le: boolean): number {
  if (o + 4 > end || readU16(buf, o, le) === OPT_ENDOFOPT) return -1;
  const len = readU16(buf, o + 2, le);
  if (o + 4 + len > end)
    throw new CaptureFormatError(`option ${readU16(buf, o, le)} of ${len} bytes overruns its block`, o);
  return o;
}

function writeOption(out: Uint8Array, o: number, code: number, value: Uint8Array, le: boolean): number {
  if (value.length > 0xffff) throw new RangeError(`pcapng: option ${code} longer than 65535 bytes`);
  writeU16(out, o, code, le);
  writeU16(out, o + 2, value.length, le);
  out.set(value, o + 4);
  out.fill(0, o + 4 + value.length, o + 4 + pad4(value.length));
  return o + 4 + pad4(value.length);
}

/** Type, total length, and the total length again at the end. */
function frame(out: Uint8Array, offset: number, type: number, total: number, le: boolean): void {
  writeU32(out, offset, type, le);
  writeU32(out, offset + 4, total, le);
  writeU32(out, offset + total - 4, total, le);
}

function target(buf: Uint8Array | undefined, offset: number, len: number, what: string): Uint8Array {
  const out = buf ?? new Uint8Array(offset + len);
  if (offset + len > out.length) throw new RangeError(`pcapng: buffer too small for ${what}`);
  return out;
}

/** Checks a block's framing (length bounds, multiple of 4, trailer) and returns its total length. */
function checkFrame(buf: Uint8Array, offset: number, le: boolean, minLength: number): number {
  if (buf.length - offset < 12) throw new CaptureFormatError('truncated block header', offset);
  const len = readU32(buf, offset + 4, le);
  if (len < minLength || len % 4 !== 0) throw new CaptureFormatError(`bad block length ${len}`, offset + 4);
  if (buf.length - offset < len) throw new CaptureFormatError(`truncated block (${len} bytes announced)`, offset);
  const trailer = readU32(buf, offset + len - 4, le);
  if (trailer !== len)
    throw new CaptureFormatError(`trailing block length ${trailer} differs from ${len}`, offset + len - 4);
  return len;
}

function checkType(buf: Uint8Array, offset: number, le: boolean, type: number): void {
  const t = readU32(buf, offset, le);
  if (t !== type)
    throw new CaptureFormatError(`block type 0x${t.toString(16)}, expected 0x${type.toString(16)}`, offset);
}

// --- section header block ---

export interface SectionHeaderBlock {
  littleEndian?: boolean; // default true
  versionMajor?: number; // default 1
  versionMinor?: number; // default 0
  /** Bytes in the section after this block; -1 (the default) when not given. */
  sectionLength?: number;
}

/** The byte order of the section whose header starts at `offset`. */
function sectionByteOrder(buf: Uint8Array, offset: number): boolean {
  if (buf.length - offset < 12) throw new CaptureFormatError('truncated section header', offset);
  if (readU32(buf, offset + 8, true) === BYTE_ORDER_MAGIC) return true;
  if (readU32(buf, offset + 8, false) === BYTE_ORDER_MAGIC) return false;
  throw new CaptureFormatError('bad byte-order magic', offset + 8);
}

function readInt64(buf: Uint8Array, o: number, le: boolean): number {
  const hi = readU32(buf, le ? o + 4 : o, le) | 0;
  const lo = readU32(buf, le ? o : o + 4, le);
  return hi * 4294967296 + lo;
}

function writeInt64(buf: Uint8Array, o: number, v: number, le: boolean): void {
  const hi = Math.floor(v / 4294967296);
  writeU32(buf, le ? o + 4 : o, hi >>> 0, le);
  writeU32(buf, le ? o : o + 4, (v - hi * 4294967296) >>> 0, le);
}

function shbLength(_b?: SectionHeaderBlock): number {
  return 28;
}

function encodeShb(b: SectionHeaderBlock, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const le = b.littleEndian ?? true;
  const out = target(buf, offset, 28, 'a section header');
  frame(out, offset, BlockType.SHB, 28, le);
  writeU32(out, offset + 8, BYTE_ORDER_MAGIC, le);
  writeU16(out, offset + 12, b.versionMajor ?? 1, le);
  writeU16(out, offset + 14, b.versionMinor ?? 0, le);
  writeInt64(out, offset + 16, b.sectionLength ?? -1, le);
  encodeShb.bytes = 28;
  return out;
}
encodeShb.bytes = 0;

/** The byte order comes from the block. Options are skipped. Offsets in errors are relative to buf. */
function decodeShb(buf: Uint8Array, offset: number = 0): Required<SectionHeaderBlock> {
  const le = sectionByteOrder(buf, offset);
  checkType(buf, offset, le, BlockType.SHB);
  const len = checkFrame(buf, offset, le, 28);
  const major = readU16(buf, offset + 12, le);
  if (major !== 1) throw new CaptureFormatError(`pcapng version ${major} (only 1 is known)`, offset + 12);
  decodeShb.bytes = len;
  return {
    littleEndian: le,
    versionMajor: major,
    versionMinor: readU16(buf, offset + 14, le),
    sectionLength: readInt64(buf, offset + 16, le),
  };
}
decodeShb.bytes = 0;

export const sectionHeader = { encodingLength: shbLength, encode: encodeShb, decode: decodeShb };

// --- interface description block ---

export interface InterfaceDescriptionBlock {
  linkType: number;
  /** 0 (the default): no limit. */
  snaplen?: number;
  name?: string | null;
  /** if_tsresol: bit 7 clear, units of 10^-n s; set, 2^-n s. Default 6 (microseconds); written only when given. */
  tsresol?: number;
}

function idbOptionsLength(b: InterfaceDescriptionBlock): number {
  let n = 0;
  if (b.name !== null && b.name !== undefined) n += 4 + pad4(utf8.encode(b.name).length);
  if (b.tsresol !== undefined) n += 8;
  return n === 0 ? 0 : n + 4;
}

function idbLength(b: InterfaceDescriptionBlock): number {
  return 20 + idbOptionsLength(b);
}

function encodeIdb(
  b: InterfaceDescriptionBlock,
  buf?: Uint8Array,
  offset: number = 0,
  littleEndian: boolean = true,
): Uint8Array {
  const le = littleEndian;
  const total = idbLength(b);
  const out = target(buf, offset, total, 'an interface description');
  frame(out, offset, BlockType.IDB, total, le);
  writeU16(out, offset + 8, b.linkType, le);
  writeU16(out, offset + 10, 0, le);
  writeU32(out, offset + 12, b.snaplen ?? 0, le);
  let o = offset + 16;
  if (b.name !== null && b.name !== undefined) o = writeOption(out, o, IF_NAME, utf8.encode(b.name), le);
  if (b.tsresol !== undefined) o = writeOption(out, o, IF_TSRESOL, Uint8Array.of(b.tsresol), le);
  if (o > offset + 16) writeU32(out, o, 0, le); // opt_endofopt
  encodeIdb.bytes = total;
  return out;
}
encodeIdb.bytes = 0;

function decodeIdb(
  buf: Uint8Array,
  offset: number = 0,
  littleEndian: boolean = true,
): Required<InterfaceDescriptionBlock> {
  const le = littleEndian;
  checkType(buf, offset, le, BlockType.IDB);
  const len = checkFrame(buf, offset, le, 20);
  const r: Required<InterfaceDescriptionBlock> = {
    linkType: readU16(buf, offset + 8, le),
    snaplen: readU32(buf, offset + 12, le),
    name: null,
    tsresol: 6,
  };
  const end = offset + len - 4;
  for (
    let o = nextOption(buf, offset + 16, end, le);
    o >= 0;
    o = nextOption(buf, o + 4 + pad4(readU16(buf, o + 2, le)), end, le)
  ) {
    const code = readU16(buf, o, le);
    const n = readU16(buf, o + 2, le);
    if (code === IF_NAME) r.name = optionString(buf, o + 4, n);
    else if (code === IF_TSRESOL && n >= 1) r.tsresol = buf[o + 4]!;
  }
  decodeIdb.bytes = len;
  return r;
}
decodeIdb.bytes = 0;

export const interfaceDescription = { encodingLength: idbLength, encode: encodeIdb, decode: decodeIdb };

// --- enhanced packet block ---

export interface EnhancedPacketBlock {
  interfaceId: number;
  /** Timestamp in ticks of the interface's resolution, high and low 32 bits. */
  timestampHigh: number;
  timestampLow: number;
  data: Uint8Array;
  /** Default data.length. */
  origLength?: number;
  /** epb_flags; null or undefined: no option. */
  flags?: number | null;
}

function epbLength(b: EnhancedPacketBlock): number {
  return 32 + pad4(b.data.length) + (b.flags === null || b.flags === undefined ? 0 : 12);
}

function encodeEpb(
  b: EnhancedPacketBlock,
  buf?: Uint8Array,
  offset: number = 0,
  littleEndian: boolean = true,
): Uint8Array {
  const le = littleEndian;
  const total = epbLength(b);
  const out = target(buf, offset, total, 'an enhanced packet');
  frame(out, offset, BlockType.EPB, total, le);
  const o = offset + 8;
  const n = b.data.length;
  writeU32(out, o, b.interfaceId, le);
  writeU32(out, o + 4, b.timestampHigh, le);
  writeU32(out, o + 8, b.timestampLow, le);
  writeU32(out, o + 12, n, le);
  writeU32(out, o + 16, b.origLength ?? n, le);
  out.set(b.data, o + 20);
  out.fill(0, o + 20 + n, o + 20 + pad4(n));
  if (b.flags !== null && b.flags !== undefined) {
    const f = o + 20 + pad4(n);
    writeU16(out, f, EPB_FLAGS, le);
    writeU16(out, f + 2, 4, le);
    writeU32(out, f + 4, b.flags, le);
    writeU32(out, f + 8, 0, le); // opt_endofopt
  }
  encodeEpb.bytes = total;
  return out;
}
encodeEpb.bytes = 0;

/** epb_flags in the options from `start`, or -1 when absent (a loop, no closure: this runs per packet). */
function packetFlags(buf: Uint8Array, start: number, end: number, le: boolean): number {
  let flags = -1;
  for (
    let o = nextOption(buf, start, end, le);
    o >= 0;
    o = nextOption(buf, o + 4 + pad4(readU16(buf, o + 2, le)), end, le)
  ) {
    if (readU16(buf, o, le) === EPB_FLAGS && readU16(buf, o + 2, le) >= 4) flags = readU32(buf, o + 4, le);
  }
  return flags;
}

/** data aliases buf. */
function decodeEpb(buf: Uint8Array, offset: number = 0, littleEndian: boolean = true): Required<EnhancedPacketBlock> {
  const le = littleEndian;
  checkType(buf, offset, le, BlockType.EPB);
  const len = checkFrame(buf, offset, le, 32);
  const o = offset + 8;
  const caplen = readU32(buf, o + 12, le);
  if (o + 20 + caplen > offset + len - 4) throw new CaptureFormatError('packet data overruns its block', o + 12);
  const flags = packetFlags(buf, o + 20 + pad4(caplen), offset + len - 4, le);
  decodeEpb.bytes = len;
  return {
    interfaceId: readU32(buf, o, le),
    timestampHigh: readU32(buf, o + 4, le),
    timestampLow: readU32(buf, o + 8, le),
    data: buf.subarray(o + 20, o + 20 + caplen),
    origLength: readU32(buf, o + 16, le),
    flags: flags < 0 ? null : flags,
  };
}
decodeEpb.bytes = 0;

export const enhancedPacket = { encodingLength: epbLength, encode: encodeEpb, decode: decodeEpb };

// --- the reader ---

export interface PcapngInterface {
  linkType: number;
  snaplen: number;
  name: string | null;
  tsresol: number;
}

/**
 * Steps over a whole pcapng file in memory: next() reads blocks up to the
 * next packet and fills the fields below in place (no allocation per
 * packet); the packet is buf[dataOffset .. dataOffset + capLength].
 * Blocks other than SHB, IDB, EPB and SPB are skipped. Damage throws
 * CaptureFormatError with file offsets.
 */
export class PcapngReader {
  /** Interfaces of the current section, by id. */
  interfaces: PcapngInterface[] = [];
  interfaceId = 0;
  /** Seconds since the epoch, fractional (0 for a simple packet, which has none). */
  time = 0;
  capLength = 0;
  origLength = 0;
  dataOffset = 0;
  /** From epb_flags: 0 unknown, 1 inbound, 2 outbound. */
  direction = 0;
  /** Offset of the next block. */
  offset = 0;
  private le = true;

  constructor(private readonly buf: Uint8Array) {
    if (buf.length < 4 || readU32(buf, 0, false) !== BlockType.SHB)
      throw new CaptureFormatError('not a pcapng file (no section header)', 0);
  }

  /** Reads up to the next packet; false at the end of the file. */
  next(): boolean {
    const buf = this.buf;
    while (this.offset < buf.length) {
      const at = this.offset;
      if (buf.length - at >= 4 && readU32(buf, at, false) === BlockType.SHB) {
        // the type reads the same in both byte orders; the section says which follows
        sectionHeader.decode(buf, at); // checks the byte order, framing and version
        this.le = sectionByteOrder(buf, at);
        this.interfaces = [];
        this.offset = at + sectionHeader.decode.bytes;
        continue;
      }
      const le = this.le;
      const len = checkFrame(buf, at, le, 12);
      this.offset = at + len;
      const type = readU32(buf, at, le);
      if (type === BlockType.IDB) {
        const b = interfaceDescription.decode(buf, at, le);
        this.interfaces.push({ linkType: b.linkType, snaplen: b.snaplen, name: b.name, tsresol: b.tsresol });
      } else if (type === BlockType.EPB) {
        if (len < 32) throw new CaptureFormatError(`enhanced packet block of ${len} bytes`, at + 4);
        const body = at + 8;
        const id = readU32(buf, body, le);
        const iface = this.interfaces[id];
        if (iface === undefined) throw new CaptureFormatError(`packet on undeclared interface ${id}`, body);
        const caplen = readU32(buf, body + 12, le);
        if (body + 20 + caplen > at + len - 4)
          throw new CaptureFormatError('packet data overruns its block', body + 12);
        this.interfaceId = id;
        this.time = ticksToSeconds(readU32(buf, body + 4, le), readU32(buf, body + 8, le), iface.tsresol);
        this.capLength = caplen;
        this.origLength = readU32(buf, body + 16, le);
        this.dataOffset = body + 20;
        const flags = packetFlags(buf, body + 20 + pad4(caplen), at + len - 4, le);
        const d = flags < 0 ? 0 : flags & EPB_DIRECTION_MASK;
        this.direction = d === 3 ? 0 : d; // 3 is reserved
        return true;
      } else if (type === BlockType.SPB) {
        const iface = this.interfaces[0];
        if (iface === undefined) throw new CaptureFormatError('simple packet without an interface', at + 8);
        if (len < 16) throw new CaptureFormatError(`simple packet block of ${len} bytes`, at + 4);
        const orig = readU32(buf, at + 8, le);
        let cap = Math.min(orig, len - 16);
        if (iface.snaplen > 0 && cap > iface.snaplen) cap = iface.snaplen;
        this.interfaceId = 0;
        this.time = 0;
        this.capLength = cap;
        this.origLength = orig;
        this.dataOffset = at + 12;
        this.direction = 0;
        return true;
      }
    }
    return false;
  }
}

/** A 64-bit tick count in seconds; exact to well below a microsecond for any real date. */
function ticksToSeconds(hi: number, lo: number, tsresol: number): number {
  const exp = tsresol & 0x7f;
  const perSecond = tsresol & 0x80 ? 2 ** exp : 10 ** exp;
  const ticks = hi * 4294967296 + lo;
  const sec = Math.floor(ticks / perSecond);
  return sec + (ticks - sec * perSecond) / perSecond;
}

// --- the writer ---

/**
 * Writes one pcapng section (little-endian, microsecond timestamps) to a
 * sink: the section header at construction, then interface descriptions and
 * packets, one fresh buffer per block (the sink may keep it).
 */
export class PcapngWriter {
  bytesWritten = 0;
  private interfaceCount = 0;

  constructor(private readonly sink: (bytes: Uint8Array) => void) {
    this.emit(sectionHeader.encode({}));
  }

  /** Declares an interface; returns its id for write(). */
  addInterface(name: string | null, linkType: number, snaplen = 262144): number {
    this.emit(interfaceDescription.encode({ linkType, snaplen, name, tsresol: 6 }));
    return this.interfaceCount++;
  }

  /** One packet at `time` (seconds since the epoch, fractional) with an optional direction. */
  write(
    interfaceId: number,
    time: number,
    data: Uint8Array,
    direction: 'in' | 'out' | null = null,
    origLength: number = data.length,
  ): void {
    if (!(interfaceId >= 0 && interfaceId < this.interfaceCount))
      throw new RangeError(`pcapng: interface ${interfaceId} was not added`);
    const micros = Math.round(time * 1e6);
    const high = Math.floor(micros / 4294967296);
    this.emit(
      enhancedPacket.encode({
        interfaceId,
        timestampHigh: high,
        timestampLow: (micros - high * 4294967296) >>> 0,
        data,
        origLength,
        flags: direction === null ? null : direction === 'in' ? 1 : 2,
      }),
    );
  }

  private emit(bytes: Uint8Array): void {
    this.bytesWritten += bytes.length;
    this.sink(bytes);
  }
}
