// nat-to as pfctl reads it: every pool form in both families, the port range
// and its default, pool types and their defaults, static-port, sticky-address,
// source-hash keys, the family taken from the pool, and the printed form.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { NAT_PROXY_PORT_HIGH, NAT_PROXY_PORT_LOW, type Translation } from '../../src/rules/ast.js';
import { formatPrefixShort } from '../../src/rules/canonical.js';
import { assertRoundTrip, loadRules, printed } from './helpers/translation.js';

function nat(text: string): Translation {
  const rules = loadRules(text);
  assert.equal(rules.length, 1);
  assert.equal(rules[0]!.rdr, null);
  return rules[0]!.nat!;
}

function hostTexts(t: Translation): string[] {
  return t.hosts.map((h) => {
    if (h.kind === 'prefix') return formatPrefixShort(h.prefix.af, h.prefix.words, h.prefix.bits);
    if (h.kind === 'dynamic') return `(${h.ifname}${h.noAlias ? ':0' : ''})`;
    return `<${h.name}>`;
  });
}

test('a single address: no pool type, the proxy port range 50001:65535, the rule takes its family', () => {
  const t = nat('match out on wan from 192.168.1.0/24 nat-to 198.51.100.2');
  assert.deepEqual(hostTexts(t), ['198.51.100.2']);
  assert.equal(t.af, 4);
  assert.equal(t.type, 'none');
  assert.deepEqual([t.portLow, t.portHigh], [NAT_PROXY_PORT_LOW, NAT_PROXY_PORT_HIGH]);
  assert.equal(t.staticPort, false);
  assert.equal(t.sticky, false);
  assert.equal(t.hashKey, null);
  assert.deepEqual(printed('pass out on wan nat-to 198.51.100.2'), [
    'pass out on wan inet all flags S/SA nat-to 198.51.100.2',
  ]);
  const six = nat('pass out on wan nat-to 2001:db8:ff::2');
  assert.equal(six.af, 6);
  assert.deepEqual(printed('pass out on wan nat-to 2001:db8:ff::2'), [
    'pass out on wan inet6 all flags S/SA nat-to 2001:db8:ff::2',
  ]);
});

test('a network keeps its mask and no pool type; bitmask is accepted on it', () => {
  const t = nat('pass out on wan inet nat-to 198.51.100.0/28');
  assert.deepEqual(hostTexts(t), ['198.51.100.0/28']);
  assert.equal(t.type, 'none');
  assert.deepEqual(printed('pass out on wan nat-to 198.51.100.0/28 bitmask'), [
    'pass out on wan inet all flags S/SA nat-to 198.51.100.0/28 bitmask',
  ]);
  assert.deepEqual(printed('pass out on wan nat-to 2001:db8:ff::/112 bitmask'), [
    'pass out on wan inet6 all flags S/SA nat-to 2001:db8:ff::/112 bitmask',
  ]);
});

test('(if) follows the interface and defaults to round-robin; (if:0) is one address, no pool type', () => {
  const t = nat('match out on wan inet nat-to (wan)');
  assert.deepEqual(t.hosts, [{ kind: 'dynamic', ifname: 'wan', noAlias: false }]);
  assert.equal(t.type, 'round-robin');
  const t0 = nat('match out on wan inet6 nat-to (wan:0)');
  assert.deepEqual(t0.hosts, [{ kind: 'dynamic', ifname: 'wan', noAlias: true }]);
  assert.equal(t0.type, 'none');
  assert.equal(t0.af, 6);
  assert.deepEqual(printed('match out on egress inet from 192.168.1.0/24 nat-to (egress)'), [
    'match out on egress inet from 192.168.1.0/24 to any nat-to (egress) round-robin',
  ]);
  assert.deepEqual(printed('match out on wan inet nat-to (wan:0)'), ['match out on wan inet all nat-to (wan:0)']);
});

test("(if) takes the family of the rule's addresses when the rule names none", () => {
  const rules = loadRules('match out on wan from { 192.168.1.0/24, 2001:db8:1::/64 } nat-to (wan:0)');
  assert.deepEqual(
    rules.map((r) => [r.af, r.nat!.af]),
    [
      [4, 4],
      [6, 6],
    ],
  );
});

