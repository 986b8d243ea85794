// Randomised round trips of every pfsync message codec: random fields encode
// to the codec's length, decode to the same fields, and encode again to the
// same bytes; bytes already in the buffer never leak into a message.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageCodec, bus, clr, eof, header, subheader, tdb } from '../../src/pfsync/codec.js';
import {
  delC,
  insAck,
  stateKey,
  statePeer,
  state,
  updC,
  updReq,
  type StateKey,
  type StatePeer,
  type StateRecord,
} from '../../src/pfsync/state-record.js';
import { type Codec } from '../../src/pfsync/wire.js';
import { PfsyncAction, MessageLength } from '../../src/pfsync/constants.js';
import { randomSource } from './helpers/random.js';

const rnd = randomSource('pfsync codec round trip');
const u8 = () => (rnd() * 256) >>> 0;
const u16 = () => (rnd() * 65536) >>> 0;
const u32 = () => (rnd() * 4294967296) >>> 0;
const counter = () => (rnd() < 0.3 ? u32() : Math.floor(rnd() * 2 ** 53));
const i32 = () => u32() | 0;
const words = () => Uint32Array.of(u32(), u32(), u32(), u32());
const name = () => {
  const n = (rnd() * 16) | 0; // 0..15 characters
  let s = '';
  for (let k = 0; k < n; k++) s += String.fromCharCode(0x21 + ((rnd() * 94) | 0));
  return s;
};
const bytes = (n: number) => Uint8Array.from({ length: n }, u8);

const peer = (): StatePeer => ({
  scrubFlags: u16(),
  scrubTtl: u8(),
  scrubFlag: u8(),
  scrubTsMod: u32(),
  seqlo: u32(),
  seqhi: u32(),
  seqdiff: u32(),
  maxWin: u16(),
  mss: u16(),
  state: u8(),
  wscale: u8(),
});
const key = (): StateKey => ({ addr: [words(), words()], port: [u16(), u16()], rdomain: u16(), af: u8() });
const record = (): StateRecord => ({
  idHi: u32(),
  idLo: u32(),
  ifname: name(),
  key: [key(), key()],
  src: peer(),
  dst: peer(),
  rtAddr: words(),
  rule: u32(),
  anchor: u32(),
  natRule: u32(),
  creation: u32(),
  expire: u32(),
  packets: [counter(), counter()],
  bytes: [counter(), counter()],
  creatorid: u32(),
  rtableid: [i32(), i32()],
  maxMss: u16(),
  af: u8(),
  proto: u8(),
  direction: u8(),
  log: u8(),
  rt: u8(),
  timeout: u8(),
  syncFlags: u8(),
  updates: u8(),
  minTtl: u8(),
  setTos: u8(),
  stateFlags: u16(),
  setPrio: [u8(), u8()],
});

function roundTrip<T>(what: string, codec: Codec<T>, make: () => T, size: number, rounds = 300): void {
  for (let r = 0; r < rounds; r++) {
    const obj = make();
    assert.equal(codec.encodingLength(obj), size, `${what} length`);
    const at = (rnd() * 8) | 0;
    const dirty = new Uint8Array(at + size + 8).fill(0xa5);
    const clean = new Uint8Array(at + size + 8);
    codec.encode(obj, dirty, at);
    codec.encode(obj, clean, at);
    assert.deepEqual(
      dirty.subarray(at, at + size),
      clean.subarray(at, at + size),
      `${what}: every byte (padding too) is written`,
    );
    assert.ok(
      dirty.subarray(at + size).every((b) => b === 0xa5) && dirty.subarray(0, at).every((b) => b === 0xa5),
      `${what}: nothing outside`,
    );
    const back = codec.decode(dirty, at);
    assert.deepEqual(back, obj, `${what} fields`);
    assert.deepEqual(codec.encode(back), dirty.slice(at, at + size), `${what} re-encoded`);
  }
}

test('header and subheader', () => {
  roundTrip('header', header, () => ({ version: u8(), len: u16(), pfcksum: bytes(16) }), 20);
  roundTrip('subheader', subheader, () => ({ action: u8(), len: u8(), count: u16() }), 4);
});

test('peer (32) and key (40)', () => {
  roundTrip('peer', statePeer, peer, 32);
  roundTrip('key', stateKey, key, 40);
});

test('full state (264): INS, UPD and DEL share it', () => {
  roundTrip('state', state, record, 264);
  for (const a of [PfsyncAction.INS, PfsyncAction.UPD, PfsyncAction.DEL]) assert.equal(MessageCodec[a], state);
});

test('UPD_C (84)', () => {
  roundTrip(
    'UPD_C',
    updC,
    () => ({
      idHi: u32(),
      idLo: u32(),
      src: peer(),
      dst: peer(),
      creatorid: u32(),
      expire: u32(),
      timeout: u8(),
      stateFlags: u8(),
    }),
    84,
  );
});

test('INS_ACK, UPD_REQ, DEL_C (12)', () => {
  for (const [what, c] of [
    ['INS_ACK', insAck],
    ['UPD_REQ', updReq],
    ['DEL_C', delC],
  ] as const)
    roundTrip(what, c, () => ({ idHi: u32(), idLo: u32(), creatorid: u32() }), 12);
});

test('CLR (20), BUS (12), TDB (52), EOF (0)', () => {
  roundTrip('CLR', clr, () => ({ ifname: name(), creatorid: u32() }), 20);
  roundTrip('BUS', bus, () => ({ creatorid: u32(), endtime: u32(), status: u8() }), 12);
  roundTrip(
    'TDB',
    tdb,
    () => ({
      spi: u32(),
      dst: bytes(28),
      rpl: counter(),
      curBytes: counter(),
      sproto: u8(),
      updates: u8(),
      rdomain: u16(),
    }),
    52,
  );
  roundTrip('EOF', eof, () => ({}), 0);
});

test('the codec table matches the message sizes', () => {
  for (let a = 0; a < 16; a++) {
    const c = MessageCodec[a];
    if (c) assert.equal(c.encodingLength(), MessageLength[a], `action ${a}`);
    else assert.equal(MessageLength[a], 0, `action ${a} has no layout`);
  }
});

test('names are cut to 15 bytes so they stay NUL-terminated; counters beyond 64 bits saturate', () => {
  const b = clr.encode({ ifname: 'abcdefghijklmnopqrstuvwxyz', creatorid: 1 });
  assert.equal(b[15], 0);
  assert.equal(clr.decode(b).ifname, 'abcdefghijklmno');
  const r = record();
  r.packets = [2 ** 70, -5];
  const back = state.decode(state.encode(r));
  assert.deepEqual(back.packets, [0xffffffff * 4294967296 + 0xffffffff, 0]);
});

test('short buffers are a RangeError, not garbage', () => {
  assert.throws(() => state.decode(new Uint8Array(263)), RangeError);
  assert.throws(
    () =>
      updC.encode(
        { idHi: 0, idLo: 0, src: peer(), dst: peer(), creatorid: 0, expire: 0, timeout: 0, stateFlags: 0 },
        new Uint8Array(100),
        20,
      ),
    RangeError,
  );
  assert.throws(() => header.decode(new Uint8Array(30), 11), RangeError);
});
