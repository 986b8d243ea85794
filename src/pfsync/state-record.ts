// Between the state table and pfsync's records (spec §5.2, §7, §7.2):
// StateExporter writes a state's 264-byte record (INS, UPD, DEL), its UPD_C
// or its identity straight from the typed arrays into a buffer; StateImporter
// validates a received record and inserts the state under the peer's
// identity. Neither allocates per record (except a state's sparse extras:
// sequence modulation, a stack key that differs from the wire key).
//
// Orientation. tunpf's side 0 is the initiator, and so is pfsync's src peer.
// A pfsync key is oriented by direction instead: index 0 is the source of
// inbound packets. For a state made by an inbound packet that is the
// initiator; for one made by an outbound packet, addr[0] is that packet's
// destination, the responder.
//
// ICMP. tunpf keys a query state by its id in both port slots; pf puts the
// id in the initiator's slot and the query type (pf's "virtual type") in the
// responder's. tunpf does not keep the type, so echo is assumed on export
// (8, or 128 for ICMPv6); on import the initiator's slot gives the id.

import { IPPROTO } from '../packet/meta.js';
import { FLOATING, NO_RULE, StateFlag, TIMEOUT_CLASSES } from '../state/constants.js';
import type { StateEngine } from '../state/state-engine.js';
import { KEY_WORDS, type StateTable } from '../state/state-table.js';
import {
  CreatorOffset, KEY_LENGTH, KeyOffset, PeerOffset, STATE_LENGTH, StateOffset, UpdCOffset,
  readU16, readU32, readU64, writeIdMessage, writeU16, writeU32, writeU64,
} from './codec.js';
import { Direction, ImportError, MessageLength, Action, PFSYNC, SyncFlag, WireAf, WireStateFlag } from './constants.js';

/** tunpf state flags that pfsync carries (same bits on the wire). FROM_PEER never leaves. */
const WIRE_FLAGS = StateFlag.ALLOWOPTS | StateFlag.SLOPPY | StateFlag.PFLOW | StateFlag.NOSYNC;
const ICMP_ECHO = 8;
const ICMP6_ECHO_REQUEST = 128;
const UPD_C_LENGTH = MessageLength[Action.UPD_C]!;

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
}

export class StateExporter {
  /** Encoded interface names by id (names of ids do not change). */
  private readonly names: (Uint8Array | undefined)[] = [];

  constructor(
    readonly table: StateTable,
    private readonly source: ExportSource,
  ) {}

  /** An exporter reading timeouts from the engine. */
  static forEngine(engine: StateEngine, ifName: (ifId: number) => string): StateExporter {
    return new StateExporter(engine.table, { ifName, expiresIn: (i, now) => engine.expiresIn(i, now) });
  }

  /**
   * Writes state i's 264-byte record at buf[off] as it stands at `now`
   * (seconds). `extraFlags` is or-ed into state_flags (WireStateFlag.ACK for a
   * deferred packet).
   */
  writeState(i: number, now: number, buf: Uint8Array, off: number, extraFlags = 0): void {
    const t = this.table;
    if (off < 0 || off + STATE_LENGTH > buf.length) throw new RangeError(`a pfsync state needs ${STATE_LENGTH} bytes at offset ${off}`);
    buf.fill(0, off, off + STATE_LENGTH);
    writeU32(buf, off + StateOffset.ID, t.idHi[i]!);
    writeU32(buf, off + StateOffset.ID + 4, t.idLo[i]!);
    const name = this.nameBytes(t.ifId[i]!);
    for (let k = 0; k < name.length && k < PFSYNC.IFNAME_LENGTH - 1; k++) buf[off + StateOffset.IFNAME + k] = name[k]!;
    const af = t.afOf(i);
    const wireAf = af === 6 ? WireAf.INET6 : WireAf.INET;
    this.writeWireKey(i, wireAf, buf, off + StateOffset.KEY_WIRE);
    const stack = t.stackKeys.get(i);
    if (stack) this.writeStackKey(i, stack, wireAf, buf, off + StateOffset.KEY_STACK);
    else buf.copyWithin(off + StateOffset.KEY_STACK, off + StateOffset.KEY_WIRE, off + StateOffset.KEY_WIRE + KEY_LENGTH);
    const seqDiff = t.seqDiff.get(i);
    writePeer(t, i * 2, seqDiff ? seqDiff[0]! : 0, buf, off + StateOffset.SRC);
    writePeer(t, i * 2 + 1, seqDiff ? seqDiff[1]! : 0, buf, off + StateOffset.DST);
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
    if (t.srcNode[i]! >= 0) buf[off + StateOffset.SYNC_FLAGS] = SyncFlag.SRCNODE;
    writeU16(buf, off + StateOffset.STATE_FLAGS, (t.flags[i]! & WIRE_FLAGS) | extraFlags);
  }

