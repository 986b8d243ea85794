// pfsync v6 on the wire (shared/spec/pfsync.md §3–§5), sans I/O, in three
// parts:
//
// 1. Message codecs, dns-packet style (`decode(buf, offset)`,
//    `encode(obj, buf, offset)`, `encodingLength(obj)`): header, subheader,
//    CLR, BUS, TDB, EOF here; the messages that carry or name a state (the
//    264-byte state of INS, UPD and DEL, UPD_C, INS_ACK, UPD_REQ, DEL_C) in
//    state-record.ts, beside the exporter and importer of that layout. They
//    allocate objects: for tests, tools and rare messages. Every offset
//    comes from the layout tables in constants.ts.
// 2. walkPacket: the receiver's parse loop (§3.3, OpenBSD's pfsync_input).
//    It hands a visitor whole sections (buffer, offset, stride, count) and
//    allocates nothing; the receiver reads the fields it needs with readU32
//    and the offset tables. Bad bytes give a PfsyncDrop code, never an
//    exception.
// 3. PacketBuilder: records are added in any order, the packet comes out
//    with OpenBSD's section order and correct length fields, never larger
//    than the MTU.

import {
  ACTION_MAX,
  ActionHandled,
  BusOffset,
  BusStatus,
  ClrOffset,
  HeaderOffset,
  MessageLength,
  PFSYNC,
  PfsyncAction,
  PfsyncDrop,
  STATE_LENGTH,
  SubheaderOffset,
  TDB_SOCKADDR_LENGTH,
  TdbOffset,
} from './constants.js';
import {
  delC,
  insAck,
  state,
  updC,
  updReq,
  type IdMessage,
  type StateRecord,
  type UpdCompressed,
} from './state-record.js';
import {
  fixed,
  readName,
  readU16,
  readU32,
  readU64,
  writeName,
  writeU16,
  writeU32,
  writeU64,
  type Codec,
} from './wire.js';

export interface PfsyncHeader {
  version: number;
  /** Bytes from the start of the header to the end of the last message. */
  len: number;
  /** 16 bytes; OpenBSD sends zeros and ignores them (zeros when omitted). */
  pfcksum?: Uint8Array;
}

export interface PfsyncSubheader {
  action: number;
  /** Size of one message in 32-bit words. */
  len: number;
  count: number;
}

export interface ClrMessage {
  /** Empty: all interfaces. */
  ifname: string;
  creatorid: number;
}

export interface BusMessage {
  creatorid: number;
  endtime: number;
  status: number;
}

export interface TdbMessage {
  spi: number;
  /** The BSD sockaddr, raw (28 bytes). */
  dst: Uint8Array;
  rpl: number;
  curBytes: number;
  sproto: number;
  updates: number;
  rdomain: number;
}

export type PfsyncMessage =
  StateRecord | UpdCompressed | IdMessage | ClrMessage | BusMessage | TdbMessage | Record<string, never>;

export const header: Codec<PfsyncHeader> = fixed(
  PFSYNC.HEADER_LENGTH,
  'header',
  (b, o) => ({
    version: b[o + HeaderOffset.VERSION]!,
    len: readU16(b, o + HeaderOffset.LEN),
    pfcksum: b.slice(o + HeaderOffset.PFCKSUM, o + PFSYNC.HEADER_LENGTH),
  }),
  (h, b, o) => {
    b[o + HeaderOffset.VERSION] = h.version;
    b[o + HeaderOffset.VERSION + 1] = 0;
    writeU16(b, o + HeaderOffset.LEN, h.len);
    if (h.pfcksum) {
      if (h.pfcksum.length !== 16) throw new RangeError('pfcksum is 16 bytes');
      b.set(h.pfcksum, o + HeaderOffset.PFCKSUM);
    } else b.fill(0, o + HeaderOffset.PFCKSUM, o + PFSYNC.HEADER_LENGTH);
  },
);

export const subheader: Codec<PfsyncSubheader> = fixed(
  PFSYNC.SUBHEADER_LENGTH,
  'subheader',
  (b, o) => ({
    action: b[o + SubheaderOffset.ACTION]!,
    len: b[o + SubheaderOffset.LEN]!,
    count: readU16(b, o + SubheaderOffset.COUNT),
  }),
  (s, b, o) => writeSubheaderFields(b, o, s.action, s.len, s.count),
);

export const clr: Codec<ClrMessage> = fixed(
  MessageLength[PfsyncAction.CLR]!,
  'CLR',
  (b, o) => ({ ifname: readName(b, o), creatorid: readU32(b, o + ClrOffset.CREATORID) }),
  (c, b, o) => {
    writeName(b, o, c.ifname);
    writeU32(b, o + ClrOffset.CREATORID, c.creatorid);
  },
);

