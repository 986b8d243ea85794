import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpErrorFor, buildTcp, buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { Harness } from './helpers/filter-harness.js';
import { Direction } from '../../src/packet/meta.js';

const tcp = (src: string, dst: string, dport = 80, flags = 'S') => buildTcp({ src, dst, sport: 40000, dport, flags });
const udp = (src: string, dst: string, dport = 53, sport = 5353) => buildUdp({ src, dst, sport, dport });

test('interfaces: on, on !, and groups', () => {
  const h = new Harness('block all\npass on lan all\npass in on ! lan proto udp all\npass out on egress proto tcp all');
  assert.equal(h.test(tcp('192.168.1.5', '1.2.3.4'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('192.168.1.5', '1.2.3.4'), Direction.IN, 'dmz').action, 'block');
  assert.equal(h.test(udp('172.16.0.5', '1.2.3.4'), Direction.IN, 'dmz').action, 'pass');
  assert.equal(h.test(udp('192.168.1.5', '1.2.3.4'), Direction.OUT, 'dmz').action, 'block', 'direction');
  assert.equal(h.test(tcp('192.168.1.5', '1.2.3.4'), Direction.OUT, 'wan').action, 'pass', 'wan is in group egress');
  assert.equal(h.test(tcp('192.168.1.5', '1.2.3.4'), Direction.OUT, 'dmz').action, 'block');
});

test('address family and protocol', () => {
  const h = new Harness('block all\npass inet6 all\npass proto udp all');
  assert.equal(h.test(tcp('2001:db8:1::5', '2001:db8:2::1'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('192.168.1.5', '1.2.3.4'), Direction.IN, 'lan').action, 'block');
  assert.equal(h.test(udp('192.168.1.5', '1.2.3.4'), Direction.IN, 'lan').action, 'pass');
});

test('addresses: hosts, networks, ranges and negation', () => {
  const h = new Harness(
    'block all\npass from 10.0.0.0/8 to ! 10.1.0.0/16\npass from 192.0.2.10 - 192.0.2.20\npass to 2001:db8::/32',
  );
  assert.equal(h.test(tcp('10.5.5.5', '8.8.8.8'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('10.5.5.5', '10.1.2.3'), Direction.IN, 'lan').action, 'block');
  assert.equal(h.test(tcp('192.0.2.10', '8.8.8.8'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('192.0.2.20', '8.8.8.8'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('192.0.2.21', '8.8.8.8'), Direction.IN, 'lan').action, 'block');
  assert.equal(h.test(tcp('2001:db9::1', '2001:db8:5::1'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('2001:db9::1', '2001:db9:5::1'), Direction.IN, 'lan').action, 'block');
});

test('tables: longest prefix match with negated entries, and run-time changes', () => {
  const h = new Harness(
    'table <t> { 10.0.0.0/8, !10.9.0.0/16, 2001:db8::/32 }\nblock all\npass from <t>\nblock in from ! <t> to 192.0.2.1',
  );
  assert.equal(h.test(tcp('10.1.1.1', '8.8.8.8'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('10.9.1.1', '8.8.8.8'), Direction.IN, 'lan').action, 'block');
  assert.equal(h.test(tcp('2001:db8::7', '2001:db9::1'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(tcp('11.0.0.1', '192.0.2.1'), Direction.IN, 'lan').rule, 2);
  const t = h.tables.get('t')!;
  t.add([{ prefix: { af: 4, words: new Uint32Array([0x0b000000, 0, 0, 0]), bits: 8 }, neg: false }]);
  assert.equal(h.test(tcp('11.0.0.1', '8.8.8.8'), Direction.IN, 'lan').action, 'pass', 'added at run time');
  t.flush();
  assert.equal(h.test(tcp('10.1.1.1', '8.8.8.8'), Direction.IN, 'lan').action, 'block', 'flushed');
});

test('self and dynamic interface addresses', () => {
  const h = new Harness('block all\npass in to self\npass in from (lan:network) to any port 53');
  assert.equal(h.test(tcp('1.2.3.4', '198.51.100.2'), Direction.IN, 'wan').action, 'pass');
  assert.equal(h.test(tcp('1.2.3.4', '198.51.100.3'), Direction.IN, 'wan').action, 'block');
  assert.equal(h.test(udp('192.168.1.77', '9.9.9.9'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(udp('192.168.2.77', '9.9.9.9'), Direction.IN, 'lan').action, 'block');
  h.interfaces.setAddresses('lan', [{ af: 4, words: new Uint32Array([0xc0a80201, 0, 0, 0]), bits: 24 }]);
  assert.equal(h.test(udp('192.168.2.77', '9.9.9.9'), Direction.IN, 'lan').action, 'pass', 'follows an address change');
});

test('every port operator at its boundaries', () => {
  const cases: [string, number[], number[]][] = [
    ['= 80', [80], [79, 81]],
    ['!= 80', [79, 81], [80]],
    ['< 1024', [0, 1023], [1024]],
    ['<= 1024', [1024], [1025]],
    ['> 1024', [1025], [1024]],
    ['>= 1024', [1024], [1023]],
    ['1000 >< 2000', [1001, 1999], [1000, 2000]],
    ['1000 <> 2000', [999, 2001], [1000, 1500, 2000]],
    ['1000:2000', [1000, 2000], [999, 2001]],
  ];
  for (const [spec, yes, no] of cases) {
    const h = new Harness(`block all\npass proto tcp to port ${spec} flags any`);
    for (const p of yes)
      assert.equal(
        h.test(tcp('1.1.1.1', '2.2.2.2', p), Direction.IN, 'lan').action,
        'pass',
        `${spec} should match ${p}`,
      );
    for (const p of no)
      assert.equal(
        h.test(tcp('1.1.1.1', '2.2.2.2', p), Direction.IN, 'lan').action,
        'block',
        `${spec} should not match ${p}`,
      );
  }
});

test('a port rule never matches a packet without ports', () => {
  const h = new Harness('block all\npass to port 7');
  assert.equal(h.test(buildIcmpEcho({ src: '1.1.1.1', dst: '2.2.2.2', id: 7 }), Direction.IN, 'lan').action, 'block');
});

test('flags: S/SA, any, and non-TCP packets', () => {
  const h = new Harness(
    'block all\npass proto tcp to port 80 flags S/SA\npass proto tcp to port 81 flags any\npass all',
  );
  assert.equal(h.test(tcp('1.1.1.1', '2.2.2.2', 80, 'S'), Direction.IN, 'lan').rule, 3);
  assert.equal(
    h.test(tcp('1.1.1.1', '2.2.2.2', 80, 'SA'), Direction.IN, 'lan').rule,
    0,
    'a SYN+ACK matches neither S/SA rule',
  );
  const h2 = new Harness('block all\npass proto tcp to port 80 flags S/SA\npass proto tcp to port 81 flags any');
  assert.equal(h2.test(tcp('1.1.1.1', '2.2.2.2', 80, 'S'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h2.test(tcp('1.1.1.1', '2.2.2.2', 80, 'SA'), Direction.IN, 'lan').action, 'block');
  assert.equal(h2.test(tcp('1.1.1.1', '2.2.2.2', 80, 'A'), Direction.IN, 'lan').action, 'block');
  assert.equal(h2.test(tcp('1.1.1.1', '2.2.2.2', 81, 'A'), Direction.IN, 'lan').action, 'pass');
  const h3 = new Harness('block all\npass all');
  assert.equal(
    h3.test(udp('1.1.1.1', '2.2.2.2'), Direction.IN, 'lan').action,
    'pass',
    'flags S/SA does not apply to UDP',
  );
  assert.equal(
    h3.test(tcp('1.1.1.1', '2.2.2.2', 80, 'A'), Direction.IN, 'lan').action,
    'block',
    'a bare ACK does not match the implied flags S/SA',
  );
});

test('icmp-type and code, both families', () => {
  const h = new Harness(
    'block all\n' +
      'pass inet proto icmp icmp-type echoreq\n' +
      'pass inet proto icmp icmp-type unreach code needfrag\n' +
      'pass inet6 proto icmp6 icmp6-type echoreq',
  );
  assert.equal(h.test(buildIcmpEcho({ src: '1.1.1.1', dst: '2.2.2.2', id: 1 }), Direction.IN, 'lan').action, 'pass');
  assert.equal(
    h.test(buildIcmpEcho({ src: '1.1.1.1', dst: '2.2.2.2', id: 1, reply: true }), Direction.IN, 'lan').action,
    'block',
  );
  const offending = tcp('2.2.2.2', '3.3.3.3');
  assert.equal(
    h.test(buildIcmpErrorFor(offending, { type: 3, code: 4, src: '1.1.1.1' }), Direction.IN, 'lan').action,
    'pass',
  );
  assert.equal(
    h.test(buildIcmpErrorFor(offending, { type: 3, code: 1, src: '1.1.1.1' }), Direction.IN, 'lan').action,
    'block',
  );
  assert.equal(
    h.test(buildIcmpEcho({ src: '2001:db8::1', dst: '2001:db8::2', id: 1 }), Direction.IN, 'lan').action,
    'pass',
  );
});

test('later fragments do not match rules that need the L4 header', () => {
  const h = new Harness('block all\npass proto udp to port 53\npass proto udp from 10.0.0.1');
  const big = buildUdp({ src: '10.0.0.2', dst: '2.2.2.2', sport: 1, dport: 53, payload: new Uint8Array(3000) });
  const [first, second] = fragmentPacket(big, 1480);
  assert.equal(h.test(first!, Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(second!, Direction.IN, 'lan').action, 'block', 'no ports in a later fragment');
  const bigFrom = buildUdp({ src: '10.0.0.1', dst: '2.2.2.2', sport: 1, dport: 99, payload: new Uint8Array(3000) });
  assert.equal(
    h.test(fragmentPacket(bigFrom, 1480)[1]!, Direction.IN, 'lan').action,
    'pass',
    'address-only rules still match',
  );
});