  /** Writes state i's UPD_C message (84 bytes) at buf[off], as OpenBSD fills it (expire and state_flags 0). */
  writeUpdC(i: number, buf: Uint8Array, off: number): void {
    const t = this.table;
    if (off < 0 || off + UPD_C_LENGTH > buf.length) throw new RangeError(`a pfsync UPD_C needs ${UPD_C_LENGTH} bytes at offset ${off}`);
    buf.fill(0, off, off + UPD_C_LENGTH);
    writeU32(buf, off, t.idHi[i]!);
    writeU32(buf, off + 4, t.idLo[i]!);
    const seqDiff = t.seqDiff.get(i);
    writePeer(t, i * 2, seqDiff ? seqDiff[0]! : 0, buf, off + UpdCOffset.SRC);
    writePeer(t, i * 2 + 1, seqDiff ? seqDiff[1]! : 0, buf, off + UpdCOffset.DST);
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
    const proto = t.protoOf(i);
    const p0 = t.portOf(i, 0);
    const p1 = isIcmp(proto) ? (proto === IPPROTO.ICMPV6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO) : t.portOf(i, 1);
    writeU16(buf, o + KeyOffset.PORT0, first ? p1 : p0);
    writeU16(buf, o + KeyOffset.PORT1, first ? p0 : p1);
    buf[o + KeyOffset.AF] = wireAf;
  }

  private writeStackKey(i: number, sk: { addr: Uint32Array; port: Uint16Array }, wireAf: number, buf: Uint8Array, o: number): void {
    const first = this.table.direction[i] === Direction.OUT ? 1 : 0;
    for (let w = 0; w < 4; w++) {
      writeU32(buf, o + KeyOffset.ADDR0 + 4 * w, sk.addr[first * 4 + w]!);
      writeU32(buf, o + KeyOffset.ADDR1 + 4 * w, sk.addr[(1 - first) * 4 + w]!);
    }
    writeU16(buf, o + KeyOffset.PORT0, sk.port[first]!);
    writeU16(buf, o + KeyOffset.PORT1, sk.port[1 - first]!);
    buf[o + KeyOffset.AF] = wireAf;
  }
}

/** One peer (p = state * 2 + side) as a 32-byte pfsync_state_peer; no scrub data. */
function writePeer(t: StateTable, p: number, seqdiff: number, buf: Uint8Array, o: number): void {
  writeU32(buf, o + PeerOffset.SEQLO, t.seqlo[p]!);
  writeU32(buf, o + PeerOffset.SEQHI, t.seqhi[p]!);
  writeU32(buf, o + PeerOffset.SEQDIFF, seqdiff);
  writeU16(buf, o + PeerOffset.MAX_WIN, t.maxWin[p]!);
  buf[o + PeerOffset.STATE] = t.peerState[p]!;
  buf[o + PeerOffset.WSCALE] = t.wscale[p]!;
}

/**
 * Copies a received pfsync_state_peer (32 bytes at buf[off], from a state
 * record or an UPD_C) into side `side` (0 = src, 1 = dst) of state i:
 * seqlo, seqhi, max_win, wscale, state and the sequence modulation. For
 * the merge rules of spec §7.1, which decide whether to call it.
 */
export function copyPeerToState(buf: Uint8Array, off: number, t: StateTable, i: number, side: number): void {
  const p = i * 2 + side;
  t.seqlo[p] = readU32(buf, off + PeerOffset.SEQLO);
  t.seqhi[p] = readU32(buf, off + PeerOffset.SEQHI);
  t.maxWin[p] = readU16(buf, off + PeerOffset.MAX_WIN);
  t.wscale[p] = buf[off + PeerOffset.WSCALE]!;
  t.peerState[p] = buf[off + PeerOffset.STATE]!;
  const seqdiff = readU32(buf, off + PeerOffset.SEQDIFF);
  const known = t.seqDiff.get(i);
  if (known) {
    known[side] = seqdiff;
    if (known[0] === 0 && known[1] === 0) t.seqDiff.delete(i);
  } else if (seqdiff !== 0) {
    const d = new Uint32Array(2);
    d[side] = seqdiff;
    t.seqDiff.set(i, d);
  }
}

