import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp } from '../../src/packet/build.js';
import { TcpState, Timeout } from '../../src/state/constants.js';
import { Flow, TcpPair, replyOf } from './helpers/flow.js';
import { Direction } from '../../src/packet/meta.js';

const RULES = 'block all\npass in on lan proto tcp from 192.168.1.0/24 to any';

function peers(f: Flow, i: number): [number, number] {
  return [f.states.table.peerState[i * 2]!, f.states.table.peerState[i * 2 + 1]!];
}

test('three-way handshake, data both ways, replies pass through state', () => {
  const f = new Flow(RULES);
  const c = new TcpPair();
  assert.equal(f.outcome(c.c('S')), 'pass:new');
  const i = f.verdict.state;
  assert.deepEqual(peers(f, i), [TcpState.SYN_SENT, TcpState.CLOSED]);
  assert.equal(f.states.table.timeoutClass[i], Timeout.TCP_FIRST);
  assert.equal(
    f.outcome(c.s('SA'), Direction.OUT, 'wan'),
    'pass:state',
    'the SYN+ACK comes back through the state, not the rules',
  );
  assert.deepEqual(
    peers(f, i),
    [TcpState.ESTABLISHED, TcpState.SYN_SENT],
    'the SYN+ACK acknowledges the client (pfctl: ESTABLISHED:SYN_SENT)',
  );
  assert.equal(f.outcome(c.c('A')), 'pass:state');
  assert.deepEqual(peers(f, i), [TcpState.ESTABLISHED, TcpState.ESTABLISHED]);
  assert.equal(f.states.table.timeoutClass[i], Timeout.TCP_ESTABLISHED);
  assert.equal(f.outcome(c.c('PA', 1000)), 'pass:state');
  assert.equal(f.outcome(c.s('A', 1400)), 'pass:state');
  assert.equal(f.states.table.packets[i * 2], 3);
  assert.equal(f.states.table.packets[i * 2 + 1], 2);
});

test('an unsolicited packet from outside is blocked by the rules', () => {
  const f = new Flow(RULES);
  const c = new TcpPair();
  assert.equal(f.outcome(c.s('SA'), Direction.IN, 'wan'), 'block:rule');
  assert.equal(f.outcome(c.c('A')), 'block:rule', 'a bare ACK without state does not match flags S/SA');
});

function established(): [Flow, TcpPair, number] {
  const f = new Flow(RULES);
  const c = new TcpPair();
  f.send(c.c('S'));
  const i = f.verdict.state;
  f.send(c.s('SA'), Direction.OUT, 'wan');
  f.send(c.c('A'));
  return [f, c, i];
}

test('FIN from the client, then the server: through CLOSING and FIN_WAIT_2 to TIME_WAIT', () => {
  const [f, c, i] = established();
  assert.equal(f.outcome(c.c('FA')), 'pass:state');
  assert.deepEqual(peers(f, i), [TcpState.CLOSING, TcpState.ESTABLISHED]);
  assert.equal(f.states.table.timeoutClass[i], Timeout.TCP_CLOSING);
  assert.equal(f.outcome(c.s('A')), 'pass:state');
  assert.deepEqual(peers(f, i), [TcpState.FIN_WAIT_2, TcpState.ESTABLISHED]);
  assert.equal(f.outcome(c.s('FA')), 'pass:state');
  assert.deepEqual(peers(f, i), [TcpState.FIN_WAIT_2, TcpState.CLOSING]);
  assert.equal(f.outcome(c.c('A')), 'pass:state');
  assert.deepEqual(peers(f, i), [TcpState.FIN_WAIT_2, TcpState.FIN_WAIT_2]);
  assert.equal(f.states.table.timeoutClass[i], Timeout.TCP_CLOSED);
});

test('FIN from the server first, and a simultaneous close', () => {
  const [f, c, i] = established();
  f.send(c.s('FA'), Direction.OUT, 'wan');
  assert.deepEqual(peers(f, i), [TcpState.ESTABLISHED, TcpState.CLOSING]);
  const [g, d, j] = established();
  g.send(d.c('FA'));
  g.send(d.s('FA'), Direction.OUT, 'wan');
  assert.deepEqual(peers(g, j), [TcpState.FIN_WAIT_2, TcpState.CLOSING]);
  assert.equal(g.states.table.timeoutClass[j], Timeout.TCP_FIN_WAIT);
  void c;
});

test('a RST inside the window ends the connection (TIME_WAIT)', () => {
  const [f, c, i] = established();
  assert.equal(f.outcome(c.s('R')), 'pass:state');
  assert.deepEqual(peers(f, i), [TcpState.TIME_WAIT, TcpState.TIME_WAIT]);
});

test('a forged RST outside the window is blocked and the connection lives on', () => {
  const [f, c, i] = established();
  const forged = replyOf(
    buildTcp({
      src: c.server,
      dst: c.client,
      sport: c.sport,
      dport: c.cport,
      seq: (c.sseq + 5_000_000) >>> 0,
      flags: 'R',
    }),
  );
  assert.equal(f.outcome(forged), 'block:bad-state');
  assert.deepEqual(peers(f, i), [TcpState.ESTABLISHED, TcpState.ESTABLISHED]);
  const nearMiss = replyOf(
    buildTcp({ src: c.server, dst: c.client, sport: c.sport, dport: c.cport, seq: (c.sseq + 100) >>> 0, flags: 'R' }),
  );
  assert.equal(f.outcome(nearMiss), 'block:bad-state', 'a reset must match the sequence exactly');
  assert.equal(f.outcome(c.c('PA', 100)), 'pass:state');
});

