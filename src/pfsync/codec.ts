// pfsync v6 on the wire (shared/spec/pfsync.md §3–§5), sans I/O, in three
// parts:
//
// 1. Message codecs, dns-packet style (`decode(buf, offset)`,
//    `encode(obj, buf, offset)`, `encodingLength(obj)`), one per layout:
//    header, subheader, peer, key, the 264-byte state (INS, UPD, DEL), CLR,
//    INS_ACK, UPD_C, UPD_REQ, DEL_C, BUS, TDB, EOF. They allocate objects:
//    for tests, tools and rare messages. Lengths are fixed, so there is no
//    `.bytes`. 64-bit ids are two 32-bit words (idHi, idLo); 64-bit counters
//    are JS numbers (exact below 2^53). id and creatorid are opaque on the
//    wire; here they read as big-endian numbers, which keeps the 12 bytes as
//    received when written back.
// 2. walkPacket: the receiver's parse loop (§3.3, OpenBSD's pfsync_input).
//    It hands a visitor whole sections (buffer, offset, stride, count) and
//    allocates nothing; the receiver reads the fields it needs with readU32
//    and the offset tables below. Bad bytes give a PfsyncDrop code, never
//    an exception.
// 3. PacketBuilder: records are added in any order, the packet comes out
//    with OpenBSD's section order and correct length fields, never larger
//    than the MTU.

import { ACTION_MAX, Action, ActionHandled, BusStatus, MessageLength, PFSYNC, PfsyncDrop } from './constants.js';

// -- byte helpers (no DataView, no allocation) --------------------------

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** A big-endian 64-bit counter as a number (exact below 2^53). */
export function readU64(buf: Uint8Array, off: number): number {
  return readU32(buf, off) * 4294967296 + readU32(buf, off + 4);
}

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/** A non-negative counter as two big-endian words (values beyond 2^64 - 1 saturate). */
export function writeU64(buf: Uint8Array, off: number, v: number): void {
  if (!(v > 0)) v = 0;
  const hi = Math.floor(v / 4294967296);
  if (hi > 0xffffffff) {
    writeU32(buf, off, 0xffffffff);
    writeU32(buf, off + 4, 0xffffffff);
    return;
  }
  writeU32(buf, off, hi);
  writeU32(buf, off + 4, v - hi * 4294967296);
}

/** Four big-endian words from 16 bytes (an IPv4 address lands in word 0, as tunpf keeps it). */
export function readAddress(buf: Uint8Array, off: number, out: Uint32Array): Uint32Array {
  for (let k = 0; k < 4; k++) out[k] = readU32(buf, off + 4 * k);
  return out;
}

