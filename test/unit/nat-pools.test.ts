// nat-to and rdr-to pools through the packet pipeline (pf-nat.md §5, §7):
// which address each pool type picks, pools that follow interfaces and
// tables as they change, sticky-address, and the search moving on to the
// pool's next address when one address has no port left.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp } from '../../src/packet/build.js';
import { formatAddress, parsePrefix } from '../../src/packet/address.js';
import { Gateway } from './helpers/gateway.js';
import { iface } from './helpers/filter-harness.js';

const OUT = 'block all\npass in on lan\npass out on wan\n';

/** The source address (and port) a connection from `from` leaves with. */
function leave(g: Gateway, from: string, sport = 40000): string {
  const v6 = from.includes(':');
  const to = v6 ? '2001:db8:9::1' : '203.0.113.200';
  const r = g.forward(buildTcp({ src: from, dst: to, sport, dport: 443, flags: 'S' }), 'lan');
  assert.equal(r.pass, true, `${from}:${sport} -> ${to}: ${r.why}`);
  return formatAddress(v6 ? 6 : 4, r.meta.src);
}

function leavePort(g: Gateway, from: string, sport: number, to: string): string {
  const r = g.forward(buildTcp({ src: from, dst: to, sport, dport: 443, flags: 'S' }), 'lan');
  return r.pass ? `${formatAddress(4, r.meta.src)}:${r.meta.srcPort}` : r.why;
}

test('no pool type: the address as written, for a network its address', () => {
  const g = new Gateway(OUT + 'match out on wan from 192.168.1.0/24 nat-to 203.0.113.16/28\n');
  assert.deepEqual([leave(g, '192.168.1.10'), leave(g, '192.168.1.11')], ['203.0.113.16', '203.0.113.16']);
});

test('bitmask: host bits from the source (nat-to) and from the original destination (rdr-to)', () => {
  const g = new Gateway(
    OUT +
      'match out on wan inet from 192.168.1.0/24 nat-to 203.0.113.16/28 bitmask\n' +
      'match out on wan inet6 from 2001:db8:1::/64 nat-to 2001:db8:ff::/112 bitmask\n' +
      'pass out on lan\n' +
      'pass in on wan proto tcp to 203.0.113.64/28 port 80 rdr-to 192.168.1.0/28 bitmask\n',
  );
  assert.equal(leave(g, '192.168.1.10'), '203.0.113.26');
  assert.equal(leave(g, '192.168.1.35'), '203.0.113.19');
  assert.equal(leave(g, '2001:db8:1::1:abcd'), '2001:db8:ff::abcd');
  const r = g.forward(buildTcp({ src: '198.18.0.1', dst: '203.0.113.70', sport: 40000, dport: 80, flags: 'S' }), 'wan');
  assert.deepEqual([r.pass, formatAddress(4, r.meta.dst)], [true, '192.168.1.6']);
});

test('random: the host part from the random source (fixed here), the port search from the same', () => {
  const g = new Gateway(OUT + 'match out on wan from 192.168.1.0/24 nat-to 203.0.113.16/28 random\n', {
    random: (n) => Math.min(5, n - 1),
  });
  assert.equal(leavePort(g, '192.168.1.10', 40000, '203.0.113.200'), '203.0.113.21:50006');
});

test('source-hash: the same source keeps its address; a written key picks the same on every load', () => {
  const KEY = '0x0123456789abcdef0123456789abcdef';
  const rules = (key: string) =>
    OUT + `match out on wan from 192.168.1.0/24 nat-to 203.0.113.16/28 source-hash ${key}\n`;
  const picks = (g: Gateway) => Array.from({ length: 64 }, (_, k) => leave(g, `192.168.1.${k + 10}`));
  const a = new Gateway(rules(KEY));
  const first = picks(a);
  assert.deepEqual(
    Array.from({ length: 64 }, (_, k) => leave(a, `192.168.1.${k + 10}`, 41000)),
    first,
    'another connection of each source: the same address',
  );
  assert.deepEqual(picks(new Gateway(rules(KEY))), first, 'the same key on another load');
  for (const p of first) {
    const w = parsePrefix(p)!.words[0]!;
    assert.equal(w >>> 4, parsePrefix('203.0.113.16')!.words[0]! >>> 4, `${p} in 203.0.113.16/28`);
  }
  assert.ok(new Set(first).size >= 8, `64 sources spread over the /28: ${new Set(first).size} addresses`);
  // without a key, each load draws one: the mapping changes
  assert.notDeepEqual(picks(new Gateway(rules(''))), picks(new Gateway(rules(''))));
});

test('round-robin: a list in turn; a network from its network address on', () => {
  const g = new Gateway(
    OUT +
      'match out on wan inet from 192.168.1.10 nat-to { 203.0.113.1 203.0.113.2 203.0.113.3 }\n' +
      'match out on wan inet from 192.168.1.11 nat-to 203.0.113.16/30 round-robin\n' +
      'match out on wan inet6 from 2001:db8:1::/64 nat-to 2001:db8:ff::100/126 round-robin\n',
  );
  assert.deepEqual(
    [0, 1, 2, 3].map((k) => leave(g, '192.168.1.10', 40000 + k)),
    ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.1'],
  );
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((k) => leave(g, '192.168.1.11', 40000 + k)),
    ['203.0.113.16', '203.0.113.17', '203.0.113.18', '203.0.113.19', '203.0.113.16'],
  );
  assert.deepEqual(
    [0, 1, 2].map((k) => leave(g, '2001:db8:1::10', 40000 + k)),
    ['2001:db8:ff::100', '2001:db8:ff::101', '2001:db8:ff::102'],
  );
});