test('a bare interface name is resolved when the ruleset loads, per family, as pfctl does', () => {
  assert.deepEqual(hostTexts(nat('pass out on wan inet nat-to wan')), ['198.51.100.2']);
  assert.deepEqual(hostTexts(nat('pass out on wan inet6 nat-to wan')), ['2001:db8:ff::2']);
  assert.deepEqual(hostTexts(nat('pass out on wan inet nat-to egress')), ['198.51.100.2'], 'a group too');
  assert.deepEqual(printed('pass out on wan inet nat-to wan'), [
    'pass out on wan inet all flags S/SA nat-to 198.51.100.2',
  ]);
});

test('a list (macros allowed) or a table: round-robin unless another dynamic pool type is given', () => {
  const text = 'pool = "{ 198.51.100.1, 198.51.100.2 }"\npass out on wan nat-to $pool';
  const t = nat(text);
  assert.deepEqual(hostTexts(t), ['198.51.100.1', '198.51.100.2']);
  assert.equal(t.type, 'round-robin');
  assert.deepEqual(printed(text), [
    'pass out on wan inet all flags S/SA nat-to { 198.51.100.1, 198.51.100.2 } round-robin',
  ]);
  const tbl = nat('table <pool> { 198.51.100.1 }\npass out on wan inet nat-to <pool> random sticky-address');
  assert.deepEqual(tbl.hosts, [{ kind: 'table', name: 'pool' }]);
  assert.equal(tbl.type, 'random');
  assert.equal(tbl.sticky, true);
  assert.deepEqual(printed('table <pool> { 198.51.100.1 }\npass out on wan inet nat-to <pool>'), [
    'pass out on wan inet all flags S/SA nat-to <pool> round-robin',
  ]);
  assert.deepEqual(
    printed('pass out on wan inet6 nat-to { 2001:db8:ff::1 2001:db8:ff::2 } source-hash 0x' + '0'.repeat(32)),
    ['pass out on wan inet6 all flags S/SA nat-to { 2001:db8:ff::1, 2001:db8:ff::2 } source-hash 0x' + '0'.repeat(32)],
  );
});

test("a list keeps only the members of the rule's family", () => {
  const t = nat('pass out on wan inet nat-to { 198.51.100.1, 2001:db8:ff::1, 198.51.100.9 }');
  assert.deepEqual(hostTexts(t), ['198.51.100.1', '198.51.100.9']);
});

test('port N and port LOW:HIGH; a range equal to the proxy range or port 0 is the default and not printed', () => {
  const one = nat('pass out on wan inet nat-to 198.51.100.2 port 40000');
  assert.deepEqual([one.portLow, one.portHigh], [40000, 40000]);
  const range = nat('pass out on wan inet nat-to 198.51.100.2 port 1024:2047');
  assert.deepEqual([range.portLow, range.portHigh], [1024, 2047]);
  assert.deepEqual(
    printed(
      'pass out on wan inet nat-to 198.51.100.2 port 40000\n' +
        'pass out on wan inet nat-to 198.51.100.2 port 1024:2047\n' +
        'pass out on wan inet nat-to 198.51.100.2 port 50001:65535\n' +
        'pass out on wan inet nat-to 198.51.100.2 port 0',
    ),
    [
      'pass out on wan inet all flags S/SA nat-to 198.51.100.2 port 40000',
      'pass out on wan inet all flags S/SA nat-to 198.51.100.2 port 1024:2047',
      'pass out on wan inet all flags S/SA nat-to 198.51.100.2',
      'pass out on wan inet all flags S/SA nat-to 198.51.100.2',
    ],
  );
});

test('static-port: stored as ports 0:0, printed after the pool type', () => {
  const t = nat('pass out on wan inet nat-to 198.51.100.2 static-port round-robin');
  assert.equal(t.staticPort, true);
  assert.deepEqual([t.portLow, t.portHigh], [0, 0]);
  assert.deepEqual(printed('pass out on wan inet nat-to (wan:0) static-port sticky-address random'), [
    'pass out on wan inet all flags S/SA nat-to (wan:0) random sticky-address static-port',
  ]);
});

