// After a takeover the new master's copy of a TCP state lags what the old
// master let through in its last second; the connection must go on. The
// first packet from each end re-anchors that end's window (a reset still
// has to lie in the window); after that the usual window checks hold again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateFlag } from '../../src/state/constants.js';
import { TcpPair } from './helpers/flow.js';
import { Pair } from './helpers/pfsync-pair.js';

function transferBeforeDeath(p: Pair, c: TcpPair): number {
  const a = p.a.flow;
  assert.ok(a.send(c.c('S')).created);
  a.send(c.s('SA'));
  a.send(c.c('A'));
  p.advance(1);
  p.deliver(); // b has the established state
  // the old master's last moments: 300 KB more, acked, that b never hears of
  for (let k = 0; k < 200; k++) {
    assert.ok(a.send(c.c('A', 1448)).pass);
    if (k % 2) assert.ok(a.send(c.s('A')).pass);
  }
  p.a.wire.splice(0); // it dies: its queued update never leaves
  const t = p.a.table;
  return p.b.table.findById(t.creator[0]!, t.idHi[0]!, t.idLo[0]!);
}

test('the new master lets the connection go on although its copy lags by 300 KB', () => {
  const p = new Pair();
  const c = new TcpPair();
  const j = transferBeforeDeath(p, c);
  assert.ok(j >= 0);
  assert.ok(p.b.table.flags[j]! & StateFlag.RESYNC_SRC && p.b.table.flags[j]! & StateFlag.RESYNC_DST);
  const b = p.b.flow;
  // the next packets through b: data from the client far beyond b's window, acks from the server
  for (let k = 0; k < 20; k++) {
    assert.equal(b.outcome(c.c('A', 1448)), 'pass:state', `client segment ${k}`);
    assert.equal(b.outcome(c.s('A')), 'pass:state', `server ack ${k}`);
  }
  assert.equal(
    p.b.table.flags[j]! & (StateFlag.RESYNC_SRC | StateFlag.RESYNC_DST),
    0,
    'both ends seen: full tracking again',
  );
  // and full tracking bites: a segment far outside the window is blocked
  const rogue = new TcpPair(c.client, c.server, c.cport, c.sport, (c.cseq + 50_000_000) >>> 0, c.sseq);
  assert.equal(b.outcome(rogue.c('A', 100)), 'block:bad-state');
});

test('without the re-anchoring the lagging copy would block the connection (the check above is not vacuous)', () => {
  const p = new Pair();
  const c = new TcpPair();
  const j = transferBeforeDeath(p, c);
  p.b.table.flags[j]! &= ~(StateFlag.RESYNC_SRC | StateFlag.RESYNC_DST);
  assert.equal(p.b.flow.outcome(c.s('A')), 'block:bad-state', 'the server acks data b never saw: outside its window');
});

test('a reset must still lie in the window, even before an end is re-anchored', () => {
  const p = new Pair();
  const c = new TcpPair();
  const j = transferBeforeDeath(p, c);
  const forged = new TcpPair(c.client, c.server, c.cport, c.sport, (c.cseq + 90_000_000) >>> 0, c.sseq);
  assert.equal(p.b.flow.outcome(forged.c('R')), 'block:bad-state');
  assert.ok(p.b.table.live(j), 'the state survives the forged reset');
});
