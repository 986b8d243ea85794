// nat-to through the packet pipeline: the forwarded packet leaves with the
// translated source, replies come back to the inside host, one state with
// two keys, ports chosen without collisions, checksums right (checked from
// scratch by the test's own sum).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpErrorFor, buildTcp, buildUdp } from '../../src/packet/build.js';
import { formatAddress } from '../../src/packet/address.js';
import { Gateway } from './helpers/gateway.js';
import { iface } from './helpers/filter-harness.js';
import { assertChecksums } from './helpers/rewrite-oracle.js';

const NAT =
  'block all\n' +
  'pass in on lan\n' +
  'pass out on wan\n' +
  'match out on wan inet from 192.168.1.0/24 nat-to 198.51.100.2\n' +
  'match out on wan inet6 from 2001:db8:1::/64 nat-to 2001:db8:ff::2\n';

const src = (g: { meta: { af: number; src: Uint32Array } }) => formatAddress(g.meta.af, g.meta.src);
const dst = (g: { meta: { af: number; dst: Uint32Array } }) => formatAddress(g.meta.af, g.meta.dst);

test("TCP: leaves with the router's address and a port from 50001-65535; the reply comes back to the host", () => {
  const g = new Gateway(NAT);
  const syn = g.forward(
    buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' }),
    'lan',
  );
  assert.equal(syn.pass, true, syn.why);
  assert.equal(src(syn), '198.51.100.2');
  const port = syn.meta.srcPort;
  assert.ok(port >= 50001 && port <= 65535, `port ${port}`);
  assert.equal(syn.meta.dstPort, 443);
  assertChecksums(syn.packet, 'translated SYN');
  assert.deepEqual(g.keys(), [
    '192.168.1.10:40000 -> 203.0.113.5:443',
    `198.51.100.2:${port} -> 203.0.113.5:443 (stack 192.168.1.10:40000 -> 203.0.113.5:443)`,
  ]);
  const synack = buildTcp({
    src: '203.0.113.5',
    dst: '198.51.100.2',
    sport: 443,
    dport: port,
    flags: 'SA',
    seq: 9000,
    ack: (syn.meta.seq + 1) >>> 0,
  });
  const back = g.forward(synack, 'wan');
  assert.equal(back.pass, true, back.why);
  assert.deepEqual(
    [dst(back), back.meta.dstPort, src(back), back.meta.srcPort],
    ['192.168.1.10', 40000, '203.0.113.5', 443],
  );
  assert.equal(back.outcome.outIf, g.filter.interfaces.id('lan'), 'routed to the inside host after the rewrite');
  assertChecksums(back.packet, 'reply');
  assert.equal(g.states.table.count, 2, 'no new state: both checks found theirs');
});

test('two inside hosts with the same source port to the same server get different ports', () => {
  const g = new Gateway(NAT, { random: () => 0 });
  const a = g.forward(
    buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' }),
    'lan',
  );
  const b = g.forward(
    buildTcp({ src: '192.168.1.11', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' }),
    'lan',
  );
  assert.ok(a.pass && b.pass);
  assert.notEqual(a.meta.srcPort, b.meta.srcPort);
});

test('a port range runs out: the next connection is dropped with reason translate', () => {
  const g = new Gateway(NAT.replace('nat-to 198.51.100.2\n', 'nat-to 198.51.100.2 port 50001:50002\n'));
  const ports: number[] = [];
  for (let k = 0; k < 2; k++) {
    const r = g.forward(
      buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000 + k, dport: 80, flags: 'S' }),
      'lan',
    );
    assert.equal(r.pass, true, r.why);
    ports.push(r.meta.srcPort);
  }
  assert.deepEqual(ports.sort(), [50001, 50002]);
  const third = g.forward(
    buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40002, dport: 80, flags: 'S' }),
    'lan',
  );
  assert.deepEqual([third.pass, third.why], [false, 'translate']);
  // the same port is free again towards another destination (collisions are per whole key)
  const other = g.forward(
    buildTcp({ src: '192.168.1.10', dst: '203.0.113.6', sport: 40002, dport: 80, flags: 'S' }),
    'lan',
  );
  assert.equal(other.pass, true, other.why);
});

test('static-port keeps the source port; UDP replies are translated back', () => {
  const g = new Gateway(NAT.replace('nat-to 198.51.100.2\n', 'nat-to 198.51.100.2 static-port\n'));
  const q = g.forward(buildUdp({ src: '192.168.1.10', dst: '203.0.113.53', sport: 5353, dport: 53 }), 'lan');
  assert.deepEqual([q.pass, src(q), q.meta.srcPort], [true, '198.51.100.2', 5353]);
  assertChecksums(q.packet, 'udp out');
  const a = g.forward(buildUdp({ src: '203.0.113.53', dst: '198.51.100.2', sport: 53, dport: 5353 }), 'wan');
  assert.deepEqual([a.pass, dst(a), a.meta.dstPort], [true, '192.168.1.10', 5353]);
  assertChecksums(a.packet, 'udp back');
});

