// The pfsync_state layout and the messages that carry or name a state
// (shared/spec/pfsync.md §5.2, §7, §7.2), in one place, through the offset
// tables of constants.ts:
//
// - StateExporter writes a state's 264-byte record (INS, UPD, DEL), its
//   UPD_C or its identity straight from the state table's typed arrays into
//   a buffer; StateImporter validates a received record and hands the state
//   it describes to the state engine (StateEngine.insertImage, origin PEER).
//   Neither allocates per record (except a state's sparse extras: sequence
//   modulation, a stack key that differs from the wire key).
// - The object codecs of the same messages (`state`, `updC`, `statePeer`,
//   `stateKey`, `insAck`, `updReq`, `delC`), dns-packet style
//   (`decode(buf, offset)`, `encode(obj, buf, offset)`, `encodingLength`),
//   for tests, tools and the dissector test. 64-bit ids are two 32-bit
//   words (idHi, idLo); 64-bit counters are JS numbers (exact below 2^53).
//   id and creatorid are opaque on the wire; here they read as big-endian
//   numbers, which keeps the 12 bytes as received when written back.
//
// Orientation. tunpf's side 0 is the initiator, and so is pfsync's src peer.
// A pfsync key is oriented by direction instead: index 0 is the source of
// inbound packets. For a state made by an inbound packet that is the
// initiator; for one made by an outbound packet, addr[0] is that packet's
// destination, the responder.
//
// ICMP. tunpf keys a query state by its id in both port slots; pf puts the
// id in the initiator's slot and the query type (pf's "virtual type") in the
// responder's, in both keys (a nat-to'd ping has another id in each).
// tunpf does not keep the type, so echo is assumed on export (8, or 128 for
// ICMPv6); on import the initiator's slot of each key gives its id.

import { Direction, IPPROTO, type DirectionOrAny } from '../packet/meta.js';
import {
  FLOATING,
  NO_RULE,
  Origin,
  RESYNC,
  routeCode,
  ScrubFlag,
  StateFlag,
  TIMEOUT_CLASSES,
} from '../state/constants.js';
import type { StateEngine } from '../state/state-engine.js';
import { StateImage, type PeerImage } from '../state/state-image.js';
import { KEY_WORDS, type StateTable } from '../state/state-table.js';
import { PFSS_PRESENT, PfssFlag } from '../state/tcp-scrub.js';
import {
  CreatorOffset,
  IdMessageOffset,
  ImportError,
  KEY_LENGTH,
  KeyOffset,
  MessageLength,
  PEER_LENGTH,
  PFSYNC,
  PeerOffset,
  PfsyncAction,
  SCRUB_FLAG_VALID,
  STATE_LENGTH,
  StateOffset,
  SyncFlag,
  UpdCOffset,
  WireAf,
  WireStateFlag,
} from './constants.js';
import {
  fixed,
  need,
  readAddress,
  readName,
  readU16,
  readU32,
  readU64,
  writeAddress,
  writeName,
  writeU16,
  writeU32,
  writeU64,
  type Codec,
} from './wire.js';

const P = PeerOffset;
const K = KeyOffset;
const UPD_C_LENGTH = MessageLength[PfsyncAction.UPD_C]!;
const ID_MESSAGE_LENGTH = MessageLength[PfsyncAction.INS_ACK]!;

// -- the messages as objects -------------------------------------------------

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

