// synproxy state, packet by packet with a fake clock: the router answers the
// client's SYN itself (PROXY_SRC), opens the connection to the server only
// after the client's valid ACK (PROXY_DST), joins the two sequence spaces
// when the server answers, and a client that never completes the handshake
// costs one state until tcp.first. The packets the router sends are caught
// from a fake TUN and checked field by field, checksums recomputed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { LOCAL_DELIVERY, RouteTable, routeTo } from '../../src/datapath/route-table.js';
import { SynproxySender } from '../../src/datapath/synproxy-sender.js';
import type { TunDevice } from '../../src/datapath/tun-device.js';
import { VIRTIO_NET_HDR_LEN } from '../../src/datapath/virtio-net.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { PacketFilter, Why } from '../../src/filter/packet-filter.js';
import { formatAddress } from '../../src/packet/address.js';
import { buildTcp, type TcpFields } from '../../src/packet/build.js';
import { PacketMeta, TCPFlag } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { StateReason, TcpState, Timeout } from '../../src/state/constants.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { ProxySend } from '../../src/state/synproxy.js';
import { iface } from './helpers/filter-harness.js';
import { assertChecksums, parsed } from './helpers/rewrite-oracle.js';

const INTERFACES = [iface('lan', ['192.168.1.1/24']), iface('wan', ['198.51.100.2/30'])];
const R0 = 0x11111111; // the router's ISN towards the client
const R1 = 0x22222222; // and towards the server

function setup(rules = 'pass out\npass in on lan proto tcp synproxy state') {
  const { ruleset, diagnostics } = parseRuleset(rules, { file: 't.conf', interfaces: INTERFACES });
  assert.ok(ruleset, diagnostics.map((d) => d.message).join('\n'));
  const registry = new InterfaceRegistry(INTERFACES);
  const isns = [R0, R1];
  let n = 0;
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000, random32: () => isns[n++ % 2]! });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const routes = new RouteTable();
  routes.replace([
    routeTo('0.0.0.0/0', 'wan', registry.id('wan'))!,
    routeTo('192.168.1.0/24', 'lan', registry.id('lan'))!,
    routeTo('192.168.1.1', 'lan', LOCAL_DELIVERY)!,
    routeTo('198.51.100.2', 'wan', LOCAL_DELIVERY)!,
  ]);
  const pipe = new PacketPipeline(filter, states, routes);
  const sender = new SynproxySender(pipe, states);
  const sent: Uint8Array[] = [];
  const tun = {
    write(buf: Buffer, offsets: Uint32Array, lengths: Uint32Array) {
      sent.push(Uint8Array.from(buf.subarray(offsets[0]! + VIRTIO_NET_HDR_LEN, offsets[0]! + lengths[0]!)));
      return 1;
    },
  } as unknown as TunDevice;
  const clock = { now: 1000 };
  /** One packet through the pipeline, and what synproxy sends for it (as the forwarder does). */
  const forward = (pkt: Uint8Array, ifname: string) => {
    const m = new PacketMeta();
    assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
    const o = pipe.forward(m, pkt, 0, pkt.length, registry.id(ifname), clock.now);
    const pass = o.pass;
    const why = o.outChecked ? o.outCheck.why : o.inCheck.why;
    const inWhy = o.inCheck.why;
    const kept = o.inCheck.proxy !== 0 ? o.inCheck : o.outCheck;
    const proxy = kept.proxy;
    const state = o.inCheck.state;
    sent.length = 0;
    if (!pass && proxy !== 0) sender.send(tun, kept, m, clock.now);
    return { pass, why, inWhy, proxy, state, sent: sent.slice() };
  };
  return { forward, states, clock };
}

const C: TcpFields = { src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 80 };
const S: TcpFields = { src: '203.0.113.5', dst: '192.168.1.10', sport: 80, dport: 40000 };

/** The fields of a segment the router sent, its checksums verified by recomputation. */
function seg(pkt: Uint8Array) {
  assertChecksums(pkt, 'sent by synproxy');
  const m = parsed(pkt);
  return {
    src: `${formatAddress(m.af, m.src)}:${m.srcPort}`,
    dst: `${formatAddress(m.af, m.dst)}:${m.dstPort}`,
    flags: m.tcpFlags,
    seq: m.seq,
    ack: m.ack,
    window: m.window,
    mss: m.mss,
  };
}