test('IPv6: nat-to an IPv6 address, the ICMPv6 checksum follows the pseudo-header', () => {
  const g = new Gateway(NAT);
  const req = g.forward(buildIcmpEcho({ src: '2001:db8:1::10', dst: '2001:db8:9::1', id: 4660, seq: 1 }), 'lan');
  assert.equal(req.pass, true, req.why);
  assert.equal(src(req), '2001:db8:ff::2');
  const id = req.meta.icmpId;
  assertChecksums(req.packet, 'echo request v6');
  const rep = g.forward(buildIcmpEcho({ src: '2001:db8:9::1', dst: '2001:db8:ff::2', id, seq: 1, reply: true }), 'wan');
  assert.deepEqual([rep.pass, dst(rep), rep.meta.icmpId], [true, '2001:db8:1::10', 4660]);
  assertChecksums(rep.packet, 'echo reply v6');
});

test('ICMP echo: the id is translated and restored', () => {
  const g = new Gateway(NAT);
  const req = g.forward(buildIcmpEcho({ src: '192.168.1.10', dst: '203.0.113.5', id: 4660, seq: 7 }), 'lan');
  assert.equal(req.pass, true, req.why);
  assert.equal(src(req), '198.51.100.2');
  assertChecksums(req.packet, 'echo request');
  const rep = g.forward(
    buildIcmpEcho({ src: '203.0.113.5', dst: '198.51.100.2', id: req.meta.icmpId, seq: 7, reply: true }),
    'wan',
  );
  assert.deepEqual([rep.pass, dst(rep), rep.meta.icmpId], [true, '192.168.1.10', 4660]);
  assertChecksums(rep.packet, 'echo reply');
});

test('an ICMP error about a translated packet reaches the inside host with the quoted header translated back', () => {
  const g = new Gateway(NAT);
  const syn = g.forward(
    buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S', df: true }),
    'lan',
  );
  assert.equal(syn.pass, true);
  // a router on the path cannot forward the translated packet: fragmentation needed
  const err = buildIcmpErrorFor(syn.packet, { type: 3, code: 4, src: '203.0.113.254', rest: 1400 });
  const back = g.forward(err, 'wan');
  assert.equal(back.pass, true, back.why);
  assert.deepEqual(
    [src(back), dst(back), formatAddress(4, back.meta.innerSrc), back.meta.innerSrcPort],
    ['203.0.113.254', '192.168.1.10', '192.168.1.10', 40000],
  );
  assert.equal(back.outcome.outIf, g.filter.interfaces.id('lan'));
  assertChecksums(back.packet, 'icmp error');
});

test("a pass rule's nat-to that a later pass rule overrides translates nothing (pf.conf(5))", () => {
  const g = new Gateway(
    'block all\npass in on lan\npass out on wan from 192.168.1.0/24 nat-to 198.51.100.2\npass out on wan proto udp',
  );
  const u = g.forward(buildUdp({ src: '192.168.1.10', dst: '203.0.113.53', sport: 5353, dport: 53 }), 'lan');
  assert.deepEqual([u.pass, src(u)], [true, '192.168.1.10']);
  const t = g.forward(
    buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' }),
    'lan',
  );
  assert.deepEqual([t.pass, src(t)], [true, '198.51.100.2']);
});

test('no state, no translation: pass ... no state after a match nat-to forwards the packet unchanged', () => {
  const g = new Gateway('match out on wan from 192.168.1.0/24 nat-to 198.51.100.2\npass no state');
  const u = g.forward(buildUdp({ src: '192.168.1.10', dst: '203.0.113.53', sport: 5353, dport: 53 }), 'lan');
  assert.deepEqual([u.pass, src(u), g.states.table.count], [true, '192.168.1.10', 0]);
});

test("nat-to (wan) over IPv6 takes the interface's global address, never its link-local one", () => {
  const interfaces = [
    iface('lan', ['192.168.1.1/24', '2001:db8:1::1/64']),
    iface('wan', ['198.51.100.2/30', 'fe80::1/64', '2001:db8:ff::2/64']),
  ];
  const g = new Gateway('pass\nmatch out on wan inet6 from 2001:db8:1::/64 nat-to (wan)\n', { interfaces });
  for (let sport = 40000; sport < 40004; sport++) {
    const out = g.forward(buildUdp({ src: '2001:db8:1::10', dst: '2001:db8:9::1', sport, dport: 53 }), 'lan');
    assert.equal(out.pass, true, out.why);
    assert.equal(src(out), '2001:db8:ff::2');
  }
});
