// Between the state table and pfsync's 264-byte record: states made by the
// real engine from real packets export with every field as the spec means
// it; the spec's record imports to the state it describes; import then
// export gives the record back; bad records are refused with their reason.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddress, parseAddress } from '../../src/packet/address.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../src/packet/build.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import {
  StateExporter,
  StateImporter,
  findStateOf,
  readPeer,
  state,
  updC,
  validateStateRecord,
  validateUpdC,
  validateUpdate,
  type StateKey,
  type StatePeer,
  type StateRecord,
} from '../../src/pfsync/state-record.js';
import { writeU16, writeU32 } from '../../src/pfsync/wire.js';
import {
  ImportError,
  ImportErrorCounter,
  PfsyncAction,
  PfsyncDrop,
  STATE_LENGTH,
  StateOffset,
  UpdCOffset,
  WireStateFlag,
} from '../../src/pfsync/constants.js';
import { FLOATING, NO_RULE, Origin, StateFlag, TcpState, Timeout } from '../../src/state/constants.js';
import { StateImage } from '../../src/state/state-image.js';
import { Flow } from './helpers/flow.js';
import { VECTOR_RECORD } from './helpers/pfsync-vector.js';
import { randomSource } from './helpers/random.js';

const words = (s: string) => parseAddress(s)!.words;
const exporterOf = (f: Flow) => StateExporter.forEngine(f.states, (id) => f.filter.interfaces.name(id));
const importerOf = (f: Flow) => new StateImporter(f.states, (name) => f.filter.interfaces.id(name));
const exportRecord = (f: Flow, i: number, extraFlags = 0): StateRecord => {
  const buf = new Uint8Array(STATE_LENGTH + 8).fill(0x77);
  exporterOf(f).writeState(i, f.now, buf, 4, extraFlags);
  assert.equal(buf[3], 0x77);
  assert.equal(buf[4 + STATE_LENGTH], 0x77, 'exactly 264 bytes written');
  return state.decode(buf, 4);
};
const addrText = (af: number, w: Uint32Array) => formatAddress(af === 24 ? 6 : 4, w);
const keyText = (k: StateKey) => `${addrText(k.af, k.addr[0])}:${k.port[0]} ${addrText(k.af, k.addr[1])}:${k.port[1]}`;

/** The §14 SYN: 10.0.0.5:51234 -> 192.0.2.80:443, ISN 1000000, window 64240, wscale 7, 60 bytes. */
const SYN_14 = buildTcp({
  src: '10.0.0.5',
  dst: '192.0.2.80',
  sport: 51234,
  dport: 443,
  seq: 1000000,
  flags: 'S',
  window: 64240,
  options: { mss: 1460, sackOk: true, ts: [4242, 0], wscale: 7 },
});
const RULES_14 = 'block all\npass out all\npass in proto udp\npass in on lan proto tcp to port 443';

