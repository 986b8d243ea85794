// Classic pcap (libpcap) files in the dns-packet style: codecs for the 24-byte
// file header and the 16-byte record header (decode(buf, offset),
// encode(obj, buf?, offset?), encodingLength(obj); decode.bytes / encode.bytes
// tell how many bytes were read / written), a reader that steps over a file
// held in memory without allocating per record, and a writer that hands its
// bytes to a sink. Both byte orders, micro- and nanosecond magic. No file I/O.

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
export const PCAP_FILE_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;
export const PCAP_DEFAULT_SNAPLEN = 262144;

/** A damaged capture file; `offset` is the file offset of the damaged field or record. */
export class CaptureFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
    this.name = 'CaptureFormatError';
  }
}

// Byte access in either order (no DataView per call).
export function readU16(buf: Uint8Array, o: number, le: boolean): number {
  return le ? buf[o]! | (buf[o + 1]! << 8) : (buf[o]! << 8) | buf[o + 1]!;
}

export function readU32(buf: Uint8Array, o: number, le: boolean): number {
  return le
    ? (buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24)) >>> 0
    : ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

export function writeU16(buf: Uint8Array, o: number, v: number, le: boolean): void {
  const a = (v >>> 8) & 0xff;
  const b = v & 0xff;
  buf[o] = le ? b : a;
  buf[o + 1] = le ? a : b;
}

export function writeU32(buf: Uint8Array, o: number, v: number, le: boolean): void {
  if (le) {
    buf[o] = v & 0xff;
    buf[o + 1] = (v >>> 8) & 0xff;
    buf[o + 2] = (v >>> 16) & 0xff;
    buf[o + 3] = (v >>> 24) & 0xff;
  } else {
    buf[o] = (v >>> 24) & 0xff;
    buf[o + 1] = (v >>> 16) & 0xff;
    buf[o + 2] = (v >>> 8) & 0xff;
    buf[o + 3] = v & 0xff;
  }
}

export interface PcapFileHeader {
  littleEndian: boolean;
  /** Nanosecond timestamps (magic 0xa1b23c4d) rather than microseconds. */
  nanosecond: boolean;
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  /** LINKTYPE_* (the low 16 bits of the field; the upper bits carry FCS flags). */
  linkType: number;
}

/** Defaults: little-endian, microseconds, version 2.4, snaplen 262144. */
export type PcapFileHeaderFields = Partial<PcapFileHeader> & { linkType: number };

function fileHeaderLength(_h?: PcapFileHeaderFields): number {
  return PCAP_FILE_HEADER_LENGTH;
}

function encodeFileHeader(h: PcapFileHeaderFields, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const out = buf ?? new Uint8Array(PCAP_FILE_HEADER_LENGTH);
  if (offset + PCAP_FILE_HEADER_LENGTH > out.length) throw new RangeError('pcap: buffer too small for the file header');
  const le = h.littleEndian ?? true;
  writeU32(out, offset, h.nanosecond ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, le);
  writeU16(out, offset + 4, h.versionMajor ?? 2, le);
  writeU16(out, offset + 6, h.versionMinor ?? 4, le);
  writeU32(out, offset + 8, 0, le); // thiszone
  writeU32(out, offset + 12, 0, le); // sigfigs
  writeU32(out, offset + 16, h.snaplen ?? PCAP_DEFAULT_SNAPLEN, le);
  writeU32(out, offset + 20, h.linkType & 0xffff, le);
  encodeFileHeader.bytes = PCAP_FILE_HEADER_LENGTH;
  return out;
}
encodeFileHeader.bytes = 0;

