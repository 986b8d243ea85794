// The bulk update with a fake clock: a starting node demotes itself by 32,
// asks (UPD_REQ 0,0), retries every 2 s up to 12 times, and un-demotes when
// the peer's BUS END arrives or when it gives up; the peer answers with
// BUS START, every state and BUS END, over several paced turns.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BulkRequester, BulkState } from '../../src/pfsync/bulk.js';
import { BULK_PACKETS_PER_TURN } from '../../src/pfsync/pfsync-engine.js';
import { PfsyncAction } from '../../src/pfsync/constants.js';
import { TcpPair } from './helpers/flow.js';
import { Pair } from './helpers/pfsync-pair.js';

test('the requester machine: demote, ask, retry every 2 s, give up after 12 tries', () => {
  let demote = 0;
  let asked = 0;
  const r = new BulkRequester({
    demote: (d) => (demote += d),
    request: () => asked++,
    stateLimit: 10000,
    statesPerPacket: 5,
  });
  r.start(0, true);
  assert.deepEqual([r.state, demote, asked], [BulkState.SENT, 32, 1]);
  for (let k = 1; k < 12; k++) {
    r.tick(2 * k - 0.01);
    assert.equal(asked, k);
    r.tick(2 * k);
    assert.equal(asked, k + 1);
  }
  r.tick(24);
  assert.deepEqual([r.state, demote, asked], [BulkState.DONE, 0, 12]);
  assert.match(r.outcome!, /no answer to 12 requests/);
});

test('the requester: waits for the sync link up to 30 s; a BUS START then END completes; END alone does not', () => {
  let demote = 0;
  let asked = 0;
  const r = new BulkRequester({
    demote: (d) => (demote += d),
    request: () => asked++,
    stateLimit: 10000,
    statesPerPacket: 5,
  });
  r.start(0, false);
  assert.deepEqual([r.state, asked], [BulkState.START, 0]);
  r.linkUp(5);
  assert.deepEqual([r.state, asked], [BulkState.SENT, 1]);
  r.status(2, 5.5);
  assert.equal(r.state, BulkState.SENT, 'END before START is ignored');
  r.status(1, 6);
  assert.equal(r.state, BulkState.BULK);
  assert.equal(r.nextTimerAt(), 6 + 4 * 40, 'patience: 4 × ⌈10000 / 5 / 50⌉ s');
  r.status(2, 7);
  assert.deepEqual([r.state, demote, r.outcome], [BulkState.DONE, 0, 'complete']);
  const lonely = new BulkRequester({ demote: () => {}, request: () => {}, stateLimit: 1, statesPerPacket: 5 });
  lonely.start(0, false);
  lonely.tick(30);
  assert.equal(lonely.state, BulkState.DONE);
  assert.equal(lonely.outcome, 'no sync link');
});

test('two nodes: the new one gets the whole table in paced turns, then un-demotes', () => {
  const p = new Pair();
  const a = p.a;
  const N = 600;
  for (let k = 0; k < N; k++)
    assert.ok(a.flow.send(new TcpPair('192.168.1.10', '203.0.113.5', 20000 + k).c('S')).created);
  p.advance(1);
  a.take(); // b was not there for the inserts
  a.engine.outbound.flush();
  const b = p.b;
  b.engine.start(true);
  assert.equal(b.demote, 32);
  assert.deepEqual(b.sections(), ['UPD_REQx1']);
  p.deliver();
  let turns = 0;
  let packets = 0;
  while (Number(b.demote) !== 0 && turns < 1000) {
    p.advance(0.004);
    packets += a.wire.length;
    p.deliver();
    turns++;
  }
  assert.equal(b.demote, 0, 'the bulk completed');
  assert.equal(
    turns,
    Math.ceil(N / 5 / BULK_PACKETS_PER_TURN),
    `paced over several turns by a packet budget (${turns})`,
  );
  assert.equal(
    packets,
    N / 5,
    `five states a packet, BUS START in the first, BUS END in the last (${packets} packets)`,
  );
  assert.equal(b.table.count, N);
  const t = a.table;
  for (let i = 0; i < N; i++) {
    const j = b.table.findById(t.creator[i]!, t.idHi[i]!, t.idLo[i]!);
    assert.ok(j >= 0);
    assert.equal(b.table.seqlo[j * 2], t.seqlo[i * 2]);
  }
  assert.equal(b.engine.requester.outcome, 'complete');
  assert.ok(b.engine.inbound.counters.messages[PfsyncAction.BUS]! === 2);
});

test('an empty table answers with BUS START and END at once; states made during a bulk arrive as inserts', () => {
  const p = new Pair();
  p.b.engine.start(true);
  p.deliver();
  p.advance(0.004);
  p.deliver();
  assert.equal(p.b.demote, 0);
  const q = new Pair();
  for (let k = 0; k < 50; k++) q.a.flow.send(new TcpPair('192.168.1.10', '203.0.113.5', 30000 + k).c('S'));
  q.advance(1);
  q.a.take();
  q.b.engine.start(true);
  q.deliver();
  q.a.flow.send(new TcpPair('192.168.1.11', '203.0.113.5', 30999).c('S'));
  for (let k = 0; k < 300 && q.b.demote; k++) {
    q.advance(0.004);
    q.deliver();
  }
  q.advance(1);
  q.deliver();
  assert.equal(q.b.table.count, 51);
});
