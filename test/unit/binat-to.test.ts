// binat-to through the packet pipeline (pf-nat.md §9): the inside host's
// own connections leave with the external address and their source port,
// connections to the external address reach the inside host, ports never
// change.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { formatAddress } from '../../src/packet/address.js';
import { Gateway, type Forwarded } from './helpers/gateway.js';
import { assertChecksums } from './helpers/rewrite-oracle.js';

const ep = (af: number, a: Uint32Array, p: number) => `${formatAddress(af, a)}:${p}`;
const src = (g: Forwarded) => ep(g.meta.af, g.meta.src, g.meta.srcPort);
const dst = (g: Forwarded) => ep(g.meta.af, g.meta.dst, g.meta.dstPort);

const BINAT = 'block all\npass in on lan\npass out on lan\npass on wan from 192.168.1.20 binat-to 203.0.113.7\n';

test('binat-to outbound: the external address, the source port kept; replies come back', () => {
  const g = new Gateway(BINAT);
  const q = g.forward(buildUdp({ src: '192.168.1.20', dst: '203.0.113.53', sport: 5353, dport: 53 }), 'lan');
  assert.deepEqual([q.pass, src(q), dst(q)], [true, '203.0.113.7:5353', '203.0.113.53:53']);
  assertChecksums(q.packet, 'binat out');
  const a = g.forward(buildUdp({ src: '203.0.113.53', dst: '203.0.113.7', sport: 53, dport: 5353 }), 'wan');
  assert.deepEqual([a.pass, dst(a)], [true, '192.168.1.20:5353']);
  assertChecksums(a.packet, 'binat reply');
  // another inside host is not translated (and the block all stops it leaving)
  const other = g.forward(buildUdp({ src: '192.168.1.21', dst: '203.0.113.53', sport: 5353, dport: 53 }), 'lan');
  assert.equal(other.pass, false);
});

test('binat-to inbound: connections to the external address reach the inside host, ports unchanged', () => {
  const g = new Gateway(BINAT);
  const syn = g.forward(
    buildTcp({ src: '198.18.0.9', dst: '203.0.113.7', sport: 40000, dport: 443, flags: 'S', seq: 1 }),
    'wan',
  );
  assert.equal(syn.pass, true, syn.why);
  assert.deepEqual([src(syn), dst(syn)], ['198.18.0.9:40000', '192.168.1.20:443']);
  assert.equal(syn.outcome.outIf, g.filter.interfaces.id('lan'));
  assertChecksums(syn.packet, 'binat in');
  const back = g.forward(
    buildTcp({ src: '192.168.1.20', dst: '198.18.0.9', sport: 443, dport: 40000, flags: 'SA', seq: 9, ack: 2 }),
    'lan',
  );
  assert.deepEqual([back.pass, src(back)], [true, '203.0.113.7:443']);
  assertChecksums(back.packet, 'binat in, reply');
});
