// The most important filter test: on random rulesets and random packets, the
// skip-step evaluator decides exactly as the naive linear walk over the AST.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateLinear } from '../../bench/linear-reference.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../src/packet/build.js';
import { Direction } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { evaluate } from '../../src/filter/evaluate-rules.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { Harness, TEST_INTERFACES } from './helpers/filter-harness.js';
import { randomSource } from './helpers/random.js';

const rnd = randomSource('skip-steps');
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const IFACES = ['', 'on lan', 'on wan', 'on ! lan', 'on egress', 'on dmz'];
const DIRS = ['', 'in', 'out'];
const AFS = ['', 'inet', 'inet6'];
const PROTOS = ['', 'proto tcp', 'proto udp', 'proto icmp', 'proto { tcp udp }'];
const ADDRS4 = [
  'any',
  '10.0.0.0/8',
  '! 10.1.0.0/16',
  '10.1.2.3',
  '<t>',
  '! <t>',
  'self',
  '192.0.2.10 - 192.0.2.20',
  '(lan:network)',
];
const ADDRS6 = ['any', '2001:db8::/32', '! 2001:db8:1::/48', '<t>'];
const PORTS = [
  '',
  'port 80',
  'port != 80',
  'port < 1024',
  'port 1000:2000',
  'port 1000 >< 2000',
  'port 1000 <> 2000',
  'port { 53 80 443 }',
];

function randomRule(): string {
  const action = pick(['pass', 'pass', 'block', 'block drop', 'match']);
  const af = pick(AFS);
  let proto = pick(PROTOS);
  const addrs = af === 'inet6' ? ADDRS6 : af === 'inet' ? ADDRS4 : ['any', '<t>', '! <t>', 'self'];
  let ports = ['', ''];
  if (proto === 'proto tcp' || proto === 'proto udp' || proto === 'proto { tcp udp }')
    ports = [pick(PORTS), pick(PORTS)];
  let extra = '';
  if (proto === 'proto icmp' && af !== 'inet6')
    extra = pick(['', 'icmp-type echoreq', 'icmp-type { echoreq echorep }']);
  if (proto === 'proto icmp' && af === 'inet6') proto = 'proto icmp6';
  if (proto === 'proto tcp' && rnd() < 0.3) extra = pick(['flags S/SA', 'flags any', 'flags A/A']);
  if (rnd() < 0.1) extra += ' tag T1';
  if (rnd() < 0.1) extra += pick([' tagged T1', ' ! tagged T1']);
  const from = `from ${pick(addrs)} ${ports[0]}`;
  const to = `to ${pick(addrs)} ${ports[1]}`;
  const quick = rnd() < 0.15 ? 'quick' : '';
  return `${action} ${pick(DIRS)} ${quick} ${pick(IFACES)} ${af} ${proto} ${from} ${to} ${extra}`.replace(/\s+/g, ' ');
}

function randomPacket(): Uint8Array {
  const v6 = rnd() < 0.3;
  const addr = () =>
    v6
      ? pick(['2001:db8::1', '2001:db8:1::5', '2001:db9::1', '2001:db8:1::1'])
      : pick([
          '10.1.2.3',
          '10.1.9.9',
          '10.200.0.1',
          '192.0.2.15',
          '192.0.2.30',
          '192.168.1.1',
          '192.168.1.50',
          '8.8.8.8',
          '198.51.100.2',
        ]);
  const port = () => pick([22, 53, 80, 443, 999, 1000, 1500, 2000, 2001, 40000]);
  const kind = rnd();
  if (kind < 0.5)
    return buildTcp({
      src: addr(),
      dst: addr(),
      sport: port(),
      dport: port(),
      flags: pick(['S', 'SA', 'A', 'FA', 'R']),
    });
  if (kind < 0.85) return buildUdp({ src: addr(), dst: addr(), sport: port(), dport: port() });
  return buildIcmpEcho({ src: addr(), dst: addr(), id: port(), reply: rnd() < 0.5 });
}

test('randomised: skip steps decide exactly like a linear walk', () => {
  let compared = 0;
  for (let round = 0; round < 60; round++) {
    const lines = ['table <t> { 10.0.0.0/8, !10.1.2.0/24, 2001:db8:1::/48 }'];
    const n = 1 + Math.floor(rnd() * 40);
    while (lines.length <= n) {
      const rule = randomRule();
      // keep only rules pf would load (some random combinations are errors)
      if (parseRuleset(`${lines[0]}\n${rule}`, { file: 'r', interfaces: TEST_INTERFACES }).ruleset) lines.push(rule);
    }
    const text = lines.join('\n');
    const h = new Harness(text);
    for (let k = 0; k < 200; k++) {
      const pkt = randomPacket();
      parsePacket(pkt, 0, pkt.length, h.meta);
      const dir = rnd() < 0.5 ? Direction.IN : Direction.OUT;
      const ifname = pick(['lan', 'wan', 'dmz']);
      evaluate(h.rs, h.meta, dir, h.interfaces.id(ifname), h.result);
      const ref = evaluateLinear(h.rs.ruleset, h.rs.env, h.meta, dir, ifname);
      const got = { action: h.result.action === 0 ? 'pass' : 'block', rule: h.result.ruleIndex };
      assert.deepEqual(
        got,
        { action: ref.action, rule: ref.rule },
        `ruleset:\n${text}\npacket dir ${dir} on ${ifname}`,
      );
      compared++;
    }
  }
  assert.ok(compared === 60 * 200, `compared ${compared} verdicts`);
});