/** Throws CaptureFormatError (offsets relative to buf) on a short header, a bad magic or an unknown major version. */
function decodeFileHeader(buf: Uint8Array, offset: number = 0): PcapFileHeader {
  if (buf.length - offset < 4) throw new CaptureFormatError('file too short for a capture header', offset);
  const be = readU32(buf, offset, false);
  const lem = readU32(buf, offset, true);
  let le: boolean;
  if (be === PCAP_MAGIC_MICRO || be === PCAP_MAGIC_NANO) le = false;
  else if (lem === PCAP_MAGIC_MICRO || lem === PCAP_MAGIC_NANO) le = true;
  else throw new CaptureFormatError('not a pcap or pcapng file (bad magic)', offset);
  if (buf.length - offset < PCAP_FILE_HEADER_LENGTH) throw new CaptureFormatError('truncated pcap header', buf.length);
  const versionMajor = readU16(buf, offset + 4, le);
  if (versionMajor !== 2) throw new CaptureFormatError(`pcap version ${versionMajor} (only 2 is known)`, offset + 4);
  decodeFileHeader.bytes = PCAP_FILE_HEADER_LENGTH;
  return {
    littleEndian: le,
    nanosecond: readU32(buf, offset, le) === PCAP_MAGIC_NANO,
    versionMajor,
    versionMinor: readU16(buf, offset + 6, le),
    snaplen: readU32(buf, offset + 16, le),
    linkType: readU32(buf, offset + 20, le) & 0xffff,
  };
}
decodeFileHeader.bytes = 0;

export const fileHeader = { encodingLength: fileHeaderLength, encode: encodeFileHeader, decode: decodeFileHeader };

export interface PcapRecordHeader {
  sec: number;
  /** Microseconds or nanoseconds, as the file header says. */
  frac: number;
  inclLength: number;
  origLength: number;
}

function recordHeaderLength(_h?: PcapRecordHeader): number {
  return PCAP_RECORD_HEADER_LENGTH;
}

/** The byte order comes from the file header. */
function encodeRecordHeader(
  h: PcapRecordHeader,
  buf?: Uint8Array,
  offset: number = 0,
  littleEndian: boolean = true,
): Uint8Array {
  const out = buf ?? new Uint8Array(PCAP_RECORD_HEADER_LENGTH);
  if (offset + PCAP_RECORD_HEADER_LENGTH > out.length)
    throw new RangeError('pcap: buffer too small for a record header');
  writeRecordHeader(out, offset, h.sec, h.frac, h.inclLength, h.origLength, littleEndian);
  encodeRecordHeader.bytes = PCAP_RECORD_HEADER_LENGTH;
  return out;
}
encodeRecordHeader.bytes = 0;

function decodeRecordHeader(buf: Uint8Array, offset: number = 0, littleEndian: boolean = true): PcapRecordHeader {
  if (buf.length - offset < PCAP_RECORD_HEADER_LENGTH) throw new CaptureFormatError('truncated record header', offset);
  decodeRecordHeader.bytes = PCAP_RECORD_HEADER_LENGTH;
  return {
    sec: readU32(buf, offset, littleEndian),
    frac: readU32(buf, offset + 4, littleEndian),
    inclLength: readU32(buf, offset + 8, littleEndian),
    origLength: readU32(buf, offset + 12, littleEndian),
  };
}
decodeRecordHeader.bytes = 0;

export const recordHeader = {
  encodingLength: recordHeaderLength,
  encode: encodeRecordHeader,
  decode: decodeRecordHeader,
};

/** The record header from plain numbers, for writers that fill a buffer of many records (no object per record). */
export function writeRecordHeader(
  buf: Uint8Array,
  offset: number,
  sec: number,
  frac: number,
  inclLength: number,
  origLength: number,
  le: boolean,
): void {
  writeU32(buf, offset, sec, le);
  writeU32(buf, offset + 4, frac, le);
  writeU32(buf, offset + 8, inclLength, le);
  writeU32(buf, offset + 12, origLength, le);
}