test('data outside the window is blocked and counted', () => {
  const [f, c] = established();
  const far = buildTcp({
    src: c.client,
    dst: c.server,
    sport: c.cport,
    dport: c.sport,
    seq: (c.cseq + 200_000) >>> 0,
    ack: c.sseq,
    flags: 'PA',
    payload: new Uint8Array(100),
  });
  assert.equal(f.outcome(far), 'block:bad-state');
  const ahead = buildTcp({
    src: c.client,
    dst: c.server,
    sport: c.cport,
    dport: c.sport,
    seq: c.cseq,
    ack: (c.sseq + 300_000) >>> 0,
    flags: 'A',
  });
  assert.equal(f.outcome(ahead), 'block:bad-state', 'acking data the server never sent');
  assert.equal(f.filter.counters.byWhy[3], 2);
});

test('retransmissions within a window back are accepted', () => {
  const [f, c] = established();
  const seq = c.cseq;
  f.send(c.c('PA', 1000));
  const again = buildTcp({
    src: c.client,
    dst: c.server,
    sport: c.cport,
    dport: c.sport,
    seq,
    ack: c.sseq,
    flags: 'PA',
    payload: new Uint8Array(1000),
  });
  assert.equal(f.outcome(again), 'pass:state');
});

test('window scaling: used when both SYNs offer it, ignored otherwise', () => {
  const f = new Flow(RULES);
  const c = new TcpPair();
  f.send(c.c('S', 0, { options: { wscale: 7 } }));
  const i = f.verdict.state;
  f.send(c.s('SA', 0, { options: { wscale: 7 } }), Direction.OUT, 'wan');
  f.send(c.c('A'));
  f.send(c.s('A'), Direction.OUT, 'wan'); // a window of 64000 << 7 bytes
  // the client may now send far beyond 64 KB without another ack
  for (let k = 0; k < 100; k++) assert.equal(f.outcome(c.c('A', 1400)), 'pass:state', `segment ${k}`);
  assert.equal(f.states.table.wscale[i * 2]! & 0x0f, 7);

  const g = new Flow(RULES);
  const d = new TcpPair();
  g.send(d.c('S', 0, { options: { wscale: 7 } }));
  const j = g.verdict.state;
  g.send(d.s('SA'), Direction.OUT, 'wan'); // no scaling from the server
  g.send(d.c('A'));
  g.send(d.s('A'), Direction.OUT, 'wan'); // 64000 bytes, unscaled
  assert.equal(g.states.table.wscale[j * 2 + 1], 0);
  let blocked = 0;
  for (let k = 0; k < 100; k++) if (g.outcome(d.c('A', 1400)) !== 'pass:state') blocked++;
  assert.ok(blocked > 0, 'without scaling the client cannot run 140 KB past an unscaled 64 KB window');
});

test('sequence numbers that wrap around 2^32', () => {
  const f = new Flow(RULES);
  const c = new TcpPair(undefined, undefined, undefined, undefined, 0xffffff00, 0xfffffff0);
  f.send(c.c('S'));
  f.send(c.s('SA'), Direction.OUT, 'wan');
  f.send(c.c('A'));
  for (let k = 0; k < 5; k++) {
    assert.equal(f.outcome(c.c('PA', 200)), 'pass:state');
    assert.equal(f.outcome(c.s('A', 100)), 'pass:state');
  }
  assert.ok(c.cseq < 0x1000 && c.sseq < 0x1000, 'both sides wrapped');
});

test('sloppy tracking passes what the window check would block', () => {
  const f = new Flow('block all\npass in on lan proto tcp from 192.168.1.0/24 to any keep state (sloppy)');
  const c = new TcpPair();
  f.send(c.c('S'));
  const i = f.verdict.state;
  f.send(c.c('A')); // only one half of the connection is seen
  assert.deepEqual(peers(f, i), [TcpState.ESTABLISHED, TcpState.ESTABLISHED]);
  const far = buildTcp({
    src: c.client,
    dst: c.server,
    sport: c.cport,
    dport: c.sport,
    seq: (c.cseq + 9_000_000) >>> 0,
    ack: 1,
    flags: 'A',
  });
  assert.equal(f.outcome(far), 'pass:state');
});

test('a new SYN on a closed connection replaces the old state (state reuse)', () => {
  const [f, c, i] = established();
  f.send(c.c('FA'));
  f.send(c.s('FA'), Direction.OUT, 'wan');
  f.send(c.c('A'));
  assert.deepEqual(peers(f, i), [TcpState.FIN_WAIT_2, TcpState.FIN_WAIT_2]);
  const d = new TcpPair(c.client, c.server, c.cport, c.sport, 777777, 1);
  assert.equal(f.outcome(d.c('S')), 'pass:new');
});
