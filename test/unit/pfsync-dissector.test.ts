// contrib/wireshark/pfsync.lua against the codec: packets built by tunpf's
// pfsync codec (several actions, IPv4 and IPv6 states), wrapped in IPv4 as
// pfsync sends them and written to a pcap, are decoded by tshark with the
// Lua dissector to exactly the fields that were encoded. Malformed packets
// get expert info, and no input makes the dissector fail.
// Needs tshark (Debian package `tshark`); skipped without it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { formatAddress, parseAddress } from '../../src/packet/address.js';
import { PcapWriter } from '../../src/packet/capture-file.js';
import * as ipv4 from '../../src/packet/ipv4.js';
import { PacketBuilder, bus, clr, tdb } from '../../src/pfsync/codec.js';
import {
  delC,
  insAck,
  state,
  updC,
  updReq,
  type StateKey,
  type StateRecord,
  type UpdCompressed,
} from '../../src/pfsync/state-record.js';
import { writeU16 } from '../../src/pfsync/wire.js';
import { PfsyncAction, BusStatus, PFSYNC } from '../../src/pfsync/constants.js';
import { repoRoot } from './helpers/paths.js';
import { randomSource } from './helpers/random.js';
import { peer } from './helpers/state-peer.js';

const LUA = join(repoRoot, 'contrib/wireshark/pfsync.lua');
const LINKTYPE_RAW = 101;
const probe = spawnSync('tshark', ['-v'], { encoding: 'utf8' });
const skip = probe.error || probe.status !== 0 ? 'tshark is not installed (Debian package tshark)' : false;

const words = (s: string) => parseAddress(s)!.words;
const hex32 = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
const hex64 = (hi: number, lo: number) =>
  `0x${(hi >>> 0).toString(16).padStart(8, '0')}${(lo >>> 0).toString(16).padStart(8, '0')}`;
const key = (a: string, ap: number, b: string, bp: number, af: number): StateKey => ({
  addr: [words(a), words(b)],
  port: [ap, bp],
  rdomain: 0,
  af,
});

function record(
  o: Partial<StateRecord> & Pick<StateRecord, 'idHi' | 'idLo' | 'key' | 'af' | 'proto' | 'direction' | 'creatorid'>,
): StateRecord {
  return {
    ifname: 'all',
    src: peer({}),
    dst: peer({}),
    rtAddr: new Uint32Array(4),
    rule: 0xffffffff,
    anchor: 0xffffffff,
    natRule: 0xffffffff,
    creation: 0,
    expire: 0,
    packets: [0, 0],
    bytes: [0, 0],
    rtableid: [-1, -1],
    maxMss: 0,
    log: 0,
    rt: 0,
    timeout: 0,
    syncFlags: 0,
    updates: 0,
    minTtl: 0,
    setTos: 0,
    stateFlags: 0,
    setPrio: [0, 0],
    ...o,
  };
}

const V4: StateRecord = record({
  idHi: 0x6744d0a1,
  idLo: 7,
  creatorid: 0x1d2c3b4a,
  af: 2,
  proto: 6,
  direction: 1,
  rule: 3,
  key: [key('10.0.0.5', 51234, '192.0.2.80', 443, 2), key('10.0.0.5', 51234, '192.0.2.80', 443, 2)],
  src: peer({ seqlo: 1000000, seqhi: 1000002, maxWin: 502, state: 2, wscale: 0x87 }),
  dst: peer({ seqhi: 1, maxWin: 1 }),
  creation: 5,
  expire: 115,
  packets: [3, 2],
  bytes: [180, 2 ** 40 + 5],
  timeout: 1,
  stateFlags: 0x0012,
});
const V6: StateRecord = record({
  idHi: 0x11111111,
  idLo: 0x22222222,
  creatorid: 0xfeedf00d,
  af: 24,
  proto: 17,
  direction: 2,
  ifname: 'em0',
  key: [
    key('2001:db8:ff::53', 53, '2001:db8:1::10', 40001, 24),
    key('2001:db8:ff::53', 53, '2001:db8:1::10', 40001, 24),
  ],
  src: peer({ state: 2 }),
  dst: peer({ state: 1 }),
  creation: 1000,
  expire: 60,
  packets: [10, 9],
  bytes: [1000, 900],
  timeout: 8,
});
const V6_BULK: StateRecord = {
  ...V6,
  idLo: 0x33333333,
  key: [key('2001:db8::1', 22, '2001:db8::2', 5555, 24), key('2001:db8::1', 22, '2001:db8::2', 5555, 24)],
  proto: 6,
  timeout: 2,
};
const UPDCS: UpdCompressed[] = [
  {
    idHi: 0x6744d0a1,
    idLo: 7,
    src: peer({ seqlo: 1000500, seqhi: 1065000, maxWin: 600, state: 4, wscale: 0x87 }),
    dst: peer({ seqlo: 7000400, seqhi: 7100000, maxWin: 700, state: 4, wscale: 0x87 }),
    creatorid: 0x1d2c3b4a,
    expire: 0,
    timeout: 2,
    stateFlags: 0,
  },
  {
    idHi: 0x6744d0a1,
    idLo: 8,
    src: peer({ seqlo: 5, state: 9 }),
    dst: peer({ seqlo: 6, state: 10 }),
    creatorid: 0x1d2c3b4a,
    expire: 0,
    timeout: 5,
    stateFlags: 0,
  },
];