/** The state a message of `action` at buf[off] names by (creatorid, id); -1 when none or the action names none. */
export function findStateOf(t: StateTable, action: number, buf: Uint8Array, off: number): number {
  const c = CreatorOffset[action] ?? -1;
  if (c < 0 || action === Action.CLR || action === Action.BUS) return -1;
  return t.findById(readU32(buf, off + c), readU32(buf, off), readU32(buf, off + 4));
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
  if (badPeerStates(buf[off + StateOffset.SRC + PeerOffset.STATE]!, buf[off + StateOffset.DST + PeerOffset.STATE]!)) return ImportError.BAD_PEER_STATE;
  if (buf[off + StateOffset.DIRECTION]! > Direction.OUT) return ImportError.BAD_DIRECTION;
  const af1 = buf[off + StateOffset.KEY_WIRE + KeyOffset.AF]!;
  const af2 = buf[off + StateOffset.KEY_STACK + KeyOffset.AF]!;
  if (((af1 || af2) && (!validAf(af1) || !validAf(af2))) || !validAf(buf[off + StateOffset.AF]!)) return ImportError.BAD_AF;
  if (readU32(buf, off + StateOffset.CREATORID) === 0) return ImportError.NO_CREATOR;
  return 0;
}

/**
 * The checks OpenBSD makes on updates (UPD_C and UPD: timeout class and peer
 * states), for the UPD_C message at buf[off]: 0 or an ImportError.
 */
export function validateUpdC(buf: Uint8Array, off: number): number {
  if (buf[off + UpdCOffset.TIMEOUT]! >= TIMEOUT_CLASSES) return ImportError.BAD_TIMEOUT;
  if (badPeerStates(buf[off + UpdCOffset.SRC + PeerOffset.STATE]!, buf[off + UpdCOffset.DST + PeerOffset.STATE]!)) return ImportError.BAD_PEER_STATE;
  return 0;
}

/** The same checks on a full record that updates a known state (UPD). */
export function validateUpdate(buf: Uint8Array, off: number): number {
  if (buf[off + StateOffset.TIMEOUT]! >= TIMEOUT_CLASSES) return ImportError.BAD_TIMEOUT;
  if (badPeerStates(buf[off + StateOffset.SRC + PeerOffset.STATE]!, buf[off + StateOffset.DST + PeerOffset.STATE]!)) return ImportError.BAD_PEER_STATE;
  return 0;
}

export class StateImporter {
  /** After import(): the record asked for an INS_ACK (its sender holds the packet back). */
  ackRequested = false;
  private readonly side0 = new Uint32Array(4);
  private readonly side1 = new Uint32Array(4);

  /**
   * `ifId(name)` gives the local interface id of an if-bound state's
   * interface, or -1: a state bound to an interface unknown here becomes a
   * floating state (OpenBSD would make an unattached interface, FreeBSD
   * drops the state).
   */
  constructor(
    readonly engine: StateEngine,
    private readonly ifId: (name: string) => number,
  ) {}

