// pfsync and translated states (shared/spec/pf-nat.md §3, §10, §13): a
// state record carries the wire key at offset 24 and the stack key at 64.
// The records here are written by hand from the spec's worked examples, not
// by our encoder; each imports to a state whose wire key serves inbound
// packets and whose stack key serves outbound ones, and our encoder writes
// the same bytes back. Key collisions refuse the import as pf's
// pf_state_key_attach does; updates keep the keys; and a gateway that
// learnt a nat-to state over pfsync forwards the connection as the node
// that made it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAddress } from '../../src/packet/address.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../src/packet/build.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { writeHeader, writeSubheader } from '../../src/pfsync/codec.js';
import {
  ImportError,
  MessageLength,
  PfsyncAction,
  PfsyncDrop,
  PFSYNC,
  STATE_LENGTH,
  StateOffset,
} from '../../src/pfsync/constants.js';
import { StateExporter, StateImporter, state, updC } from '../../src/pfsync/state-record.js';
import { FLOATING, TcpState } from '../../src/state/constants.js';
import { rewriteFromState } from '../../src/state/rewrite-from-state.js';
import type { StateTable } from '../../src/state/state-table.js';
import { Flow } from './helpers/flow.js';
import { Pair } from './helpers/pfsync-pair.js';
import { VECTOR_RECORD } from './helpers/pfsync-vector.js';

const bytes = (hex: string) => Uint8Array.from(hex.trim().split(/\s+/), (h) => parseInt(h, 16));
/** An IPv4 address slot of a key: the address, then 12 zero bytes. */
const v4 = (hex: string) => `${hex} ${'00 '.repeat(12)}`;

/**
 * The §14 record (written from the spec) with the keys (offsets 24..103)
 * and direction (252) of a translated state, and the record's rule set to
 * none (received rule numbers are not kept, so they do not come back).
 */
function translatedRecord(keys: string, direction: number, patch: (r: Uint8Array) => void = () => {}): Uint8Array {
  const r = Uint8Array.from(VECTOR_RECORD);
  const k = bytes(keys);
  assert.equal(k.length, 80, 'two 40-byte keys');
  r.set(k, StateOffset.KEY_WIRE);
  r[StateOffset.DIRECTION] = direction;
  r.set([0xff, 0xff, 0xff, 0xff], StateOffset.RULE);
  patch(r);
  return r;
}

/** A non-TCP record: no window tracking in the peers, states and timeout class of the protocol. */
const nonTcp =
  (proto: number, srcState: number, timeout: number, expire: number) =>
  (r: Uint8Array): void => {
    r.fill(0, StateOffset.SRC, StateOffset.RT_ADDR);
    r[StateOffset.SRC + 24] = srcState;
    r[StateOffset.PROTO] = proto;
    r[StateOffset.TIMEOUT] = timeout;
    r.set([0, 0, 0, expire], StateOffset.EXPIRE);
  };

/** §13.1: nat-to 192.0.2.1, H 10.0.0.5:51234 -> S 198.51.100.7:443, port 54321; state dir OUT. */
const NAT_KEYS_13_1 = `
  ${v4('c6 33 64 07')} ${v4('c0 00 02 01')} 01 bb d4 31 00 00 02 00
  ${v4('c6 33 64 07')} ${v4('0a 00 00 05')} 01 bb c8 22 00 00 02 00`;
/** §13.4: rdr-to 10.0.0.10 port 8080 of 192.0.2.1:80, client C 203.0.113.9:40000; state dir IN. */
const RDR_KEYS_13_4 = `
  ${v4('cb 00 71 09')} ${v4('c0 00 02 01')} 9c 40 00 50 00 00 02 00
  ${v4('cb 00 71 09')} ${v4('0a 00 00 0a')} 9c 40 1f 90 00 00 02 00`;