/** The pfsync bytes wrapped as OpenBSD sends them: IPv4, TTL 255, TOS 0x10, DF, to the group. */
function ip(payload: Uint8Array): Uint8Array {
  return ipv4.encode({
    src: '192.0.2.2',
    dst: PFSYNC.GROUP_V4,
    protocol: PFSYNC.PROTO,
    ttl: PFSYNC.TTL,
    tos: PFSYNC.TOS,
    id: 0x2b1f,
    flags: ipv4.IPV4_FLAG_DF,
    payload,
  });
}

function buildPackets(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const b = new PacketBuilder(1500);
  // normal traffic, added out of order: the builder sorts the sections
  updC.encode(UPDCS[0]!, b.buf, b.add(PfsyncAction.UPD_C));
  state.encode(V6, b.buf, b.add(PfsyncAction.INS));
  delC.encode({ idHi: 0xaaaaaaaa, idLo: 0xbbbbbbbb, creatorid: 0xcccccccc }, b.buf, b.add(PfsyncAction.DEL_C));
  state.encode(V4, b.buf, b.add(PfsyncAction.INS));
  insAck.encode({ idHi: 1, idLo: 2, creatorid: 3 }, b.buf, b.add(PfsyncAction.INS_ACK));
  updC.encode(UPDCS[1]!, b.buf, b.add(PfsyncAction.UPD_C));
  out.push(ip(b.finish().slice()));
  b.reset();
  clr.encode({ ifname: 'em0', creatorid: 0x1d2c3b4a }, b.buf, b.add(PfsyncAction.CLR));
  out.push(ip(b.finish().slice()));
  b.reset();
  state.encode(V6_BULK, b.buf, b.add(PfsyncAction.UPD));
  bus.encode({ creatorid: 0xfeedf00d, endtime: 0, status: BusStatus.START }, b.buf, b.add(PfsyncAction.BUS));
  out.push(ip(b.finish().slice()));
  b.reset();
  updReq.encode({ idHi: 0, idLo: 0, creatorid: 0 }, b.buf, b.add(PfsyncAction.UPD_REQ));
  updReq.encode({ idHi: 0x6744d0a1, idLo: 9, creatorid: 0x1d2c3b4a }, b.buf, b.add(PfsyncAction.UPD_REQ));
  tdb.encode(
    { spi: 0x1234abcd, dst: new Uint8Array(28), rpl: 99, curBytes: 12345, sproto: 50, updates: 0, rdomain: 0 },
    b.buf,
    b.add(PfsyncAction.TDB),
  );
  out.push(ip(b.finish().slice()));
  return out;
}