test('PROXY_SRC: the SYN is answered by the router and goes no further; retransmits are answered again', () => {
  const { forward, states } = setup();
  const syn = buildTcp({ ...C, flags: 'S', seq: 1000, options: { mss: 1460, wscale: 7, sackOk: true } });
  const r = forward(syn, 'lan');
  assert.deepEqual([r.pass, r.inWhy, r.proxy], [false, Why.SYNPROXY, ProxySend.SYN_ACK]);
  assert.equal(r.sent.length, 1);
  assert.deepEqual(seg(r.sent[0]!), {
    src: '203.0.113.5:80',
    dst: '192.168.1.10:40000',
    flags: TCPFlag.SYN | TCPFlag.ACK,
    seq: R0,
    ack: 1001,
    window: 0,
    mss: 1460,
  });
  const t = states.table;
  assert.equal(t.peerState[r.state * 2], TcpState.PROXY_SRC);
  assert.equal(t.timeoutClass[r.state], Timeout.TCP_FIRST);
  const again = forward(buildTcp({ ...C, flags: 'S', seq: 1000, options: { mss: 1460 } }), 'lan');
  assert.equal(again.sent.length, 1, 'the same SYN again: the SYN-ACK again');
  assert.equal(seg(again.sent[0]!).seq, R0);
  const other = forward(buildTcp({ ...C, flags: 'S', seq: 4242 }), 'lan');
  assert.deepEqual([other.pass, other.sent.length], [false, 0], 'a SYN of another sequence is dropped unanswered');
  for (const [bad, on] of [
    [buildTcp({ ...C, flags: 'A', seq: 1001, ack: R0 }), 'lan'], // wrong ack
    [buildTcp({ ...C, flags: 'A', seq: 1002, ack: R0 + 1 }), 'lan'], // wrong seq
    [buildTcp({ ...C, flags: 'R', seq: 1001 }), 'lan'],
    [buildTcp({ ...S, flags: 'SA', seq: 1, ack: 1001 }), 'wan'], // from the other side
  ] as const) {
    const b = forward(bad, on);
    assert.deepEqual([b.pass, b.sent.length], [false, 0]);
  }
  assert.equal(t.peerState[r.state * 2], TcpState.PROXY_SRC, 'none of those moved the proxy on');
  assert.ok(states.counters.byReason[StateReason.SYNPROXY]! >= 6);
});

test('a client that never completes the handshake costs one state until tcp.first, and the server sees nothing', () => {
  const { forward, states, clock } = setup();
  const r = forward(buildTcp({ ...C, flags: 'S', seq: 1000 }), 'lan');
  assert.equal(r.sent.length, 1);
  assert.equal(seg(r.sent[0]!).dst, '192.168.1.10:40000', 'only the SYN-ACK to the client');
  assert.equal(seg(r.sent[0]!).mss, 512, "pf's default MSS when the SYN offers none");
  assert.equal(states.table.count, 1, 'no state on the server side');
  clock.now += 119;
  assert.equal(states.expire(clock.now, 100), 0);
  clock.now += 2;
  assert.equal(states.expire(clock.now, 100), 1, 'gone after tcp.first (120 s)');
});

