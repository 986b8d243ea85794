// rdr-to as pfctl reads it: the pool forms in both families, `port N`,
// `port LOW:HIGH`, `port N:*` stored with the width of the rule's destination
// port range, pool options, and the printed form.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Translation } from '../../src/rules/ast.js';
import { formatPool } from '../../src/rules/canonical.js';
import { assertRoundTrip, loadRules, printed } from './helpers/translation.js';

function rdr(text: string): Translation[] {
  const rules = loadRules(text);
  for (const r of rules) assert.equal(r.nat, null);
  return rules.map((r) => r.rdr!);
}

test('a port forward: the destination port becomes the one given', () => {
  const [t] = rdr('pass in on wan proto tcp to (wan) port 2222 rdr-to 192.168.1.10 port 22');
  assert.equal(t!.af, 4);
  assert.equal(formatPool(t!.hosts), '192.168.1.10');
  assert.deepEqual([t!.portLow, t!.portHigh], [22, 22]);
  assert.equal(t!.type, 'none');
  assert.equal(t!.staticPort, false);
  assert.deepEqual(printed('pass in on wan proto tcp to (wan) port 2222 rdr-to 192.168.1.10 port ssh'), [
    'pass in on wan inet proto tcp from any to (wan) port = 2222 flags S/SA rdr-to 192.168.1.10 port 22',
  ]);
});

test('no port: the destination port is kept (0:0) and none is printed', () => {
  const [t] = rdr('pass in on wan inet6 proto tcp to port 80 rdr-to 2001:db8:1::80');
  assert.deepEqual([t!.portLow, t!.portHigh], [0, 0]);
  assert.equal(t!.af, 6);
  assert.deepEqual(printed('pass in on wan inet6 proto tcp to port 80 rdr-to 2001:db8:1::80'), [
    'pass in on wan inet6 proto tcp from any to any port = 80 flags S/SA rdr-to 2001:db8:1::80',
  ]);
});

test('port N:* takes the width of the destination port range, per expanded rule', () => {
  const ts = rdr('pass in on wan proto tcp to port { 8000:8010, 443 } rdr-to 192.168.1.10 port 9000:*');
  assert.deepEqual(
    ts.map((t) => [t.portLow, t.portHigh]),
    [
      [9000, 9010],
      [9000, 9000],
    ],
  );
  assert.deepEqual(printed('pass in on wan proto tcp to port 8000:8010 rdr-to 192.168.1.10 port 9000:*'), [
    'pass in on wan inet proto tcp from any to any port 8000:8010 flags S/SA rdr-to 192.168.1.10 port 9000:9010',
  ]);
});

test('port LOW:HIGH as written', () => {
  const [t] = rdr('pass in on wan proto udp to port 5000:5999 rdr-to 192.168.1.10 port 6000:6099');
  assert.deepEqual([t!.portLow, t!.portHigh], [6000, 6099]);
  assert.deepEqual(printed('pass in on wan proto udp to port 5000:5999 rdr-to 192.168.1.10 port 6000:6099'), [
    'pass in on wan inet proto udp from any to any port 5000:5999 rdr-to 192.168.1.10 port 6000:6099',
  ]);
});

test('pools: network with bitmask, list, table, (if), and outbound rdr-to', () => {
  assert.deepEqual(
    printed(
      'pass in on wan inet proto tcp to port 80 rdr-to 192.168.1.0/29 bitmask\n' +
        'pass in on wan proto tcp to port 80 rdr-to { 192.168.1.10, 192.168.1.11 } port 8080 sticky-address\n' +
        'pass in on wan inet6 proto tcp to port 80 rdr-to <web> source-hash 0x000102030405060708090a0b0c0d0e0f\n' +
        'pass out on lan inet proto udp to port 53 rdr-to (lan:0) port 5353',
    ),
    [
      'pass in on wan inet proto tcp from any to any port = 80 flags S/SA rdr-to 192.168.1.0/29 bitmask',
      'pass in on wan inet proto tcp from any to any port = 80 flags S/SA ' +
        'rdr-to { 192.168.1.10, 192.168.1.11 } port 8080 round-robin sticky-address',
      'pass in on wan inet6 proto tcp from any to any port = 80 flags S/SA ' +
        'rdr-to <web> source-hash 0x000102030405060708090a0b0c0d0e0f',
      'pass out on lan inet proto udp from any to any port = 53 rdr-to (lan:0) port 5353',
    ],
  );
});

test('nat-to and rdr-to on one rule: both kept and both printed, nat-to first', () => {
  const [r] = loadRules('pass out on wan inet proto tcp to port 25 rdr-to 192.0.2.25 nat-to (wan:0)');
  assert.ok(r!.nat && r!.rdr);
  assert.deepEqual(printed('pass out on wan inet proto tcp to port 25 rdr-to 192.0.2.25 nat-to (wan:0)'), [
    'pass out on wan inet proto tcp from any to any port = 25 flags S/SA nat-to (wan:0) rdr-to 192.0.2.25',
  ]);
});

test('every rdr-to form above prints and reads back the same', () => {
  for (const text of [
    'pass in on wan proto tcp to (wan) port 2222 rdr-to 192.168.1.10 port 22',
    'pass in on wan inet6 proto tcp to port 80 rdr-to 2001:db8:1::80',
    'pass in on wan proto tcp to port { 8000:8010, 443 } rdr-to 192.168.1.10 port 9000:*',
    'match in on wan proto udp to port 5000:5999 rdr-to 192.168.1.10 port 6000:6099',
    'pass in on wan proto tcp to port 80 rdr-to { 192.168.1.10, 192.168.1.11 } port 8080 sticky-address',
    'pass in on wan inet6 proto tcp to port 80 rdr-to <web> source-hash 0x000102030405060708090a0b0c0d0e0f',
    'pass out on wan inet proto tcp to port 25 rdr-to 192.0.2.25 nat-to (wan:0)',
  ])
    assertRoundTrip(text);
});