/** Seconds since the epoch (fractional) as whole seconds and microseconds, the carry done. */
export function splitMicros(time: number, out: { sec: number; frac: number }): void {
  let sec = Math.floor(time);
  let us = Math.round((time - sec) * 1e6);
  if (us >= 1e6) {
    sec++;
    us -= 1e6;
  }
  out.sec = sec;
  out.frac = us;
}

/**
 * Steps over a whole pcap file in memory: next() reads one record and fills
 * the fields below in place (no allocation per record); the packet is
 * buf[dataOffset .. dataOffset + capLength]. Damage throws CaptureFormatError.
 */
export class PcapReader {
  readonly header: PcapFileHeader;
  sec = 0;
  nsec = 0;
  capLength = 0;
  origLength = 0;
  dataOffset = 0;
  /** Offset of the next record. */
  offset = PCAP_FILE_HEADER_LENGTH;
  private readonly le: boolean;
  private readonly fracToNs: number;
  /** libpcap's rule: a record may exceed the snaplen a little, but not without bound. */
  private readonly maxRecord: number;

  constructor(private readonly buf: Uint8Array) {
    this.header = decodeFileHeader(buf, 0);
    this.le = this.header.littleEndian;
    this.fracToNs = this.header.nanosecond ? 1 : 1000;
    this.maxRecord = Math.max(this.header.snaplen, PCAP_DEFAULT_SNAPLEN);
  }

  /** Seconds since the epoch of the last record, fractional. */
  get time(): number {
    return this.sec + this.nsec / 1e9;
  }

  /** Reads the next record; false at the end of the file. */
  next(): boolean {
    const buf = this.buf;
    const o = this.offset;
    if (o >= buf.length) return false;
    if (o + PCAP_RECORD_HEADER_LENGTH > buf.length) throw new CaptureFormatError('truncated record header', o);
    const le = this.le;
    const incl = readU32(buf, o + 8, le);
    if (incl > this.maxRecord)
      throw new CaptureFormatError(`record of ${incl} bytes exceeds the snapshot length ${this.header.snaplen}`, o + 8);
    if (o + PCAP_RECORD_HEADER_LENGTH + incl > buf.length)
      throw new CaptureFormatError(`truncated record (${incl} bytes announced)`, o);
    this.sec = readU32(buf, o, le);
    // a sloppy writer may put a whole second into the fraction: carry it
    const ns = readU32(buf, o + 4, le) * this.fracToNs;
    this.sec += Math.floor(ns / 1e9);
    this.nsec = ns % 1e9;
    this.capLength = incl;
    this.origLength = readU32(buf, o + 12, le);
    this.dataOffset = o + PCAP_RECORD_HEADER_LENGTH;
    this.offset = this.dataOffset + incl;
    return true;
  }
}

/**
 * Writes a pcap file (little-endian, microseconds) to a sink: the file header
 * at construction, then one fresh buffer per record (header and data), which
 * the sink may keep.
 */
export class PcapWriter {
  /** Bytes handed to the sink so far. */
  bytesWritten = 0;
  private readonly t = { sec: 0, frac: 0 };

  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    readonly linkType: number,
    readonly snaplen = PCAP_DEFAULT_SNAPLEN,
  ) {
    this.emit(encodeFileHeader({ linkType, snaplen }));
  }

  /** One packet at `time` (seconds since the epoch, fractional); packets longer than the snaplen are cut. */
  write(time: number, data: Uint8Array, origLength: number = data.length): void {
    splitMicros(time, this.t);
    const incl = Math.min(data.length, this.snaplen);
    const rec = new Uint8Array(PCAP_RECORD_HEADER_LENGTH + incl);
    writeRecordHeader(rec, 0, this.t.sec, this.t.frac, incl, origLength, true);
    rec.set(incl < data.length ? data.subarray(0, incl) : data, PCAP_RECORD_HEADER_LENGTH);
    this.emit(rec);
  }

  private emit(bytes: Uint8Array): void {
    this.bytesWritten += bytes.length;
    this.sink(bytes);
  }
}