test('export: the state a real SYN made (spec §14) carries every field as the spec means it', () => {
  assert.equal(SYN_14.length, 60);
  const f = new Flow(RULES_14);
  const v = f.send(SYN_14, Direction.IN, 'lan');
  assert.ok(v.pass && v.created);
  assert.equal(v.rule, 3);
  const t = f.states.table;
  const i = v.state;
  const r = exportRecord(f, i);
  assert.deepEqual([r.idHi, r.idLo, r.creatorid], [t.idHi[i], t.idLo[i], 0x1d2c3b4a]);
  assert.equal(r.ifname, 'all', 'floating');
  assert.equal(keyText(r.key[0]), '10.0.0.5:51234 192.0.2.80:443', 'inbound: addr[0] is the SYN source');
  assert.deepEqual(r.key[1], r.key[0], 'no NAT: stack key = wire key');
  assert.deepEqual([r.key[0].af, r.key[0].rdomain, r.af, r.proto, r.direction], [2, 0, 2, 6, 1]);
  assert.deepEqual(
    [r.src.seqlo, r.src.seqhi, r.src.seqdiff, r.src.maxWin, r.src.state, r.src.wscale, r.src.mss, r.src.scrubFlag],
    [1000000, 1000002, 0, 502, TcpState.SYN_SENT, 0x87, 0, 0],
    'src: ISN, ISN + SYN + 1, window without its scale factor, option seen with shift 7',
  );
  assert.deepEqual([r.dst.seqlo, r.dst.seqhi, r.dst.maxWin, r.dst.state, r.dst.wscale], [0, 1, 1, TcpState.CLOSED, 0]);
  assert.deepEqual([r.rule, r.anchor, r.natRule], [3, 0xffffffff, 0xffffffff]);
  assert.deepEqual([r.creation, r.expire, r.timeout], [0, 120, Timeout.TCP_FIRST]);
  assert.deepEqual(
    [r.packets, r.bytes],
    [
      [1, 0],
      [60, 0],
    ],
  );
  assert.deepEqual(
    [r.rtableid, r.maxMss, r.log, r.rt, r.syncFlags, r.updates, r.minTtl, r.setTos, r.stateFlags, r.setPrio],
    [[-1, -1], 0, 0, 0, 0, 0, 0, 0, 0, [0, 0]],
  );
  assert.deepEqual([...r.rtAddr], [0, 0, 0, 0]);

  // Byte for byte against §14, but for two bytes of meaning: our id, and
  // src.max_win — the spec's table keeps the raw 64240, while pf's
  // pf_create_state (and tunpf) store the window without its scale factor.
  const expected = Uint8Array.from(VECTOR_RECORD);
  writeU32(expected, 0, t.idHi[i]!);
  writeU32(expected, 4, t.idLo[i]!);
  writeU16(expected, StateOffset.SRC + 20, 502);
  const buf = new Uint8Array(STATE_LENGTH);
  exporterOf(f).writeState(i, f.now, buf, 0);
  assert.deepEqual(buf, expected);

  // 30 s later the server answers: the responder's side, counters and the timeout move
  f.now += 30;
  assert.equal(exportRecord(f, i).creation, 30);
  assert.equal(exportRecord(f, i).expire, 90);
  const synack = buildTcp({
    src: '192.0.2.80',
    dst: '10.0.0.5',
    sport: 443,
    dport: 51234,
    seq: 7000000,
    ack: 1000001,
    flags: 'SA',
    window: 65160,
    options: { mss: 1460, wscale: 7 },
  });
  assert.equal(f.outcome(synack, Direction.OUT, 'lan'), 'pass:state');
  const r2 = exportRecord(f, i);
  assert.deepEqual(
    [r2.dst.seqlo, r2.dst.state, r2.dst.wscale],
    [7000001, TcpState.SYN_SENT, 0x87],
    'seqlo: the end of what it sent (ISN + SYN)',
  );
  assert.deepEqual(
    [r2.packets, r2.bytes],
    [
      [1, 1],
      [60, synack.length],
    ],
  );
  assert.deepEqual([r2.timeout, r2.expire], [Timeout.TCP_OPENING, 30]);
  f.now += 31;
  assert.equal(exportRecord(f, i).expire, 0, 'past due: 0 seconds left');
});

test('export: a state made by an outbound packet has the responder in key slot 0, the initiator as src peer', () => {
  const f = new Flow('block all\npass out on wan proto tcp');
  const syn = buildTcp({
    src: '198.51.100.2',
    dst: '203.0.113.5',
    sport: 40000,
    dport: 80,
    seq: 123456,
    flags: 'S',
    window: 29200,
  });
  const v = f.send(syn, Direction.OUT, 'wan');
  assert.ok(v.created);
  const r = exportRecord(f, v.state);
  assert.equal(r.direction, 2);
  assert.equal(keyText(r.key[0]), '203.0.113.5:80 198.51.100.2:40000', 'addr[0] = the outbound SYN destination');
  assert.deepEqual(r.key[1], r.key[0]);
  assert.deepEqual([r.src.seqlo, r.src.seqhi, r.src.maxWin, r.src.wscale], [123456, 123458, 29200, 0]);
  assert.equal(r.rule, 1);
});

