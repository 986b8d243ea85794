// The pipeline's fragment step (pf_normalize_ip, set reassemble): with
// reassembly on, fragments are held and the joined datagram passes a rule
// with a port; off, later fragments fall to `block all` as in pf; IPv4
// fragments with DF are dropped unless no-df clears the bit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { PacketFilter } from '../../src/filter/packet-filter.js';
import { buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { PfReason } from '../../src/packet/pflog.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { FragStep } from '../../src/state/fragment-cache.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { RouteTable, routeTo } from '../../src/datapath/route-table.js';
import { iface } from './helpers/filter-harness.js';

const RULES = 'block all\npass proto udp to port 5000\n';

function pipeline(rules: string) {
  const interfaces = [iface('lan', ['192.168.1.1/24']), iface('wan', ['198.51.100.2/30'])];
  const { ruleset } = parseRuleset(rules, { file: 't.conf', interfaces });
  assert.ok(ruleset);
  const registry = new InterfaceRegistry(interfaces);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000 });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const routes = new RouteTable();
  routes.replace([routeTo('0.0.0.0/0', 'wan', registry.id('wan'))!]);
  return { pipe: new PacketPipeline(filter, states, routes), lan: registry.id('lan') };
}

function fragments(df = false): Uint8Array[] {
  const whole = buildUdp({
    src: '192.168.1.10',
    dst: '203.0.113.5',
    sport: 40000,
    dport: 5000,
    payload: new Uint8Array(3000).fill(0x5a),
    ipId: 77,
    df,
  });
  return fragmentPacket(whole, 1400);
}

function meta(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
  return m;
}

test('set reassemble yes (default): held fragments, then the whole datagram passes the port rule', () => {
  const { pipe, lan } = pipeline(RULES);
  const frags = fragments();
  const steps = frags.map((f) => pipe.defragment(meta(f), f, 0, Direction.IN, 1000));
  assert.deepEqual(steps, [FragStep.HELD, FragStep.HELD, FragStep.COMPLETE]);
  const w = pipe.whole;
  assert.equal(w.isFragment, false);
  assert.equal(w.dstPort, 5000);
  assert.equal(w.totalLength, 20 + 8 + 3000);
  const f = pipe.fragments;
  const o = pipe.forward(w, f.out, f.wholeStart, f.wholeEnd, lan, 1000);
  assert.equal(o.pass, true);
  assert.equal(o.created >= 0, true, 'the datagram made its state');
});

test('set reassemble no: fragments go on as they are; later ones match no port rule', () => {
  const { pipe, lan } = pipeline(`set reassemble no\n${RULES}`);
  const verdicts = fragments().map((f) => {
    const m = meta(f);
    assert.equal(pipe.defragment(m, f, 0, Direction.IN, 1000), FragStep.PASS);
    return pipe.forward(m, f, 0, f.length, lan, 1000).pass;
  });
  assert.deepEqual(verdicts, [true, false, false]);
});

for (const rules of [RULES, `set reassemble no\n${RULES}`])
  test(`IPv4 fragments with DF are dropped (${rules.split('\n')[0]}), unless no-df clears it`, () => {
    const { pipe } = pipeline(rules);
    const f = fragments(true)[0]!;
    assert.equal(pipe.defragment(meta(f), f, 0, Direction.IN, 1000), FragStep.DROP);
    assert.equal(pipe.fragmentDropReason, PfReason.FRAG);
    const noDf = pipeline(
      rules.startsWith('set') ? `set reassemble no no-df\n${RULES}` : `set reassemble yes no-df\n${RULES}`,
    );
    const g = fragments(true)[0]!;
    const step = noDf.pipe.defragment(meta(g), g, 0, Direction.IN, 1000);
    assert.equal(step, rules.startsWith('set') ? FragStep.PASS : FragStep.HELD);
    assert.equal(g[6]! & 0x40, 0, 'DF cleared');
  });

test('expireFragments drops what waited past timeout frag', () => {
  const { pipe } = pipeline(`set timeout frag 10\n${RULES}`);
  const f = fragments()[0]!;
  assert.equal(pipe.defragment(meta(f), f, 0, Direction.IN, 1000), FragStep.HELD);
  pipe.expireFragments(1009);
  assert.equal(pipe.fragments.fragments, 1);
  pipe.expireFragments(1010);
  assert.equal(pipe.fragments.fragments, 0);
  assert.equal(pipe.fragments.counters.expired, 1);
});