export const statePeer: Codec<StatePeer> = fixed(
  PEER_LENGTH,
  'state peer',
  (b, o) => ({
    scrubFlags: readU16(b, o + P.SCRUB_FLAGS),
    scrubTtl: b[o + P.SCRUB_TTL]!,
    scrubFlag: b[o + P.SCRUB_FLAG]!,
    scrubTsMod: readU32(b, o + P.SCRUB_TS_MOD),
    seqlo: readU32(b, o + P.SEQLO),
    seqhi: readU32(b, o + P.SEQHI),
    seqdiff: readU32(b, o + P.SEQDIFF),
    maxWin: readU16(b, o + P.MAX_WIN),
    mss: readU16(b, o + P.MSS),
    state: b[o + P.STATE]!,
    wscale: b[o + P.WSCALE]!,
  }),
  (p, b, o) => {
    writeU16(b, o + P.SCRUB_FLAGS, p.scrubFlags);
    b[o + P.SCRUB_TTL] = p.scrubTtl;
    b[o + P.SCRUB_FLAG] = p.scrubFlag;
    writeU32(b, o + P.SCRUB_TS_MOD, p.scrubTsMod);
    writeU16(b, o + P.MSS, p.mss);
    writePeerTracking(b, o, p.seqlo, p.seqhi, p.seqdiff, p.maxWin, p.state, p.wscale);
    b.fill(0, o + P.WSCALE + 1, o + PEER_LENGTH);
  },
);

/** The tracking fields of a peer (the rest: scrub data, written by writePeer, and mss, which tunpf leaves 0). */
function writePeerTracking(
  b: Uint8Array,
  o: number,
  seqlo: number,
  seqhi: number,
  seqdiff: number,
  maxWin: number,
  state: number,
  wscale: number,
): void {
  writeU32(b, o + P.SEQLO, seqlo);
  writeU32(b, o + P.SEQHI, seqhi);
  writeU32(b, o + P.SEQDIFF, seqdiff);
  writeU16(b, o + P.MAX_WIN, maxWin);
  b[o + P.STATE] = state;
  b[o + P.WSCALE] = wscale;
}

/** Reads the tracked fields of the pfsync_state_peer at buf[off] into a PeerImage. */
export function readPeer(buf: Uint8Array, off: number, p: PeerImage): PeerImage {
  p.seqlo = readU32(buf, off + P.SEQLO);
  p.seqhi = readU32(buf, off + P.SEQHI);
  p.seqdiff = readU32(buf, off + P.SEQDIFF);
  p.maxWin = readU16(buf, off + P.MAX_WIN);
  p.state = buf[off + P.STATE]!;
  p.wscale = buf[off + P.WSCALE]!;
  p.scrubValid = (buf[off + P.SCRUB_FLAG]! & SCRUB_FLAG_VALID) !== 0;
  p.scrubFlags = p.scrubValid ? readU16(buf, off + P.SCRUB_FLAGS) : 0;
  p.scrubTtl = p.scrubValid ? buf[off + P.SCRUB_TTL]! : 0;
  p.scrubTsMod = p.scrubValid ? readU32(buf, off + P.SCRUB_TS_MOD) : 0;
  return p;
}

export const stateKey: Codec<StateKey> = fixed(
  KEY_LENGTH,
  'state key',
  (b, o) => ({
    addr: [readAddress(b, o + K.ADDR0, new Uint32Array(4)), readAddress(b, o + K.ADDR1, new Uint32Array(4))],
    port: [readU16(b, o + K.PORT0), readU16(b, o + K.PORT1)],
    rdomain: readU16(b, o + K.RDOMAIN),
    af: b[o + K.AF]!,
  }),
  (k, b, o) => {
    writeAddress(b, o + K.ADDR0, k.addr[0]);
    writeAddress(b, o + K.ADDR1, k.addr[1]);
    writeU16(b, o + K.PORT0, k.port[0]);
    writeU16(b, o + K.PORT1, k.port[1]);
    writeU16(b, o + K.RDOMAIN, k.rdomain);
    b[o + K.AF] = k.af;
    b[o + K.AF + 1] = 0;
  },
);

const S = StateOffset;