test('export: if-bound states name their interface; UDP, ICMP echo and IPv6 states', () => {
  const f = new Flow('block all\npass in on lan keep state (if-bound)\npass in on wan\npass out all');
  const udp = f.send(
    buildUdp({ src: '192.168.1.20', dst: '9.9.9.9', sport: 5353, dport: 53, payload: new Uint8Array(20) }),
    Direction.IN,
    'lan',
  );
  let r = exportRecord(f, udp.state);
  assert.equal(r.ifname, 'lan');
  assert.equal(keyText(r.key[0]), '192.168.1.20:5353 9.9.9.9:53');
  assert.deepEqual([r.proto, r.timeout, r.src.state, r.dst.state, r.bytes[0]], [17, Timeout.UDP_FIRST, 1, 0, 48]);

  const ping = f.send(
    buildIcmpEcho({ src: '198.51.100.9', dst: '192.168.1.20', id: 0x1234, seq: 1 }),
    Direction.IN,
    'wan',
  );
  r = exportRecord(f, ping.state);
  assert.equal(r.ifname, 'all');
  assert.deepEqual(
    [r.key[0].port, r.proto, r.timeout],
    [[0x1234, 8], 1, Timeout.ICMP_FIRST],
    'pf keys echo by id and the request type',
  );

  const ping6 = f.send(
    buildIcmpEcho({ src: '2001:db8:1::1', dst: '2001:db8:ff::99', id: 77, seq: 1 }),
    Direction.OUT,
    'wan',
  );
  r = exportRecord(f, ping6.state);
  assert.deepEqual([r.af, r.key[0].af, r.proto, r.direction], [24, 24, 58, 2]);
  assert.equal(
    keyText(r.key[0]),
    '2001:db8:ff::99:128 2001:db8:1::1:77',
    'outbound: responder first, its slot holds the type',
  );

  const tcp6 = f.send(
    buildTcp({ src: '2001:db8:ff::5', dst: '2001:db8:1::80', sport: 1111, dport: 22, seq: 9, flags: 'S' }),
    Direction.IN,
    'wan',
  );
  r = exportRecord(f, tcp6.state);
  assert.deepEqual([...r.key[0].addr[0]], [...words('2001:db8:ff::5')]);
  assert.deepEqual([...r.key[0].addr[1]], [...words('2001:db8:1::80')]);
  assert.deepEqual([r.af, r.key[0].port], [24, [1111, 22]]);
});

test('export: flags map to state_flags, FROM_PEER never leaves, the caller may add ACK', () => {
  const f = new Flow('pass in proto tcp keep state (sloppy, no-sync)');
  const v = f.send(SYN_14, Direction.IN, 'lan');
  const t = f.states.table;
  t.flags[v.state] |= StateFlag.FROM_PEER;
  assert.equal(exportRecord(f, v.state).stateFlags, WireStateFlag.SLOPPY | WireStateFlag.NOSYNC);
  assert.equal(
    exportRecord(f, v.state, WireStateFlag.ACK).stateFlags,
    WireStateFlag.SLOPPY | WireStateFlag.NOSYNC | WireStateFlag.ACK,
  );
});