export function writeAddress(buf: Uint8Array, off: number, words: ArrayLike<number>): void {
  for (let k = 0; k < 4; k++) writeU32(buf, off + 4 * k, words[k]! >>> 0);
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** A NUL-padded name field as a string (up to the first NUL). */
export function readName(buf: Uint8Array, off: number, size: number = PFSYNC.IFNAME_LENGTH): string {
  let end = off;
  while (end < off + size && buf[end] !== 0) end++;
  return textDecoder.decode(buf.subarray(off, end));
}

/** Writes a name NUL-padded to `size` bytes (at most size - 1 of it, so it stays terminated). */
export function writeName(buf: Uint8Array, off: number, name: string | Uint8Array, size: number = PFSYNC.IFNAME_LENGTH): void {
  const bytes = typeof name === 'string' ? textEncoder.encode(name) : name;
  const n = Math.min(bytes.length, size - 1);
  for (let k = 0; k < n; k++) buf[off + k] = bytes[k]!;
  buf.fill(0, off + n, off + size);
}

function need(buf: Uint8Array, offset: number, len: number, what: string): void {
  if (!(offset >= 0) || offset + len > buf.length) throw new RangeError(`a pfsync ${what} needs ${len} bytes at offset ${offset}`);
}

// -- offsets (for reading and writing in place) --------------------------

export const HeaderOffset = { VERSION: 0, LEN: 2, PFCKSUM: 4 } as const;
export const SubheaderOffset = { ACTION: 0, LEN: 1, COUNT: 2 } as const;

export const PEER_LENGTH = 32;
export const PeerOffset = {
  SCRUB_FLAGS: 0,
  SCRUB_TTL: 2,
  SCRUB_FLAG: 3,
  SCRUB_TS_MOD: 4,
  SEQLO: 8,
  SEQHI: 12,
  SEQDIFF: 16,
  MAX_WIN: 20,
  MSS: 22,
  STATE: 24,
  WSCALE: 25,
} as const;

export const KEY_LENGTH = 40;
export const KeyOffset = { ADDR0: 0, ADDR1: 16, PORT0: 32, PORT1: 34, RDOMAIN: 36, AF: 38 } as const;

export const STATE_LENGTH = 264;
export const StateOffset = {
  ID: 0,
  IFNAME: 8,
  /** key[0], the wire key. */
  KEY_WIRE: 24,
  /** key[1], the stack key. */
  KEY_STACK: 64,
  SRC: 104,
  DST: 136,
  RT_ADDR: 168,
  RULE: 184,
  ANCHOR: 188,
  NAT_RULE: 192,
  CREATION: 196,
  EXPIRE: 200,
  PACKETS: 204,
  BYTES: 220,
  CREATORID: 236,
  RTABLEID: 240,
  MAX_MSS: 248,
  AF: 250,
  PROTO: 251,
  DIRECTION: 252,
  LOG: 253,
  RT: 254,
  TIMEOUT: 255,
  SYNC_FLAGS: 256,
  UPDATES: 257,
  MIN_TTL: 258,
  SET_TOS: 259,
  STATE_FLAGS: 260,
  SET_PRIO: 262,
} as const;

export const UpdCOffset = { ID: 0, SRC: 8, DST: 40, CREATORID: 72, EXPIRE: 76, TIMEOUT: 80, STATE_FLAGS: 81 } as const;
/** INS_ACK, UPD_REQ and DEL_C: an id and a creator. */
export const IdMessageOffset = { ID: 0, CREATORID: 8 } as const;
export const ClrOffset = { IFNAME: 0, CREATORID: 16 } as const;
export const BusOffset = { CREATORID: 0, ENDTIME: 4, STATUS: 8 } as const;
export const TdbOffset = { SPI: 0, DST: 4, RPL: 32, CUR_BYTES: 40, SPROTO: 48, UPDATES: 49, RDOMAIN: 50 } as const;
export const TDB_SOCKADDR_LENGTH = 28;

/** Offset of the creatorid in a message of each action, -1 when it has none. The id is at 0 where there is one. */
export const CreatorOffset = [
  ClrOffset.CREATORID, -1, IdMessageOffset.CREATORID, -1, UpdCOffset.CREATORID, IdMessageOffset.CREATORID,
  StateOffset.CREATORID, IdMessageOffset.CREATORID, -1, -1, BusOffset.CREATORID, -1, -1,
  StateOffset.CREATORID, StateOffset.CREATORID, -1,
];

// -- message types -------------------------------------------------------

export interface Codec<T> {
  decode(buf: Uint8Array, offset?: number): T;
  encode(obj: T, buf?: Uint8Array, offset?: number): Uint8Array;
  encodingLength(obj?: T): number;
}

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

export interface StatePeer {
  scrubFlags: number;
  scrubTtl: number;
  /** SCRUB_FLAG_VALID when the scrub fields mean something. */
  scrubFlag: number;
  scrubTsMod: number;
  seqlo: number;
  seqhi: number;
  seqdiff: number;
  maxWin: number;
  mss: number;
  state: number;
  /** Shift in the low 4 bits, 0x80 = option seen. */
  wscale: number;
}

export interface StateKey {
  /** Addresses as 4 big-endian words each (IPv4 in word 0). addr[0] is the source of inbound packets. */
  addr: [Uint32Array, Uint32Array];
  port: [number, number];
  rdomain: number;
  /** 2, 24, or 0 for "as the state's af". */
  af: number;
}

export interface StateRecord {
  idHi: number;
  idLo: number;
  ifname: string;
  /** [wire, stack]. */
  key: [StateKey, StateKey];
  src: StatePeer;
  dst: StatePeer;
  rtAddr: Uint32Array;
  rule: number;
  anchor: number;
  natRule: number;
  /** Age in seconds. */
  creation: number;
  /** Seconds left. */
  expire: number;
  packets: [number, number];
  bytes: [number, number];
  creatorid: number;
  /** Signed; -1 = none. */
  rtableid: [number, number];
  maxMss: number;
  af: number;
  proto: number;
  direction: number;
  log: number;
  rt: number;
  timeout: number;
  syncFlags: number;
  updates: number;
  minTtl: number;
  setTos: number;
  stateFlags: number;
  setPrio: [number, number];
}

export interface UpdCompressed {
  idHi: number;
  idLo: number;
  src: StatePeer;
  dst: StatePeer;
  creatorid: number;
  /** OpenBSD sends 0 and ignores it. */
  expire: number;
  timeout: number;
  /** OpenBSD sends 0. */
  stateFlags: number;
}

/** INS_ACK, UPD_REQ, DEL_C. */
export interface IdMessage {
  idHi: number;
  idLo: number;
  creatorid: number;
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

export type PfsyncMessage = StateRecord | UpdCompressed | IdMessage | ClrMessage | BusMessage | TdbMessage | Record<string, never>;

function fixed<T>(size: number, what: string, dec: (buf: Uint8Array, o: number) => T, enc: (obj: T, buf: Uint8Array, o: number) => void): Codec<T> {
  return {
    decode(buf: Uint8Array, offset = 0): T {
      need(buf, offset, size, what);
      return dec(buf, offset);
    },
    encode(obj: T, buf: Uint8Array = new Uint8Array(size), offset = 0): Uint8Array {
      need(buf, offset, size, what);
      enc(obj, buf, offset);
      return buf;
    },
    encodingLength: () => size,
  };
}

export const header: Codec<PfsyncHeader> = fixed(
  PFSYNC.HEADER_LENGTH,
  'header',
  (b, o) => ({ version: b[o]!, len: readU16(b, o + 2), pfcksum: b.slice(o + 4, o + 20) }),
  (h, b, o) => {
    b[o] = h.version;
    b[o + 1] = 0;
    writeU16(b, o + 2, h.len);
    if (h.pfcksum) {
      if (h.pfcksum.length !== 16) throw new RangeError('pfcksum is 16 bytes');
      b.set(h.pfcksum, o + 4);
    } else b.fill(0, o + 4, o + 20);
  },
);

export const subheader: Codec<PfsyncSubheader> = fixed(
  PFSYNC.SUBHEADER_LENGTH,
  'subheader',
  (b, o) => ({ action: b[o]!, len: b[o + 1]!, count: readU16(b, o + 2) }),
  (s, b, o) => {
    b[o] = s.action;
    b[o + 1] = s.len;
    writeU16(b, o + 2, s.count);
  },
);

export const statePeer: Codec<StatePeer> = fixed(
  PEER_LENGTH,
  'state peer',
  (b, o) => ({
    scrubFlags: readU16(b, o),
    scrubTtl: b[o + 2]!,
    scrubFlag: b[o + 3]!,
    scrubTsMod: readU32(b, o + 4),
    seqlo: readU32(b, o + 8),
    seqhi: readU32(b, o + 12),
    seqdiff: readU32(b, o + 16),
    maxWin: readU16(b, o + 20),
    mss: readU16(b, o + 22),
    state: b[o + 24]!,
    wscale: b[o + 25]!,
  }),
  (p, b, o) => {
    writeU16(b, o, p.scrubFlags);
    b[o + 2] = p.scrubTtl;
    b[o + 3] = p.scrubFlag;
    writeU32(b, o + 4, p.scrubTsMod);
    writeU32(b, o + 8, p.seqlo);
    writeU32(b, o + 12, p.seqhi);
    writeU32(b, o + 16, p.seqdiff);
    writeU16(b, o + 20, p.maxWin);
    writeU16(b, o + 22, p.mss);
    b[o + 24] = p.state;
    b[o + 25] = p.wscale;
    b.fill(0, o + 26, o + 32);
  },
);

export const stateKey: Codec<StateKey> = fixed(
  KEY_LENGTH,
  'state key',
  (b, o) => ({
    addr: [readAddress(b, o, new Uint32Array(4)), readAddress(b, o + 16, new Uint32Array(4))],
    port: [readU16(b, o + 32), readU16(b, o + 34)],
    rdomain: readU16(b, o + 36),
    af: b[o + 38]!,
  }),
  (k, b, o) => {
    writeAddress(b, o, k.addr[0]);
    writeAddress(b, o + 16, k.addr[1]);
    writeU16(b, o + 32, k.port[0]);
    writeU16(b, o + 34, k.port[1]);
    writeU16(b, o + 36, k.rdomain);
    b[o + 38] = k.af;
    b[o + 39] = 0;
  },
);

const S = StateOffset;

export const state: Codec<StateRecord> = fixed(
  STATE_LENGTH,
  'state',
  (b, o) => ({
    idHi: readU32(b, o),
    idLo: readU32(b, o + 4),
    ifname: readName(b, o + S.IFNAME),
    key: [stateKey.decode(b, o + S.KEY_WIRE), stateKey.decode(b, o + S.KEY_STACK)],
    src: statePeer.decode(b, o + S.SRC),
    dst: statePeer.decode(b, o + S.DST),
    rtAddr: readAddress(b, o + S.RT_ADDR, new Uint32Array(4)),
    rule: readU32(b, o + S.RULE),
    anchor: readU32(b, o + S.ANCHOR),
    natRule: readU32(b, o + S.NAT_RULE),
    creation: readU32(b, o + S.CREATION),
    expire: readU32(b, o + S.EXPIRE),
    packets: [readU64(b, o + S.PACKETS), readU64(b, o + S.PACKETS + 8)],
    bytes: [readU64(b, o + S.BYTES), readU64(b, o + S.BYTES + 8)],
    creatorid: readU32(b, o + S.CREATORID),
    rtableid: [readU32(b, o + S.RTABLEID) | 0, readU32(b, o + S.RTABLEID + 4) | 0],
    maxMss: readU16(b, o + S.MAX_MSS),
    af: b[o + S.AF]!,
    proto: b[o + S.PROTO]!,
    direction: b[o + S.DIRECTION]!,
    log: b[o + S.LOG]!,
    rt: b[o + S.RT]!,
    timeout: b[o + S.TIMEOUT]!,
    syncFlags: b[o + S.SYNC_FLAGS]!,
    updates: b[o + S.UPDATES]!,
    minTtl: b[o + S.MIN_TTL]!,
    setTos: b[o + S.SET_TOS]!,
    stateFlags: readU16(b, o + S.STATE_FLAGS),
    setPrio: [b[o + S.SET_PRIO]!, b[o + S.SET_PRIO + 1]!],
  }),
  (s, b, o) => {
    writeU32(b, o, s.idHi);
    writeU32(b, o + 4, s.idLo);
    writeName(b, o + S.IFNAME, s.ifname);
    stateKey.encode(s.key[0], b, o + S.KEY_WIRE);
    stateKey.encode(s.key[1], b, o + S.KEY_STACK);
    statePeer.encode(s.src, b, o + S.SRC);
    statePeer.encode(s.dst, b, o + S.DST);
    writeAddress(b, o + S.RT_ADDR, s.rtAddr);
    writeU32(b, o + S.RULE, s.rule);
    writeU32(b, o + S.ANCHOR, s.anchor);
    writeU32(b, o + S.NAT_RULE, s.natRule);
    writeU32(b, o + S.CREATION, s.creation);
    writeU32(b, o + S.EXPIRE, s.expire);
    writeU64(b, o + S.PACKETS, s.packets[0]);
    writeU64(b, o + S.PACKETS + 8, s.packets[1]);
    writeU64(b, o + S.BYTES, s.bytes[0]);
    writeU64(b, o + S.BYTES + 8, s.bytes[1]);
    writeU32(b, o + S.CREATORID, s.creatorid);
    writeU32(b, o + S.RTABLEID, s.rtableid[0]);
    writeU32(b, o + S.RTABLEID + 4, s.rtableid[1]);
    writeU16(b, o + S.MAX_MSS, s.maxMss);
    b[o + S.AF] = s.af;
    b[o + S.PROTO] = s.proto;
    b[o + S.DIRECTION] = s.direction;
    b[o + S.LOG] = s.log;
    b[o + S.RT] = s.rt;
    b[o + S.TIMEOUT] = s.timeout;
    b[o + S.SYNC_FLAGS] = s.syncFlags;
    b[o + S.UPDATES] = s.updates;
    b[o + S.MIN_TTL] = s.minTtl;
    b[o + S.SET_TOS] = s.setTos;
    writeU16(b, o + S.STATE_FLAGS, s.stateFlags);
    b[o + S.SET_PRIO] = s.setPrio[0];
    b[o + S.SET_PRIO + 1] = s.setPrio[1];
  },
);

export const updC: Codec<UpdCompressed> = fixed(
  MessageLength[Action.UPD_C]!,
  'UPD_C',
  (b, o) => ({
    idHi: readU32(b, o),
    idLo: readU32(b, o + 4),
    src: statePeer.decode(b, o + UpdCOffset.SRC),
    dst: statePeer.decode(b, o + UpdCOffset.DST),
    creatorid: readU32(b, o + UpdCOffset.CREATORID),
    expire: readU32(b, o + UpdCOffset.EXPIRE),
    timeout: b[o + UpdCOffset.TIMEOUT]!,
    stateFlags: b[o + UpdCOffset.STATE_FLAGS]!,
  }),
  (u, b, o) => {
    writeU32(b, o, u.idHi);
    writeU32(b, o + 4, u.idLo);
    statePeer.encode(u.src, b, o + UpdCOffset.SRC);
    statePeer.encode(u.dst, b, o + UpdCOffset.DST);
    writeU32(b, o + UpdCOffset.CREATORID, u.creatorid);
    writeU32(b, o + UpdCOffset.EXPIRE, u.expire);
    b[o + UpdCOffset.TIMEOUT] = u.timeout;
    b[o + UpdCOffset.STATE_FLAGS] = u.stateFlags;
    b[o + 82] = 0;
    b[o + 83] = 0;
  },
);

/** Writes an INS_ACK / UPD_REQ / DEL_C message in place. */
export function writeIdMessage(buf: Uint8Array, off: number, idHi: number, idLo: number, creatorid: number): void {
  writeU32(buf, off, idHi);
  writeU32(buf, off + 4, idLo);
  writeU32(buf, off + 8, creatorid);
}

function idCodec(what: string): Codec<IdMessage> {
  return fixed(
    12,
    what,
    (b, o) => ({ idHi: readU32(b, o), idLo: readU32(b, o + 4), creatorid: readU32(b, o + 8) }),
    (m, b, o) => writeIdMessage(b, o, m.idHi, m.idLo, m.creatorid),
  );
}

export const insAck = idCodec('INS_ACK');
/** idHi = idLo = creatorid = 0 asks for a bulk update. */
export const updReq = idCodec('UPD_REQ');
export const delC = idCodec('DEL_C');

export const clr: Codec<ClrMessage> = fixed(
  MessageLength[Action.CLR]!,
  'CLR',
  (b, o) => ({ ifname: readName(b, o), creatorid: readU32(b, o + ClrOffset.CREATORID) }),
  (c, b, o) => {
    writeName(b, o, c.ifname);
    writeU32(b, o + ClrOffset.CREATORID, c.creatorid);
  },
);

/** Writes a BUS message in place. */
export function writeBus(buf: Uint8Array, off: number, creatorid: number, endtime: number, status: number): void {
  writeU32(buf, off, creatorid);
  writeU32(buf, off + 4, endtime);
  buf[off + 8] = status;
  buf[off + 9] = 0;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
}

export const bus: Codec<BusMessage> = fixed(
  MessageLength[Action.BUS]!,
  'BUS',
  (b, o) => ({ creatorid: readU32(b, o), endtime: readU32(b, o + 4), status: b[o + 8]! }),
  (m, b, o) => writeBus(b, o, m.creatorid, m.endtime, m.status),
);

export const tdb: Codec<TdbMessage> = fixed(
  MessageLength[Action.TDB]!,
  'TDB',
  (b, o) => ({
    spi: readU32(b, o),
    dst: b.slice(o + TdbOffset.DST, o + TdbOffset.DST + TDB_SOCKADDR_LENGTH),
    rpl: readU64(b, o + TdbOffset.RPL),
    curBytes: readU64(b, o + TdbOffset.CUR_BYTES),
    sproto: b[o + TdbOffset.SPROTO]!,
    updates: b[o + TdbOffset.UPDATES]!,
    rdomain: readU16(b, o + TdbOffset.RDOMAIN),
  }),
  (t, b, o) => {
    if (t.dst.length !== TDB_SOCKADDR_LENGTH) throw new RangeError(`the TDB sockaddr is ${TDB_SOCKADDR_LENGTH} bytes`);
    writeU32(b, o, t.spi);
    b.set(t.dst, o + TdbOffset.DST);
    writeU64(b, o + TdbOffset.RPL, t.rpl);
    writeU64(b, o + TdbOffset.CUR_BYTES, t.curBytes);
    b[o + TdbOffset.SPROTO] = t.sproto;
    b[o + TdbOffset.UPDATES] = t.updates;
    writeU16(b, o + TdbOffset.RDOMAIN, t.rdomain);
  },
);

/** EOF carries no message. */
export const eof: Codec<Record<string, never>> = fixed(0, 'EOF', () => ({}), () => {});

/** The codec of each action's message; null for actions without a layout. */
export const MessageCodec: readonly (Codec<PfsyncMessage> | null)[] = [
  clr, null, insAck, null, updC, updReq, state, delC, null, null, bus, null, eof, state, state, tdb,
] as unknown as readonly (Codec<PfsyncMessage> | null)[];

/** Writes the 20-byte header in place (pfcksum zero). */
export function writeHeader(buf: Uint8Array, off: number, len: number): void {
  buf[off] = PFSYNC.VERSION;
  buf[off + 1] = 0;
  writeU16(buf, off + 2, len);
  buf.fill(0, off + 4, off + 20);
}

/** Writes a subheader in place; `len` is the action's standard message length. */
export function writeSubheader(buf: Uint8Array, off: number, action: number, count: number): void {
  buf[off] = action;
  buf[off + 1] = MessageLength[action]! >>> 2;
  writeU16(buf, off + 2, count);
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
    const action = buf[o]!;
    const stride = buf[o + 1]! << 2;
    const count = readU16(buf, o + 2);
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
  const hdr = length >= PFSYNC.HEADER_LENGTH && offset + PFSYNC.HEADER_LENGTH <= buf.length ? header.decode(buf, offset) : null;
  return { drop, header: hdr, sections };
}

// -- the sender's packet builder --------------------------------------------

/** Actions the builder can carry: those with a message layout. */
const BUILDABLE = [Action.CLR, Action.INS_ACK, Action.UPD_C, Action.UPD_REQ, Action.DEL, Action.DEL_C, Action.BUS, Action.INS, Action.UPD, Action.TDB];

/**
 * Layout order: BUS START opens a packet (a bulk's first packet), BUS END
 * closes it (after the last UPD), as OpenBSD's bulk sender writes them;
 * between them OpenBSD's queue order, with CLR and UPD_REQ (which OpenBSD
 * sends alone) first and DEL (which it never sends) after UPD.
 */
const LAYOUT_ORDER = [Action.CLR, Action.UPD_REQ, Action.INS_ACK, Action.UPD_C, Action.DEL_C, Action.INS, Action.UPD, Action.DEL, Action.TDB];

/**
 * Assembles one pfsync packet of at most `mtu` bytes including the 20-byte
 * IPv4 header (as OpenBSD's pfsync MTU counts). Records may be added in any
 * order: add() reserves one record and returns where to write it in `buf`;
 * finish() lays out the header and the sections. Nothing is allocated per
 * record (finish() returns a view per packet). Typical use:
 *
 *   while (queue.length && b.room(Action.UPD_C) > 0) exportUpdC(t, queue.pop(), b.buf, b.add(Action.UPD_C));
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
    if (!(Number.isInteger(mtu) && mtu >= min && mtu <= 0xffff)) throw new RangeError(`pfsync MTU must be ${min}..65535 (a full state must fit)`);
    this.mtu = mtu;
    const space = this.space;
    let size = 0;
    for (const a of BUILDABLE) {
      this.base[a] = size;
      size += Math.floor((space - PFSYNC.HEADER_LENGTH - PFSYNC.SUBHEADER_LENGTH) / MessageLength[a]!) * MessageLength[a]!;
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
    const busFirst = this.counts[Action.BUS]! > 0 && this.buf[this.base[Action.BUS]! + BusOffset.STATUS] === BusStatus.START;
    if (busFirst) o = this.section(Action.BUS, out, o);
    for (const a of LAYOUT_ORDER) o = this.section(a, out, o);
    if (!busFirst) o = this.section(Action.BUS, out, o);
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
