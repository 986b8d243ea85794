// The router's own traffic, without I/O: the policy rules' plan, the source
// each of tpf-local's routes carries, the routes and proxy neighbours planned
// from the kernel's tables, the port ranges, and the pipeline's answers for
// packets to the router (checked in only) and from it (checked out only).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { PacketFilter } from '../../src/filter/packet-filter.js';
import { buildTcp } from '../../src/packet/build.js';
import { PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { StateEngine } from '../../src/state/state-engine.js';
import type { InterfaceAddress } from '../../src/os/kernel.js';
import { planOwnRoutes, planProxyNeighbours, sourceFor } from '../../src/datapath/own-routes.js';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { LOCAL_DELIVERY, RouteTable, routeTo } from '../../src/datapath/route-table.js';
import {
  ephemeralRangeBesideNat,
  localRulePriorities,
  planRouter,
  planRules,
  reservedPortsWithNat,
} from '../../src/datapath/router-setup.js';
import { iface } from './helpers/filter-harness.js';

const v4 = (address: string, bits: number, secondary = false): InterfaceAddress => ({
  af: 4,
  address,
  bits,
  scope: 'global',
  secondary,
});
const WAN = [v4('198.51.100.2', 30), v4('203.0.113.1', 24), v4('203.0.113.9', 24, true)];

test('source for a route: its prefsrc, else the primary address in the gateway subnet, else the first', () => {
  assert.equal(sourceFor(4, { dst: '10.0.0.0/8', dev: 'wan', prefsrc: '203.0.113.1' }, WAN), '203.0.113.1');
  assert.equal(sourceFor(4, { dst: 'default', dev: 'wan', gateway: '203.0.113.254' }, WAN), '203.0.113.1');
  assert.equal(sourceFor(4, { dst: 'default', dev: 'wan', gateway: '198.51.100.1' }, WAN), '198.51.100.2');
  assert.equal(sourceFor(4, { dst: 'default', dev: 'wan', gateway: '192.0.2.1' }, WAN), '198.51.100.2');
  assert.equal(sourceFor(4, { dst: 'default', dev: 'wan' }, [v4('203.0.113.9', 24, true)]), null, 'secondaries never');
  assert.equal(sourceFor(4, { dst: 'default', dev: 'wan' }, []), null);
  assert.equal(sourceFor(6, { dst: '::/0', dev: 'wan', prefsrc: '2001:db8::1' }, []), '2001:db8::1');
  const wan6: InterfaceAddress[] = [
    { af: 6, address: 'fe80::2', bits: 64, scope: 'link' },
    { af: 6, address: '2001:db8:ff::2', bits: 64, scope: 'global' },
    { af: 6, address: '2001:db8:ee::2', bits: 64, scope: 'global' },
  ];
  assert.equal(
    sourceFor(6, { dst: 'default', dev: 'wan', gateway: 'fe80::1' }, wan6),
    '2001:db8:ff::2',
    'IPv6: the first',
  );
  assert.equal(sourceFor(6, { dst: '2001:db8:ee::/48', dev: 'wan' }, wan6), '2001:db8:ee::2', 'the longest prefix');
  assert.equal(sourceFor(6, { dst: '::/0', dev: 'wan' }, [wan6[0]!]), null, 'never link-local: the kernel picks');
});

test("tpf-local's routes: the managed interfaces' unicast routes, a blackhole behind each, link scope thrown", () => {
  const managed = new Set(['lan', 'wan']);
  const addrs = (dev: string): InterfaceAddress[] =>
    dev === 'wan' ? WAN : [v4('192.168.1.1', 24), { af: 6, address: '2001:db8:1::1', bits: 64, scope: 'global' }];
  const four = planOwnRoutes(
    4,
    [
      { dst: 'default', dev: 'wan', gateway: '198.51.100.1' },
      { dst: '192.168.1.0/24', dev: 'lan', prefsrc: '192.168.1.1' },
      { dst: '10.9.0.0/16', dev: 'mgmt', prefsrc: '10.9.0.1' },
      { dst: '192.0.2.0/24', type: 'blackhole' },
      { dst: '224.0.0.0/4', dev: 'lan' },
    ],
    managed,
    addrs,
  ).map((a) => a.join(' '));
  assert.deepEqual(four, [
    'throw 224.0.0.0/4 table 17100',
    'throw 255.255.255.255/32 table 17100',
    '0.0.0.0/0 dev tpf-local src 198.51.100.2 table 17100',
    '192.168.1.0/24 dev tpf-local src 192.168.1.1 table 17100',
    'blackhole 0.0.0.0/0 metric 4294967295 table 17100',
    'blackhole 192.168.1.0/24 metric 4294967295 table 17100',
  ]);
  const six = planOwnRoutes(
    6,
    [
      { dst: 'default', dev: 'wan', gateway: 'fe80::1', metric: 1024 },
      { dst: 'fe80::/64', dev: 'lan', metric: 256 },
      { dst: '2001:db8:1::/64', dev: 'lan', metric: 256 },
    ],
    managed,
    addrs,
  ).map((a) => a.join(' '));
  assert.deepEqual(six, [
    'throw fe80::/10 table 17100',
    'throw ff00::/8 table 17100',
    '::/0 dev tpf-local metric 1024 table 17100',
    '2001:db8:1::/64 dev tpf-local src 2001:db8:1::1 metric 256 table 17100',
    'blackhole ::/0 metric 4294967295 table 17100',
    'blackhole 2001:db8:1::/64 metric 4294967295 table 17100',
  ]);
});

test('proxy neighbours: each managed device answers ARP for its own IPv4 addresses', () => {
  const addrs = (dev: string): InterfaceAddress[] =>
    dev === 'lan' ? [v4('192.168.1.1', 24), { af: 6, address: 'fe80::1', bits: 64, scope: 'link' }] : [];
  assert.deepEqual(planProxyNeighbours(new Set(['lan', 'wan']), addrs), [['192.168.1.1', 'dev', 'lan']]);
});

test('policy rules: ND and multicast first, the iif rules, the moved local rule, bound sockets, the router own', () => {
  const rules = planRules(planRouter(['lan', 'wan'], new Map([['wan', ['vhid1']]]))).map(
    (r) => `${r.fam} ${r.args.join(' ')}`,
  );
  assert.deepEqual(rules, [
    '-6 ipproto ipv6-icmp lookup local priority 16990',
    '-6 to ff00::/8 lookup local priority 16991',
    '-4 iif lan lookup 17000 priority 17000',
    '-4 iif wan lookup 17001 priority 17001',
    '-4 iif vhid1 lookup 17001 priority 17001',
    '-6 iif lan lookup 17000 priority 17000',
    '-6 iif wan lookup 17001 priority 17001',
    '-6 iif vhid1 lookup 17001 priority 17001',
    '-4 lookup local priority 17100',
    '-4 iif lo oif lan lookup main priority 17101',
    '-4 iif lo oif wan lookup main priority 17101',
    '-4 iif lo oif vhid1 lookup main priority 17101',
    '-4 iif lo lookup 17100 priority 17102',
    '-6 lookup local priority 17100',
    '-6 iif lo oif lan lookup main priority 17101',
    '-6 iif lo oif wan lookup main priority 17101',
    '-6 iif lo oif vhid1 lookup main priority 17101',
    '-6 iif lo lookup 17100 priority 17102',
  ]);
  assert.ok(!planRules(planRouter([])).some((r) => r.args.includes('lo')), 'nothing filtered: no own table');
});

test("the kernel's local rules are those before tunpf's range, from all, with no other selector", () => {
  assert.deepEqual(
    localRulePriorities([
      { priority: 0, src: 'all', table: 'local' },
      { priority: 100, src: 'all', iif: 'eth0', table: 'local' },
      { priority: 17100, src: 'all', table: 'local' },
      { priority: 32766, src: 'all', table: 'main' },
    ]),
    [0],
  );
  assert.deepEqual(localRulePriorities([{ priority: 1000, src: 'all', table: 'local' }]), [1000], 'VRF moves it');
});

test("nat-to's ports are reserved, and the ephemeral range keeps enough outside them", () => {
  assert.equal(reservedPortsWithNat(''), '50001-65535');
  assert.equal(reservedPortsWithNat('8080,9000-9100\n'), '8080,9000-9100,50001-65535');
  assert.equal(ephemeralRangeBesideNat('32768\t60999'), null, '32768-50000 left');
  assert.equal(ephemeralRangeBesideNat('50001 65535'), '32768 50000');
  assert.equal(ephemeralRangeBesideNat('49000 65535'), '32768 50000', 'too few left');
  assert.equal(ephemeralRangeBesideNat('1024 65535'), null);
});

function pipeline() {
  const interfaces = [iface('lan', ['192.168.1.1/24']), iface('wan', ['198.51.100.2/30'])];
  const rules =
    'block in all\npass in on lan proto tcp to (lan) port 22\npass out all\nblock out on wan proto tcp to port 25\n';
  const { ruleset } = parseRuleset(rules, { file: 't.conf', interfaces });
  assert.ok(ruleset);
  const registry = new InterfaceRegistry(interfaces);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000 });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const routes = new RouteTable();
  routes.replace([
    routeTo('0.0.0.0/0', 'wan', registry.id('wan'))!,
    routeTo('192.168.1.0/24', 'lan', registry.id('lan'))!,
    routeTo('192.168.1.1', 'lan', LOCAL_DELIVERY)!,
    routeTo('198.51.100.2', 'wan', LOCAL_DELIVERY)!,
  ]);
  return { pipe: new PacketPipeline(filter, states, routes), registry };
}