test('import: the §14 record becomes the state it describes, and traffic of the flow passes through it', () => {
  const f = new Flow('block all');
  f.now = 5000;
  const imp = importerOf(f);
  const i = imp.import(VECTOR_RECORD, 0, f.now);
  assert.ok(i >= 0, `import refused: ${-i}`);
  assert.equal(imp.ackRequested, false);
  const e = f.states;
  const t = e.table;
  assert.equal(t.findById(0x1d2c3b4a, 0x6744d0a1, 7), i);
  assert.equal(t.ifId[i], FLOATING);
  assert.deepEqual([t.afOf(i), t.protoOf(i), t.direction[i]], [4, 6, 1]);
  assert.equal(formatAddress(4, t.addressOf(i, 0)), '10.0.0.5', 'side 0: the initiator');
  assert.equal(formatAddress(4, t.addressOf(i, 1)), '192.0.2.80');
  assert.deepEqual([t.portOf(i, 0), t.portOf(i, 1)], [51234, 443]);
  assert.deepEqual(
    [t.seqlo[i * 2], t.seqhi[i * 2], t.maxWin[i * 2], t.wscale[i * 2], t.peerState[i * 2]],
    [1000000, 1000002, 64240, 0x87, 2],
  );
  assert.deepEqual(
    [t.seqlo[i * 2 + 1], t.seqhi[i * 2 + 1], t.maxWin[i * 2 + 1], t.wscale[i * 2 + 1], t.peerState[i * 2 + 1]],
    [0, 1, 1, 0, 0],
  );
  assert.equal(t.rule[i], NO_RULE, 'received rule numbers are not trusted');
  assert.deepEqual([t.timeoutClass[i], t.creation[i], t.lastActive[i], e.expiresIn(i, f.now)], [0, 5000, 5000, 120]);
  assert.deepEqual([t.packets[i * 2], t.packets[i * 2 + 1], t.bytes[i * 2], t.bytes[i * 2 + 1]], [1, 0, 60, 0]);
  assert.equal(t.flags[i], StateFlag.FROM_PEER);
  assert.equal(t.srcNode[i], -1);
  assert.equal(t.modulated(i), false);
  assert.equal(t.translated(i), false);
  // the reply is tracked by the imported state; the ruleset (block all) is never asked
  f.now += 1;
  const synack = buildTcp({
    src: '192.0.2.80',
    dst: '10.0.0.5',
    sport: 443,
    dport: 51234,
    seq: 7000000,
    ack: 1000001,
    flags: 'SA',
    window: 65160,
    options: { wscale: 7 },
  });
  assert.equal(
    f.outcome(synack, Direction.OUT, 'lan'),
    'pass:state',
    'the reply leaving for the client (the state was made inbound)',
  );
  assert.equal(t.peerState[i * 2 + 1], TcpState.SYN_SENT);
});

/** A mutable copy of the §14 record with changes applied. */
function record14(change: (r: StateRecord) => void = () => {}): Uint8Array {
  const r = state.decode(VECTOR_RECORD);
  change(r);
  return state.encode(r);
}

test('import: times are rebuilt from age and seconds left against our timeout for the class', () => {
  const f = new Flow('block all');
  const e = f.states;
  const imp = importerOf(f);
  const now = 100000;
  const a = imp.import(
    record14((r) => {
      r.creation = 30;
      r.expire = 100;
      r.timeout = Timeout.TCP_ESTABLISHED;
      r.idLo = 1;
      r.key[0].port[0] = r.key[1].port[0] = 1;
    }),
    0,
    now,
  );
  assert.deepEqual([e.table.creation[a], e.expiresIn(a, now), e.expiresIn(a, now + 60)], [now - 30, 100, 40]);
  const b = imp.import(
    record14((r) => {
      r.expire = 500;
      r.idLo = 2;
      r.key[0].port[0] = r.key[1].port[0] = 2;
    }),
    0,
    now,
  );
  assert.equal(e.expiresIn(b, now), 500, 'more left than our timeout: kept');
  const c = imp.import(
    record14((r) => {
      r.expire = 0;
      r.idLo = 3;
      r.key[0].port[0] = r.key[1].port[0] = 3;
    }),
    0,
    now,
  );
  assert.equal(e.expiresIn(c, now), 120, 'expire 0: a full timeout, as OpenBSD does');
  const d = imp.import(
    record14((r) => {
      r.creation = 0xffffffff;
      r.idLo = 4;
      r.key[0].port[0] = r.key[1].port[0] = 4;
    }),
    0,
    now,
  );
  assert.equal(e.table.creation[d], 0, 'an age beyond our clock clamps');
});