/** Writes a BUS message in place. */
export function writeBus(buf: Uint8Array, off: number, creatorid: number, endtime: number, status: number): void {
  writeU32(buf, off + BusOffset.CREATORID, creatorid);
  writeU32(buf, off + BusOffset.ENDTIME, endtime);
  buf[off + BusOffset.STATUS] = status;
  buf[off + BusOffset.STATUS + 1] = 0;
  buf[off + BusOffset.STATUS + 2] = 0;
  buf[off + BusOffset.STATUS + 3] = 0;
}

export const bus: Codec<BusMessage> = fixed(
  MessageLength[PfsyncAction.BUS]!,
  'BUS',
  (b, o) => ({
    creatorid: readU32(b, o + BusOffset.CREATORID),
    endtime: readU32(b, o + BusOffset.ENDTIME),
    status: b[o + BusOffset.STATUS]!,
  }),
  (m, b, o) => writeBus(b, o, m.creatorid, m.endtime, m.status),
);

export const tdb: Codec<TdbMessage> = fixed(
  MessageLength[PfsyncAction.TDB]!,
  'TDB',
  (b, o) => ({
    spi: readU32(b, o + TdbOffset.SPI),
    dst: b.slice(o + TdbOffset.DST, o + TdbOffset.DST + TDB_SOCKADDR_LENGTH),
    rpl: readU64(b, o + TdbOffset.RPL),
    curBytes: readU64(b, o + TdbOffset.CUR_BYTES),
    sproto: b[o + TdbOffset.SPROTO]!,
    updates: b[o + TdbOffset.UPDATES]!,
    rdomain: readU16(b, o + TdbOffset.RDOMAIN),
  }),
  (t, b, o) => {
    if (t.dst.length !== TDB_SOCKADDR_LENGTH) throw new RangeError(`the TDB sockaddr is ${TDB_SOCKADDR_LENGTH} bytes`);
    writeU32(b, o + TdbOffset.SPI, t.spi);
    b.set(t.dst, o + TdbOffset.DST);
    writeU64(b, o + TdbOffset.RPL, t.rpl);
    writeU64(b, o + TdbOffset.CUR_BYTES, t.curBytes);
    b[o + TdbOffset.SPROTO] = t.sproto;
    b[o + TdbOffset.UPDATES] = t.updates;
    writeU16(b, o + TdbOffset.RDOMAIN, t.rdomain);
  },
);

/** EOF carries no message. */
export const eof: Codec<Record<string, never>> = fixed(
  0,
  'EOF',
  () => ({}),
  () => {},
);

/** The codec of each action's message; null for actions without a layout. */
export const MessageCodec: readonly (Codec<PfsyncMessage> | null)[] = [
  clr,
  null,
  insAck,
  null,
  updC,
  updReq,
  state,
  delC,
  null,
  null,
  bus,
  null,
  eof,
  state,
  state,
  tdb,
] as unknown as readonly (Codec<PfsyncMessage> | null)[];

/** Writes the 20-byte header in place (pfcksum zero). */
export function writeHeader(buf: Uint8Array, off: number, len: number): void {
  buf[off + HeaderOffset.VERSION] = PFSYNC.VERSION;
  buf[off + HeaderOffset.VERSION + 1] = 0;
  writeU16(buf, off + HeaderOffset.LEN, len);
  buf.fill(0, off + HeaderOffset.PFCKSUM, off + PFSYNC.HEADER_LENGTH);
}

function writeSubheaderFields(buf: Uint8Array, off: number, action: number, words: number, count: number): void {
  buf[off + SubheaderOffset.ACTION] = action;
  buf[off + SubheaderOffset.LEN] = words;
  writeU16(buf, off + SubheaderOffset.COUNT, count);
}

/** Writes a subheader in place; `len` is the action's standard message length. */
export function writeSubheader(buf: Uint8Array, off: number, action: number, count: number): void {
  writeSubheaderFields(buf, off, action, MessageLength[action]! >>> 2, count);
}

// -- the receiver's walk ---------------------------------------------------

/** What the receiver does with the sections of a packet. */
export interface SectionVisitor {
  /**
   * `count` (>= 1) messages of a handled action, `stride` bytes apart from
   * `offset`, all inside the packet. stride >= MessageLength[action]; a peer
   * may send longer records, of which the known prefix is read.
   */
  section(action: number, buf: Uint8Array, offset: number, stride: number, count: number): void;
  /** A section passed over: an unknown or obsolete action, or messages shorter than the action's layout. */
  skipped?(action: number, offset: number, stride: number, count: number): void;
}