/** §13.3: ping H -> S, id 4660 translated to 40000; pf's virtual type 8 in the responder's slot of both keys. */
const ICMP_KEYS_13_3 = `
  ${v4('c6 33 64 07')} ${v4('c0 00 02 01')} 00 08 9c 40 00 00 02 00
  ${v4('c6 33 64 07')} ${v4('0a 00 00 05')} 00 08 12 34 00 00 02 00`;
// IPv6 keys laid out as §10 says: 2001:db8:1::5 port 51234 to 2001:db8:100::7 port 443,
// nat-to 2001:db8:ff::2 port 54321
const V6_S = '20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 07';
const V6_P = '20 01 0d b8 00 ff 00 00 00 00 00 00 00 00 00 02';
const V6_H = '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 05';
const NAT6_KEYS = `
  ${V6_S} ${V6_P} 01 bb d4 31 00 00 18 00
  ${V6_S} ${V6_H} 01 bb c8 22 00 00 18 00`;

const importerOf = (f: Flow) => new StateImporter(f.states, (name) => f.filter.interfaces.id(name));
const exporterOf = (f: Flow) => StateExporter.forEngine(f.states, (id) => f.filter.interfaces.name(id));

/** State i's keys in tunpf's orientation (the initiator first): `wire | stack`. */
function keysOf(t: StateTable, i: number): string {
  const af = t.afOf(i);
  const side = (stack: boolean, s: number) => {
    const a = formatAddress(af, stack ? t.stackAddressOf(i, s) : t.addressOf(i, s));
    return `${af === 6 ? `[${a}]` : a}:${stack ? t.stackPortOf(i, s) : t.portOf(i, s)}`;
  };
  return `${side(false, 0)} -> ${side(false, 1)} | ${side(true, 0)} -> ${side(true, 1)}`;
}

/** A packet's addresses and ports (ICMP: the id) as text. */
function tuple(pkt: Uint8Array): string {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
  const icmp = m.proto === 1 || m.proto === 58;
  const at = (a: Uint32Array, p: number) => `${m.af === 6 ? `[${formatAddress(6, a)}]` : formatAddress(4, a)}:${p}`;
  return `${at(m.src, icmp ? m.icmpId : m.srcPort)} -> ${at(m.dst, icmp ? m.icmpId : m.dstPort)}`;
}

/**
 * Checks `pkt` on wan in direction `dir` against the imported state i: it
 * must match state i through the key pf says (inbound: wire, outbound:
 * stack) and leave rewritten to the other key as `expected`.
 */
function through(f: Flow, i: number, pkt: Uint8Array, dir: Direction, expected: string): void {
  const buf = Uint8Array.from(pkt);
  const v = f.send(buf, dir, 'wan');
  assert.ok(v.pass, `${tuple(pkt)} passes`);
  assert.equal(v.state, i, 'by the imported state');
  assert.equal(v.created, false);
  assert.equal(v.rewrite, true, 'translated');
  assert.equal(v.toStack, dir === Direction.IN, 'inbound matched the wire key, outbound the stack key');
  rewriteFromState(f.states.table, i, v.toStack, v.forward, v.viaIcmpError, buf, f.meta);
  assert.equal(tuple(buf), expected);
}

interface Case {
  name: string;
  record: Uint8Array;
  keys: string;
  /** A packet arriving on wan for the state, and how it leaves. */
  inbound: [Uint8Array, string];
  /** A packet leaving on wan for the state, and how it leaves. */
  outbound: [Uint8Array, string];
}