test('import then export gives the record back (random records tunpf can hold)', () => {
  const rnd = randomSource('pfsync import/export round trip');
  const u32 = () => (rnd() * 4294967296) >>> 0;
  const u16 = () => (rnd() * 65536) >>> 0;
  const f = new Flow('set limit states 100000\nblock all');
  const imp = importerOf(f);
  const exp = exporterOf(f);
  const now = 2_000_000;
  const timeouts = f.states.timeouts;
  for (let round = 0; round < 500; round++) {
    const v6 = rnd() < 0.4;
    const af = v6 ? 24 : 2;
    const addr = () => (v6 ? Uint32Array.of(u32(), u32(), u32(), u32()) : Uint32Array.of(u32(), 0, 0, 0));
    const proto = [6, 17, v6 ? 58 : 1, 47][(rnd() * 4) | 0]!;
    const direction = rnd() < 0.5 ? 1 : 2;
    const icmp = proto === 1 || proto === 58;
    let ports: [number, number] = proto === 47 ? [0, 0] : [u16(), u16()];
    // ICMP: the id in the initiator's slot (0 inbound, 1 outbound), the echo type in the other
    if (icmp) ports = direction === 1 ? [ports[0], v6 ? 128 : 8] : [v6 ? 128 : 8, ports[1]];
    const wire: StateKey = { addr: [addr(), addr()], port: ports, rdomain: 0, af };
    const nat = rnd() < 0.2;
    // a translated ping: another id, in the same slot beside the same type
    const natPorts = (): [number, number] => {
      const p: [number, number] = [u16(), u16()];
      if (icmp) p[direction === 1 ? 1 : 0] = v6 ? 128 : 8;
      return p;
    };
    const stack: StateKey = nat
      ? { addr: [addr(), addr()], port: natPorts(), rdomain: 0, af }
      : { addr: [wire.addr[0].slice(), wire.addr[1].slice()], port: [...ports], rdomain: 0, af };
    const peer = (): StatePeer => ({
      scrubFlags: 0,
      scrubTtl: 0,
      scrubFlag: 0,
      scrubTsMod: 0,
      seqlo: u32(),
      seqhi: u32(),
      seqdiff: rnd() < 0.2 ? u32() : 0,
      maxWin: u16(),
      mss: 0,
      state: (rnd() * 13) | 0,
      wscale: (rnd() * 256) | 0,
    });
    const timeout = (rnd() * 14) | 0;
    const full = timeouts.timeout(NO_RULE, timeout, 0);
    const rec: StateRecord = {
      idHi: u32(),
      idLo: u32(),
      ifname: ['all', 'lan', 'wan'][(rnd() * 3) | 0]!,
      key: [wire, stack],
      src: peer(),
      dst: peer(),
      rtAddr: new Uint32Array(4),
      rule: 0xffffffff,
      anchor: 0xffffffff,
      natRule: 0xffffffff,
      creation: (rnd() * now) | 0,
      expire: 1 + ((rnd() * 2 * full) | 0),
      packets: [u32(), u32()],
      bytes: [Math.floor(rnd() * 2 ** 53), u32()],
      creatorid: u32() || 1,
      rtableid: [-1, -1],
      maxMss: 0,
      af,
      proto,
      direction,
      log: 0,
      rt: 0,
      timeout,
      syncFlags: 0,
      updates: 0,
      minTtl: 0,
      setTos: 0,
      stateFlags: (rnd() * 16) | 0,
      setPrio: [0, 0],
    };
    const bytes = state.encode(rec);
    const i = imp.import(bytes, 0, now);
    assert.ok(i >= 0, `round ${round}: import refused (${-i})`);
    const back = new Uint8Array(STATE_LENGTH);
    exp.writeState(i, now, back, 0);
    assert.deepEqual(state.decode(back), rec, `round ${round}`);
    assert.deepEqual(back, bytes);
  }
});

