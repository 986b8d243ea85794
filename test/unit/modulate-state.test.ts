// modulate state in the pipeline: the initiator's ISN replaced by a random
// one, the responder's with its first packet, every later segment's seq, ack
// and SACK edges shifted both ways with checksums checked by an independent
// recomputation, the windows tracked in each side's own sequence space, ICMP
// errors' quoted segments shifted back, and a peer's seqdiff applied.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { LOCAL_DELIVERY, RouteTable, routeTo } from '../../src/datapath/route-table.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { PacketFilter, Why } from '../../src/filter/packet-filter.js';
import { buildIcmpErrorFor, buildTcp, type TcpFields } from '../../src/packet/build.js';
import { PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { shiftTcpSequence } from '../../src/packet/seq-shift.js';
import * as tcp from '../../src/packet/tcp.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { iface } from './helpers/filter-harness.js';
import { assertChecksums, assertMetaInStep, completePartial, makePartial, parsed } from './helpers/rewrite-oracle.js';

const INTERFACES = [iface('lan', ['192.168.1.1/24']), iface('wan', ['198.51.100.2/30'])];
const ISN = [0x9e3779b9, 0x7f4a7c15, 0x12345678, 0x0badf00d];

function pipeline(rules: string) {
  const { ruleset, diagnostics } = parseRuleset(rules, { file: 't.conf', interfaces: INTERFACES });
  assert.ok(ruleset, diagnostics.map((d) => d.message).join('\n'));
  const registry = new InterfaceRegistry(INTERFACES);
  let n = 0;
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000, random32: () => ISN[n++ % ISN.length]! });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const routes = new RouteTable();
  routes.replace([
    routeTo('0.0.0.0/0', 'wan', registry.id('wan'))!,
    routeTo('192.168.1.0/24', 'lan', registry.id('lan'))!,
    routeTo('192.168.1.1', 'lan', LOCAL_DELIVERY)!,
  ]);
  const pipe = new PacketPipeline(filter, states, routes);
  let now = 1000;
  const forward = (pkt: Uint8Array, ifname: string, partial = false) => {
    const m = new PacketMeta();
    assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
    m.checksumPartial = partial;
    const o = pipe.forward(m, pkt, 0, pkt.length, registry.id(ifname), now++);
    if (o.pass) assertMetaInStep(pkt, m);
    return o;
  };
  return { forward, states };
}

const C: TcpFields = { src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443 };
const S: TcpFields = { src: '203.0.113.5', dst: '192.168.1.10', sport: 443, dport: 40000 };
const data = (n: number) => new Uint8Array(n).fill(0x61);

function sackOf(pkt: Uint8Array): Array<[number, number]> {
  const m = parsed(pkt);
  const seg = tcp.decode(pkt, m.l4Offset, pkt.length - m.l4Offset);
  const opt = seg.options.find((o) => o.kind === 5) as { blocks: Array<[number, number]> } | undefined;
  return opt ? opt.blocks : [];
}

/** A handshake through `pass in on lan modulate state`: returns the pipeline and the ISNs each end saw. */
function handshake() {
  const p = pipeline('pass out\npass in on lan proto tcp modulate state');
  const syn = buildTcp({ ...C, flags: 'S', seq: 1000, options: { mss: 1460, sackOk: true, wscale: 7 } });
  const o = p.forward(syn, 'lan');
  assert.equal(o.pass, true);
  assert.equal(parsed(syn).seq, ISN[0], "the server sees the router's ISN, not the client's");
  assertChecksums(syn, 'modulated SYN');
  const synAck = buildTcp({ ...S, flags: 'SA', seq: 5000, ack: ISN[0]! + 1, options: { sackOk: true, wscale: 7 } });
  assert.equal(p.forward(synAck, 'wan').pass, true);
  assert.deepEqual([parsed(synAck).seq, parsed(synAck).ack], [ISN[1], 1001], 'the responder is modulated too');
  assertChecksums(synAck, 'modulated SYN-ACK');
  const ack = buildTcp({ ...C, flags: 'A', seq: 1001, ack: ISN[1]! + 1, window: 512 });
  assert.equal(p.forward(ack, 'lan').pass, true);
  assert.deepEqual([parsed(ack).seq, parsed(ack).ack], [ISN[0]! + 1, 5001]);
  return { ...p, state: o.inCheck.state };
}

test('modulate state: a random ISN for each side, later segments shifted both ways, checksums right', () => {
  const { forward, states, state } = handshake();
  const t = states.table;
  assert.deepEqual([t.seqDiff(state, 0), t.seqDiff(state, 1)], [(ISN[0]! - 1000) >>> 0, (ISN[1]! - 5000) >>> 0]);
  // the windows count each side's own numbers
  assert.deepEqual([t.seqlo[state * 2], t.seqlo[state * 2 + 1]], [1000, 5001]);
  for (let k = 0; k < 3; k++) {
    const up = buildTcp({ ...C, flags: 'PA', seq: 1001 + 100 * k, ack: ISN[1]! + 1, window: 512, payload: data(100) });
    assert.equal(forward(up, 'lan').pass, true, `client segment ${k}`);
    assert.deepEqual([parsed(up).seq, parsed(up).ack], [(ISN[0]! + 1 + 100 * k) >>> 0, 5001]);
    assertChecksums(up, `client segment ${k}`);
  }
  const down = buildTcp({ ...S, flags: 'PA', seq: 5001, ack: ISN[0]! + 301, window: 512, payload: data(50) });
  assert.equal(forward(down, 'wan').pass, true);
  assert.deepEqual([parsed(down).seq, parsed(down).ack], [ISN[1]! + 1, 1301]);
  assertChecksums(down, 'server segment');
  assert.deepEqual([t.seqlo[state * 2], t.seqlo[state * 2 + 1]], [1301, 5051]);
});