test('a table pool sees entries added and removed at run time', () => {
  const g = new Gateway(
    OUT + 'table <pool> { 203.0.113.1 }\nmatch out on wan from 192.168.1.0/24 nat-to <pool> round-robin\n',
  );
  assert.equal(leave(g, '192.168.1.10', 40000), '203.0.113.1');
  const pool = g.filter.tables.get('pool')!;
  pool.add([{ prefix: parsePrefix('203.0.113.2')!, neg: false }]);
  const seen = new Set([0, 1, 2, 3].map((k) => leave(g, '192.168.1.10', 40001 + k)));
  assert.deepEqual([...seen].sort(), ['203.0.113.1', '203.0.113.2']);
  pool.delete([parsePrefix('203.0.113.1')!]);
  assert.deepEqual(
    [0, 1].map((k) => leave(g, '192.168.1.10', 40010 + k)),
    ['203.0.113.2', '203.0.113.2'],
  );
  pool.delete([parsePrefix('203.0.113.2')!]);
  // an empty pool: pf's pf_map_addr fails and the packet is dropped
  assert.equal(leavePort(g, '192.168.1.10', 40020, '203.0.113.200'), 'translate');
});

test("(wan) follows the interface's address; (wan:0) skips its aliases", () => {
  const g = new Gateway(
    OUT +
      'match out on wan inet from 192.168.1.10 nat-to (wan)\n' +
      'match out on wan inet from 192.168.1.11 nat-to (wan:0)\n',
  );
  assert.equal(leave(g, '192.168.1.10', 40000), '198.51.100.2');
  const wan = (addrs: string[]) => g.filter.interfaces.setAddresses('wan', iface('wan', addrs).addresses);
  wan(['198.51.100.6/30']);
  assert.equal(leave(g, '192.168.1.10', 40001), '198.51.100.6', 'the new address');
  wan(['198.51.100.6/30', '198.51.100.5/30']);
  assert.deepEqual(
    [2, 3].map((k) => leave(g, '192.168.1.10', 40000 + k)).sort(),
    ['198.51.100.5', '198.51.100.6'],
    '(wan): every address in turn',
  );
  assert.deepEqual(
    [0, 1, 2].map((k) => leave(g, '192.168.1.11', 40000 + k)),
    ['198.51.100.6', '198.51.100.6', '198.51.100.6'],
    '(wan:0): the first address only',
  );
});

test('sticky-address: a source keeps its address while the pool rotates for the others', () => {
  const rules = (sticky: string) =>
    OUT + `match out on wan from 192.168.1.0/24 nat-to { 203.0.113.1 203.0.113.2 203.0.113.3 } round-robin ${sticky}\n`;
  const order = ['192.168.1.10', '192.168.1.11', '192.168.1.10', '192.168.1.12', '192.168.1.10'];
  const run = (g: Gateway) => order.map((h, k) => leave(g, h, 40000 + k));
  assert.deepEqual(run(new Gateway(rules('sticky-address'))), [
    '203.0.113.1',
    '203.0.113.2',
    '203.0.113.1',
    '203.0.113.3',
    '203.0.113.1',
  ]);
  assert.deepEqual(run(new Gateway(rules(''))), [
    '203.0.113.1',
    '203.0.113.2',
    '203.0.113.3',
    '203.0.113.1',
    '203.0.113.2',
  ]);
});

test('ports run out on one address: a round-robin pool moves on to its next address, then gives up', () => {
  const g = new Gateway(
    OUT + 'match out on wan from 192.168.1.0/24 nat-to { 203.0.113.1 203.0.113.2 } port 50001 round-robin\n',
  );
  assert.equal(leavePort(g, '192.168.1.10', 40000, '203.0.113.200'), '203.0.113.1:50001');
  assert.equal(leavePort(g, '192.168.1.10', 40001, '203.0.113.201'), '203.0.113.2:50001');
  // the pool's turn is .1, taken towards .200: .2 is free there
  assert.equal(leavePort(g, '192.168.1.10', 40002, '203.0.113.200'), '203.0.113.2:50001');
  // both taken towards .200: back at the first pick, the connection is refused
  assert.equal(leavePort(g, '192.168.1.10', 40003, '203.0.113.200'), 'translate');
});

test('ports run out: a random pool draws again; source-hash and bitmask pools do not', () => {
  let k = 0;
  const g = new Gateway(
    OUT + 'match out on wan from 192.168.1.0/24 nat-to { 203.0.113.1 203.0.113.2 } port 50001 random\n',
    { random: (n) => (n === 2 ? k++ % 2 : 0) },
  );
  assert.equal(leavePort(g, '192.168.1.10', 40000, '203.0.113.200'), '203.0.113.1:50001');
  assert.equal(leavePort(g, '192.168.1.10', 40001, '203.0.113.201'), '203.0.113.2:50001');
  // draws .1, taken towards .200; draws .2
  assert.equal(leavePort(g, '192.168.1.10', 40002, '203.0.113.200'), '203.0.113.2:50001');
  const h = new Gateway(
    OUT +
      'match out on wan from 192.168.1.0/24 nat-to 203.0.113.16/28 port 50001 ' +
      'source-hash 0x0123456789abcdef0123456789abcdef\n',
  );
  const first = leavePort(h, '192.168.1.10', 40000, '203.0.113.200');
  assert.match(first, /^203\.0\.113\.\d+:50001$/);
  assert.equal(leavePort(h, '192.168.1.10', 40001, '203.0.113.200'), 'translate');
});