test('import refuses bad records with their reason, and nothing is inserted', () => {
  const f = new Flow('set limit states 2\nblock all');
  const imp = importerOf(f);
  const t = f.states.table;
  const cases: [string, number, (r: StateRecord) => void][] = [
    ['timeout 20', ImportError.BAD_TIMEOUT, (r) => (r.timeout = 20)],
    ['timeout 14 (not a state timeout)', ImportError.BAD_TIMEOUT, (r) => (r.timeout = 14)],
    ['src state 13', ImportError.BAD_PEER_STATE, (r) => (r.src.state = 13)],
    ['dst state 200', ImportError.BAD_PEER_STATE, (r) => (r.dst.state = 200)],
    ['direction 3', ImportError.BAD_DIRECTION, (r) => (r.direction = 3)],
    ['af 10 (Linux AF_INET6)', ImportError.BAD_AF, (r) => (r.af = 10)],
    ['af 0', ImportError.BAD_AF, (r) => (r.af = 0)],
    ['key af 28 (FreeBSD AF_INET6)', ImportError.BAD_AF, (r) => (r.key[1].af = 28)],
    ['creatorid 0', ImportError.NO_CREATOR, (r) => (r.creatorid = 0)],
    ['af-to', ImportError.AF_TRANSLATION, (r) => (r.key[1].af = 24)],
  ];
  for (const [what, reason, change] of cases) {
    const rec = record14(change);
    if (reason <= ImportError.NO_CREATOR) assert.equal(validateStateRecord(rec, 0), reason, what);
    assert.equal(imp.import(rec, 0, 1000), -reason, what);
    assert.equal(t.count, 0, what);
  }
  assert.equal(ImportErrorCounter[ImportError.BAD_AF], PfsyncDrop.BADVAL);
  assert.equal(ImportErrorCounter[ImportError.NO_CREATOR], PfsyncDrop.BADSTATE);
  // key afs of 0 mean "the state's af"
  assert.ok(
    imp.import(
      record14((r) => (r.key[0].af = r.key[1].af = 0)),
      0,
      1000,
    ) >= 0,
  );
  assert.equal(
    imp.import(
      record14((r) => (r.idLo = 99)),
      0,
      1000,
    ),
    -ImportError.FLOW_EXISTS,
    'the same flow under another id',
  );
  assert.equal(
    imp.import(
      record14((r) => {
        r.key[0].port[0] = r.key[1].port[0] = 1;
      }),
      0,
      1000,
    ),
    -ImportError.ID_EXISTS,
    'the same id for another flow',
  );
  assert.ok(
    imp.import(
      record14((r) => {
        r.idLo = 8;
        r.key[0].port[0] = r.key[1].port[0] = 2;
      }),
      0,
      1000,
    ) >= 0,
  );
  assert.equal(
    imp.import(
      record14((r) => {
        r.idLo = 9;
        r.key[0].port[0] = r.key[1].port[0] = 3;
      }),
      0,
      1000,
    ),
    -ImportError.TABLE_FULL,
  );
  assert.equal(t.count, 2);
});

test('import: a known interface binds the state to it, an unknown one leaves it floating', () => {
  const f = new Flow('block all');
  const imp = importerOf(f);
  const t = f.states.table;
  const lan = imp.import(
    record14((r) => (r.ifname = 'lan')),
    0,
    f.now,
  );
  assert.equal(t.ifId[lan], f.filter.interfaces.id('lan'));
  const other = imp.import(
    record14((r) => {
      r.ifname = 'em7';
      r.idLo = 2;
      r.key[0].port[0] = r.key[1].port[0] = 2;
    }),
    0,
    f.now,
  );
  assert.equal(t.ifId[other], FLOATING);
  // the bound state serves its interface only
  const data = (sport: number) =>
    buildTcp({
      src: '10.0.0.5',
      dst: '192.0.2.80',
      sport,
      dport: 443,
      seq: 1000001,
      ack: 0,
      flags: 'S',
      window: 64240,
    });
  const m = new PacketMeta();
  parsePacket(data(51234), 0, 60, m);
  assert.equal(f.states.lookup(m, 0, f.filter.interfaces.id('lan'), f.now), lan);
  assert.equal(f.states.lookup(m, 0, f.filter.interfaces.id('dmz'), f.now), -1);
});

test('import: the ACK flag asks for an INS_ACK and is not kept; other flags are', () => {
  const f = new Flow('block all');
  const imp = importerOf(f);
  const i = imp.import(
    record14((r) => (r.stateFlags = WireStateFlag.ACK | WireStateFlag.SLOPPY | WireStateFlag.SETTOS)),
    0,
    f.now,
  );
  assert.equal(imp.ackRequested, true);
  assert.equal(f.states.table.flags[i], StateFlag.SLOPPY | StateFlag.FROM_PEER);
  assert.equal(exportRecord(f, i).stateFlags, WireStateFlag.SLOPPY, 'and FROM_PEER is not echoed');
  imp.import(
    record14((r) => {
      r.idLo = 2;
      r.key[0].port[0] = r.key[1].port[0] = 2;
    }),
    0,
    f.now,
  );
  assert.equal(imp.ackRequested, false);
});

