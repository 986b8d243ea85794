import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpErrorFor, buildTcp, buildUdp } from '../../src/packet/build.js';
import { PeerState, Timeout } from '../../src/state/constants.js';
import { Flow, TcpPair } from './helpers/flow.js';
import { Direction } from '../../src/packet/meta.js';

// One check per packet, as on one interface: requests come in on lan, replies go out on lan (pf
// keys states by direction: a state made inbound matches the replies leaving the other way).
const RULES = 'block all\npass in on lan from 192.168.1.0/24 to any\npass in on lan inet6 all';

test('UDP: first, single, multiple', () => {
  const f = new Flow(RULES);
  const q = buildUdp({ src: '192.168.1.10', dst: '9.9.9.9', sport: 5353, dport: 53 });
  const a = buildUdp({ src: '9.9.9.9', dst: '192.168.1.10', sport: 53, dport: 5353 });
  assert.equal(f.outcome(q), 'pass:new');
  const i = f.verdict.state;
  const t = f.states.table;
  assert.equal(t.timeoutClass[i], Timeout.UDP_FIRST);
  assert.equal(f.outcome(q), 'pass:state');
  assert.deepEqual([t.peerState[i * 2], t.peerState[i * 2 + 1]], [PeerState.SINGLE, PeerState.NO_TRAFFIC]);
  assert.equal(t.timeoutClass[i], Timeout.UDP_SINGLE);
  assert.equal(f.outcome(a, Direction.OUT, 'lan'), 'pass:state');
  // pf: when one side sends, the other side's SINGLE becomes MULTIPLE
  assert.deepEqual([t.peerState[i * 2], t.peerState[i * 2 + 1]], [PeerState.MULTIPLE, PeerState.SINGLE]);
  assert.equal(t.timeoutClass[i], Timeout.UDP_SINGLE);
  f.send(q);
  assert.deepEqual([t.peerState[i * 2], t.peerState[i * 2 + 1]], [PeerState.MULTIPLE, PeerState.MULTIPLE]);
  assert.equal(t.timeoutClass[i], Timeout.UDP_MULTIPLE);
  const other = buildUdp({ src: '9.9.9.9', dst: '192.168.1.10', sport: 53, dport: 5354 });
  assert.equal(f.outcome(other, Direction.IN, 'wan'), 'block:rule', 'another port is another flow');
});

test('ICMP echo: the reply matches the request by id; another id does not', () => {
  const f = new Flow(RULES);
  assert.equal(f.outcome(buildIcmpEcho({ src: '192.168.1.10', dst: '8.8.8.8', id: 77, seq: 1 })), 'pass:new');
  assert.equal(f.states.table.timeoutClass[f.verdict.state], Timeout.ICMP_FIRST);
  assert.equal(
    f.outcome(
      buildIcmpEcho({ src: '8.8.8.8', dst: '192.168.1.10', id: 77, seq: 1, reply: true }),
      Direction.OUT,
      'lan',
    ),
    'pass:state',
  );
  assert.equal(
    f.outcome(
      buildIcmpEcho({ src: '8.8.8.8', dst: '192.168.1.10', id: 78, seq: 1, reply: true }),
      Direction.OUT,
      'lan',
    ),
    'block:rule',
  );
});

test('ICMPv6 echo through state', () => {
  const f = new Flow(RULES);
  assert.equal(f.outcome(buildIcmpEcho({ src: '2001:db8:1::10', dst: '2001:db8:ff::9', id: 5 })), 'pass:new');
  assert.equal(
    f.outcome(
      buildIcmpEcho({ src: '2001:db8:ff::9', dst: '2001:db8:1::10', id: 5, reply: true }),
      Direction.OUT,
      'lan',
    ),
    'pass:state',
  );
});

test('ICMP errors pass when they quote a packet of a known state, and are matched to it', () => {
  const f = new Flow(RULES);
  const c = new TcpPair();
  const syn = c.c('S');
  assert.equal(f.outcome(syn), 'pass:new');
  const i = f.verdict.state;
  const err = buildIcmpErrorFor(syn, { type: 3, code: 3, src: '198.51.100.77' });
  assert.equal(f.outcome(err, Direction.OUT, 'lan'), 'pass:state', 'an error on its way back to the client');
  assert.equal(f.verdict.state, i);
  assert.equal(
    f.outcome(err, Direction.IN, 'lan'),
    'block:rule',
    'the same error coming in on lan belongs to no state of that direction',
  );
  const v6syn = buildTcp({ src: '2001:db8:1::10', dst: '2001:db8:ff::9', sport: 1234, dport: 80, flags: 'S', seq: 1 });
  f.send(v6syn);
  assert.equal(
    f.outcome(buildIcmpErrorFor(v6syn, { type: 2, code: 0, src: '2001:db8:ff::1' }), Direction.OUT, 'lan'),
    'pass:state',
    'packet too big',
  );
});

test('ICMP errors that quote no known flow go to the rules (and are blocked here)', () => {
  const f = new Flow(RULES);
  const stranger = buildTcp({ src: '192.168.1.99', dst: '203.0.113.9', sport: 1, dport: 2, flags: 'S' });
  assert.equal(
    f.outcome(buildIcmpErrorFor(stranger, { type: 3, code: 1, src: '198.51.100.77' }), Direction.IN, 'wan'),
    'block:rule',
  );
});

test('an ICMP error quoting a TCP sequence far outside the window is not related', () => {
  const f = new Flow(RULES);
  const c = new TcpPair();
  f.send(c.c('S'));
  const forged = buildTcp({ src: c.client, dst: c.server, sport: c.cport, dport: c.sport, seq: 123456789, flags: 'S' });
  assert.equal(
    f.outcome(buildIcmpErrorFor(forged, { type: 3, code: 3, src: '198.51.100.77' }), Direction.IN, 'wan'),
    'block:rule',
  );
});

test('an ICMP error passed by a rule does not create a state', () => {
  const f = new Flow('pass all');
  const stranger = buildTcp({ src: '192.168.1.99', dst: '203.0.113.9', sport: 1, dport: 2, flags: 'S' });
  const v = f.send(buildIcmpErrorFor(stranger, { type: 3, code: 1, src: '198.51.100.77' }), Direction.IN, 'wan');
  assert.equal(v.pass, true);
  assert.equal(v.created, false);
  assert.equal(f.states.table.count, 0);
});