/** Raw pfsync bytes: header + the given sections (action, words, count, body). */
function raw(version: number, sections: [number, number, number, number][], lenDelta = 0): Uint8Array {
  const total = 20 + sections.reduce((n, s) => n + 4 + s[3], 0);
  const buf = new Uint8Array(total);
  buf[0] = version;
  writeU16(buf, 2, total + lenDelta);
  let o = 20;
  for (const [a, w, c, body] of sections) {
    buf[o] = a;
    buf[o + 1] = w;
    writeU16(buf, o + 2, c);
    o += 4 + body;
  }
  return buf;
}

const MALFORMED: [string, Uint8Array, RegExp][] = [
  ['version 5', raw(5, [[PfsyncAction.DEL_C, 3, 1, 12]]), /version 5/],
  ['len beyond the packet', raw(6, [[PfsyncAction.DEL_C, 3, 1, 12]], 40), /length 76 with 36 bytes present/],
  ['section overrun', raw(6, [[PfsyncAction.DEL_C, 3, 5, 12]]), /5 messages of 12 bytes, 12 bytes left/],
  ['unskippable section', raw(6, [[99, 0, 3, 0]]), /action 99 with len 0 and count 3/],
  ['shorter than the header', new Uint8Array(10), /10 bytes, the header needs 20/],
];
const SKIPPED = raw(6, [
  [99, 2, 2, 16],
  [PfsyncAction.DEL_C, 3, 1, 12],
]);

const FIELDS = [
  'frame.number',
  'pfsync.version',
  'pfsync.len',
  'pfsync.action',
  'pfsync.count',
  'pfsync.state.id',
  'pfsync.state.creatorid',
  'pfsync.state.ifname',
  'pfsync.key.addr0',
  'pfsync.key.addr1',
  'pfsync.key.addr0_v6',
  'pfsync.key.addr1_v6',
  'pfsync.key.port0',
  'pfsync.key.port1',
  'pfsync.key.af',
  'pfsync.src.seqlo',
  'pfsync.src.seqhi',
  'pfsync.src.max_win',
  'pfsync.src.wscale',
  'pfsync.src.state',
  'pfsync.dst.seqlo',
  'pfsync.dst.seqhi',
  'pfsync.dst.max_win',
  'pfsync.dst.state',
  'pfsync.state.rule',
  'pfsync.state.creation',
  'pfsync.state.expire',
  'pfsync.state.packets0',
  'pfsync.state.packets1',
  'pfsync.state.bytes0',
  'pfsync.state.bytes1',
  'pfsync.state.af',
  'pfsync.state.proto',
  'pfsync.state.direction',
  'pfsync.state.timeout',
  'pfsync.state.state_flags',
  'pfsync.state.state_flags.ack',
  'pfsync.state.rtableid0',
  'pfsync.upd_c.state_flags',
  'pfsync.bus.status',
  'pfsync.bus.creatorid',
  'pfsync.clr.ifname',
  'pfsync.clr.creatorid',
  'pfsync.tdb.spi',
  'pfsync.tdb.rpl',
  'pfsync.tdb.cur_bytes',
  'pfsync.skipped',
  '_ws.expert.message',
] as const;
type Row = Record<(typeof FIELDS)[number], string[]>;

function writePcap(dir: string, packets: Uint8Array[]): string {
  const chunks: Buffer[] = [];
  const w = new PcapWriter((bytes) => chunks.push(Buffer.from(bytes)), LINKTYPE_RAW);
  packets.forEach((p, k) => w.write(1700000000 + k, p));
  const file = join(dir, 'pfsync.pcap');
  writeFileSync(file, Buffer.concat(chunks));
  return file;
}