test('UPD_C and identities written from the table; readPeer into the engine; update validation; findStateOf', () => {
  const f = new Flow(RULES_14);
  const v = f.send(SYN_14, Direction.IN, 'lan');
  const i = v.state;
  const t = f.states.table;
  const exp = exporterOf(f);
  const buf = new Uint8Array(400);
  exp.writeUpdC(i, buf, 16);
  const u = updC.decode(buf, 16);
  assert.deepEqual(
    [u.idHi, u.idLo, u.creatorid, u.expire, u.timeout, u.stateFlags],
    [t.idHi[i], t.idLo[i], 0x1d2c3b4a, 0, 0, 0],
  );
  assert.deepEqual(
    [u.src.seqlo, u.src.seqhi, u.src.maxWin, u.src.state, u.src.wscale, u.dst.seqhi],
    [1000000, 1000002, 502, 2, 0x87, 1],
  );
  assert.equal(findStateOf(t, PfsyncAction.UPD_C, buf, 16), i);
  exp.writeIdentity(i, buf, 200);
  assert.equal(findStateOf(t, PfsyncAction.DEL_C, buf, 200), i);
  assert.equal(findStateOf(t, PfsyncAction.INS_ACK, buf, 200), i);
  assert.equal(findStateOf(t, PfsyncAction.CLR, buf, 200), -1);
  exp.writeState(i, f.now, buf, 100);
  assert.equal(findStateOf(t, PfsyncAction.UPD, buf, 100), i);
  buf[100 + 3] ^= 1;
  assert.equal(findStateOf(t, PfsyncAction.UPD, buf, 100), -1);

  // a peer's newer view of both sides, as merge code would apply it
  const peer = (seqlo: number, st: number, seqdiff: number): StatePeer => ({
    scrubFlags: 0,
    scrubTtl: 0,
    scrubFlag: 0,
    scrubTsMod: 0,
    seqlo,
    seqhi: seqlo + 1000,
    seqdiff,
    maxWin: 4000,
    mss: 0,
    state: st,
    wscale: 0x83,
  });
  const msg = updC.encode({
    idHi: t.idHi[i]!,
    idLo: t.idLo[i]!,
    src: peer(1000001, 4, 0),
    dst: peer(7000001, 4, 0xdead),
    creatorid: t.creator[i]!,
    expire: 0,
    timeout: 2,
    stateFlags: 0,
  });
  assert.equal(validateUpdC(msg, 0), 0);
  const img = new StateImage();
  const apply = (b: Uint8Array, sides: number) => {
    readPeer(b, UpdCOffset.SRC, img.peer[0]);
    readPeer(b, UpdCOffset.DST, img.peer[1]);
    img.timeoutClass = t.timeoutClass[i]!;
    f.states.updateFromImage(i, img, sides, f.now, Origin.PEER);
  };
  apply(msg, 3);
  assert.deepEqual(
    [t.seqlo[i * 2], t.seqhi[i * 2], t.maxWin[i * 2], t.wscale[i * 2], t.peerState[i * 2]],
    [1000001, 1001001, 4000, 0x83, 4],
  );
  assert.deepEqual([t.seqlo[i * 2 + 1], t.peerState[i * 2 + 1]], [7000001, 4]);
  assert.deepEqual([t.seqDiff(i, 0), t.seqDiff(i, 1)], [0, 0xdead]);
  const off = exportRecord(f, i);
  assert.deepEqual([off.src.seqdiff, off.dst.seqdiff], [0, 0xdead]);
  const plain = updC.encode({ ...updC.decode(msg), dst: peer(7000002, 4, 0) });
  apply(plain, 2);
  assert.equal(t.modulated(i), false, 'no modulation left: the sparse entry goes');

  assert.equal(validateUpdC(updC.encode({ ...updC.decode(msg), timeout: 14 }), 0), ImportError.BAD_TIMEOUT);
  assert.equal(validateUpdC(updC.encode({ ...updC.decode(msg), src: peer(1, 13, 0) }), 0), ImportError.BAD_PEER_STATE);
  assert.equal(
    validateUpdate(
      record14((r) => (r.dst.state = 13)),
      0,
    ),
    ImportError.BAD_PEER_STATE,
  );
  assert.equal(
    validateUpdate(
      record14((r) => (r.direction = 9)),
      0,
    ),
    0,
    'updates are not checked for direction (OpenBSD)',
  );
});