test('PROXY_DST and on: the SYN to the server, both ends told, one connection with joined sequence numbers', () => {
  const { forward, states } = setup();
  const r = forward(buildTcp({ ...C, flags: 'S', seq: 1000, options: { mss: 1400 } }), 'lan');
  const t = states.table;
  const i = r.state;
  const ack = forward(buildTcp({ ...C, flags: 'A', seq: 1001, ack: R0 + 1, window: 3000 }), 'lan');
  assert.deepEqual([ack.pass, ack.proxy, ack.sent.length], [false, ProxySend.SYN, 1]);
  assert.deepEqual(seg(ack.sent[0]!), {
    src: '192.168.1.10:40000',
    dst: '203.0.113.5:80',
    flags: TCPFlag.SYN,
    seq: R1,
    ack: 0,
    window: 0,
    mss: 1400,
  });
  assert.equal(t.peerState[i * 2], TcpState.PROXY_DST);
  assert.equal(t.count, 2, "the SYN made the egress's state through the out check");
  // the client's data before the server answered: kept, and the SYN goes again
  const early = buildTcp({ ...C, flags: 'PA', seq: 1001, ack: R0 + 1, window: 3000, payload: new Uint8Array(5) });
  const kept = forward(early, 'lan');
  assert.deepEqual([kept.pass, kept.proxy], [false, ProxySend.SYN]);
  // a SYN-ACK that does not ack the router's SYN is dropped
  const wrong = forward(buildTcp({ ...S, flags: 'SA', seq: 9000, ack: R1 + 7 }), 'wan');
  assert.deepEqual([wrong.pass, wrong.sent.length], [false, 0]);
  const synAck = forward(buildTcp({ ...S, flags: 'SA', seq: 9000, ack: R1 + 1, window: 20000 }), 'wan');
  assert.deepEqual(
    [synAck.pass, synAck.why, synAck.proxy, synAck.sent.length],
    [false, Why.SYNPROXY, ProxySend.ACKS, 2],
  );
  assert.deepEqual(seg(synAck.sent[0]!), {
    src: '192.168.1.10:40000',
    dst: '203.0.113.5:80',
    flags: TCPFlag.ACK,
    seq: R1 + 1,
    ack: 9001,
    window: 3000,
    mss: 0,
  });
  assert.deepEqual(seg(synAck.sent[1]!), {
    src: '203.0.113.5:80',
    dst: '192.168.1.10:40000',
    flags: TCPFlag.ACK,
    seq: R0 + 1,
    ack: 1001,
    window: 20000,
    mss: 0,
  });
  assert.deepEqual([t.peerState[i * 2], t.peerState[i * 2 + 1]], [TcpState.ESTABLISHED, TcpState.ESTABLISHED]);
  assert.deepEqual([t.seqDiff(i, 0), t.seqDiff(i, 1)], [(R1 - 1000) >>> 0, (R0 - 9000) >>> 0]);
  // data both ways, each end seeing its own peer's numbers as the router gave them
  const up = buildTcp({ ...C, flags: 'PA', seq: 1001, ack: R0 + 1, window: 3000, payload: new Uint8Array(100) });
  assert.equal(forward(up, 'lan').pass, true);
  assert.deepEqual([parsed(up).seq, parsed(up).ack], [R1 + 1, 9001]);
  assertChecksums(up, 'client data');
  const down = buildTcp({ ...S, flags: 'PA', seq: 9001, ack: R1 + 101, window: 20000, payload: new Uint8Array(60) });
  assert.equal(forward(down, 'wan').pass, true);
  assert.deepEqual([parsed(down).seq, parsed(down).ack], [R0 + 1, 1101]);
  assertChecksums(down, 'server data');
  // outside the server's window: dropped by the tracking that follows the proxy
  const far = buildTcp({
    ...C,
    flags: 'PA',
    seq: 1001 + 50000,
    ack: R0 + 61,
    window: 3000,
    payload: new Uint8Array(10),
  });
  assert.equal(forward(far, 'lan').pass, false);
});

test('synproxy with rdr-to: the SYN goes to the redirected server, the client hears the address it called', () => {
  const { forward } = setup(
    'pass out\npass in on wan proto tcp to 198.51.100.2 port 80 rdr-to 192.168.1.20 synproxy state',
  );
  const W: TcpFields = { src: '203.0.113.5', dst: '198.51.100.2', sport: 50000, dport: 80 };
  const B: TcpFields = { src: '192.168.1.20', dst: '203.0.113.5', sport: 80, dport: 50000 };
  const syn = forward(buildTcp({ ...W, flags: 'S', seq: 100 }), 'wan');
  assert.deepEqual(
    [seg(syn.sent[0]!).src, seg(syn.sent[0]!).dst, seg(syn.sent[0]!).seq],
    ['198.51.100.2:80', '203.0.113.5:50000', R0],
  );
  const ack = forward(buildTcp({ ...W, flags: 'A', seq: 101, ack: R0 + 1, window: 1000 }), 'wan');
  assert.equal(ack.sent.length, 1);
  assert.deepEqual([seg(ack.sent[0]!).src, seg(ack.sent[0]!).dst], ['203.0.113.5:50000', '192.168.1.20:80']);
  const synAck = forward(buildTcp({ ...B, flags: 'SA', seq: 7000, ack: R1 + 1, window: 2000 }), 'lan');
  assert.equal(synAck.sent.length, 2);
  assert.deepEqual(
    synAck.sent.map((p) => [seg(p).src, seg(p).dst]),
    [
      ['203.0.113.5:50000', '192.168.1.20:80'],
      ['198.51.100.2:80', '203.0.113.5:50000'],
    ],
  );
  const up = buildTcp({ ...W, flags: 'PA', seq: 101, ack: R0 + 1, window: 1000, payload: new Uint8Array(10) });
  assert.equal(forward(up, 'wan').pass, true);
  assert.deepEqual(seg(up), {
    src: '203.0.113.5:50000',
    dst: '192.168.1.20:80',
    flags: TCPFlag.PUSH | TCPFlag.ACK,
    seq: R1 + 1,
    ack: 7001,
    window: 1000,
    mss: 0,
  });
});
