// rdr-to through the packet pipeline: a client on the wan side reaches a
// server inside, the reply leaves with the address and port the client
// asked for, one state with two keys as pf keeps them (pf-nat.md §13.4),
// port ranges mapped as pfctl stores them (§8), pools of several servers,
// both families, and checksums right (checked by the test's own sum).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { formatAddress } from '../../src/packet/address.js';
import { Gateway, type Forwarded } from './helpers/gateway.js';
import { assertChecksums } from './helpers/rewrite-oracle.js';

const src = (g: Forwarded) => `${formatAddress(g.meta.af, g.meta.src)}:${g.meta.srcPort}`;
const dst = (g: Forwarded) => `${formatAddress(g.meta.af, g.meta.dst)}:${g.meta.dstPort}`;

const BASE = 'block all\npass out on lan\npass out on wan\npass in on lan\n';

test('rdr-to: the client reaches the inside server, the reply leaves with the address it asked for', () => {
  const g = new Gateway(BASE + 'pass in on wan proto tcp to 198.51.100.2 port 2222 rdr-to 192.168.1.20 port 22\n');
  const syn = g.forward(
    buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: 2222, flags: 'S', seq: 100 }),
    'wan',
  );
  assert.equal(syn.pass, true, syn.why);
  assert.deepEqual([src(syn), dst(syn)], ['203.0.113.9:40000', '192.168.1.20:22']);
  assert.equal(syn.outcome.outIf, g.filter.interfaces.id('lan'), 'routed by the new destination');
  assertChecksums(syn.packet, 'redirected SYN');
  // pf-nat.md §13.4: the state made in on wan, wire key as received, stack key redirected
  assert.deepEqual(g.keys(), [
    '203.0.113.9:40000 -> 192.168.1.20:22',
    '203.0.113.9:40000 -> 198.51.100.2:2222 (stack 203.0.113.9:40000 -> 192.168.1.20:22)',
  ]);
  const synack = g.forward(
    buildTcp({ src: '192.168.1.20', dst: '203.0.113.9', sport: 22, dport: 40000, flags: 'SA', seq: 7000, ack: 101 }),
    'lan',
  );
  assert.equal(synack.pass, true, synack.why);
  assert.deepEqual([src(synack), dst(synack)], ['198.51.100.2:2222', '203.0.113.9:40000']);
  assertChecksums(synack.packet, 'reply');
  const ack = g.forward(
    buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: 2222, flags: 'A', seq: 101, ack: 7001 }),
    'wan',
  );
  assert.deepEqual([ack.pass, dst(ack)], [true, '192.168.1.20:22']);
  assert.equal(g.states.table.count, 2, 'later packets find their states');
});

test('rdr-to: another port or address of the router is not redirected', () => {
  const g = new Gateway(BASE + 'pass in on wan proto tcp to 198.51.100.2 port 2222 rdr-to 192.168.1.20 port 22\n');
  const other = g.forward(
    buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: 2223, flags: 'S' }),
    'wan',
  );
  assert.deepEqual([other.pass, other.why], [false, 'rule']);
});

test('rdr-to port 9000:* maps a range one to one; port A:B wraps the rule range onto it', () => {
  const g = new Gateway(
    BASE +
      'pass in on wan proto tcp to 198.51.100.2 port 8000:8010 rdr-to 192.168.1.20 port 9000:*\n' +
      'pass in on wan proto udp to 198.51.100.2 port 7000:7009 rdr-to 192.168.1.20 port 5000:5003\n',
  );
  const ports: number[] = [];
  for (const p of [8000, 8001, 8010]) {
    const r = g.forward(
      buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: p, flags: 'S' }),
      'wan',
    );
    assert.equal(r.pass, true, r.why);
    ports.push(r.meta.dstPort);
  }
  assert.deepEqual(ports, [9000, 9001, 9010]);
  // pf-nat.md §8: A + ((orig - rule low) mod (B - A + 1))
  const udp: number[] = [];
  for (const p of [7000, 7003, 7004, 7009]) {
    const r = g.forward(buildUdp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 41000 + p, dport: p }), 'wan');
    assert.equal(r.pass, true, r.why);
    assertChecksums(r.packet, `udp to ${p}`);
    udp.push(r.meta.dstPort);
  }
  assert.deepEqual(udp, [5000, 5003, 5000, 5001]);
  // two ports of the rule mapped onto one: the second connection from the same source port collides (pf fails
  // the state insert, it does not search as nat-to does)
  const a = g.forward(buildUdp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 41000, dport: 7001 }), 'wan');
  const b = g.forward(buildUdp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 41000, dport: 7005 }), 'wan');
  assert.deepEqual([a.pass, b.pass, b.why], [true, false, 'state-insert']);
});