test('source-hash: a hex key as written, a string through MD5, none for a key chosen at load', () => {
  const hex = nat('pass out on wan inet nat-to 198.51.100.0/28 source-hash 0x0123456789abcdef00112233deadbeef');
  assert.equal(hex.type, 'source-hash');
  assert.deepEqual(hex.hashKey, Uint32Array.from([0x01234567, 0x89abcdef, 0x00112233, 0xdeadbeef]));
  const digest = createHash('md5').update('office').digest();
  const words = Uint32Array.from([0, 4, 8, 12], (i) => digest.readUInt32BE(i));
  assert.deepEqual(nat('pass out on wan inet nat-to 198.51.100.0/28 source-hash office').hashKey, words);
  assert.deepEqual(nat('pass out on wan inet nat-to 198.51.100.0/28 source-hash "office"').hashKey, words);
  const none = nat('pass out on wan inet nat-to 198.51.100.0/28 source-hash sticky-address');
  assert.equal(none.hashKey, null, 'a pool option after source-hash is not its key');
  assert.equal(none.sticky, true);
  assert.deepEqual(
    printed(
      'pass out on wan inet nat-to 198.51.100.0/28 source-hash office\n' +
        'pass out on wan inet nat-to 198.51.100.0/28 source-hash label "x"',
    ),
    [
      'pass out on wan inet all flags S/SA nat-to 198.51.100.0/28 source-hash 0x' +
        Array.from(words, (w) => w.toString(16).padStart(8, '0')).join(''),
      'pass out on wan inet all flags S/SA label "x" nat-to 198.51.100.0/28 source-hash',
    ],
  );
  // pf.conf(5)'s spelling of MD5("hello") as the key words pfctl prints
  assert.deepEqual(printed('pass out on wan inet nat-to 198.51.100.2 source-hash hello'), [
    'pass out on wan inet all flags S/SA nat-to 198.51.100.2 source-hash 0x5d41402abc4b2a76b9719d911017c592',
  ]);
});

test('the translation comes after the other options, on match rules without state', () => {
  assert.deepEqual(
    printed(
      'match out log on wan inet proto tcp from 192.168.1.0/24 to any port 443 nat-to 198.51.100.2 tag NAT\n' +
        'pass out quick on wan inet proto udp keep state (max 10) label "l" nat-to 198.51.100.2 port 2000',
    ),
    [
      'match out log on wan inet proto tcp from 192.168.1.0/24 to any port = 443 tag NAT nat-to 198.51.100.2',
      'pass out quick on wan inet proto udp all keep state (max 10, adaptive.start 6, adaptive.end 12) label "l" ' +
        'nat-to 198.51.100.2 port 2000 # tunpf: adaptive timeouts follow the whole state table',
    ],
  );
});

test('$macro:network: a macro joined to the text after it, as pfctl reads it', () => {
  const text = 'lan = "lan"\nwan = "wan"\nmatch out on $wan inet from $lan:network nat-to ($wan)';
  assert.deepEqual(printed(text), ['match out on wan inet from 192.168.1.0/24 to any nat-to (wan) round-robin']);
});

test('every nat-to form above prints and reads back the same', () => {
  for (const text of [
    'match out on wan from 192.168.1.0/24 nat-to 198.51.100.2',
    'pass out on wan nat-to 2001:db8:ff::2 port 1024:2047',
    'pass out on wan inet nat-to 198.51.100.0/28 bitmask sticky-address',
    'match out on wan inet nat-to (wan)',
    'match out on wan inet6 nat-to (wan:0) random',
    'pass out on wan inet6 nat-to wan',
    'pass out on wan inet nat-to { 198.51.100.1, 198.51.100.2 } source-hash office',
    'pass out on wan inet nat-to <pool> round-robin sticky-address',
    'pass out on wan inet nat-to 198.51.100.2 port 40000 source-hash',
    'pass out on wan inet nat-to 198.51.100.2 static-port',
  ])
    assertRoundTrip(text);
});
