// pfsync's outbound queues with a fake clock: a state sits in one queue at
// a time and goes out once however often it changed, inserts carry the
// latest values, the 1-second timer, maxupd, the 2-second rule, MTU
// packing, deletes (and a state born and gone before the send is never
// heard of), no echo of what came from the peer (changes with origin PEER
// are never queued), one CLR and no deletes for a flush.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StateRecord, UpdCompressed } from '../../src/pfsync/state-record.js';
import { PfsyncAction } from '../../src/pfsync/constants.js';
import { Origin, StateFlag, TcpState } from '../../src/state/constants.js';
import { StateImage } from '../../src/state/state-image.js';
import { TcpPair } from './helpers/flow.js';
import { Pair } from './helpers/pfsync-pair.js';

function connect(p: Pair, c: TcpPair): number {
  const f = p.a.flow;
  const v = f.send(c.c('S'));
  assert.ok(v.pass && v.created);
  const i = v.state;
  assert.ok(f.send(c.s('SA')).pass);
  assert.ok(f.send(c.c('A')).pass);
  return i;
}

test('an insert waits 100 ms, then goes as one INS with the latest values', () => {
  const p = new Pair();
  const c = new TcpPair();
  const i = connect(p, c);
  for (let k = 0; k < 5; k++) p.a.flow.send(c.c('A', 100));
  p.advance(0.05);
  assert.equal(p.a.wire.length, 0, 'the timer has not run out');
  assert.ok(Math.abs(p.a.engine.nextTimerAt() - 1000.1) < 1e-9, 'due 100 ms after the state was made');
  p.advance(0.06);
  const [pkt, ...rest] = p.a.take();
  assert.equal(rest.length, 0);
  assert.deepEqual(
    pkt!.sections.map((s) => [s.action, s.count]),
    [[PfsyncAction.INS, 1]],
    'one insert, the updates folded into it',
  );
  const r = pkt!.sections[0]!.messages[0] as StateRecord;
  const t = p.a.table;
  assert.equal(r.src.seqlo, t.seqlo[i * 2]);
  assert.equal(r.src.state, TcpState.ESTABLISHED, 'the record was written at send time');
  assert.deepEqual(r.packets, [7, 1], 'S, A and five data packets from the client; the SYN-ACK back');
});

test('updates of a known state wait the 1-second timer: one UPD_C per state per packet, however many changes', () => {
  const p = new Pair();
  const c = new TcpPair();
  const i = connect(p, c);
  p.advance(1);
  p.a.take();
  for (let k = 0; k < 20; k++) {
    p.a.flow.send(c.c('A', 10));
    p.a.flow.send(c.s('A'));
  }
  p.advance(0.9);
  assert.equal(p.a.wire.length, 0, 'updates are not inserts: they wait the second');
  p.advance(0.1);
  const [pkt] = p.a.take();
  assert.deepEqual(
    pkt!.sections.map((s) => [s.action, s.count]),
    [[PfsyncAction.UPD_C, 1]],
  );
  const u = pkt!.sections[0]!.messages[0] as UpdCompressed;
  assert.equal(u.src.seqlo, p.a.table.seqlo[i * 2]);
});

test('maxupd: a TCP state changed that many times goes out at the end of the batch', () => {
  const p = new Pair({ maxupd: 5 });
  const c = new TcpPair();
  connect(p, c);
  p.advance(1);
  p.a.take();
  for (let k = 0; k < 5; k++) p.a.flow.send(c.c('A', 10));
  assert.equal(p.a.wire.length, 0, 'queued: the first change queues it, four more count');
  assert.equal(p.a.engine.outbound.urgent, false);
  p.a.flow.send(c.c('A', 10));
  assert.equal(p.a.engine.outbound.urgent, true);
  p.a.engine.afterBatch();
  assert.deepEqual(p.a.sections(), ['UPD_Cx1']);
});

test('the 2-second rule: a state the peer changed less than 2 s ago is pushed at every batch', () => {
  const p = new Pair();
  const c = new TcpPair();
  connect(p, c);
  p.advance(1);
  p.deliver(); // b now has the state
  const bState = p.b.table.findById(p.a.table.hostid, p.a.table.idHi[0]!, p.a.table.idLo[0]!);
  assert.ok(bState >= 0);
  // b forwards a packet of it (asymmetric routing): b just heard of it, so b pushes
  p.b.flow.send(c.c('A', 10));
  assert.equal(p.b.engine.outbound.urgent, true);
  p.b.engine.afterBatch();
  assert.deepEqual(p.b.sections(), ['UPD_Cx1']);
  p.b.take();
  p.advance(2.5);
  p.b.flow.send(c.c('A', 10));
  assert.equal(p.b.engine.outbound.urgent, false, 'older than 2 s: the usual timer');
});

test('a state made and removed before the send is never heard of; a known one is deleted with DEL_C', () => {
  const p = new Pair();
  const c1 = new TcpPair('192.168.1.10', '203.0.113.5', 40001);
  const i1 = connect(p, c1);
  p.a.flow.states.remove(i1);
  p.advance(1);
  assert.equal(p.a.wire.length, 0, 'the INS was dropped with the state');
  const c2 = new TcpPair('192.168.1.10', '203.0.113.5', 40002);
  const i2 = connect(p, c2);
  p.advance(1);
  const id = [p.a.table.idHi[i2]!, p.a.table.idLo[i2]!];
  p.deliver();
  assert.equal(p.b.table.count, 1);
  p.a.flow.states.remove(i2);
  p.advance(1);
  const [pkt] = p.a.take();
  assert.deepEqual(
    pkt!.sections.map((s) => [s.action, s.count]),
    [[PfsyncAction.DEL_C, 1]],
  );
  assert.deepEqual(pkt!.sections[0]!.messages[0], { idHi: id[0], idLo: id[1], creatorid: p.a.table.hostid });
});