test('rdr-to without a port keeps the destination port; the source port is never changed', () => {
  const g = new Gateway(BASE + 'pass in on wan proto tcp to 198.51.100.2 port 80 rdr-to 192.168.1.20\n');
  const r = g.forward(
    buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: 80, flags: 'S' }),
    'wan',
  );
  assert.deepEqual([r.pass, src(r), dst(r)], [true, '203.0.113.9:40000', '192.168.1.20:80']);
});

test('rdr-to a list: the servers in turn (round-robin); a table likewise', () => {
  const g = new Gateway(
    BASE +
      'table <web> { 192.168.1.30 192.168.1.31 }\n' +
      'pass in on wan proto tcp to 198.51.100.2 port 80 rdr-to { 192.168.1.20 192.168.1.21 }\n' +
      'pass in on wan proto tcp to 198.51.100.2 port 443 rdr-to <web>\n',
  );
  const to = (dport: number, sport: number) => {
    const r = g.forward(buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport, dport, flags: 'S' }), 'wan');
    assert.equal(r.pass, true, r.why);
    return formatAddress(4, r.meta.dst);
  };
  assert.deepEqual([to(80, 40000), to(80, 40001), to(80, 40002)], ['192.168.1.20', '192.168.1.21', '192.168.1.20']);
  assert.deepEqual([to(443, 40000), to(443, 40001)], ['192.168.1.30', '192.168.1.31']);
});

test('rdr-to in IPv6: the reply leaves with the address asked for, checksums right', () => {
  const g = new Gateway(
    BASE + 'pass in on wan inet6 proto tcp to 2001:db8:ff::2 port 2222 rdr-to 2001:db8:1::20 port 22\n',
  );
  const syn = g.forward(
    buildTcp({ src: '2001:db8:9::9', dst: '2001:db8:ff::2', sport: 40000, dport: 2222, flags: 'S', seq: 5 }),
    'wan',
  );
  assert.equal(syn.pass, true, syn.why);
  assert.deepEqual([dst(syn), syn.outcome.outIf], ['2001:db8:1::20:22', g.filter.interfaces.id('lan')]);
  assertChecksums(syn.packet, 'v6 SYN');
  const synack = g.forward(
    buildTcp({ src: '2001:db8:1::20', dst: '2001:db8:9::9', sport: 22, dport: 40000, flags: 'SA', seq: 90, ack: 6 }),
    'lan',
  );
  assert.deepEqual([synack.pass, src(synack)], [true, '2001:db8:ff::2:2222']);
  assertChecksums(synack.packet, 'v6 reply');
});

test('match in ... rdr-to: a later pass rule sees the translated destination (pf.conf(5))', () => {
  const g = new Gateway(
    'block all\npass out on lan\n' +
      'match in on wan proto tcp to 198.51.100.2 port 2222 rdr-to 192.168.1.20 port 22\n' +
      'pass in on wan proto tcp to 192.168.1.20 port 22\n',
  );
  const r = g.forward(
    buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: 2222, flags: 'S' }),
    'wan',
  );
  assert.deepEqual([r.pass, dst(r)], [true, '192.168.1.20:22']);
  // without the redirection the pass rule does not match
  const direct = g.forward(
    buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40001, dport: 22, flags: 'S' }),
    'wan',
  );
  assert.deepEqual([direct.pass, direct.why], [false, 'rule']);
});

test('nat-to and rdr-to from different rules combine on one state', () => {
  const g = new Gateway(
    'block all\npass in on lan\n' +
      'match out on wan inet from 192.168.1.0/24 nat-to 198.51.100.2\n' +
      'pass out on wan proto tcp to 203.0.113.5 port 80 rdr-to 203.0.113.6 port 8080\n',
  );
  const syn = g.forward(
    buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 80, flags: 'S', seq: 1 }),
    'lan',
  );
  assert.equal(syn.pass, true, syn.why);
  const nport = syn.meta.srcPort;
  assert.deepEqual([src(syn), dst(syn)], [`198.51.100.2:${nport}`, '203.0.113.6:8080']);
  assertChecksums(syn.packet, 'SYN, both translated');
  assert.deepEqual(g.keys(), [
    '192.168.1.10:40000 -> 203.0.113.5:80',
    `198.51.100.2:${nport} -> 203.0.113.6:8080 (stack 192.168.1.10:40000 -> 203.0.113.5:80)`,
  ]);
  const back = g.forward(
    buildTcp({ src: '203.0.113.6', dst: '198.51.100.2', sport: 8080, dport: nport, flags: 'SA', seq: 50, ack: 2 }),
    'wan',
  );
  assert.equal(back.pass, true, back.why);
  assert.deepEqual([src(back), dst(back)], ['203.0.113.5:80', '192.168.1.10:40000']);
  assertChecksums(back.packet, 'reply, both translated back');
});
