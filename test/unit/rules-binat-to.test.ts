// binat-to expands into two rules, as pfctl's expand_rule writes them: an
// outbound nat-to with static-port and an inbound rdr-to back to the source.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertRoundTrip, loadRules, printed } from './helpers/translation.js';

test("pf.conf(5)'s example: one outbound nat-to static-port, one inbound rdr-to, numbered in order", () => {
  assert.deepEqual(printed('pass on wan from 192.168.1.120 to any binat-to 198.51.100.17'), [
    'pass out on wan inet from 192.168.1.120 to any flags S/SA nat-to 198.51.100.17 static-port',
    'pass in on wan inet from any to 198.51.100.17 flags S/SA rdr-to 192.168.1.120',
  ]);
  const rules = loadRules('block all\npass on wan from 192.168.1.120 binat-to 198.51.100.17\npass all');
  assert.deepEqual(
    rules.map((r) => r.nr),
    [0, 1, 2, 3],
  );
  const [, out, inb] = rules;
  assert.equal(out!.nat!.staticPort, true);
  assert.deepEqual([out!.nat!.portLow, out!.nat!.portHigh], [0, 0]);
  assert.equal(out!.rdr, null);
  assert.equal(inb!.nat, null);
  assert.equal(inb!.rdr!.staticPort, false);
  assert.deepEqual([inb!.rdr!.portLow, inb!.rdr!.portHigh], [0, 0]);
});

test('IPv6, networks with equal masks, pool options carried to the inbound half', () => {
  assert.deepEqual(printed('match on wan from 2001:db8:1::/120 binat-to 2001:db8:ff::/120 bitmask'), [
    'match out on wan inet6 from 2001:db8:1::/120 to any nat-to 2001:db8:ff::/120 bitmask static-port',
    'match in on wan inet6 from any to 2001:db8:ff::/120 rdr-to 2001:db8:1::/120 bitmask',
  ]);
});

test('(if:0) on either side; ports and protocol carried across, swapped on the inbound half', () => {
  assert.deepEqual(printed('pass on wan inet proto tcp from (lan:0) port 5000 to any port 80 binat-to (wan:0)'), [
    'pass out on wan inet proto tcp from (lan:0) port = 5000 to any port = 80 flags S/SA nat-to (wan:0) static-port',
    'pass in on wan inet proto tcp from any port = 80 to (wan:0) port = 5000 flags S/SA rdr-to (lan:0)',
  ]);
});

test('a list of sources gives a pair of rules per source', () => {
  assert.deepEqual(printed('pass on wan from { 192.168.1.5, 192.168.1.6 } binat-to 198.51.100.7 label "b"'), [
    'pass out on wan inet from 192.168.1.5 to any flags S/SA label "b" nat-to 198.51.100.7 static-port',
    'pass in on wan inet from any to 198.51.100.7 flags S/SA label "b" rdr-to 192.168.1.5',
    'pass out on wan inet from 192.168.1.6 to any flags S/SA label "b" nat-to 198.51.100.7 static-port',
    'pass in on wan inet from any to 198.51.100.7 flags S/SA label "b" rdr-to 192.168.1.6',
  ]);
});

test('both halves print and read back the same', () => {
  assertRoundTrip('pass on wan from 192.168.1.120 to any binat-to 198.51.100.17');
  assertRoundTrip('match on wan from 2001:db8:1::/120 binat-to 2001:db8:ff::/120 bitmask');
  assertRoundTrip('pass on wan inet proto tcp from (lan:0) port 5000 to any port 80 binat-to (wan:0)');
});