function tshark(file: string, args: string[]): string {
  const r = spawnSync('tshark', ['-n', '-X', `lua_script:${LUA}`, '-r', file, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /Lua|error/i, r.stderr);
  return r.stdout;
}

function fields(file: string): Row[] {
  const out = tshark(file, [
    '-T',
    'fields',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=|',
    '-E',
    'separator=\t',
    ...FIELDS.flatMap((f) => ['-e', f]),
  ]);
  return out
    .trimEnd()
    .split('\n')
    .map((line) => {
      const cols = line.split('\t');
      return Object.fromEntries(FIELDS.map((f, k) => [f, cols[k] ? cols[k]!.split('|') : []])) as Row;
    });
}

/**
 * Where a record's values sit among the occurrences of each field: `id` for
 * ids and creators (every message has them), `peer` for peers (UPD_C too),
 * `tmo` for expire and timeout (UPD_C too), `st` for fields only full
 * states have, `key` for its first key among all keys, `famKey` among the
 * keys of its address family.
 */
interface At {
  id: number;
  peer: number;
  tmo: number;
  st: number;
  key: number;
  famKey: number;
}

function expectState(r: StateRecord, row: Row, at: At): void {
  const v6 = r.af === 24;
  assert.equal(row['pfsync.state.id'][at.id], hex64(r.idHi, r.idLo));
  assert.equal(row['pfsync.state.creatorid'][at.id], hex32(r.creatorid));
  for (let k = 0; k < 2; k++) {
    const kk = r.key[k]!;
    assert.equal(
      (v6 ? row['pfsync.key.addr0_v6'] : row['pfsync.key.addr0'])[at.famKey + k],
      formatAddress(v6 ? 6 : 4, kk.addr[0]),
      `key ${k} addr0`,
    );
    assert.equal(
      (v6 ? row['pfsync.key.addr1_v6'] : row['pfsync.key.addr1'])[at.famKey + k],
      formatAddress(v6 ? 6 : 4, kk.addr[1]),
      `key ${k} addr1`,
    );
    assert.deepEqual(
      [row['pfsync.key.port0'][at.key + k], row['pfsync.key.port1'][at.key + k], row['pfsync.key.af'][at.key + k]],
      [kk.port[0], kk.port[1], kk.af].map(String),
      `key ${k}`,
    );
  }
  for (const side of ['src', 'dst'] as const) {
    const p = r[side];
    const got = (['seqlo', 'seqhi', 'max_win', 'state'] as const).map((f) => row[`pfsync.${side}.${f}`][at.peer]);
    assert.deepEqual(got, [p.seqlo, p.seqhi, p.maxWin, p.state].map(String), `${side} peer`);
  }
  assert.equal(row['pfsync.src.wscale'][at.peer], `0x${hex2(r.src.wscale)}`);
  assert.deepEqual(
    [row['pfsync.state.expire'][at.tmo], row['pfsync.state.timeout'][at.tmo]],
    [String(r.expire), String(r.timeout)],
  );
  const s = (f: keyof Row) => row[f][at.st];
  assert.deepEqual(
    [
      s('pfsync.state.ifname'),
      s('pfsync.state.rule'),
      s('pfsync.state.creation'),
      s('pfsync.state.packets0'),
      s('pfsync.state.packets1'),
      s('pfsync.state.bytes0'),
      s('pfsync.state.bytes1'),
    ],
    [r.ifname, ...[r.rule, r.creation, r.packets[0], r.packets[1], r.bytes[0], r.bytes[1]].map(String)],
  );
  assert.deepEqual(
    [
      s('pfsync.state.af'),
      s('pfsync.state.proto'),
      s('pfsync.state.direction'),
      s('pfsync.state.state_flags'),
      s('pfsync.state.rtableid0'),
    ],
    [
      String(r.af),
      String(r.proto),
      String(r.direction),
      `0x${r.stateFlags.toString(16).padStart(4, '0')}`,
      String(r.rtableid[0]),
    ],
  );
}
const hex2 = (v: number) => v.toString(16).padStart(2, '0');

test('tshark with pfsync.lua decodes what the codec encoded', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-pfsync-'));
  try {
    const rows = fields(writePcap(dir, buildPackets()));
    assert.equal(rows.length, 4);
    const [p1, p2, p3, p4] = rows as [Row, Row, Row, Row];
    for (const r of rows) assert.deepEqual(r['pfsync.version'], ['6']);

    // packet 1: INS_ACK, UPD_C x2, DEL_C, INS x2 (IPv6 first: the order they were added)
    assert.deepEqual(p1['pfsync.action'], ['2', '4', '7', '13']);
    assert.deepEqual(p1['pfsync.count'], ['1', '2', '1', '2']);
    assert.deepEqual(p1['pfsync.len'], [String(20 + 4 * 4 + 12 + 2 * 84 + 12 + 2 * 264)]);
    // ids in walk order: INS_ACK, UPD_C, UPD_C, DEL_C, INS (v6), INS (v4)
    assert.deepEqual(p1['pfsync.state.id'], [
      hex64(1, 2),
      hex64(UPDCS[0]!.idHi, UPDCS[0]!.idLo),
      hex64(UPDCS[1]!.idHi, UPDCS[1]!.idLo),
      hex64(0xaaaaaaaa, 0xbbbbbbbb),
      hex64(V6.idHi, V6.idLo),
      hex64(V4.idHi, V4.idLo),
    ]);
    assert.deepEqual(p1['pfsync.state.creatorid'], [
      hex32(3),
      hex32(0x1d2c3b4a),
      hex32(0x1d2c3b4a),
      hex32(0xcccccccc),
      hex32(0xfeedf00d),
      hex32(0x1d2c3b4a),
    ]);
    // UPD_C peers come first in the peer fields (two UPD_Cs), then the states'
    for (const [k, u] of UPDCS.entries()) {
      assert.equal(p1['pfsync.src.seqlo'][k], String(u.src.seqlo));
      assert.equal(p1['pfsync.dst.seqlo'][k], String(u.dst.seqlo));
      assert.equal(p1['pfsync.src.state'][k], String(u.src.state));
      assert.equal(p1['pfsync.dst.max_win'][k], String(u.dst.maxWin));
    }
    assert.deepEqual(p1['pfsync.upd_c.state_flags'], ['0x00', '0x00']);
    // the states, IPv6 first (added first), after the small messages
    expectState(V6, p1, { id: 4, peer: 2, tmo: 2, st: 0, key: 0, famKey: 0 });
    expectState(V4, p1, { id: 5, peer: 3, tmo: 3, st: 1, key: 2, famKey: 0 });
    assert.deepEqual(
      [p1['pfsync.state.expire'].slice(0, 2), p1['pfsync.state.timeout'].slice(0, 2)],
      [
        ['0', '0'],
        ['2', '5'],
      ],
      'UPD_C expire and timeout',
    );
    assert.deepEqual(p1['pfsync.state.state_flags.ack'], ['0', '1'], 'V4 carries the ACK flag');

    // packet 2: CLR
    assert.deepEqual(
      [p2['pfsync.action'], p2['pfsync.clr.ifname'], p2['pfsync.clr.creatorid']],
      [['0'], ['em0'], [hex32(0x1d2c3b4a)]],
    );

    // packet 3: a bulk packet, BUS START before the UPD
    assert.deepEqual(p3['pfsync.action'], ['10', '14']);
    assert.deepEqual([p3['pfsync.bus.status'], p3['pfsync.bus.creatorid']], [['1'], [hex32(0xfeedf00d)]]);
    expectState(V6_BULK, p3, { id: 0, peer: 0, tmo: 0, st: 0, key: 0, famKey: 0 });

    // packet 4: UPD_REQ (bulk request and one state), TDB
    assert.deepEqual(p4['pfsync.action'], ['5', '15']);
    assert.deepEqual(p4['pfsync.state.id'], [hex64(0, 0), hex64(0x6744d0a1, 9)]);
    assert.deepEqual(
      [p4['pfsync.tdb.spi'], p4['pfsync.tdb.rpl'], p4['pfsync.tdb.cur_bytes']],
      [['0x1234abcd'], ['99'], ['12345']],
    );
    for (const r of rows)
      assert.ok(
        !r['_ws.expert.message'].some((m) => /pfsync|badlen|badact|badver|hdrops|Dissector error/i.test(m)),
        'no complaints about good packets',
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// translated states (shared/spec/pf-nat.md §13.1, §13.3, §13.4): the keys differ
const NAT_TCP: StateRecord = record({
  ...V4,
  idLo: 21,
  direction: 2,
  key: [key('198.51.100.7', 443, '192.0.2.1', 54321, 2), key('198.51.100.7', 443, '10.0.0.5', 51234, 2)],
});
const NAT_PING: StateRecord = record({
  idHi: 0x6744d0a1,
  idLo: 22,
  creatorid: 0x1d2c3b4a,
  af: 2,
  proto: 1,
  direction: 2,
  timeout: 9,
  expire: 20,
  key: [key('198.51.100.7', 8, '192.0.2.1', 40000, 2), key('198.51.100.7', 8, '10.0.0.5', 4660, 2)],
});
const RDR_TCP: StateRecord = record({
  ...V4,
  idLo: 23,
  direction: 1,
  key: [key('203.0.113.9', 40000, '192.0.2.1', 80, 2), key('203.0.113.9', 40000, '10.0.0.10', 8080, 2)],
});

test('tshark shows both keys of translated states (nat-to, ping through nat-to, rdr-to)', { skip }, () => {
  const b = new PacketBuilder(1500);
  for (const r of [NAT_TCP, NAT_PING, RDR_TCP]) state.encode(r, b.buf, b.add(PfsyncAction.INS));
  const packet = ip(b.finish().slice());
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-pfsync-'));
  try {
    const file = writePcap(dir, [packet]);
    const [row] = fields(file) as [Row];
    expectState(NAT_TCP, row, { id: 0, peer: 0, tmo: 0, st: 0, key: 0, famKey: 0 });
    expectState(NAT_PING, row, { id: 1, peer: 1, tmo: 1, st: 1, key: 2, famKey: 2 });
    expectState(RDR_TCP, row, { id: 2, peer: 2, tmo: 2, st: 2, key: 4, famKey: 4 });
    const tree = tshark(file, ['-V']);
    const keyLines = tree.match(/^\s*(Wire|Stack) key: .*$/gm)?.map((l) => l.trim());
    assert.deepEqual(keyLines, [
      'Wire key: 198.51.100.7:443 - 192.0.2.1:54321',
      'Stack key: 198.51.100.7:443 - 10.0.0.5:51234',
      'Wire key: 198.51.100.7:8 - 192.0.2.1:40000',
      'Stack key: 198.51.100.7:8 - 10.0.0.5:4660',
      'Wire key: 203.0.113.9:40000 - 192.0.2.1:80',
      'Stack key: 203.0.113.9:40000 - 10.0.0.10:8080',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed pfsync gets expert info; a skipped section is noted and the walk goes on', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-pfsync-'));
  try {
    const rows = fields(writePcap(dir, [...MALFORMED.map(([, p]) => ip(p)), ip(SKIPPED)]));
    MALFORMED.forEach(([what, , message], k) => {
      assert.ok(
        rows[k]!['_ws.expert.message'].some((m) => message.test(m)),
        `${what}: ${rows[k]!['_ws.expert.message'].join(' / ')}`,
      );
    });
    const s = rows[MALFORMED.length]!;
    assert.deepEqual(s['pfsync.action'], ['99', '7']);
    assert.equal(s['pfsync.skipped'].length, 1);
    assert.ok(s['_ws.expert.message'].some((m) => /unknown action/.test(m)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('random bytes never break the dissector', { skip }, () => {
  const rnd = randomSource('pfsync dissector fuzz');
  const packets: Uint8Array[] = [];
  const good = buildPackets().map((p) => p.subarray(20));
  for (let k = 0; k < 300; k++) {
    // damaged good packets, and plausible headers over noise
    const base =
      rnd() < 0.5
        ? Uint8Array.from(good[(rnd() * good.length) | 0]!)
        : Uint8Array.from({ length: (rnd() * 600) | 0 }, () => (rnd() * 256) | 0);
    for (let n = (rnd() * 6) | 0; n > 0 && base.length > 0; n--) base[(rnd() * base.length) | 0] = (rnd() * 256) | 0;
    if (base.length >= 4 && rnd() < 0.5) {
      base[0] = 6;
      writeU16(base, 2, rnd() < 0.5 ? base.length : (rnd() * 65536) | 0);
    }
    packets.push(ip(base.subarray(0, (rnd() * (base.length + 1)) | 0)));
  }
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-pfsync-'));
  try {
    const out = tshark(writePcap(dir, packets), ['-V']);
    assert.doesNotMatch(out, /Lua Error|Dissector error|\[Malformed Packet/);
    // (IP hands an empty payload to no dissector)
    assert.equal(out.match(/^OpenBSD pfsync/gm)?.length, packets.filter((p) => p.length > 20).length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
