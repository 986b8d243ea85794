// route-to, reply-to and dup-to without I/O: the pool's choice of target, the
// state remembering it, and the pipeline sending the state's packets by it
// (route-to in the state's direction, reply-to the reverse, dup-to a copy),
// with the `out` check on the target's interface.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { PacketFilter } from '../../src/filter/packet-filter.js';
import { RouteTargets } from '../../src/filter/route-targets.js';
import { buildTcp } from '../../src/packet/build.js';
import { parseAddress } from '../../src/packet/address.js';
import { PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { RouteCode, routeCode, routeTarget } from '../../src/state/constants.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { RouteTable, routeTo } from '../../src/datapath/route-table.js';
import { STATE_LENGTH, StateOffset } from '../../src/pfsync/constants.js';
import { StateExporter, StateImporter } from '../../src/pfsync/state-record.js';
import { iface } from './helpers/filter-harness.js';

const INTERFACES = [
  iface('lan', ['192.168.1.1/24']),
  iface('wan1', ['198.51.100.2/24']),
  iface('wan2', ['203.0.113.2/24']),
];

function setup(rules: string, random?: (n: number) => number) {
  const { ruleset, diagnostics } = parseRuleset(rules, { file: 't.conf', interfaces: INTERFACES });
  assert.ok(ruleset, JSON.stringify(diagnostics));
  const registry = new InterfaceRegistry(INTERFACES);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000 });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry, random });
  const routes = new RouteTable();
  // the main table's default is wan1
  routes.replace([
    routeTo('0.0.0.0/0', 'wan1', registry.id('wan1'))!,
    routeTo('192.168.1.0/24', 'lan', registry.id('lan'))!,
    routeTo('198.51.100.0/24', 'wan1', registry.id('wan1'))!,
    routeTo('203.0.113.0/24', 'wan2', registry.id('wan2'))!,
  ]);
  const pipe = new PacketPipeline(filter, states, routes);
  const id = (name: string) => registry.id(name);
  const forward = (pkt: Uint8Array, ifIn: string) => {
    const m = new PacketMeta();
    assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
    return pipe.forward(m, pkt, 0, pkt.length, id(ifIn), 1000);
  };
  return { filter, states, id, forward };
}

const syn = (src: string, dst: string, sport = 40000, dport = 443) =>
  buildTcp({ src, dst, sport, dport, seq: 1, flags: 'S' });
const synAck = (src: string, dst: string, sport = 443, dport = 40000) =>
  buildTcp({ src, dst, sport, dport, seq: 9, ack: 2, flags: 'SA' });
const ack = (src: string, dst: string, sport = 40000, dport = 443) =>
  buildTcp({ src, dst, sport, dport, seq: 2, ack: 10, flags: 'A' });

test('route-to on an in rule: the packet leaves by wan2 though the main table says wan1, replies are not', () => {
  const { filter, states, id, forward } = setup(
    'pass out all\npass in on lan\npass in on wan2\npass in on lan from 192.168.1.7 route-to (wan2 203.0.113.1)\n',
  );
  let o = forward(syn('192.168.1.7', '192.0.2.80'), 'lan');
  assert.ok(o.pass);
  assert.equal(o.outIf, id('wan2'), 'out check on the route target');
  assert.equal(filter.routeTargets.describe(o.routeTarget), '(wan2 203.0.113.1)');
  const s = o.inCheck.state;
  assert.equal(routeCode(states.table.route[s]!), RouteCode.ROUTE_TO, 'the state remembers the route');
  assert.equal(routeTarget(states.table.route[s]!), o.routeTarget);
  o = forward(synAck('192.0.2.80', '192.168.1.7'), 'wan2');
  assert.ok(o.pass);
  assert.equal(o.routeTarget, 0, 'replies go by the main table');
  assert.equal(o.outIf, id('lan'));
  o = forward(ack('192.168.1.7', '192.0.2.80'), 'lan');
  assert.ok(o.pass);
  assert.equal(o.inCheck.state, s, 'matched by the state');
  assert.equal(o.outIf, id('wan2'), "later packets follow the state's route");
  const other = forward(syn('192.168.1.8', '192.0.2.80'), 'lan');
  assert.equal(other.routeTarget, 0);
  assert.equal(other.outIf, id('wan1'), 'another client goes by the main table');
});

test('the out check runs on the route target: `block out on wan2` drops the routed packet', () => {
  const { id, forward } = setup('pass all\npass in on lan route-to (wan2 203.0.113.1)\nblock out on wan2\n');
  const o = forward(syn('192.168.1.7', '192.0.2.80'), 'lan');
  assert.equal(o.outIf, id('wan2'));
  assert.equal(o.pass, false);
});

test('route-to a next hop alone: the interface is the one the route table reaches it by', () => {
  const { id, forward } = setup('pass all\npass in on lan route-to 203.0.113.1\n');
  const o = forward(syn('192.168.1.7', '192.0.2.80'), 'lan');
  assert.ok(o.pass);
  assert.equal(o.outIf, id('wan2'));
});

test('route-to on an out rule: the packet leaves by the target after the out check, without another', () => {
  const { filter, id, forward } = setup(
    'pass all\npass out on wan1 proto tcp to port 443 route-to (wan2 203.0.113.1)\n',
  );
  const o = forward(syn('192.168.1.7', '192.0.2.80'), 'lan');
  assert.ok(o.pass);
  assert.equal(o.outIf, id('wan1'), 'checked out where the main table sent it');
  assert.equal(filter.routeTargets.describe(o.routeTarget), '(wan2 203.0.113.1)');
});