const CASES: Case[] = [
  {
    name: '§13.1 nat-to, TCP',
    record: translatedRecord(NAT_KEYS_13_1, Direction.OUT),
    keys: '192.0.2.1:54321 -> 198.51.100.7:443 | 10.0.0.5:51234 -> 198.51.100.7:443',
    inbound: [
      buildTcp({
        src: '198.51.100.7',
        dst: '192.0.2.1',
        sport: 443,
        dport: 54321,
        flags: 'SA',
        seq: 7000,
        ack: 1000001,
      }),
      '198.51.100.7:443 -> 10.0.0.5:51234',
    ],
    outbound: [
      buildTcp({ src: '10.0.0.5', dst: '198.51.100.7', sport: 51234, dport: 443, flags: 'A', seq: 1000001, ack: 7001 }),
      '192.0.2.1:54321 -> 198.51.100.7:443',
    ],
  },
  {
    name: '§13.1 nat-to, UDP',
    record: translatedRecord(NAT_KEYS_13_1, Direction.OUT, nonTcp(17, 1, 6, 60)),
    keys: '192.0.2.1:54321 -> 198.51.100.7:443 | 10.0.0.5:51234 -> 198.51.100.7:443',
    inbound: [
      buildUdp({ src: '198.51.100.7', dst: '192.0.2.1', sport: 443, dport: 54321 }),
      '198.51.100.7:443 -> 10.0.0.5:51234',
    ],
    outbound: [
      buildUdp({ src: '10.0.0.5', dst: '198.51.100.7', sport: 51234, dport: 443 }),
      '192.0.2.1:54321 -> 198.51.100.7:443',
    ],
  },
  {
    name: '§13.3 nat-to, ICMP echo',
    record: translatedRecord(ICMP_KEYS_13_3, Direction.OUT, nonTcp(1, 0, 9, 20)),
    keys: '192.0.2.1:40000 -> 198.51.100.7:40000 | 10.0.0.5:4660 -> 198.51.100.7:4660',
    inbound: [
      buildIcmpEcho({ src: '198.51.100.7', dst: '192.0.2.1', id: 40000, seq: 1, reply: true }),
      '198.51.100.7:4660 -> 10.0.0.5:4660',
    ],
    outbound: [
      buildIcmpEcho({ src: '10.0.0.5', dst: '198.51.100.7', id: 4660, seq: 2 }),
      '192.0.2.1:40000 -> 198.51.100.7:40000',
    ],
  },
  {
    name: '§13.4 rdr-to, TCP (state made inbound)',
    record: translatedRecord(RDR_KEYS_13_4, Direction.IN),
    keys: '203.0.113.9:40000 -> 192.0.2.1:80 | 203.0.113.9:40000 -> 10.0.0.10:8080',
    // the server's SYN-ACK leaves through the stack key, then the client's ACK comes in on the wire key
    outbound: [
      buildTcp({
        src: '10.0.0.10',
        dst: '203.0.113.9',
        sport: 8080,
        dport: 40000,
        flags: 'SA',
        seq: 7000,
        ack: 1000001,
      }),
      '192.0.2.1:80 -> 203.0.113.9:40000',
    ],
    inbound: [
      buildTcp({ src: '203.0.113.9', dst: '192.0.2.1', sport: 40000, dport: 80, flags: 'A', seq: 1000001, ack: 7001 }),
      '203.0.113.9:40000 -> 10.0.0.10:8080',
    ],
  },
  {
    name: 'nat-to, TCP over IPv6',
    record: translatedRecord(NAT6_KEYS, Direction.OUT, (r) => (r[StateOffset.AF] = 24)),
    keys: '[2001:db8:ff::2]:54321 -> [2001:db8:100::7]:443 | [2001:db8:1::5]:51234 -> [2001:db8:100::7]:443',
    inbound: [
      buildTcp({
        src: '2001:db8:100::7',
        dst: '2001:db8:ff::2',
        sport: 443,
        dport: 54321,
        flags: 'SA',
        seq: 7000,
        ack: 1000001,
      }),
      '[2001:db8:100::7]:443 -> [2001:db8:1::5]:51234',
    ],
    outbound: [
      buildTcp({
        src: '2001:db8:1::5',
        dst: '2001:db8:100::7',
        sport: 51234,
        dport: 443,
        flags: 'A',
        seq: 1000001,
        ack: 7001,
      }),
      '[2001:db8:ff::2]:54321 -> [2001:db8:100::7]:443',
    ],
  },
];

