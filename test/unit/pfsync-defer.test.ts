// pfsync's defer: the packet that created a state is held until the peer
// acknowledges the insert (INS_ACK, sent at once by a peer that sees the ACK
// flag), or 20 ms pass, or more than 128 are held; without defer nothing waits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StateRecord } from '../../src/pfsync/state-record.js';
import { PfsyncAction, WireStateFlag } from '../../src/pfsync/constants.js';
import { TcpPair } from './helpers/flow.js';
import { Pair } from './helpers/pfsync-pair.js';

function newFlow(p: Pair, port: number): { state: number; packet: Uint8Array } {
  const packet = new TcpPair('192.168.1.10', '203.0.113.5', port).c('S');
  const v = p.a.flow.send(packet);
  assert.ok(v.created);
  return { state: v.state, packet };
}

test('held until the peer acknowledges: the INS goes at once with the ACK flag, the INS_ACK comes back at once', () => {
  const p = new Pair({ defer: true });
  const { state, packet } = newFlow(p, 40000);
  const released: Uint8Array[] = [];
  assert.equal(
    p.a.engine.defer(state, packet, 0, packet.length, (x) => released.push(x)),
    true,
  );
  p.a.engine.afterBatch();
  const [ins] = p.a.take();
  assert.equal(ins!.sections[0]!.action, PfsyncAction.INS);
  assert.ok((ins!.sections[0]!.messages[0] as StateRecord).stateFlags & WireStateFlag.ACK);
  assert.equal(released.length, 0);
  // deliver the INS by hand (take() decoded it): b answers with INS_ACK at once
  const p2 = new Pair({ defer: true });
  const s2 = newFlow(p2, 40001);
  p2.a.engine.defer(s2.state, s2.packet, 0, s2.packet.length, (x) => released.push(x));
  p2.a.engine.afterBatch();
  const fromA = p2.a.wire.splice(0);
  p2.b.engine.receive(fromA[0]!, 0, fromA[0]!.length);
  assert.deepEqual(p2.b.sections(), ['INS_ACKx1']);
  p2.deliver();
  assert.equal(released.length, 1);
  assert.deepEqual(released[0], s2.packet, 'the very packet, untouched');
  assert.equal(p2.a.engine.deferral.counters.acked, 1);
});

test('with no answer the packet goes after 20 ms; more than 128 held: the oldest goes', () => {
  const p = new Pair({ defer: true });
  const released: number[] = [];
  for (let k = 0; k < 130; k++) {
    const { state, packet } = newFlow(p, 41000 + k);
    p.a.engine.defer(state, packet, 0, packet.length, () => released.push(k));
  }
  assert.deepEqual(released, [0, 1], 'held at most 128');
  assert.equal(p.a.engine.deferral.counters.overflow, 2);
  p.advance(0.019);
  assert.equal(released.length, 2);
  p.advance(0.002);
  assert.equal(released.length, 130);
  assert.equal(p.a.engine.deferral.counters.timedOut, 128);
});

test('without defer nothing is held', () => {
  const p = new Pair();
  const { state, packet } = newFlow(p, 42000);
  assert.equal(
    p.a.engine.defer(state, packet, 0, packet.length, () => assert.fail('not held')),
    false,
  );
});