/**
 * Walks the pfsync bytes of a packet (`length` bytes from `offset`: what
 * follows the IP header). Checks the header (at least 20 bytes, version 6,
 * `len` within the bytes present; bytes beyond `len` are ignored) and then
 * the sections as OpenBSD does (spec §3.3). Sections before a fault have
 * been visited when a drop code comes back, as in OpenBSD.
 * Returns PfsyncDrop.OK or the reason the rest was dropped.
 */
export function walkPacket(buf: Uint8Array, offset: number, length: number, visitor: SectionVisitor): number {
  if (!(offset >= 0 && offset <= buf.length)) return PfsyncDrop.HDROPS;
  if (length > buf.length - offset) length = buf.length - offset;
  if (!(length >= PFSYNC.HEADER_LENGTH)) return PfsyncDrop.HDROPS;
  if (buf[offset] !== PFSYNC.VERSION) return PfsyncDrop.BADVER;
  const len = readU16(buf, offset + HeaderOffset.LEN);
  // OpenBSD silently processes nothing when len is below the header; we count it.
  if (len > length || len < PFSYNC.HEADER_LENGTH) return PfsyncDrop.BADLEN;
  const end = offset + len;
  let o = offset + PFSYNC.HEADER_LENGTH;
  while (end - o >= PFSYNC.SUBHEADER_LENGTH) {
    const action = buf[o + SubheaderOffset.ACTION]!;
    const stride = buf[o + SubheaderOffset.LEN]! << 2;
    const count = readU16(buf, o + SubheaderOffset.COUNT);
    let handled: boolean;
    if (action >= ACTION_MAX || stride < MessageLength[action]!) {
      // a section we cannot read: skippable only if it says how long it is
      if (count === 0 || stride === 0) return PfsyncDrop.BADACT;
      handled = false;
    } else handled = ActionHandled[action]!;
    o += PFSYNC.SUBHEADER_LENGTH;
    const bytes = stride * count;
    if (bytes > end - o) return PfsyncDrop.BADLEN;
    if (!handled) {
      if (visitor.skipped) visitor.skipped(action, o, stride, count);
    } else if (count > 0) visitor.section(action, buf, o, stride, count);
    o += bytes;
  }
  return PfsyncDrop.OK;
}

export interface DecodedSection {
  action: number;
  /** Offset of the first message. */
  offset: number;
  stride: number;
  count: number;
  skipped: boolean;
  /** Decoded messages (none for skipped sections). */
  messages: PfsyncMessage[];
}

export interface DecodedPacket {
  drop: number;
  header: PfsyncHeader | null;
  sections: DecodedSection[];
}

/** The whole packet as objects (allocates: for tests and tools, not the receiver). */
export function decodePacket(buf: Uint8Array, offset = 0, length = buf.length - offset): DecodedPacket {
  const sections: DecodedSection[] = [];
  const drop = walkPacket(buf, offset, length, {
    section(action, b, o, stride, count) {
      const codec = MessageCodec[action]!;
      const messages: PfsyncMessage[] = [];
      for (let k = 0; k < count; k++) messages.push(codec.decode(b, o + k * stride));
      sections.push({ action, offset: o, stride, count, skipped: false, messages });
    },
    skipped(action, o, stride, count) {
      sections.push({ action, offset: o, stride, count, skipped: true, messages: [] });
    },
  });
  const hdr =
    length >= PFSYNC.HEADER_LENGTH && offset + PFSYNC.HEADER_LENGTH <= buf.length ? header.decode(buf, offset) : null;
  return { drop, header: hdr, sections };
}

// -- the sender's packet builder --------------------------------------------

/** Actions the builder can carry: those with a message layout. */
const BUILDABLE = [
  PfsyncAction.CLR,
  PfsyncAction.INS_ACK,
  PfsyncAction.UPD_C,
  PfsyncAction.UPD_REQ,
  PfsyncAction.DEL,
  PfsyncAction.DEL_C,
  PfsyncAction.BUS,
  PfsyncAction.INS,
  PfsyncAction.UPD,
  PfsyncAction.TDB,
];

/**
 * Layout order: BUS START opens a packet (a bulk's first packet), BUS END
 * closes it (after the last UPD), as OpenBSD's bulk sender writes them;
 * between them OpenBSD's queue order, with CLR and UPD_REQ (which OpenBSD
 * sends alone) first and DEL (which it never sends) after UPD.
 */
const LAYOUT_ORDER = [
  PfsyncAction.CLR,
  PfsyncAction.UPD_REQ,
  PfsyncAction.INS_ACK,
  PfsyncAction.UPD_C,
  PfsyncAction.DEL_C,
  PfsyncAction.INS,
  PfsyncAction.UPD,
  PfsyncAction.DEL,
  PfsyncAction.TDB,
];