for (const c of CASES) {
  test(`${c.name}: the spec's record imports with both keys, serves both ways, exports the same bytes`, () => {
    const f = new Flow('block all');
    f.now = 5000;
    const i = importerOf(f).import(c.record, 0, f.now);
    assert.ok(i >= 0, `import refused: ${-i}`);
    const t = f.states.table;
    assert.equal(t.translated(i), true);
    assert.equal(keysOf(t, i), c.keys);
    const out = new Uint8Array(STATE_LENGTH);
    exporterOf(f).writeState(i, f.now, out, 0);
    assert.deepEqual(out.subarray(24, 104), c.record.subarray(24, 104), 'keys, byte for byte');
    assert.deepEqual(out, c.record, 'the whole record');
    // the rule set (block all) is never asked: the state carries both directions
    const [first, second] =
      c.record[StateOffset.DIRECTION] === Direction.IN ? [c.outbound, c.inbound] : [c.inbound, c.outbound];
    const dirOf = (p: [Uint8Array, string]) => (p === c.inbound ? Direction.IN : Direction.OUT);
    f.now += 1;
    through(f, i, first[0], dirOf(first), first[1]);
    through(f, i, second[0], dirOf(second), second[1]);
  });
}

test('ICMP keys that differ in the id make a translated state (ids from the initiator slots), in the type not', () => {
  const f = new Flow('block all');
  const i = importerOf(f).import(CASES[2]!.record, 0, f.now);
  const t = f.states.table;
  assert.deepEqual(
    [t.portOf(i, 0), t.portOf(i, 1), t.stackPortOf(i, 0), t.stackPortOf(i, 1)],
    [40000, 40000, 4660, 4660],
  );
  // keys that differ in nothing tunpf keeps (here: the type slot) make an untranslated state
  const same = translatedRecord(
    `${v4('c6 33 64 07')} ${v4('c0 00 02 01')} 00 08 9c 40 00 00 02 00
     ${v4('c6 33 64 07')} ${v4('c0 00 02 01')} 00 0d 9c 40 00 00 02 00`,
    Direction.OUT,
    nonTcp(1, 0, 9, 20),
  );
  const g = new Flow('block all');
  const j = importerOf(g).import(same, 0, g.now);
  assert.ok(j >= 0, `import refused: ${-j}`);
  assert.equal(g.states.table.translated(j), false);
});

/** A pfsync packet (no IP header) of `action` carrying `messages`. */
function packetOf(action: number, ...messages: Uint8Array[]): Uint8Array {
  const len = MessageLength[action]!;
  const buf = new Uint8Array(PFSYNC.HEADER_LENGTH + 4 + len * messages.length);
  writeHeader(buf, 0, buf.length);
  writeSubheader(buf, PFSYNC.HEADER_LENGTH, action, messages.length);
  messages.forEach((m, k) => buf.set(m, PFSYNC.HEADER_LENGTH + 4 + k * len));
  return buf;
}