test('reply-to: replies to a connection that came in on wan2 leave by wan2, the connection is not routed', () => {
  const { filter, id, forward } = setup('pass all\npass in on wan2 proto tcp to port 22 reply-to (wan2 203.0.113.1)\n');
  let o = forward(syn('192.0.2.9', '192.168.1.7', 50000, 22), 'wan2');
  assert.ok(o.pass);
  assert.equal(o.routeTarget, 0);
  assert.equal(o.outIf, id('lan'));
  o = forward(synAck('192.168.1.7', '192.0.2.9', 22, 50000), 'lan');
  assert.ok(o.pass);
  // as pf: the reply is checked out where the main table sends it, and the state's reply-to then routes it
  assert.equal(o.outIf, id('wan1'));
  assert.equal(filter.routeTargets.describe(o.routeTarget), '(wan2 203.0.113.1)');
});

test('dup-to: a copy goes to the target, the packet itself by the main table', () => {
  const { filter, id, forward } = setup('pass all\npass in on lan dup-to (lan 192.168.1.99)\n');
  const o = forward(syn('192.168.1.7', '192.0.2.80'), 'lan');
  assert.ok(o.pass);
  assert.equal(o.routeTarget, 0);
  assert.equal(o.outIf, id('wan1'));
  assert.equal(filter.routeTargets.describe(o.dupTarget), '(lan 192.168.1.99)');
});

test('pools: round-robin takes the targets in turn, random as drawn, source-hash the same for a source', () => {
  const pool = '{ (wan1 198.51.100.1), (wan2 203.0.113.1) }';
  const draws = [1, 0, 1];
  const { filter, forward } = setup(
    `pass all\npass in on lan proto tcp to port 80 route-to ${pool}\n` +
      `pass in on lan proto tcp to port 81 route-to ${pool} random\n` +
      `pass in on lan proto tcp to port 82 route-to ${pool} source-hash 0x00112233445566778899aabbccddeeff\n`,
    () => draws.shift() ?? 0,
  );
  const pick = (dport: number, sport: number, src = '192.168.1.7') =>
    filter.routeTargets.describe(forward(syn(src, '192.0.2.80', sport, dport), 'lan').routeTarget);
  assert.deepEqual(
    [pick(80, 1), pick(80, 2), pick(80, 3)],
    ['(wan1 198.51.100.1)', '(wan2 203.0.113.1)', '(wan1 198.51.100.1)'],
  );
  assert.deepEqual(
    [pick(81, 1), pick(81, 2), pick(81, 3)],
    ['(wan2 203.0.113.1)', '(wan1 198.51.100.1)', '(wan2 203.0.113.1)'],
  );
  const hashed = [1, 2, 3, 4].map((p) => pick(82, p));
  assert.ok(
    hashed.every((h) => h === hashed[0]),
    'one source, one target',
  );
  const sources = Array.from({ length: 16 }, (_, k) => pick(82, 100 + k, `192.168.1.${20 + k}`));
  assert.equal(new Set(sources).size, 2, 'sources spread over both targets');
});

test('route targets keep their numbers across a reload; new ones are added after', () => {
  const registry = new InterfaceRegistry(INTERFACES);
  const parse = (text: string) => parseRuleset(text, { file: 't.conf', interfaces: INTERFACES }).ruleset!;
  const a = new RouteTargets(parse('pass in on lan route-to (wan2 203.0.113.1)\n'), registry);
  const b = new RouteTargets(
    parse('pass in on lan route-to 198.51.100.1\npass in on lan route-to (wan2 203.0.113.1)\n'),
    registry,
    a,
  );
  assert.equal(b.describe(1), '(wan2 203.0.113.1)');
  assert.equal(b.describe(2), '198.51.100.1');
  assert.equal(routeTarget(b.choose(1, parseAddress('192.168.1.7')!.words)), 1);
  assert.equal(b.count, 2);
});

test("pfsync carries a state's route as rt and rt_addr; the peer finds its target by the next hop", () => {
  const rules = 'pass all\npass in on lan route-to { (wan1 198.51.100.1), (wan2 203.0.113.1) }\n';
  const a = setup(rules);
  a.forward(syn('192.168.1.7', '192.0.2.80'), 'lan');
  const o = a.forward(syn('192.168.1.7', '192.0.2.80', 40001), 'lan');
  assert.equal(a.filter.routeTargets.describe(o.routeTarget), '(wan2 203.0.113.1)');
  const buf = new Uint8Array(STATE_LENGTH);
  StateExporter.forEngine(
    a.states,
    () => 'all',
    () => a.filter.routeTargets,
  ).writeState(o.inCheck.state, 1000, buf, 0);
  assert.equal(buf[StateOffset.RT], RouteCode.ROUTE_TO);
  assert.deepEqual([...buf.subarray(StateOffset.RT_ADDR, StateOffset.RT_ADDR + 4)], [203, 0, 113, 1]);
  // the peer's ruleset lists the targets the other way round: the next hop decides
  const b = setup('pass all\npass in on lan route-to { (wan2 203.0.113.1), (wan1 198.51.100.1) }\n');
  const i = new StateImporter(
    b.states,
    () => -1,
    () => b.filter.routeTargets,
  ).import(buf, 0, 1000);
  assert.ok(i >= 0);
  assert.equal(b.filter.routeTargets.describe(routeTarget(b.states.table.route[i]!)), '(wan2 203.0.113.1)');
  assert.equal(routeCode(b.states.table.route[i]!), RouteCode.ROUTE_TO);
  const c = setup('pass all\n');
  const j = new StateImporter(
    c.states,
    () => -1,
    () => c.filter.routeTargets,
  ).import(buf, 0, 1000);
  assert.equal(c.states.table.route[j], 0, 'no target with that next hop: routed by the main table');
});
