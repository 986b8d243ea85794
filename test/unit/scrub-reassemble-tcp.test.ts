// scrub (reassemble tcp), pf's stateful TCP normalisation: the timestamp
// option rewritten in place (checksums against an independent oracle), the
// TTL raised to the highest a side used, timestamps modulated both ways,
// pf's PAWS checks, the per-state data pool, and pfsync carrying the
// modulation to the backup.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pfReasonOf, Why } from '../../src/filter/packet-filter.js';
import { buildTcp, type TcpFields } from '../../src/packet/build.js';
import { PfReason } from '../../src/packet/pflog.js';
import { shiftTimestamps, timestampOptionOffset } from '../../src/packet/tcp-timestamps.js';
import { Direction } from '../../src/packet/meta.js';
import { FLOATING, StateReason } from '../../src/state/constants.js';
import { PFSS_PRESENT, PfssFlag, TcpScrubTable } from '../../src/state/tcp-scrub.js';
import { Gateway } from './helpers/gateway.js';
import { Pair } from './helpers/pfsync-pair.js';
import { assertChecksums, parsed } from './helpers/rewrite-oracle.js';

const C = '192.168.1.10';
const S = '203.0.113.5';
const RULES = 'pass in on lan proto tcp scrub (reassemble tcp)\npass out on wan';

/** A client segment (lan -> wan) and a server one, with timestamps [tsval, tsecr]. */
function client(flags: string, seq: number, ack: number, ts: [number, number] | null, extra: Partial<TcpFields> = {}) {
  return buildTcp({
    src: C,
    dst: S,
    sport: 40000,
    dport: 80,
    flags,
    seq,
    ack,
    window: 64000,
    ...(ts ? { options: { ts } } : {}),
    ...extra,
  });
}

function server(flags: string, seq: number, ack: number, ts: [number, number] | null, extra: Partial<TcpFields> = {}) {
  return buildTcp({
    src: S,
    dst: C,
    sport: 80,
    dport: 40000,
    flags,
    seq,
    ack,
    window: 64000,
    ...(ts ? { options: { ts } } : {}),
    ...extra,
  });
}

/** The scrubbed state of the connection: the one `pass in on lan` made. */
function inState(g: Gateway): number {
  const c = Uint32Array.of(0xc0a8010a, 0, 0, 0);
  const srv = Uint32Array.of(0xcb007105, 0, 0, 0);
  const i = g.states.table.find(4, 6, c, 40000, srv, 80, FLOATING, Direction.IN);
  assert.ok(i >= 0, 'the in state');
  return i;
}

/** What leaves the gateway, checked: it passed, and its checksums hold. */
function through(g: Gateway, pkt: Uint8Array, ifname: string, what: string) {
  const r = g.forward(pkt, ifname);
  assert.ok(r.pass, `${what}: ${r.why}`);
  assertChecksums(r.packet, what);
  return parsed(r.packet);
}

/** A handshake with timestamps through `g`: the modulations the client's and the server's side got. */
function handshake(g: Gateway) {
  const syn = through(g, client('S', 1000, 0, [1000, 0], { ttl: 64 }), 'lan', 'SYN');
  const modC = (syn.tsVal - 1000) >>> 0;
  assert.equal(syn.tsEcr, 0, 'an echo of 0 stays 0');
  const synAck = through(g, server('SA', 5000, 1001, [50000, syn.tsVal], { ttl: 50 }), 'wan', 'SYN-ACK');
  const modS = (synAck.tsVal - 50000) >>> 0;
  assert.equal(synAck.tsEcr, 1000, "the server's echo of the client's timestamp, shifted back");
  const ack = through(g, client('A', 1001, 5001, [1001, synAck.tsVal]), 'lan', 'ACK');
  assert.equal(ack.tsVal, (1001 + modC) >>> 0);
  assert.equal(ack.tsEcr, 50000);
  return { modC, modS };
}