test('modulate state: SACK edges move with the ack, in both directions', () => {
  const { forward } = handshake();
  const b = ISN[1]! + 1;
  const up = buildTcp({
    ...C,
    seq: 1001,
    ack: b,
    window: 512,
    options: {
      sack: [
        [b + 100, b + 200],
        [b + 300, b + 400],
      ],
    },
  });
  assert.equal(forward(up, 'lan').pass, true);
  assert.deepEqual(sackOf(up), [
    [5101, 5201],
    [5301, 5401],
  ]);
  assertChecksums(up, 'client SACK');
  const a = ISN[0]! + 1;
  const down = buildTcp({ ...S, seq: 5001, ack: a, window: 512, options: { sack: [[a + 10, a + 20]] } });
  assert.equal(forward(down, 'wan').pass, true);
  assert.deepEqual(sackOf(down), [[1011, 1021]]);
  assertChecksums(down, 'server SACK');
});

test("modulate state: a segment carrying the client's real numbers from outside is out of the window", () => {
  const { forward } = handshake();
  // one who saw the client's own ISN (not the server) cannot inject: its ack is far from what the server acked
  const forged = buildTcp({ ...S, flags: 'A', seq: 5001, ack: 1001, window: 512 });
  const o = forward(forged, 'wan');
  assert.equal(o.pass, false);
  assert.equal(o.inCheck.why, Why.BAD_STATE);
  const far = buildTcp({ ...S, flags: 'PA', seq: 5001 + 0x200000, ack: ISN[0]! + 1, window: 512, payload: data(10) });
  assert.equal(forward(far, 'wan').pass, false, 'a sequence number far outside the window');
});

test('modulate state: offloaded packets keep their partial checksum, which the device completes right', () => {
  const { forward } = handshake();
  const full = buildTcp({ ...C, flags: 'PA', seq: 1001, ack: ISN[1]! + 1, window: 512, payload: data(33) });
  const pkt = makePartial(full);
  const before = pkt.slice(16 + 20, 18 + 20);
  assert.equal(forward(pkt, 'lan', true).pass, true);
  assert.deepEqual(pkt.slice(36, 38), before, 'a partial sum covers no sequence number');
  assert.equal(parsed(pkt).seq, ISN[0]! + 1);
  assertChecksums(completePartial(pkt), 'completed by the device');
});

test("modulate state: an ICMP error quoting a modulated segment goes back with the sender's own number", () => {
  const { forward } = handshake();
  const up = buildTcp({ ...C, flags: 'PA', seq: 1001, ack: ISN[1]! + 1, window: 512, payload: data(100) });
  assert.equal(forward(up, 'lan').pass, true);
  const err = buildIcmpErrorFor(up, { type: 3, code: 4, src: '198.51.100.1', rest: 1400 });
  assert.equal(forward(err, 'wan').pass, true);
  const m = parsed(err);
  assert.equal(m.innerSeq, 1001);
  assertChecksums(err, 'ICMP error');
});

test("a peer's seqdiff (pfsync) is applied to a state's packets, the ack taken back for the window", () => {
  const p = pipeline('pass');
  const syn = buildTcp({ ...C, flags: 'S', seq: 1000 });
  const o = p.forward(syn, 'lan');
  assert.equal(parsed(syn).seq, 1000, 'keep state does not modulate');
  const t = p.states.table;
  // as pfsync's import sets it: the in-state's responder side
  const inState = o.inCheck.state;
  t.setSeqDiff(inState, 1, 77);
  const synAck = buildTcp({ ...S, flags: 'SA', seq: 5000, ack: 1001 });
  assert.equal(p.forward(synAck, 'wan').pass, true);
  assert.deepEqual([parsed(synAck).seq, parsed(synAck).ack], [5077, 1001]);
  const ack = buildTcp({ ...C, flags: 'A', seq: 1001, ack: 5078 });
  assert.equal(p.forward(ack, 'lan').pass, true);
  assert.deepEqual([parsed(ack).seq, parsed(ack).ack], [1001, 5001]);
  assertChecksums(ack, 'demodulated ack');
});

test('shiftTcpSequence: SACK blocks at an odd offset keep the checksum right', () => {
  const opts: tcp.TcpOption[] = [
    { kind: 1 },
    { kind: 5, blocks: [[1000, 2000]] },
    { kind: 1 },
    { kind: 1 },
    { kind: 0 },
  ];
  const pkt = buildTcp({ ...C, seq: 10, ack: 3000, options: opts, payload: data(7) });
  const m = parsed(pkt);
  assert.equal(shiftTcpSequence(pkt, m, 5, 100), true);
  assert.deepEqual([parsed(pkt).seq, parsed(pkt).ack], [15, 2900]);
  assert.deepEqual(sackOf(pkt), [[900, 1900]]);
  assertChecksums(pkt, 'odd SACK');
  assertMetaInStep(pkt, m);
  assert.equal(shiftTcpSequence(pkt, m, 0, 0), false);
});