test('import collisions: a local state holding the wire key or the stack key refuses the insert, counted', () => {
  const p = new Pair();
  const b = p.b;
  const flow = b.flow;
  const t = b.table;
  // the local state leaving on wan holds the tuple the peer's state has on the wire (both picked 54321) ...
  const wireHolder = flow.send(
    buildTcp({ src: '192.0.2.1', dst: '198.51.100.7', sport: 54321, dport: 443, flags: 'S' }),
    Direction.OUT,
    'wan',
  ).state;
  const rec = CASES[0]!.record;
  const creator = 0x1d2c3b4a;
  const dropped = () => b.engine.inbound.counters.dropped[PfsyncDrop.BADSTATE];
  const before = dropped()!;
  b.engine.receive(packetOf(PfsyncAction.INS, rec), 0, PFSYNC.HEADER_LENGTH + 4 + STATE_LENGTH);
  assert.equal(t.findById(creator, 0x6744d0a1, 7), -1, 'not imported');
  assert.equal(t.count, 1);
  assert.equal(dropped(), before + 1, 'counted');
  assert.equal(importerOf(flow).import(rec, 0, flow.now), -ImportError.FLOW_EXISTS);

  // ... or the one the peer's state has towards the stack: the half-made state goes again, indexes intact
  const q = new Pair();
  const c = q.b;
  const stackHolder = c.flow.send(
    buildTcp({ src: '10.0.0.5', dst: '198.51.100.7', sport: 51234, dport: 443, flags: 'S' }),
    Direction.OUT,
    'wan',
  ).state;
  c.engine.receive(packetOf(PfsyncAction.UPD, rec), 0, PFSYNC.HEADER_LENGTH + 4 + STATE_LENGTH);
  assert.equal(c.table.findById(creator, 0x6744d0a1, 7), -1);
  assert.equal(c.table.count, 1);
  assert.equal(c.engine.inbound.counters.dropped[PfsyncDrop.BADSTATE], 1);
  const ip = (s: string) =>
    Uint32Array.of(
      s.split('.').reduce((a, o) => a * 256 + Number(o), 0),
      0,
      0,
      0,
    );
  assert.equal(
    c.table.find(4, 6, ip('10.0.0.5'), 51234, ip('198.51.100.7'), 443, FLOATING, Direction.OUT),
    stackHolder,
    'the local state is still found',
  );
  assert.equal(
    c.table.find(4, 6, ip('198.51.100.7'), 443, ip('192.0.2.1'), 54321, FLOATING, Direction.IN),
    -1,
    "nothing answers for the refused state's wire key",
  );
  assert.equal(t.find(4, 6, ip('192.0.2.1'), 54321, ip('198.51.100.7'), 443, FLOATING, Direction.OUT), wireHolder);

  // without the local states both import: the keys were what collided
  const r = new Pair();
  r.b.engine.receive(packetOf(PfsyncAction.INS, rec), 0, PFSYNC.HEADER_LENGTH + 4 + STATE_LENGTH);
  assert.ok(r.b.table.findById(creator, 0x6744d0a1, 7) >= 0);
});

test('updates of a translated state (UPD_C, UPD) move its peers and keep both keys', () => {
  const p = new Pair();
  const b = p.b;
  const t = b.table;
  const rec = CASES[0]!.record;
  const n = PFSYNC.HEADER_LENGTH + 4;
  b.engine.receive(packetOf(PfsyncAction.INS, rec), 0, n + STATE_LENGTH);
  const i = t.findById(0x1d2c3b4a, 0x6744d0a1, 7);
  assert.ok(i >= 0);
  const keys = keysOf(t, i);
  const full = state.decode(rec);
  full.src.state = full.dst.state = TcpState.ESTABLISHED;
  full.src.seqlo = 1000001;
  full.dst.seqlo = 7001;
  full.timeout = 2;
  const compressed = {
    idHi: full.idHi,
    idLo: full.idLo,
    src: full.src,
    dst: full.dst,
    creatorid: full.creatorid,
    expire: 0,
    timeout: 2,
    stateFlags: 0,
  };
  b.engine.receive(packetOf(PfsyncAction.UPD_C, updC.encode(compressed)), 0, n + 84);
  assert.deepEqual([t.peerState[i * 2], t.peerState[i * 2 + 1]], [TcpState.ESTABLISHED, TcpState.ESTABLISHED]);
  assert.equal(keysOf(t, i), keys);
  full.src.seqlo = 1005001;
  b.engine.receive(packetOf(PfsyncAction.UPD, state.encode(full)), 0, n + STATE_LENGTH);
  assert.equal(t.seqlo[i * 2], 1005001);
  assert.equal(t.translated(i), true);
  assert.equal(keysOf(t, i), keys);
  const out = new Uint8Array(STATE_LENGTH);
  StateExporter.forEngine(b.flow.states, (id) => b.flow.filter.interfaces.name(id)).writeState(i, p.clock.now, out, 0);
  assert.deepEqual(out.subarray(24, 104), rec.subarray(24, 104));
  assert.equal(t.count, 1);
});