test('the timestamp option is found and shifted in place at either alignment; the checksum stays right', () => {
  const cases: Array<[string, TcpFields['options']]> = [
    ['NOP NOP TS (Linux)', { ts: [7, 0xfffffff0] }],
    ['NOP TS: the values at odd offsets', [{ kind: 1 }, { kind: 8, tsVal: 7, tsEcr: 0xfffffff0 }]],
    ['MSS, then TS', [{ kind: 2, mss: 1460 }, { kind: 1 }, { kind: 1 }, { kind: 8, tsVal: 7, tsEcr: 0xfffffff0 }]],
    // 32 bytes of header as in Linux's layout, but the value's first bytes read like a timestamp option's start
    ['TS, then NOP NOP', [{ kind: 8, tsVal: 0x080a0000, tsEcr: 0xfffffff0 }, { kind: 1 }, { kind: 1 }]],
  ];
  for (const [what, options] of cases) {
    const pkt = buildTcp({ src: C, dst: S, sport: 1, dport: 2, flags: 'A', options, payload: Uint8Array.of(1, 2, 3) });
    const m = parsed(pkt);
    const value = m.tsVal;
    assert.ok(timestampOptionOffset(pkt, m) > 0, what);
    assert.equal(shiftTimestamps(pkt, m, 0xfffffffe, 0x20), true);
    assertChecksums(pkt, what);
    const again = parsed(pkt);
    assert.equal(again.tsVal, (value + 0xfffffffe) >>> 0, `${what}: value + offset, mod 2^32`);
    assert.equal(again.tsEcr, 0xffffffd0, `${what}: echo - offset`);
    assert.equal(m.tsVal, again.tsVal, 'the meta follows');
    assert.equal(m.tsEcr, again.tsEcr);
  }
  const none = buildTcp({ src: C, dst: S, sport: 1, dport: 2, flags: 'A' });
  const before = Uint8Array.from(none);
  assert.equal(shiftTimestamps(none, parsed(none), 5, 5), false);
  assert.deepEqual(none, before, 'a segment without the option is left alone');
});

test('timestamps are modulated per side, both ways, and the echoes shifted back', () => {
  const g = new Gateway(RULES);
  const { modC, modS } = handshake(g);
  assert.notEqual(modC, modS, 'each side has its own offset');
  const t = g.states.table;
  const i = inState(g);
  const slot = t.tcpScrub.slotOf(i);
  assert.equal(t.tcpScrub.tsMod[slot * 2], modC);
  assert.equal(t.tcpScrub.tsMod[slot * 2 + 1], modS);
  const data = through(
    g,
    server('PA', 5001, 1001, [50010, (1001 + modC) >>> 0], { payload: new Uint8Array(100) }),
    'wan',
    'data',
  );
  assert.equal(data.tsVal, (50010 + modS) >>> 0);
  assert.equal(data.tsEcr, 1001);
  assert.equal(data.payloadLength, 100);
});

test("a side's TTL is raised to the highest it used on the connection, each side its own", () => {
  const g = new Gateway(RULES);
  const { modS } = handshake(g);
  const echo = (50000 + modS) >>> 0; // the server's timestamp as the client sees it
  const low = through(g, client('PA', 1001, 5001, [1002, echo], { ttl: 3, payload: new Uint8Array(10) }), 'lan', 'low');
  assert.equal(low.ttl, 64, "the client's SYN had 64");
  const higher = through(g, client('A', 1011, 5001, [1003, echo], { ttl: 100 }), 'lan', 'higher');
  assert.equal(higher.ttl, 100, 'a higher TTL passes as it is...');
  const again = through(g, client('A', 1011, 5001, [1004, echo], { ttl: 64 }), 'lan', 'again');
  assert.equal(again.ttl, 100, '...and becomes the one to raise to');
  const srv = through(g, server('A', 5001, 1011, [50001, 0], { ttl: 20 }), 'wan', 'server');
  assert.equal(srv.ttl, 50, "the server's own highest");
});

test("pf's PAWS checks drop stale or runaway timestamps (bad-timestamp), and the windows do not move", () => {
  const g = new Gateway(RULES);
  const { modS } = handshake(g);
  const echo = (50000 + modS) >>> 0;
  const t = g.states.table;
  const i = inState(g);
  const slot = t.tcpScrub.slotOf(i);
  assert.equal(t.tcpScrub.flags[slot * 2]! & PfssFlag.PAWS, PfssFlag.PAWS, 'the client echoed: PAWS holds');
  assert.equal(t.tcpScrub.flags[slot * 2 + 1]! & PfssFlag.PAWS, PfssFlag.PAWS);
  const seqlo = t.seqlo[i * 2];
  // older than what the server last echoed (1000)
  const old = g.forward(client('PA', 1001, 5001, [999, echo], { payload: new Uint8Array(10) }), 'lan');
  assert.equal(old.pass, false);
  assert.equal(old.why, 'bad-timestamp');
  assert.equal(t.seqlo[i * 2], seqlo, 'a dropped segment moves no window');
  // further ahead than a 1.1 kHz clock runs in 0 s plus tcp.tsdiff (30 s): 33000 ticks
  const runaway = g.forward(client('A', 1001, 5001, [1001 + 33001, echo]), 'lan');
  assert.equal(runaway.why, 'bad-timestamp');
  // echoing a server timestamp never sent
  const forged = g.forward(client('A', 1001, 5001, [1002, (echo + 1) >>> 0]), 'lan');
  assert.equal(forged.why, 'bad-timestamp', 'the echo is checked too');
  // within bounds: passes; 10 s later the clock may have run 11000 more ticks
  through(g, client('PA', 1001, 5001, [1001 + 33000, echo], { payload: new Uint8Array(10) }), 'lan', 'in bounds');
  g.now += 10;
  through(g, client('A', 1011, 5001, [1001 + 33000 + 44000, echo]), 'lan', '10 s on');
  assert.equal(g.states.counters.byReason[StateReason.BAD_TIMESTAMP], 3);
  assert.equal(g.filter.counters.byWhy[Why.BAD_TIMESTAMP], 3);
  assert.equal(pfReasonOf(Why.BAD_TIMESTAMP), PfReason.TS, "pflog's reason: bad-timestamp");
  // the client timestamped its data: data without a timestamp is refused from now on (resets aside)
  const bare = g.forward(client('PA', 1011, 5001, null, { payload: new Uint8Array(10) }), 'lan');
  assert.equal(bare.why, 'bad-timestamp');
  assert.ok(g.forward(client('R', 1011, 0, null), 'lan').pass, 'a reset needs no timestamp');
});