function meta(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
  return m;
}

test("the route lookup's local answer: a packet to the router is checked in only", () => {
  const { pipe, registry } = pipeline();
  const lan = registry.id('lan');
  const ssh = buildTcp({ src: '192.168.1.7', dst: '192.168.1.1', sport: 40000, dport: 22, seq: 1, flags: 'S' });
  const o = pipe.forward(meta(ssh), ssh, 0, ssh.length, lan, 1000);
  assert.deepEqual([o.pass, o.local, o.inChecked, o.outChecked, o.noRoute], [true, true, true, false, false]);
  assert.ok(o.created >= 0, 'a state');
  const telnet = buildTcp({ src: '192.168.1.7', dst: '192.168.1.1', sport: 40001, dport: 23, seq: 1, flags: 'S' });
  assert.equal(pipe.forward(meta(telnet), telnet, 0, telnet.length, lan, 1000).pass, false, 'block in all');
  const wanSide = buildTcp({ src: '192.168.1.7', dst: '198.51.100.2', sport: 40002, dport: 22, seq: 1, flags: 'S' });
  assert.equal(pipe.forward(meta(wanSide), wanSide, 0, wanSide.length, lan, 1000).pass, false, 'to (lan) only');
});

test('what the router sends is checked out on the egress the route table picks, and only out', () => {
  const { pipe, registry } = pipeline();
  const web = buildTcp({ src: '198.51.100.2', dst: '203.0.113.5', sport: 40000, dport: 443, seq: 1, flags: 'S' });
  const o = pipe.send(meta(web), web, 0, web.length, 1000);
  assert.deepEqual([o.pass, o.inChecked, o.outChecked, o.outIf], [true, false, true, registry.id('wan')]);
  assert.ok(o.created >= 0);
  const smtp = buildTcp({ src: '198.51.100.2', dst: '203.0.113.5', sport: 40001, dport: 25, seq: 1, flags: 'S' });
  assert.equal(pipe.send(meta(smtp), smtp, 0, smtp.length, 1000).pass, false, 'block out on wan ... port 25');
  const reply = buildTcp({
    src: '203.0.113.5',
    dst: '198.51.100.2',
    sport: 443,
    dport: 40000,
    seq: 9,
    ack: 2,
    flags: 'SA',
  });
  const back = pipe.forward(meta(reply), reply, 0, reply.length, registry.id('wan'), 1000);
  assert.deepEqual([back.pass, back.local], [true, true], 'the reply matches the state despite block in all');
});