const GATEWAY_NAT =
  'block all\n' +
  'pass in on lan\n' +
  'pass out on wan\n' +
  'match out on wan inet from 192.168.1.0/24 nat-to 198.51.100.2\n';

/** Forwards pkt through node's gateway from `ifname`; returns how it left (asserting it passed). */
function forward(
  g: { forward: (p: Uint8Array, i: string) => { pass: boolean; why: string; packet: Uint8Array } },
  pkt: Uint8Array,
  ifname: string,
): string {
  const r = g.forward(pkt, ifname);
  assert.ok(r.pass, `${tuple(pkt)} from ${ifname}: ${r.why}`);
  return tuple(r.packet);
}

test('takeover: the backup forwards nat-to connections learnt over pfsync as the master did (TCP, UDP, ping)', () => {
  const p = Pair.ofGateways(GATEWAY_NAT);
  const a = p.a.gateway;
  const b = p.b.gateway;
  const H = '192.168.1.10';
  const S = '203.0.113.5';
  // on a: a TCP handshake, a UDP exchange and a ping, each translated by nat-to
  const syn = forward(a, buildTcp({ src: H, dst: S, sport: 40000, dport: 443, flags: 'S', seq: 1000 }), 'lan');
  const tcpPort = Number(/^198\.51\.100\.2:(\d+) -> 203\.0\.113\.5:443$/.exec(syn)?.[1]);
  assert.ok(tcpPort >= 50001, syn);
  assert.equal(
    forward(
      a,
      buildTcp({ src: S, dst: '198.51.100.2', sport: 443, dport: tcpPort, flags: 'SA', seq: 9000, ack: 1001 }),
      'wan',
    ),
    `${S}:443 -> ${H}:40000`,
  );
  const udp = forward(a, buildUdp({ src: H, dst: S, sport: 5353, dport: 53 }), 'lan');
  const udpPort = Number(/:(\d+) -> /.exec(udp)?.[1]);
  const ping = forward(a, buildIcmpEcho({ src: H, dst: S, id: 4660, seq: 1 }), 'lan');
  const pingId = Number(/:(\d+) -> /.exec(ping)?.[1]);
  assert.ok(udp.startsWith('198.51.100.2:') && ping.startsWith('198.51.100.2:'));
  p.advance(1);
  assert.ok(p.deliver() > 0);
  assert.equal(p.b.table.count, p.a.table.count, 'b has every state of a');

  // a dies; b takes the replies and the next packets of each connection
  const states = p.b.table.count;
  assert.equal(
    forward(b, buildTcp({ src: H, dst: S, sport: 40000, dport: 443, flags: 'A', seq: 1001, ack: 9001 }), 'lan'),
    `198.51.100.2:${tcpPort} -> ${S}:443`,
    'same external port',
  );
  assert.equal(
    forward(
      b,
      buildTcp({
        src: S,
        dst: '198.51.100.2',
        sport: 443,
        dport: tcpPort,
        flags: 'A',
        seq: 9001,
        ack: 1001,
        payload: new Uint8Array(100),
      }),
      'wan',
    ),
    `${S}:443 -> ${H}:40000`,
    'same inside host',
  );
  assert.equal(
    forward(b, buildUdp({ src: S, dst: '198.51.100.2', sport: 53, dport: udpPort }), 'wan'),
    `${S}:53 -> ${H}:5353`,
  );
  assert.equal(forward(b, buildUdp({ src: H, dst: S, sport: 5353, dport: 53 }), 'lan'), udp);
  assert.equal(
    forward(b, buildIcmpEcho({ src: S, dst: '198.51.100.2', id: pingId, seq: 1, reply: true }), 'wan'),
    `${S}:4660 -> ${H}:4660`,
  );
  assert.equal(forward(b, buildIcmpEcho({ src: H, dst: S, id: 4660, seq: 2 }), 'lan'), ping);
  assert.equal(p.b.table.count, states, 'no state made on b: all were found');
});