test('states without reassemble tcp hold no scrub data; a state gives its data back when it goes', () => {
  const plain = new Gateway('pass');
  handshakeWithout(plain);
  assert.equal(plain.states.table.tcpScrub.count, 0);
  const g = new Gateway(RULES);
  handshake(g);
  assert.equal(g.states.table.tcpScrub.count, 1, 'one state scrubbed (the out state has no option)');
  g.states.flush();
  assert.equal(g.states.table.tcpScrub.count, 0);
  const syn = client('S', 1000, 0, [1000, 0]);
  const created = g.forward(syn, 'lan').outcome.inCheck.state;
  g.states.remove(created);
  assert.equal(g.states.table.tcpScrub.count, 0);
});

function handshakeWithout(g: Gateway): void {
  const syn = client('S', 1000, 0, [1000, 0]);
  const before = Uint8Array.from(syn);
  const r = g.forward(syn, 'lan');
  assert.deepEqual(r.packet, before, 'nothing rewritten');
}

test('the scrub pool maps states to slots through growth and deletions', () => {
  const pool = new TcpScrubTable(4);
  const held = new Map<number, number>();
  let x = 12345;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let round = 0; round < 5000; round++) {
    const state = next() % 700;
    if (held.has(state) && next() % 2 === 0) {
      pool.release(state);
      held.delete(state);
    } else if (!held.has(state)) {
      const slot = pool.attach(state);
      pool.tsMod[slot * 2] = state; // a mark to find again
      held.set(state, slot);
    }
  }
  assert.equal(pool.count, held.size);
  for (let s = 0; s < 700; s++) {
    const slot = pool.slotOf(s);
    if (held.has(s)) assert.equal(pool.tsMod[slot * 2], s, `state ${s}`);
    else assert.equal(slot, -1, `state ${s} has none`);
  }
  const slots = new Set([...held.keys()].map((s) => pool.slotOf(s)));
  assert.equal(slots.size, held.size, 'no slot is shared');
});

test("pfsync carries each side's TTL and modulation: after a takeover the timestamps do not jump", () => {
  const p = Pair.ofGateways(RULES);
  const a = p.a.gateway;
  const b = p.b.gateway;
  const { modC, modS } = handshake(a);
  p.advance(1);
  assert.ok(p.deliver() > 0);
  const at = a.states.table;
  const i = inState(a);
  const bt = b.states.table;
  const j = bt.findById(at.creator[i]!, at.idHi[i]!, at.idLo[i]!);
  const slot = bt.tcpScrub.slotOf(j);
  assert.ok(slot >= 0, 'the backup has the scrub data');
  assert.equal(bt.tcpScrub.flags[slot * 2]! & (PFSS_PRESENT | PfssFlag.TIMESTAMP), PFSS_PRESENT | PfssFlag.TIMESTAMP);
  assert.equal(bt.tcpScrub.tsMod[slot * 2], modC);
  assert.equal(bt.tcpScrub.tsMod[slot * 2 + 1], modS);
  assert.equal(bt.tcpScrub.ttl[slot * 2], 64);
  // a dies: b forwards the connection with the same modulation and TTL floor
  const echo = (50000 + modS) >>> 0;
  const fromClient = through(
    b,
    client('PA', 1001, 5001, [1010, echo], { ttl: 9, payload: new Uint8Array(5) }),
    'lan',
    'b',
  );
  assert.equal(fromClient.tsEcr, 50000);
  assert.equal(fromClient.tsVal, (1010 + modC) >>> 0);
  assert.equal(fromClient.ttl, 64);
  const fromServer = through(b, server('A', 5001, 1006, [50020, (1010 + modC) >>> 0]), 'wan', 'b back');
  assert.equal(fromServer.tsVal, (50020 + modS) >>> 0);
  assert.equal(fromServer.tsEcr, 1010);
});