test('what came from the peer is not echoed back: inserts, and deletes the peer ordered', () => {
  const p = new Pair();
  const c = new TcpPair();
  const i = connect(p, c);
  p.advance(1);
  p.deliver();
  p.advance(1.5);
  assert.equal(p.b.wire.length, 0, 'b sends nothing for the state it received');
  p.a.flow.states.remove(i);
  p.advance(1);
  p.deliver();
  assert.equal(p.b.table.count, 0);
  p.advance(1.5);
  assert.equal(p.b.wire.length, 0, 'and nothing for the delete it was told of');
});

test('a full packet goes before the one that would overflow it: the MTU holds', () => {
  const p = new Pair();
  for (let k = 0; k < 23; k++) {
    const v = p.a.flow.send(new TcpPair('192.168.1.10', '203.0.113.5', 41000 + k).c('S'));
    assert.ok(v.created);
  }
  // 5 full states fit in 1500 bytes: the 6th, 11th, ... insert sent the previous packet
  const sent = p.a.wire.map((w) => w.length + 20);
  assert.equal(sent.length, 4);
  for (const n of sent) assert.ok(n <= 1500 && n > 1500 - 264, `packets are filled to the MTU: ${n}`);
  p.advance(1);
  const all = p.a.take();
  assert.deepEqual(
    all.map((x) => x.sections[0]!.count),
    [5, 5, 5, 5, 3],
  );
});

test('states marked no-sync (pfsync traffic itself, or no-sync rules) never leave', () => {
  const p = new Pair({}, 'block all\npass in on lan proto tcp keep state (no-sync)\npass in on lan proto udp');
  const v = p.a.flow.send(new TcpPair().c('S'));
  assert.ok(v.created);
  assert.ok(p.a.table.flags[v.state]! & StateFlag.NOSYNC);
  p.advance(1);
  assert.equal(p.a.wire.length, 0);
});

test('flush states: one CLR, the peer removes what we made (and only that)', () => {
  const p = new Pair();
  connect(p, new TcpPair('192.168.1.10', '203.0.113.5', 40001));
  connect(p, new TcpPair('192.168.1.10', '203.0.113.5', 40002));
  p.advance(1);
  p.deliver();
  const own = p.b.flow.send(new TcpPair('192.168.1.20', '203.0.113.5', 40009).c('S'));
  assert.ok(own.created);
  assert.equal(p.b.table.count, 3);
  assert.equal(p.a.engine.flushStates(), 2);
  assert.deepEqual(p.a.sections(), ['CLRx1'], 'one CLR, no DEL_C per state');
  p.deliver();
  assert.equal(p.b.table.count, 1, 'b keeps its own state');
});

test('changes with origin PEER are never queued: inserts, merged updates and deletes the peer sent', () => {
  const p = new Pair();
  const c = new TcpPair();
  const i = connect(p, c);
  const b = p.b.engine.outbound;
  const nothingQueued = (when: string) => {
    assert.ok(b.empty, `${when}: nothing queued`);
    assert.deepEqual(b.queued(), { ins: 0, upd: 0, updc: 0, del: 0, iack: 0 }, when);
    assert.equal(b.counters.changes, 0, `${when}: no local change counted`);
  };
  p.advance(1);
  p.deliver();
  assert.equal(p.b.table.count, 1);
  nothingQueued('after the INS');
  for (let k = 0; k < 3; k++) p.a.flow.send(c.c('A', 10));
  p.advance(1);
  assert.deepEqual(p.a.sections(), ['UPD_Cx1']);
  p.deliver();
  nothingQueued('after a newer UPD_C');
  // the engine's API directly: a peer's update and a peer's delete
  const j = p.b.table.findById(p.a.table.hostid, p.a.table.idHi[i]!, p.a.table.idLo[i]!);
  const img = new StateImage();
  img.timeoutClass = p.b.table.timeoutClass[j]!;
  p.b.flow.states.updateFromImage(j, img, 0, p.clock.now, Origin.PEER);
  nothingQueued('after an update with origin PEER');
  p.a.flow.states.remove(i);
  p.advance(1);
  p.deliver();
  assert.equal(p.b.table.count, 0);
  nothingQueued('after the DEL_C');
  p.advance(2);
  assert.equal(p.b.wire.length, 0, 'and nothing went out');
});

test('a flush sends exactly one CLR and no deletes, queued inserts and known states alike', () => {
  const p = new Pair();
  connect(p, new TcpPair('192.168.1.10', '203.0.113.5', 40001));
  p.advance(1);
  p.deliver();
  connect(p, new TcpPair('192.168.1.10', '203.0.113.5', 40002)); // its INS still queued
  const out = p.a.engine.outbound;
  const changes = out.counters.changes;
  assert.equal(p.a.flow.states.flush(), 2, "the state engine's own flush tells pfsync too");
  assert.deepEqual(p.a.sections(), ['CLRx1']);
  assert.ok(out.empty, 'the queued insert went with its state');
  assert.equal(out.counters.changes, changes, 'a flush is not a delete per state');
  p.advance(2);
  assert.deepEqual(p.a.sections(), ['CLRx1'], 'and no DEL_C later');
  p.deliver();
  assert.equal(p.b.table.count, 0);
});
