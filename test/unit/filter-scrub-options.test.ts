// Rule options of issue 12 in the filter and the pipeline: scrub options kept
// in the state and applied to its later packets, set tos, tos / prio /
// probability / once matching, set block-policy as the file reads, the
// answers' codes and TTL, and what `tunpf run` refuses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { LOCAL_DELIVERY, RouteTable, routeTo } from '../../src/datapath/route-table.js';
import { BlockReply, compileRuleset } from '../../src/filter/compile-rules.js';
import { evaluate, FilterResult } from '../../src/filter/evaluate-rules.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { PacketFilter } from '../../src/filter/packet-filter.js';
import { TableStore } from '../../src/filter/table-store.js';
import { buildTcp, buildUdp, type TcpFields } from '../../src/packet/build.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { forRun } from '../../src/rules/run-support.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { assertChecksums } from './helpers/rewrite-oracle.js';
import { Harness, iface } from './helpers/filter-harness.js';

const INTERFACES = [iface('lan', ['192.168.1.1/24']), iface('wan', ['198.51.100.2/30'])];

function pipeline(rules: string) {
  const { ruleset, diagnostics } = parseRuleset(rules, { file: 't.conf', interfaces: INTERFACES });
  assert.ok(ruleset, diagnostics.map((d) => d.message).join('\n'));
  const registry = new InterfaceRegistry(INTERFACES);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000 });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const routes = new RouteTable();
  routes.replace([
    routeTo('0.0.0.0/0', 'wan', registry.id('wan'))!,
    routeTo('192.168.1.0/24', 'lan', registry.id('lan'))!,
    routeTo('192.168.1.1', 'lan', LOCAL_DELIVERY)!,
  ]);
  const pipe = new PacketPipeline(filter, states, routes);
  const forward = (pkt: Uint8Array, ifname: string) => {
    const m = new PacketMeta();
    assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
    return pipe.forward(m, pkt, 0, pkt.length, registry.id(ifname), 1000);
  };
  return { forward, states };
}

const mssOf = (pkt: Uint8Array): number => {
  const m = new PacketMeta();
  parsePacket(pkt, 0, pkt.length, m);
  return m.mss;
};

const OUT: TcpFields = { src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S', seq: 1 };
const BACK: TcpFields = { src: '203.0.113.5', dst: '192.168.1.10', sport: 443, dport: 40000, flags: 'SA', ack: 2 };

test('max-mss of a match rule: the SYN and the SYN-ACK of its state are clamped, later segments untouched', () => {
  const { forward } = pipeline('match out on wan proto tcp scrub (max-mss 1400)\npass');
  const syn = buildTcp({ ...OUT, options: { mss: 1460 } });
  assert.equal(forward(syn, 'lan').pass, true);
  assert.equal(mssOf(syn), 1400);
  assertChecksums(syn, 'clamped SYN');
  const synAck = buildTcp({ ...BACK, seq: 7, options: { mss: 8960 } });
  assert.equal(forward(synAck, 'wan').pass, true);
  assert.equal(mssOf(synAck), 1400, 'the state clamps the answer too');
  const ack = buildTcp({ ...OUT, flags: 'A', seq: 2, ack: 8 });
  const before = Uint8Array.from(ack);
  assert.equal(forward(ack, 'lan').pass, true);
  assert.deepEqual(ack, before, 'no scrub option touches an ACK here');
});

test('without scrub options nothing is rewritten, and states carry profile 0', () => {
  const { forward, states } = pipeline('pass');
  const syn = buildTcp({ ...OUT, options: { mss: 1460 }, ttl: 3, df: true });
  const before = Uint8Array.from(syn);
  const o = forward(syn, 'lan');
  assert.deepEqual(syn, before);
  assert.equal(states.table.scrub[o.created], 0);
});

test('stateless pass rules scrub each packet: min-ttl, no-df, random-id and set tos', () => {
  const { forward } = pipeline('pass no state scrub (min-ttl 100 no-df random-id) set tos 0x10');
  const udp = buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport: 2, ttl: 5, df: true, ipId: 7 });
  assert.equal(forward(udp, 'lan').pass, true);
  const m = new PacketMeta();
  parsePacket(udp, 0, udp.length, m);
  assert.equal(m.ttl, 100);
  assert.equal(udp[6]! & 0x40, 0, 'DF cleared');
  assert.equal(m.tos, 0x10);
  assertChecksums(udp, 'scrubbed UDP');
  // random-id: 16 packets do not all keep the id they had
  const ids = new Set<number>();
  for (let k = 0; k < 16; k++) {
    const p = buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport: 2, ipId: 7 });
    forward(p, 'lan');
    ids.add((p[4]! << 8) | p[5]!);
  }
  assert.ok(ids.size > 8, `ids ${[...ids]}`);
});

test('a later match rule replaces min-ttl; flags of all matching rules add up', () => {
  const { forward } = pipeline('match scrub (min-ttl 50 no-df)\nmatch scrub (min-ttl 80)\npass no state');
  const udp = buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport: 2, ttl: 5, df: true });
  forward(udp, 'lan');
  assert.equal(udp[8], 80);
  assert.equal(udp[6]! & 0x40, 0);
});

test('return-icmp codes and return-rst ttl reach the outcome', () => {
  const { forward } = pipeline(
    'block return-icmp (host-unr) in on lan proto udp\nblock return-rst (ttl 9) in on lan proto tcp',
  );
  const o = forward(buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport: 2 }), 'lan');
  assert.equal(o.pass, false);
  assert.equal(o.reply, BlockReply.RETURN_ICMP);
  assert.equal(o.replyCode, 1);
  const t = forward(buildTcp(OUT), 'lan');
  assert.equal(t.reply, BlockReply.RETURN_RST);
  assert.equal(t.replyTtl, 9);
});

