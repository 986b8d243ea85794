// The receiver's merge rules (spec §7.1) between two nodes on a fake wire:
// newer wins, a stale update is ignored, counted and answered with our newer
// copy, an update for an unknown state asks for it, the timeout restarts on
// receipt, bad values and broken packets change nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PfsyncDrop } from '../../src/pfsync/constants.js';
import { Timeout } from '../../src/state/constants.js';
import { TcpPair } from './helpers/flow.js';
import { Pair } from './helpers/pfsync-pair.js';

function established(p: Pair, c = new TcpPair()): { i: number; j: number } {
  const f = p.a.flow;
  const v = f.send(c.c('S'));
  const i = v.state;
  f.send(c.s('SA'));
  f.send(c.c('A'));
  p.advance(1);
  p.deliver();
  const t = p.a.table;
  const j = p.b.table.findById(t.creator[i]!, t.idHi[i]!, t.idLo[i]!);
  assert.ok(j >= 0, 'b has the state');
  return { i, j };
}

test('an update moves the copy forward: windows, peer states, the timeout class, the timeout restarts', () => {
  const p = new Pair();
  const c = new TcpPair();
  const { i, j } = established(p, c);
  const a = p.a.table;
  const b = p.b.table;
  p.advance(100);
  for (let k = 0; k < 10; k++) {
    p.a.flow.send(c.c('A', 1000));
    p.a.flow.send(c.s('A'));
  }
  p.advance(1);
  p.deliver();
  for (const side of [0, 1]) {
    assert.equal(b.seqlo[j * 2 + side], a.seqlo[i * 2 + side]);
    assert.equal(b.seqhi[j * 2 + side], a.seqhi[i * 2 + side]);
    assert.equal(b.peerState[j * 2 + side], a.peerState[i * 2 + side]);
  }
  assert.equal(b.timeoutClass[j], Timeout.TCP_ESTABLISHED);
  assert.equal(b.lastActive[j], Math.floor(p.clock.now), 'the timeout runs from the receipt');
});

test('a stale update is ignored, counted, and answered with our newer copy', () => {
  const p = new Pair();
  const c = new TcpPair();
  const { i, j } = established(p, c);
  // b saw more of the connection than a (asymmetric routing): its copy is ahead
  p.b.flow.send(c.c('A', 5000));
  p.b.flow.send(c.s('A'));
  p.advance(3);
  p.b.take(); // b's own update, not delivered: a stays behind
  const bAhead = p.b.table.seqlo[j * 2]!;
  assert.notEqual(bAhead, p.a.table.seqlo[i * 2]);
  // a sends its older view
  assert.ok(p.a.flow.send(c.s('A')).pass);
  p.advance(1);
  const fromA = p.a.wire.splice(0);
  assert.equal(fromA.length, 1);
  p.b.engine.receive(fromA[0]!, 0, fromA[0]!.length);
  assert.equal(p.b.table.seqlo[j * 2], bAhead, 'our newer side was kept');
  assert.equal(p.b.engine.inbound.counters.dropped[PfsyncDrop.STALE], 1);
  p.advance(1);
  p.deliver();
  assert.equal(p.a.table.seqlo[i * 2], bAhead, "a learned b's newer copy: the two converge");
});

test('an update for a state we do not know asks for it (UPD_REQ), and the full state comes back', () => {
  const p = new Pair();
  const c = new TcpPair();
  const v = p.a.flow.send(c.c('S'));
  p.a.flow.send(c.s('SA'));
  p.advance(1);
  p.a.take(); // the insert is lost on the way
  p.a.flow.send(c.c('A'));
  p.advance(1);
  const upd = p.a.wire.splice(0);
  p.b.engine.receive(upd[0]!, 0, upd[0]!.length);
  assert.equal(p.b.engine.inbound.counters.dropped[PfsyncDrop.BADSTATE], 1);
  assert.deepEqual(p.b.sections(), ['UPD_REQx1'], 'sent at once');
  p.deliver();
  const t = p.a.table;
  assert.ok(p.b.table.findById(t.creator[v.state]!, t.idHi[v.state]!, t.idLo[v.state]!) >= 0, 'b has it now');
});

test('bad values and broken packets change nothing and are counted', () => {
  const p = new Pair();
  const c = new TcpPair();
  const { j } = established(p, c);
  p.a.flow.send(c.c('A', 10));
  p.advance(1);
  const [pkt] = p.a.wire.splice(0);
  const before = p.b.table.seqlo[j * 2];
  const bad = Uint8Array.from(pkt!);
  bad[20 + 4 + 80] = 30; // UPD_C timeout class out of range
  p.b.engine.receive(bad, 0, bad.length);
  assert.equal(p.b.engine.inbound.counters.dropped[PfsyncDrop.BADVAL], 1);
  const wrongVersion = Uint8Array.from(pkt!);
  wrongVersion[0] = 5;
  assert.equal(p.b.engine.receive(wrongVersion, 0, wrongVersion.length), PfsyncDrop.BADVER);
  assert.equal(p.b.engine.receive(pkt!, 0, 30), PfsyncDrop.BADLEN, 'cut short');
  assert.equal(p.b.table.seqlo[j * 2], before);
  p.b.engine.receive(pkt!, 0, pkt!.length);
  assert.notEqual(p.b.table.seqlo[j * 2], before, 'the good one applies');
});