  /**
   * Validates and imports the record at buf[off] (INS, or UPD of an unknown
   * state) at `now` (seconds). Returns the new state's index, or minus an
   * ImportError. The state keeps the sender's identity and no rule, is
   * flagged FROM_PEER (never echoed), and its times are rebuilt as OpenBSD
   * does (§7.2): creation = now - age; the remaining lifetime is kept
   * relative to our timeout for its class (a record with expire 0 gets a
   * full timeout, as in OpenBSD).
   */
  import(buf: Uint8Array, off: number, now: number): number {
    this.ackRequested = false;
    if (off < 0 || off + STATE_LENGTH > buf.length) throw new RangeError(`a pfsync state needs ${STATE_LENGTH} bytes at offset ${off}`);
    const bad = validateStateRecord(buf, off);
    if (bad) return -bad;
    const wireAf = buf[off + StateOffset.AF]!;
    const wireKeyAf = buf[off + StateOffset.KEY_WIRE + KeyOffset.AF]! || wireAf;
    const stackKeyAf = buf[off + StateOffset.KEY_STACK + KeyOffset.AF]! || wireAf;
    if (wireKeyAf !== wireAf || stackKeyAf !== wireAf) return -ImportError.AF_TRANSLATION;
    const af = wireAf === WireAf.INET6 ? 6 : 4;
    const proto = buf[off + StateOffset.PROTO]!;
    const direction = buf[off + StateOffset.DIRECTION]!;
    const out = direction === Direction.OUT;
    const k = off + StateOffset.KEY_WIRE;
    // side 0 is the initiator: addr[1] for a state made by an outbound packet
    readWords(buf, k + (out ? KeyOffset.ADDR1 : KeyOffset.ADDR0), af, this.side0);
    readWords(buf, k + (out ? KeyOffset.ADDR0 : KeyOffset.ADDR1), af, this.side1);
    let sport = readU16(buf, k + (out ? KeyOffset.PORT1 : KeyOffset.PORT0));
    let dport = readU16(buf, k + (out ? KeyOffset.PORT0 : KeyOffset.PORT1));
    if (isIcmp(proto)) dport = sport; // the id sits in the initiator's slot
    const bound = this.boundOf(buf, off + StateOffset.IFNAME);
    const e = this.engine;
    const t = e.table;
    const i = e.insertSynced(af, proto, this.side0, sport, this.side1, dport, bound, readU32(buf, off + StateOffset.CREATORID), readU32(buf, off), readU32(buf, off + 4), direction);
    if (i < 0) return -(i === -1 ? ImportError.TABLE_FULL : i === -2 ? ImportError.FLOW_EXISTS : ImportError.ID_EXISTS);
    copyPeerToState(buf, off + StateOffset.SRC, t, i, 0);
    copyPeerToState(buf, off + StateOffset.DST, t, i, 1);
    if (!isIcmp(proto) && !sameKeys(buf, off, af)) this.keepStackKey(buf, off + StateOffset.KEY_STACK, af, out, i);
    const sec = Math.floor(now);
    const cls = buf[off + StateOffset.TIMEOUT]!;
    t.timeoutClass[i] = cls;
    t.creation[i] = clampU32(sec - readU32(buf, off + StateOffset.CREATION));
    const left = readU32(buf, off + StateOffset.EXPIRE);
    t.lastActive[i] = left === 0 ? sec : clampU32(sec - (e.timeouts.timeout(NO_RULE, cls, 0) - left));
    t.direction[i] = direction;
    t.log[i] = buf[off + StateOffset.LOG]!;
    t.packets[i * 2] = clampU32(readU64(buf, off + StateOffset.PACKETS));
    t.packets[i * 2 + 1] = clampU32(readU64(buf, off + StateOffset.PACKETS + 8));
    t.bytes[i * 2] = readU64(buf, off + StateOffset.BYTES);
    t.bytes[i * 2 + 1] = readU64(buf, off + StateOffset.BYTES + 8);
    const flags = readU16(buf, off + StateOffset.STATE_FLAGS);
    t.flags[i] = (flags & WIRE_FLAGS) | StateFlag.FROM_PEER;
    this.ackRequested = (flags & WireStateFlag.ACK) !== 0;
    return i;
  }

  /** "all" (the usual case) without decoding the name; otherwise the interface by name, floating when unknown. */
  private boundOf(buf: Uint8Array, o: number): number {
    if (buf[o] === 0x61 && buf[o + 1] === 0x6c && buf[o + 2] === 0x6c && buf[o + 3] === 0) return FLOATING;
    let end = o;
    while (end < o + PFSYNC.IFNAME_LENGTH && buf[end] !== 0) end++;
    const id = this.ifId(decoder.decode(buf.subarray(o, end)));
    return id >= 0 && id < FLOATING ? id : FLOATING;
  }

  private keepStackKey(buf: Uint8Array, k: number, af: number, out: boolean, i: number): void {
    const addr = new Uint32Array(8);
    readWords(buf, k + (out ? KeyOffset.ADDR1 : KeyOffset.ADDR0), af, addr.subarray(0, 4));
    readWords(buf, k + (out ? KeyOffset.ADDR0 : KeyOffset.ADDR1), af, addr.subarray(4, 8));
    const port = Uint16Array.of(readU16(buf, k + (out ? KeyOffset.PORT1 : KeyOffset.PORT0)), readU16(buf, k + (out ? KeyOffset.PORT0 : KeyOffset.PORT1)));
    this.engine.table.stackKeys.set(i, { addr, port });
  }
}

const decoder = new TextDecoder();

/** An address slot as tunpf's 4 words (IPv4: word 0, the rest zero whatever the slot holds). */
function readWords(buf: Uint8Array, o: number, af: number, out: Uint32Array): void {
  for (let w = 0; w < 4; w++) out[w] = af === 4 && w > 0 ? 0 : readU32(buf, o + 4 * w);
}

/** Whether the stack key's addresses and ports equal the wire key's (rdomain is not kept by tunpf). */
function sameKeys(buf: Uint8Array, off: number, af: number): boolean {
  const a = off + StateOffset.KEY_WIRE;
  const b = off + StateOffset.KEY_STACK;
  const n = af === 4 ? 4 : 16;
  for (let k = 0; k < n; k++) if (buf[a + k] !== buf[b + k] || buf[a + 16 + k] !== buf[b + 16 + k]) return false;
  return readU32(buf, a + KeyOffset.PORT0) === readU32(buf, b + KeyOffset.PORT0);
}

function clampU32(v: number): number {
  return v < 0 ? 0 : v > 0xffffffff ? 0xffffffff : v;
}
