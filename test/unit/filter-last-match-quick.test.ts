import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { Harness } from './helpers/filter-harness.js';
import { Direction } from '../../src/packet/meta.js';

const syn = (dport: number, src = '192.168.1.10', dst = '203.0.113.5') =>
  buildTcp({ src, dst, sport: 40000, dport, flags: 'S' });

test('the last matching rule wins', () => {
  const h = new Harness('block all\npass in proto tcp to port 80\nblock in proto tcp from 192.168.1.66 to port 80');
  assert.deepEqual(h.test(syn(80), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(syn(80), Direction.IN, 'lan').rule, 1);
  assert.equal(h.test(syn(80, '192.168.1.66'), Direction.IN, 'lan').action, 'block');
  assert.equal(h.test(syn(81), Direction.IN, 'lan').rule, 0);
});

test('quick ends evaluation at the first match', () => {
  const h = new Harness('block quick proto tcp to port 22\npass all');
  const r = h.test(syn(22), Direction.IN, 'lan');
  assert.equal(r.action, 'block');
  assert.equal(r.rule, 0);
  assert.equal(h.test(syn(23), Direction.IN, 'lan').rule, 1);
});

test('nothing matches: the implicit default passes without state', () => {
  const h = new Harness('block in on wan all');
  const r = h.test(syn(80), Direction.IN, 'lan');
  assert.equal(r.action, 'pass');
  assert.equal(r.rule, -1);
  assert.equal(r.result.state, 0);
});

test('match rules apply options but do not decide', () => {
  const h = new Harness('block all\nmatch in log proto udp tag UDP\npass in tagged UDP');
  const r = h.test(buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 5000, dport: 53 }), Direction.IN, 'lan');
  assert.equal(r.action, 'pass');
  assert.equal(r.rule, 2);
  assert.equal(r.result.log, true);
  assert.equal(h.test(syn(80), Direction.IN, 'lan').action, 'block', 'untagged TCP is not passed by the tagged rule');
});

test('! tagged matches packets without the tag', () => {
  const h = new Harness('match proto tcp tag T\nblock ! tagged T');
  assert.equal(h.test(syn(80), Direction.IN, 'lan').action, 'pass');
  assert.equal(
    h.test(buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport: 2 }), Direction.IN, 'lan').action,
    'block',
  );
});

test('block-policy decides how a plain block answers', () => {
  const drop = new Harness('set block-policy drop\nblock all');
  assert.equal(drop.test(syn(80), Direction.IN, 'lan').result.reply, 0);
  const ret = new Harness('set block-policy return\nblock all');
  assert.equal(ret.test(syn(80), Direction.IN, 'lan').result.reply, 2, 'RST for TCP');
  assert.equal(
    ret.test(buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport: 2 }), Direction.IN, 'lan').result
      .reply,
    3,
    'ICMP for UDP',
  );
  const explicit = new Harness('set block-policy return\nblock drop all');
  assert.equal(explicit.test(syn(80), Direction.IN, 'lan').result.reply, 0);
});

test('per-rule counters count evaluations, packets and bytes', () => {
  const h = new Harness('pass in on wan all\npass in proto tcp all\nblock in proto udp all');
  const pkt = syn(80);
  h.test(pkt, Direction.IN, 'lan');
  h.test(pkt, Direction.IN, 'lan');
  assert.equal(h.rs.packets[1], 2);
  assert.equal(h.rs.bytes[1], 2 * pkt.length);
  assert.equal(h.rs.packets[0], 0);
  assert.equal(h.rs.evaluations[0], 2);
});