test('set block-policy: block rules before it drop, after it return', () => {
  const h = new Harness('block in proto tcp to port 1\nset block-policy return\nblock in proto tcp to port 2');
  const syn = (dport: number) => buildTcp({ ...OUT, dport });
  assert.equal(h.test(syn(1), Direction.IN, 'lan').result.reply, BlockReply.DROP);
  assert.equal(h.test(syn(2), Direction.IN, 'lan').result.reply, BlockReply.RETURN_RST);
});

test('tos matches the TOS without its ECN bits; tos 0 tests nothing; prio matches the default 3 only', () => {
  const h = new Harness('block all\npass tos lowdelay\npass proto udp prio 3\npass proto udp to port 9 prio 5');
  assert.equal(h.test(buildTcp({ ...OUT, tos: 0x12 }), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(buildTcp({ ...OUT, tos: 0x08 }), Direction.IN, 'lan').action, 'block');
  const udp = (dport: number) => buildUdp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 1, dport });
  assert.equal(h.test(udp(8), Direction.IN, 'lan').rule, 2);
  assert.equal(h.test(udp(9), Direction.IN, 'lan').rule, 2, 'prio 5 never matches');
});

test('probability: matches when the draw is below the fraction (pf: prob <= draw skips)', () => {
  const { ruleset } = parseRuleset('block all\npass probability 25%', { file: 't', interfaces: INTERFACES });
  let draw = 0;
  const rs = compileRuleset(ruleset!, {
    interfaces: new InterfaceRegistry(INTERFACES),
    tables: TableStore.forRuleset([]),
    random: () => draw,
  });
  const m = new PacketMeta();
  const pkt = buildTcp(OUT);
  parsePacket(pkt, 0, pkt.length, m);
  const out = new FilterResult();
  const quarter = Math.floor(0.25 * 0xffffffff + 0.5);
  draw = quarter - 1;
  assert.equal(evaluate(rs, m, Direction.IN, 0, out).ruleIndex, 1);
  draw = quarter;
  assert.equal(evaluate(rs, m, Direction.IN, 0, out).ruleIndex, 0);
});

test('once: the rule matches its first packet only', () => {
  const h = new Harness('block all\npass proto tcp once');
  assert.equal(h.test(buildTcp(OUT), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(buildTcp(OUT), Direction.IN, 'lan').action, 'block');
});

test('parse errors: unknown answer codes, scrub options, tos and probability values', () => {
  const cases: [string, RegExp][] = [
    ['block return-icmp (bogus) all', /unknown icmp unreachable code 'bogus'/],
    ['block return-icmp6 (host-unr) all', /unknown icmp6 unreachable code 'host-unr'/],
    ['block return-icmp (net-unr, bogus) all', /unknown icmp6 unreachable code 'bogus'/],
    ['block return (port-unr) all', /no codes after return/],
    ['match scrub (fragment reassemble)', /unknown scrub option 'fragment'/],
    ['match scrub (max-mss 70000)', /out of range/],
    ['pass tos 0x100', /illegal tos value/],
    ['pass probability 150%', /invalid probability/],
    ['pass set prio 8', /out of range/],
    ['pass user nosuch', /unknown user nosuch/],
    ['set reassemble maybe', /yes or no/],
  ];
  for (const [text, want] of cases) {
    const { ruleset, diagnostics } = parseRuleset(text, { file: 't', interfaces: INTERFACES });
    assert.equal(ruleset, null, text);
    assert.match(diagnostics.map((d) => d.message).join('\n'), want, text);
  }
});

test('tunpf run refuses rtable and divert; warns for prio, not for reassemble tcp or set reassemble', () => {
  const load = (text: string) => {
    const { ruleset, diagnostics } = parseRuleset(text, { file: 't', interfaces: INTERFACES });
    assert.ok(ruleset);
    return forRun({ ruleset, diagnostics, sources: new Map() });
  };
  for (const [text, want] of [
    ['pass rtable 1', /rtable is not supported by tunpf run/],
    ['pass in proto tcp divert-to 127.0.0.1 port 80', /divert-to and divert-reply are not supported/],
    ['pass out proto tcp divert-reply', /divert-to and divert-reply are not supported/],
  ] as const) {
    const r = load(text);
    assert.equal(r.ruleset, null, text);
    assert.match(
      r.diagnostics.map((d) => `${d.severity}: ${d.message}`).join('\n'),
      new RegExp(`error: ${want.source}`),
    );
  }
  const warned = load('set reassemble yes\nmatch scrub (reassemble tcp)\npass set prio 2');
  assert.ok(warned.ruleset, 'warnings do not stop run');
  assert.deepEqual(
    warned.diagnostics.map((d) => `${d.loc.line} ${d.severity} ${d.message.split(' ').slice(0, 3).join(' ')}`),
    ['3 warning prio and set'],
  );
  assert.deepEqual(load('set reassemble no\npass').diagnostics, []);
  assert.deepEqual(load('pass out proto tcp user 0 group >= 100').diagnostics, [], 'user and group run');
  assert.deepEqual(load('set reassemble yes no-df\npass').diagnostics, []);
  const pflow = load('pass proto tcp keep state (pflow)\npass proto udp keep state (pflow)').diagnostics;
  assert.deepEqual(
    pflow.map((d) => `${d.loc.line} ${d.severity} ${d.message.split(':')[0]}`),
    ['1 warning pflow'],
    'pflow loads with one warning: no flow export',
  );
});
