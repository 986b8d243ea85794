// Translations pfctl refuses, refused with its wording where it is clear, at
// FILE:LINE:COL of the option (or of the word at fault).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translationErrors } from './helpers/translation.js';

const cases: [string, string, string[]][] = [
  [
    'pass without state',
    'pass out on wan inet no state nat-to 198.51.100.2',
    ['1:31: nat-to and rdr-to require keep state'],
  ],
  ['block', 'block out on wan inet rdr-to 192.168.1.1', ['1:23: nat-to and rdr-to require keep state']],
  ['no direction', 'pass on wan inet nat-to 198.51.100.2', ['1:18: nat-to and rdr-to require a direction']],
  ['match without direction', 'match on wan inet rdr-to 192.168.1.1', ['1:19: nat-to and rdr-to require a direction']],
  ['nat-to twice', 'pass out on wan inet nat-to 1.2.3.4 nat-to 1.2.3.5', ['1:37: cannot respecify nat-to/binat-to']],
  ['binat-to after nat-to', 'pass on wan nat-to 1.2.3.4 binat-to 1.2.3.5', ['1:28: cannot respecify nat-to/binat-to']],
  ['rdr-to twice', 'pass in on wan inet rdr-to 10.0.0.1 rdr-to 10.0.0.2', ['1:37: cannot respecify rdr-to']],
  [
    'pool type twice',
    'pass out on wan inet nat-to 10.0.0.0/24 random bitmask',
    ['1:48: pool type cannot be redefined'],
  ],
  [
    'static-port twice',
    'pass out on wan inet nat-to 1.2.3.4 static-port static-port',
    ['1:49: static-port cannot be redefined'],
  ],
  [
    'sticky twice',
    'pass out on wan inet nat-to 1.2.3.4 sticky-address sticky-address',
    ['1:52: sticky-address cannot be redefined'],
  ],
  [
    'bitmask with a table',
    'table <p> { 1.2.3.4 }\npass out on wan inet nat-to <p> bitmask',
    ['2:22: tables are not supported by pool type'],
  ],
  [
    'bitmask with a list',
    'pass out on wan inet nat-to { 1.2.3.4, 1.2.3.5 } bitmask',
    ['1:22: pool type is not valid for multiple translation or routing addresses'],
  ],
  [
    'bitmask with (if)',
    'pass out on wan inet nat-to (wan) bitmask',
    ['1:22: interface (wan) is not supported by pool type'],
  ],
  [
    'static-port with a port range',
    'pass out on wan inet nat-to 1.2.3.4 port 1024:2047 static-port',
    ["1:52: the 'static-port' option can't be used when specifying a port range"],
  ],
  [
    'static-port with one port',
    'pass out on wan inet nat-to 1.2.3.4 port 40000 static-port',
    ["1:48: the 'static-port' option can't be used when specifying a port range"],
  ],
  [
    'static-port on rdr-to',
    'pass in on wan inet rdr-to 10.0.0.1 static-port',
    ["1:37: the 'static-port' option is only valid with nat rules"],
  ],
  [
    'reversed rdr-to port range',
    'pass in on wan inet proto tcp rdr-to 10.0.0.1 port 90:80',
    ['1:52: invalid rdr-to port range'],
  ],
  [
    'port N:* past 65535',
    'pass in on wan proto tcp to port 1000:2000 rdr-to 10.0.0.1 port 65000:*',
    ['1:65: rdr-to port 65000:* runs past 65535 (the range is 1001 wide)'],
  ],
  ['unknown port name', 'pass in on wan inet rdr-to 10.0.0.1 port nosuch', ["1:42: unknown port name 'nosuch'"]],
  [
    'short hex key',
    'pass out on wan inet nat-to 1.2.3.4 source-hash 0x1234',
    ['1:49: hex key must be 128 bits (32 hex digits) long'],
  ],
  ['bad hex key', `pass out on wan inet nat-to 1.2.3.4 source-hash 0x${'g'.repeat(32)}`, ['1:49: invalid hex key']],
  [
    'unknown interface',
    'pass out on wan inet nat-to em9',
    ["1:29: no such interface 'em9' (tunpf resolves no host names; check describes one with --interface em9=ADDR/LEN)"],
  ],
  [
    'not an address',
    'pass out on wan inet nat-to nowhere',
    ["1:29: invalid address 'nowhere': not an address, and no interface or group of that name"],
  ],
  ['bad prefix length', 'pass out on wan inet nat-to 1.2.3.0/33', ["1:29: invalid prefix length in '1.2.3.0/33'"]],
  [
    'missing pool',
    'pass out on wan inet nat-to',
    ['1:28: syntax error: expected a translation address, found end of line'],
  ],
  [
    'range',
    'pass out on wan inet nat-to 1.2.3.4 - 1.2.3.9',
    ['1:37: address ranges are not supported in a translation pool'],
  ],
  [
    '(if:network)',
    'pass out on wan inet nat-to (wan:network)',
    ['1:30: (wan:network): a translation pool takes (if) or (if:0)'],
  ],
  [
    'dynamic in a list',
    'pass out on wan inet nat-to { 1.2.3.4, (wan) }',
    ['1:40: only addresses can be listed for redirection pools'],
  ],
  ['least-states', 'pass out on wan inet nat-to <p> least-states', ["1:33: 'least-states' is not supported by tunpf"]],
  [
    'pool of the other family',
    'pass out on wan inet6 nat-to 198.51.100.2',
    ['1:23: af mismatch in translation spec: nat-to has no inet6 address'],
  ],
  [
    'pool family against the addresses',
    'pass in on wan from 2001:db8::1 rdr-to 192.168.1.1',
    ['1:33: af mismatch in translation spec: rdr-to has no inet6 address'],
  ],
  [
    'pool of both families, rule of none',
    'pass out on wan nat-to { 198.51.100.2, 2001:db8:ff::2 }',
    ['1:17: nat-to: translation spec contains addresses with different address families'],
  ],
  [
    'an interface with both families, rule of none',
    'pass out on wan nat-to wan',
    ['1:17: nat-to: translation spec contains addresses with different address families'],
  ],
  [
    'nat-to and rdr-to of different families',
    'pass out on wan rdr-to 10.0.0.1 nat-to 2001:db8::1',
    ['1:33: af mismatch in translation spec: nat-to has no inet address'],
  ],
  [
    'no family at all',
    'pass out on wan nat-to (wan)',
    ['1:17: nat-to (wan): the rule needs an address family (inet or inet6)'],
  ],
  [
    'af-to',
    'pass in on wan inet6 af-to inet from 198.51.100.2',
    ['1:22: af-to is not supported by tunpf (no NAT64/NAT46)'],
  ],
  [
    'af-to with a destination pool',
    'pass in on wan inet af-to inet6 from 2001:db8::1 to 2001:db8::2 random',
    ['1:21: af-to is not supported by tunpf (no NAT64/NAT46)'],
  ],
  [
    'af-to without a family',
    'pass in on wan af-to from 1.2.3.4',
    ["1:22: syntax error: expected inet or inet6, found 'from'"],
  ],
  [
    'binat-to with a direction',
    'pass out on wan from 10.0.0.1 binat-to 1.2.3.4',
    ['1:31: binat-to cannot be specified with a direction'],
  ],
  [
    'binat-to from any',
    'pass on wan inet binat-to 1.2.3.4',
    ['1:18: source and redirect addresses must have a matching network mask in a binat-to rule'],
  ],
  [
    'binat-to masks differ',
    'pass on wan from 10.0.0.0/24 binat-to 1.2.3.0/25',
    ['1:30: source and redirect addresses must have a matching network mask in a binat-to rule'],
  ],
  [
    'binat-to from a table',
    'table <t> { 10.0.0.1 }\npass on wan inet from <t> binat-to 1.2.3.4',
    ['2:27: invalid use of table <t> as the source address of a binat-to rule'],
  ],
  [
    'binat-to from (if)',
    'pass on wan inet from (lan) binat-to 1.2.3.4',
    ['1:29: invalid use of interface (lan) as the source address of a binat-to rule'],
  ],
  [
    'binat-to from a negated address',
    'pass on wan from ! 10.0.0.1 binat-to 1.2.3.4',
    ['1:29: binat-to requires a specified source and redirect address'],
  ],
  [
    'binat-to to a list',
    'pass on wan from 10.0.0.1 binat-to { 1.2.3.4, 1.2.3.5 }',
    ['1:27: tables cannot be used as the redirect address of a binat-to rule'],
  ],
  [
    'binat-to to (if)',
    'pass on wan from 10.0.0.1 binat-to (wan)',
    ['1:27: dynamic interfaces must be used with :0 in a binat-to rule'],
  ],
  [
    'binat-to with a port',
    'pass on wan from 10.0.0.1 binat-to 1.2.3.4 port 80',
    ['1:49: binat-to translates addresses only: it takes no port'],
  ],
  [
    'binat-to without state',
    'pass on wan from 10.0.0.1 no state binat-to 1.2.3.4',
    ['1:36: nat-to and rdr-to require keep state'],
  ],
];

for (const [name, text, want] of cases) {
  test(`refused: ${name}`, () => {
    assert.deepEqual(translationErrors(text), want);
  });
}

test('every line with an error is reported, and the rest of each line is skipped', () => {
  assert.deepEqual(
    translationErrors(
      'pass on wan inet nat-to 1.2.3.4\npass out on wan inet nat-to em9 bitmask\npass out on wan inet nat-to 1.2.3.4',
    ),
    [
      '1:18: nat-to and rdr-to require a direction',
      "2:29: no such interface 'em9' (tunpf resolves no host names; check describes one with --interface em9=ADDR/LEN)",
    ],
  );
});