export const state: Codec<StateRecord> = fixed(
  STATE_LENGTH,
  'state',
  (b, o) => ({
    idHi: readU32(b, o + S.ID),
    idLo: readU32(b, o + S.ID + 4),
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
    writeU32(b, o + S.ID, s.idHi);
    writeU32(b, o + S.ID + 4, s.idLo);
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
  UPD_C_LENGTH,
  'UPD_C',
  (b, o) => ({
    idHi: readU32(b, o + UpdCOffset.ID),
    idLo: readU32(b, o + UpdCOffset.ID + 4),
    src: statePeer.decode(b, o + UpdCOffset.SRC),
    dst: statePeer.decode(b, o + UpdCOffset.DST),
    creatorid: readU32(b, o + UpdCOffset.CREATORID),
    expire: readU32(b, o + UpdCOffset.EXPIRE),
    timeout: b[o + UpdCOffset.TIMEOUT]!,
    stateFlags: b[o + UpdCOffset.STATE_FLAGS]!,
  }),
  (u, b, o) => {
    writeU32(b, o + UpdCOffset.ID, u.idHi);
    writeU32(b, o + UpdCOffset.ID + 4, u.idLo);
    statePeer.encode(u.src, b, o + UpdCOffset.SRC);
    statePeer.encode(u.dst, b, o + UpdCOffset.DST);
    writeU32(b, o + UpdCOffset.CREATORID, u.creatorid);
    writeU32(b, o + UpdCOffset.EXPIRE, u.expire);
    b[o + UpdCOffset.TIMEOUT] = u.timeout;
    b[o + UpdCOffset.STATE_FLAGS] = u.stateFlags;
    b.fill(0, o + UpdCOffset.STATE_FLAGS + 1, o + UPD_C_LENGTH);
  },
);

/** Writes an INS_ACK / UPD_REQ / DEL_C message in place. */
export function writeIdMessage(buf: Uint8Array, off: number, idHi: number, idLo: number, creatorid: number): void {
  writeU32(buf, off + IdMessageOffset.ID, idHi);
  writeU32(buf, off + IdMessageOffset.ID + 4, idLo);
  writeU32(buf, off + IdMessageOffset.CREATORID, creatorid);
}

function idCodec(what: string): Codec<IdMessage> {
  return fixed(
    ID_MESSAGE_LENGTH,
    what,
    (b, o) => ({
      idHi: readU32(b, o + IdMessageOffset.ID),
      idLo: readU32(b, o + IdMessageOffset.ID + 4),
      creatorid: readU32(b, o + IdMessageOffset.CREATORID),
    }),
    (m, b, o) => writeIdMessage(b, o, m.idHi, m.idLo, m.creatorid),
  );
}

export const insAck = idCodec('INS_ACK');
/** idHi = idLo = creatorid = 0 asks for a bulk update. */
export const updReq = idCodec('UPD_REQ');
export const delC = idCodec('DEL_C');

// -- straight from and to the state table -----------------------------------

/** tunpf state flags that pfsync carries (same bits on the wire). FROM_PEER never leaves. */
const WIRE_FLAGS = StateFlag.ALLOWOPTS | StateFlag.SLOPPY | StateFlag.PFLOW | StateFlag.NOSYNC;
const ICMP_ECHO = 8;
const ICMP6_ECHO_REQUEST = 128;

function isIcmp(proto: number): boolean {
  return proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6;
}

const encoder = new TextEncoder();
const FLOATING_NAME = encoder.encode(PFSYNC.IFNAME_FLOATING);

export interface ExportSource {
  /** The name of an if-bound state's interface. */
  ifName(ifId: number): string;
  /** Seconds until state i expires, adaptive timeouts included (StateEngine.expiresIn). */
  expiresIn(i: number, now: number): number;
  /** The route targets states' routes point into (rt_addr), if any. */
  routes?: () => StateRoutes;
}

/** What pfsync's rt and rt_addr map to here: the route targets of the ruleset (filter/route-targets.ts). */
export interface StateRoutes {
  /** The next hop of a state's route (state/constants.ts routeOf), null when its target has none. */
  nexthopOf(route: number): Uint32Array | null;
  /** The route for a peer's rt (RouteCode) and rt_addr: the target with that next hop, 0 when none has it. */
  find(code: number, af: number, addr: Uint32Array): number;
}

export class StateExporter {
  /** Encoded interface names by id (names of ids do not change). */
  private readonly names: (Uint8Array | undefined)[] = [];

  constructor(
    readonly table: StateTable,
    private readonly source: ExportSource,
  ) {}

  /** An exporter reading timeouts from the engine. */
  static forEngine(engine: StateEngine, ifName: (ifId: number) => string, routes?: () => StateRoutes): StateExporter {
    return new StateExporter(engine.table, { ifName, expiresIn: (i, now) => engine.expiresIn(i, now), routes });
  }

  /**
   * Writes state i's 264-byte record at buf[off] as it stands at `now`
   * (seconds). `extraFlags` is or-ed into state_flags (WireStateFlag.ACK for a
   * deferred packet).
   */
  writeState(i: number, now: number, buf: Uint8Array, off: number, extraFlags = 0): void {
    const t = this.table;
    need(buf, off, STATE_LENGTH, 'state');
    buf.fill(0, off, off + STATE_LENGTH);
    writeU32(buf, off + StateOffset.ID, t.idHi[i]!);
    writeU32(buf, off + StateOffset.ID + 4, t.idLo[i]!);
    writeName(buf, off + StateOffset.IFNAME, this.nameBytes(t.ifId[i]!));
    const af = t.afOf(i);
    const wireAf = af === 6 ? WireAf.INET6 : WireAf.INET;
    this.writeWireKey(i, wireAf, buf, off + StateOffset.KEY_WIRE);
    if (t.translated(i)) this.writeStackKey(i, wireAf, buf, off + StateOffset.KEY_STACK);
    else
      buf.copyWithin(off + StateOffset.KEY_STACK, off + StateOffset.KEY_WIRE, off + StateOffset.KEY_WIRE + KEY_LENGTH);
    writePeer(t, i * 2, t.seqDiff(i, 0), buf, off + StateOffset.SRC);
    writePeer(t, i * 2 + 1, t.seqDiff(i, 1), buf, off + StateOffset.DST);
    const rule = t.rule[i]!;
    writeU32(buf, off + StateOffset.RULE, rule === NO_RULE ? PFSYNC.NO_RULE : rule);
    writeU32(buf, off + StateOffset.ANCHOR, PFSYNC.NO_RULE);
    writeU32(buf, off + StateOffset.NAT_RULE, PFSYNC.NO_RULE);
    writeU32(buf, off + StateOffset.CREATION, Math.max(0, Math.floor(now) - t.creation[i]!));
    writeU32(buf, off + StateOffset.EXPIRE, Math.max(0, this.source.expiresIn(i, now)));
    writeU64(buf, off + StateOffset.PACKETS, t.packets[i * 2]!);
    writeU64(buf, off + StateOffset.PACKETS + 8, t.packets[i * 2 + 1]!);
    writeU64(buf, off + StateOffset.BYTES, t.bytes[i * 2]!);
    writeU64(buf, off + StateOffset.BYTES + 8, t.bytes[i * 2 + 1]!);
    writeU32(buf, off + StateOffset.CREATORID, t.creator[i]!);
    writeU32(buf, off + StateOffset.RTABLEID, 0xffffffff);
    writeU32(buf, off + StateOffset.RTABLEID + 4, 0xffffffff);
    buf[off + StateOffset.AF] = wireAf;
    buf[off + StateOffset.PROTO] = t.protoOf(i);
    buf[off + StateOffset.DIRECTION] = t.direction[i]!;
    buf[off + StateOffset.TIMEOUT] = t.timeoutClass[i]!;
    buf[off + StateOffset.LOG] = t.log[i]!;
    const route = t.route[i]!;
    if (route !== 0) {
      // pf_state_export: rt and rt_addr (a target without a next hop leaves rt_addr zero)
      buf[off + StateOffset.RT] = routeCode(route);
      const hop = this.source.routes?.().nexthopOf(route);
      if (hop) writeAddress(buf, off + StateOffset.RT_ADDR, hop);
    }
    if (t.srcNode[i]! >= 0) buf[off + StateOffset.SYNC_FLAGS] = SyncFlag.SRCNODE;
    const scrubTcp = t.scrubWord(t.scrub[i]!) & ScrubFlag.REASSEMBLE_TCP ? WireStateFlag.SCRUB_TCP : 0;
    writeU16(buf, off + StateOffset.STATE_FLAGS, (t.flags[i]! & WIRE_FLAGS) | scrubTcp | extraFlags);
  }

  /** Writes state i's UPD_C message (84 bytes) at buf[off], as OpenBSD fills it (expire and state_flags 0). */
  writeUpdC(i: number, buf: Uint8Array, off: number): void {
    const t = this.table;
    need(buf, off, UPD_C_LENGTH, 'UPD_C');
    buf.fill(0, off, off + UPD_C_LENGTH);
    writeU32(buf, off + UpdCOffset.ID, t.idHi[i]!);
    writeU32(buf, off + UpdCOffset.ID + 4, t.idLo[i]!);
    writePeer(t, i * 2, t.seqDiff(i, 0), buf, off + UpdCOffset.SRC);
    writePeer(t, i * 2 + 1, t.seqDiff(i, 1), buf, off + UpdCOffset.DST);
    writeU32(buf, off + UpdCOffset.CREATORID, t.creator[i]!);
    buf[off + UpdCOffset.TIMEOUT] = t.timeoutClass[i]!;
  }

  /** Writes state i's identity as an INS_ACK, UPD_REQ or DEL_C message (12 bytes). */
  writeIdentity(i: number, buf: Uint8Array, off: number): void {
    const t = this.table;
    writeIdMessage(buf, off, t.idHi[i]!, t.idLo[i]!, t.creator[i]!);
  }

  private nameBytes(ifId: number): Uint8Array {
    if (ifId === FLOATING) return FLOATING_NAME;
    let b = this.names[ifId];
    if (b === undefined) b = this.names[ifId] = encoder.encode(this.source.ifName(ifId));
    return b;
  }

  private writeWireKey(i: number, wireAf: number, buf: Uint8Array, o: number): void {
    const t = this.table;
    const k = t.key;
    const base = i * KEY_WORDS;
    // index 0 = the source of inbound packets: the initiator unless the state was made outbound
    const first = t.direction[i] === Direction.OUT ? 1 : 0;
    for (let w = 0; w < 4; w++) {
      writeU32(buf, o + KeyOffset.ADDR0 + 4 * w, k[base + first * 4 + w]!);
      writeU32(buf, o + KeyOffset.ADDR1 + 4 * w, k[base + (1 - first) * 4 + w]!);
    }
    writeKeyPorts(buf, o, first, t.protoOf(i), t.portOf(i, 0), t.portOf(i, 1));
    buf[o + KeyOffset.AF] = wireAf;
  }

  private writeStackKey(i: number, wireAf: number, buf: Uint8Array, o: number): void {
    const t = this.table;
    const first = t.direction[i] === Direction.OUT ? 1 : 0;
    const a = t.stackAddressOf(i, first);
    const b = t.stackAddressOf(i, 1 - first);
    for (let w = 0; w < 4; w++) {
      writeU32(buf, o + KeyOffset.ADDR0 + 4 * w, a[w]!);
      writeU32(buf, o + KeyOffset.ADDR1 + 4 * w, b[w]!);
    }
    writeKeyPorts(buf, o, first, t.protoOf(i), t.stackPortOf(i, 0), t.stackPortOf(i, 1));
    buf[o + KeyOffset.AF] = wireAf;
  }
}

/**
 * A key's two ports from tunpf's sides (p0 the initiator's), slot 0 being
 * side `first`. ICMP: the id stays in the initiator's slot and pf's virtual
 * type (echo) takes the responder's.
 */
function writeKeyPorts(buf: Uint8Array, o: number, first: number, proto: number, p0: number, p1: number): void {
  if (isIcmp(proto)) p1 = proto === IPPROTO.ICMPV6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
  writeU16(buf, o + KeyOffset.PORT0, first ? p1 : p0);
  writeU16(buf, o + KeyOffset.PORT1, first ? p0 : p1);
}

/**
 * One peer (p = state * 2 + side) as a 32-byte pfsync_state_peer (zeroed before), with its reassemble tcp
 * data when it has some (pf_state_peer_hton: the timestamp flag, TTL and modulation).
 */
function writePeer(t: StateTable, p: number, seqdiff: number, buf: Uint8Array, o: number): void {
  writePeerTracking(buf, o, t.seqlo[p]!, t.seqhi[p]!, seqdiff, t.maxWin[p]!, t.peerState[p]!, t.wscale[p]!);
  const sc = t.tcpScrub;
  const slot = sc.slotOf(p >>> 1);
  if (slot < 0) return;
  const row = slot * 2 + (p & 1);
  if ((sc.flags[row]! & PFSS_PRESENT) === 0) return;
  writeU16(buf, o + P.SCRUB_FLAGS, sc.flags[row]! & PfssFlag.TIMESTAMP);
  buf[o + P.SCRUB_TTL] = sc.ttl[row]!;
  buf[o + P.SCRUB_FLAG] = SCRUB_FLAG_VALID;
  writeU32(buf, o + P.SCRUB_TS_MOD, sc.tsMod[row]!);
}

/** The state a message of `action` at buf[off] names by (creatorid, id); -1 when none or the action names none. */
export function findStateOf(t: StateTable, action: number, buf: Uint8Array, off: number): number {
  const c = CreatorOffset[action] ?? -1;
  if (c < 0 || action === PfsyncAction.CLR || action === PfsyncAction.BUS) return -1;
  // the id leads every message that has one (StateOffset.ID = UpdCOffset.ID = IdMessageOffset.ID = 0)
  return t.findById(readU32(buf, off + c), readU32(buf, off + StateOffset.ID), readU32(buf, off + StateOffset.ID + 4));
}

function validAf(af: number): boolean {
  return af === WireAf.INET || af === WireAf.INET6;
}

function badPeerStates(src: number, dst: number): boolean {
  return src > PFSYNC.MAX_PEER_STATE || dst > PFSYNC.MAX_PEER_STATE;
}

/**
 * OpenBSD's range checks of an INS record (pfsync_in_ins), and the creator
 * check of the import: 0 when the record at buf[off] may be imported, else
 * an ImportError. tunpf refuses timeout classes 14-19 too (see ImportError).
 */
export function validateStateRecord(buf: Uint8Array, off: number): number {
  if (buf[off + StateOffset.TIMEOUT]! >= TIMEOUT_CLASSES) return ImportError.BAD_TIMEOUT;
  if (badPeerStates(buf[off + StateOffset.SRC + PeerOffset.STATE]!, buf[off + StateOffset.DST + PeerOffset.STATE]!))
    return ImportError.BAD_PEER_STATE;
  if (buf[off + StateOffset.DIRECTION]! > Direction.OUT) return ImportError.BAD_DIRECTION;
  const af1 = buf[off + StateOffset.KEY_WIRE + KeyOffset.AF]!;
  const af2 = buf[off + StateOffset.KEY_STACK + KeyOffset.AF]!;
  if (((af1 || af2) && (!validAf(af1) || !validAf(af2))) || !validAf(buf[off + StateOffset.AF]!))
    return ImportError.BAD_AF;
  if (readU32(buf, off + StateOffset.CREATORID) === 0) return ImportError.NO_CREATOR;
  return 0;
}

/**
 * The checks OpenBSD makes on updates (UPD_C and UPD: timeout class and peer
 * states), for the UPD_C message at buf[off]: 0 or an ImportError.
 */
export function validateUpdC(buf: Uint8Array, off: number): number {
  if (buf[off + UpdCOffset.TIMEOUT]! >= TIMEOUT_CLASSES) return ImportError.BAD_TIMEOUT;
  if (badPeerStates(buf[off + UpdCOffset.SRC + PeerOffset.STATE]!, buf[off + UpdCOffset.DST + PeerOffset.STATE]!))
    return ImportError.BAD_PEER_STATE;
  return 0;
}

/** The same checks on a full record that updates a known state (UPD). */
export function validateUpdate(buf: Uint8Array, off: number): number {
  if (buf[off + StateOffset.TIMEOUT]! >= TIMEOUT_CLASSES) return ImportError.BAD_TIMEOUT;
  if (badPeerStates(buf[off + StateOffset.SRC + PeerOffset.STATE]!, buf[off + StateOffset.DST + PeerOffset.STATE]!))
    return ImportError.BAD_PEER_STATE;
  return 0;
}

export class StateImporter {
  /** After import(): the record asked for an INS_ACK (its sender holds the packet back). */
  ackRequested = false;
  private readonly image = new StateImage();

  /**
   * `ifId(name)` gives the local interface id of an if-bound state's
   * interface, or -1: a state bound to an interface unknown here becomes a
   * floating state (OpenBSD would make an unattached interface, FreeBSD
   * drops the state).
   */
  constructor(
    readonly engine: StateEngine,
    private readonly ifId: (name: string) => number,
    private readonly routes?: () => StateRoutes,
  ) {}
  private readonly rtAddr = new Uint32Array(4);

  /**
   * Validates and imports the record at buf[off] (INS, or UPD of an unknown
   * state) at `now` (seconds), through the state engine with origin PEER
   * (so it is never echoed). Returns the new state's index, or minus an
   * ImportError. The state keeps the sender's identity and no rule, and its
   * times are rebuilt as OpenBSD does (§7.2): creation = now - age; the
   * remaining lifetime is kept relative to our timeout for its class (a
   * record with expire 0 gets a full timeout, as in OpenBSD). With
   * `resync`, a TCP state re-anchors each side's window at its next packet
   * (the windows came from the peer and may lag what it let through).
   */
  import(buf: Uint8Array, off: number, now: number, resync = false): number {
    this.ackRequested = false;
    need(buf, off, STATE_LENGTH, 'state');
    const bad = validateStateRecord(buf, off);
    if (bad) return -bad;
    const wireAf = buf[off + StateOffset.AF]!;
    const wireKeyAf = buf[off + StateOffset.KEY_WIRE + K.AF]! || wireAf;
    const stackKeyAf = buf[off + StateOffset.KEY_STACK + K.AF]! || wireAf;
    if (wireKeyAf !== wireAf || stackKeyAf !== wireAf) return -ImportError.AF_TRANSLATION;
    const img = this.image;
    const af = wireAf === WireAf.INET6 ? 6 : 4;
    const proto = buf[off + StateOffset.PROTO]!;
    const direction = buf[off + StateOffset.DIRECTION]! as DirectionOrAny; // at most OUT: checked first
    const out = direction === Direction.OUT;
    img.af = af;
    img.proto = proto;
    img.direction = direction;
    // side 0 is the initiator: addr[1] for a state made by an outbound packet
    readSides(buf, off + StateOffset.KEY_WIRE, af, out, img.addr0, img.addr1);
    const icmp = isIcmp(proto);
    img.port0 = readU16(buf, off + StateOffset.KEY_WIRE + (out ? K.PORT1 : K.PORT0));
    img.port1 = icmp ? img.port0 : readU16(buf, off + StateOffset.KEY_WIRE + (out ? K.PORT0 : K.PORT1));
    const k = off + StateOffset.KEY_STACK;
    readSides(buf, k, af, out, img.stackAddr, img.stackAddr, 4);
    img.stackPort[0] = readU16(buf, k + (out ? K.PORT1 : K.PORT0));
    img.stackPort[1] = icmp ? img.stackPort[0]! : readU16(buf, k + (out ? K.PORT0 : K.PORT1));
    img.hasStackKey = !sameKeys(img);
    img.bound = this.boundOf(buf, off + StateOffset.IFNAME);
    img.creator = readU32(buf, off + StateOffset.CREATORID);
    img.idHi = readU32(buf, off + StateOffset.ID);
    img.idLo = readU32(buf, off + StateOffset.ID + 4);
    readPeer(buf, off + StateOffset.SRC, img.peer[0]);
    readPeer(buf, off + StateOffset.DST, img.peer[1]);
    const sec = Math.floor(now);
    const cls = buf[off + StateOffset.TIMEOUT]!;
    img.timeoutClass = cls;
    img.creation = clampU32(sec - readU32(buf, off + StateOffset.CREATION));
    const left = readU32(buf, off + StateOffset.EXPIRE);
    img.lastActive = left === 0 ? sec : clampU32(sec - (this.engine.timeouts.timeout(NO_RULE, cls, 0) - left));
    img.log = buf[off + StateOffset.LOG]!;
    const rt = buf[off + StateOffset.RT]!;
    img.route =
      rt !== 0 && this.routes
        ? this.routes().find(rt, af, readAddress(buf, off + StateOffset.RT_ADDR, this.rtAddr))
        : 0;
    img.packets[0] = clampU32(readU64(buf, off + StateOffset.PACKETS));
    img.packets[1] = clampU32(readU64(buf, off + StateOffset.PACKETS + 8));
    img.bytes[0] = readU64(buf, off + StateOffset.BYTES);
    img.bytes[1] = readU64(buf, off + StateOffset.BYTES + 8);
    const flags = readU16(buf, off + StateOffset.STATE_FLAGS);
    img.flags = (flags & WIRE_FLAGS) | (resync && proto === IPPROTO.TCP ? RESYNC : 0);
    const i = this.engine.insertImage(img, Origin.PEER);
    if (i < 0) return -(i === -1 ? ImportError.TABLE_FULL : i === -2 ? ImportError.FLOW_EXISTS : ImportError.ID_EXISTS);
    this.ackRequested = (flags & WireStateFlag.ACK) !== 0;
    return i;
  }

  /** "all" (the usual case) without decoding the name; otherwise the interface by name, floating when unknown. */
  private boundOf(buf: Uint8Array, o: number): number {
    if (buf[o] === 0x61 && buf[o + 1] === 0x6c && buf[o + 2] === 0x6c && buf[o + 3] === 0) return FLOATING;
    const id = this.ifId(readName(buf, o));
    return id >= 0 && id < FLOATING ? id : FLOATING;
  }
}

/**
 * A key's two addresses as tunpf's sides (side 0 the initiator: addr[1] of
 * a state made outbound), 4 words each (IPv4: word 0, the rest zero whatever
 * the slot holds), into side0[0..4] and side1[at..at + 4].
 */
function readSides(
  buf: Uint8Array,
  k: number,
  af: number,
  out: boolean,
  side0: Uint32Array,
  side1: Uint32Array,
  at = 0,
): void {
  const a0 = k + (out ? K.ADDR1 : K.ADDR0);
  const a1 = k + (out ? K.ADDR0 : K.ADDR1);
  for (let w = 0; w < 4; w++) {
    side0[w] = af === 4 && w > 0 ? 0 : readU32(buf, a0 + 4 * w);
    side1[at + w] = af === 4 && w > 0 ? 0 : readU32(buf, a1 + 4 * w);
  }
}

/** Whether the image's stack key equals its wire key as tunpf keeps them (rdomain and ICMP's type are not kept). */
function sameKeys(img: StateImage): boolean {
  const a = img.stackAddr;
  for (let w = 0; w < 4; w++) if (a[w] !== img.addr0[w] || a[4 + w] !== img.addr1[w]) return false;
  return img.stackPort[0] === img.port0 && img.stackPort[1] === img.port1;
}

function clampU32(v: number): number {
  return v < 0 ? 0 : v > 0xffffffff ? 0xffffffff : v;
}