/**
 * Assembles one pfsync packet of at most `mtu` bytes including the 20-byte
 * IPv4 header (as OpenBSD's pfsync MTU counts). Records may be added in any
 * order: add() reserves one record and returns where to write it in `buf`;
 * finish() lays out the header and the sections. Nothing is allocated per
 * record (finish() returns a view per packet). Typical use:
 *
 *   while (queue.length && b.room(PfsyncAction.UPD_C) > 0)
 *     exportUpdC(t, queue.pop(), b.buf, b.add(PfsyncAction.UPD_C));
 *   send(b.finish()); b.reset();
 */
export class PacketBuilder {
  readonly mtu: number;
  /** Scratch where records are written, at the offsets add() returns. */
  readonly buf: Uint8Array;
  private readonly out: Uint8Array;
  private readonly base = new Int32Array(ACTION_MAX).fill(-1);
  private readonly counts = new Uint16Array(ACTION_MAX);
  /** pfsync bytes of the packet as it stands: header plus every non-empty section. */
  length: number = PFSYNC.HEADER_LENGTH;

  constructor(mtu: number = PFSYNC.DEFAULT_MTU) {
    const min = PFSYNC.IP_HEADER_LENGTH + PFSYNC.HEADER_LENGTH + PFSYNC.SUBHEADER_LENGTH + STATE_LENGTH;
    if (!(Number.isInteger(mtu) && mtu >= min && mtu <= 0xffff))
      throw new RangeError(`pfsync MTU must be ${min}..65535 (a full state must fit)`);
    this.mtu = mtu;
    const space = this.space;
    let size = 0;
    for (const a of BUILDABLE) {
      this.base[a] = size;
      size +=
        Math.floor((space - PFSYNC.HEADER_LENGTH - PFSYNC.SUBHEADER_LENGTH) / MessageLength[a]!) * MessageLength[a]!;
    }
    this.buf = new Uint8Array(size);
    this.out = new Uint8Array(space);
  }

  /** Bytes available for the pfsync header and sections. */
  get space(): number {
    return this.mtu - PFSYNC.IP_HEADER_LENGTH;
  }

  get empty(): boolean {
    return this.length === PFSYNC.HEADER_LENGTH;
  }

  /** Records of an action added so far. */
  count(action: number): number {
    return this.counts[action]!;
  }

  /** How many more records of an action fit (a new section pays for its subheader). */
  room(action: number): number {
    const size = MessageLength[action]!;
    if (this.base[action]! < 0 || size === 0) return 0;
    const n = this.counts[action]!;
    const free = this.space - this.length - (n === 0 ? PFSYNC.SUBHEADER_LENGTH : 0);
    return free < size ? 0 : Math.min(Math.floor(free / size), PFSYNC.MAX_COUNT - n);
  }

  /** Reserves one record of an action (zeroed); returns its offset in `buf`, or -1 when it does not fit. */
  add(action: number): number {
    if (this.room(action) === 0) {
      if (this.base[action]! < 0) throw new RangeError(`pfsync action ${action} has no message layout`);
      return -1;
    }
    const size = MessageLength[action]!;
    const n = this.counts[action]!;
    const off = this.base[action]! + n * size;
    this.buf.fill(0, off, off + size);
    this.length += size + (n === 0 ? PFSYNC.SUBHEADER_LENGTH : 0);
    this.counts[action] = n + 1;
    return off;
  }

  /** Forgets every record. */
  reset(): void {
    this.counts.fill(0);
    this.length = PFSYNC.HEADER_LENGTH;
  }

  /**
   * Writes the packet (header + sections, `length` bytes) into `out` at
   * `offset` and returns the written bytes; by default into an internal
   * buffer that the next finish() overwrites. The records stay until reset().
   */
  finish(out: Uint8Array = this.out, offset = 0): Uint8Array {
    if (offset + this.length > out.length) throw new RangeError(`pfsync packet needs ${this.length} bytes`);
    writeHeader(out, offset, this.length);
    let o = offset + PFSYNC.HEADER_LENGTH;
    const busFirst =
      this.counts[PfsyncAction.BUS]! > 0 &&
      this.buf[this.base[PfsyncAction.BUS]! + BusOffset.STATUS] === BusStatus.START;
    if (busFirst) o = this.section(PfsyncAction.BUS, out, o);
    for (const a of LAYOUT_ORDER) o = this.section(a, out, o);
    if (!busFirst) o = this.section(PfsyncAction.BUS, out, o);
    return out.subarray(offset, o);
  }

  private section(action: number, out: Uint8Array, o: number): number {
    const n = this.counts[action]!;
    if (n === 0) return o;
    writeSubheader(out, o, action, n);
    o += PFSYNC.SUBHEADER_LENGTH;
    const bytes = n * MessageLength[action]!;
    const from = this.base[action]!;
    out.set(this.buf.subarray(from, from + bytes), o);
    return o + bytes;
  }
}
