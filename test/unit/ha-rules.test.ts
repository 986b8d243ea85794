// Whether a ruleset lets the HA file's CARP and pfsync packets through
// (src/daemon/ha-rules.ts), and the daemon's admission of those packets
// (src/daemon/ha-admission.ts): the rule that blocks, by file:line, the line
// to add, pf's last match and quick, `set skip`, and the one check per packet.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHaConfig, type HaConfig } from '../../src/daemon/ha-config.js';
import { formatHaRuleProblem, haRuleProblems, type HaRuleProblem } from '../../src/daemon/ha-rules.js';
import { HaAdmission } from '../../src/daemon/ha-admission.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import type { InterfaceInfo, Ruleset } from '../../src/rules/ast.js';
import { parsePrefix } from '../../src/packet/address.js';
import { buildIpPacket } from '../../src/packet/build.js';
import { PacketFilter } from '../../src/filter/packet-filter.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { RouteTable } from '../../src/datapath/route-table.js';
import type { PacketLogSink } from '../../src/log/pflog-writer.js';

const HA = `
carp carp-lan { carpdev lan vhid 1 pass "s" address 10.1.0.1/24 address fd01::1/64 }
carp carp-wan { carpdev wan vhid 2 pass "t" address 10.2.0.1/24 }
pfsync { syncdev sync syncpeer 10.9.0.2 }
`;

function iface(name: string, ...addresses: string[]): InterfaceInfo {
  return {
    name,
    groups: [],
    addresses: addresses.map((a) => {
      const p = parsePrefix(a)!;
      return { af: p.af, words: p.words, bits: p.bits };
    }),
  };
}

const interfaces = [
  iface('lan', '10.1.0.2/24', 'fd01::2/64', 'fe80::2/64'),
  iface('wan', '10.2.0.2/24'),
  iface('sync', '10.9.0.1/30'),
];

function ha(text = HA): HaConfig {
  const r = parseHaConfig(text, 'test.ha');
  assert.ok(r.config, JSON.stringify(r.diagnostics));
  return r.config;
}

function rules(text: string): Ruleset {
  const r = parseRuleset(text, { file: 'pf.conf', interfaces });
  assert.ok(r.ruleset, JSON.stringify(r.diagnostics));
  return r.ruleset;
}

const problems = (text: string, h = ha()) => haRuleProblems(rules(text), h, interfaces);
const summary = (ps: HaRuleProblem[]) =>
  ps.map((p) => `${p.group ?? p.proto} ${p.directions.join('+')} ${p.families.join('+')} @${p.rule?.nr}`);

/** The ruleset with the suggested line put where the message says. */
function withFix(text: string, p: HaRuleProblem): string {
  const lines = text.split('\n');
  const at = p.rule!.loc.line;
  lines.splice(p.fix.where === 'after' ? at : at - 1, 0, p.fix.line);
  return lines.join('\n');
}

test('a ruleset that passes everything, or passes CARP and pfsync explicitly, is silent', () => {
  assert.deepEqual(problems('pass all\n'), []);
  assert.deepEqual(problems('block all\npass on { lan wan } proto carp\npass on sync proto pfsync\n'), []);
});

test('block all: every group and the sync link, in and out, each family, with the line to add after it', () => {
  const ps = problems('set skip on lo\nblock all\n');
  assert.deepEqual(summary(ps), ['carp-lan in+out 4+6 @0', 'carp-wan in+out 4 @0', 'pfsync in+out 4 @0']);
  assert.equal(
    formatHaRuleProblem(ps[0]!, 'error'),
    'pf.conf:2: error: carp carp-lan: advertisements (IPv4, IPv6) are blocked in and out on lan by rule @0 ' +
      '"block drop all"\n\tadd after line 2: pass on lan proto carp no state',
  );
  assert.equal(
    formatHaRuleProblem(ps[2]!, 'warning'),
    'pf.conf:2: warning: pfsync: packets are blocked in and out on sync by rule @0 "block drop all"\n' +
      '\tadd after line 2: pass on sync proto pfsync no state',
  );
});

test('last match: a pass before a later block does not help; the fix goes after the block', () => {
  const text = 'pass on lan proto carp\nblock in on lan\npass on { wan } all\npass on sync all\n';
  const ps = problems(text);
  assert.deepEqual(summary(ps), ['carp-lan in 4+6 @1']);
  assert.equal(ps[0]!.rule!.loc.line, 2);
  assert.deepEqual(ps[0]!.fix, { line: 'pass on lan proto carp no state', where: 'after' });
  assert.deepEqual(problems(withFix(text, ps[0]!)), []);
});

test('quick: a block quick wins over a later pass; the fix is a pass quick before it', () => {
  const text = 'pass all\nblock in quick on sync proto pfsync\npass on sync proto pfsync\n';
  const ps = problems(text);
  assert.deepEqual(summary(ps), ['pfsync in 4 @1']);
  assert.deepEqual(ps[0]!.fix, { line: 'pass quick on sync proto pfsync no state', where: 'before' });
  assert.match(formatHaRuleProblem(ps[0]!, 'error'), /^pf\.conf:2: error: .*\n\tadd before line 2: pass quick on sync/);
  assert.deepEqual(problems(withFix(text, ps[0]!)), []);
});

test('the synthetic packets carry the configured addresses: to the group, or to and from the unicast peer', () => {
  // multicast: only what goes to the group is blocked
  assert.deepEqual(summary(problems('pass all\nblock on lan inet to 224.0.0.18\n')), ['carp-lan in+out 4 @1']);
  assert.deepEqual(summary(problems('pass all\nblock on lan inet6 to ff02::12\n')), ['carp-lan in+out 6 @1']);
  // IPv6 advertisements leave from the link-local address
  assert.deepEqual(summary(problems('pass all\nblock out on lan from fe80::/10\n')), ['carp-lan out 6 @1']);
  // pfsync to a syncpeer: from it in, to it out
  assert.deepEqual(summary(problems('pass all\nblock in on sync from 10.9.0.2\n')), ['pfsync in 4 @1']);
  assert.deepEqual(summary(problems('pass all\nblock out on sync to 10.9.0.2\n')), ['pfsync out 4 @1']);
  assert.deepEqual(summary(problems('pass all\nblock on sync to 224.0.0.240\n')), []);
  // a unicast CARP peer, and pfsync to the group
  const unicast = ha(
    'carp c { carpdev wan vhid 3 pass "x" peer 10.2.0.3 address 10.2.0.1/24 }\npfsync { syncdev sync }\n',
  );
  assert.deepEqual(summary(problems('pass all\nblock in on wan from 10.2.0.3\n', unicast)), ['c in 4 @1']);
  assert.deepEqual(summary(problems('pass all\nblock on wan to 224.0.0.18\n', unicast)), []);
  assert.deepEqual(summary(problems('pass all\nblock out on sync to 224.0.0.240\n', unicast)), ['pfsync out 4 @1']);
});

test('set skip on an interface: never filtered, never reported; a state never lets a later probe through', () => {
  assert.deepEqual(summary(problems('set skip on { lan wan sync }\nblock all\n')), []);
  // pass out keeps state; the peer's packets in are still blocked by the rules alone
  assert.deepEqual(summary(problems('set skip on { lan wan }\nblock in all\npass out all\n')), ['pfsync in 4 @0']);
});

function admission(text: string, datapathUnicast = new Set<string>()) {
  const ruleset = rules(text);
  const registry = new InterfaceRegistry(interfaces);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 0 });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const pipeline = new PacketPipeline(filter, states, new RouteTable());
  const logged: string[] = [];
  const sink: PacketLogSink = {
    logPacket: (_now, _p, _af, dir, ifname, rule) => void logged.push(`${dir} ${ifname} @${rule}`),
  };
  pipeline.logTo(sink);
  const a = new HaAdmission({
    pipeline,
    interfaces: registry,
    clock: () => 100,
    skipped: () => filter.rules.ruleset.options.skip,
    datapathUnicast,
  });
  return { a, filter, states, logged };
}

const carp = (src: string, dst: string) =>
  buildIpPacket({ src, dst, ttl: 255, protocol: 112, payload: new Uint8Array(36), fixChecksum: false });

test('admission: one check per packet, in or out on its interface, counted and logged as any packet', () => {
  const { a, filter, logged } = admission('block in log on lan proto carp\npass out on lan proto carp no state\n');
  assert.equal(a.admitIn(carp('10.1.0.3', '224.0.0.18'), 'lan'), false);
  assert.equal(a.admitOut(carp('10.1.0.2', '224.0.0.18'), 'lan'), true);
  assert.equal(a.admitIn(carp('fe80::3', 'ff02::12'), 'wan'), true, 'the rule names lan only');
  assert.deepEqual([filter.counters.packets, filter.counters.blocked, filter.counters.passed], [3, 1, 2]);
  assert.deepEqual(logged, ['1 lan @0']);
});

test('admission: a pass with keep state makes a state; a skipped interface is not checked', () => {
  const { a, filter, states } = admission('set skip on wan\nblock all\npass on sync proto pfsync\n');
  const pfsync = buildIpPacket({ src: '10.9.0.1', dst: '10.9.0.2', protocol: 240, payload: new Uint8Array(12) });
  assert.equal(a.admitOut(pfsync, 'sync'), true);
  assert.equal(states.table.count, 1);
  assert.equal(a.admitIn(carp('10.2.0.3', '224.0.0.18'), 'wan'), true);
  assert.equal(filter.counters.packets, 1, 'wan is skipped: no check');
});

test("admission: unicast received where the datapath checks the router's traffic is not checked twice; sent is", () => {
  const { a, filter } = admission('block all\n', new Set(['sync']));
  const unicast = buildIpPacket({ src: '10.9.0.2', dst: '10.9.0.1', protocol: 240, payload: new Uint8Array(12) });
  const multicast = buildIpPacket({ src: '10.9.0.2', dst: '224.0.0.240', protocol: 240, payload: new Uint8Array(12) });
  assert.equal(a.admitIn(unicast, 'sync'), true);
  assert.equal(filter.counters.packets, 0);
  assert.equal(a.admitIn(multicast, 'sync'), false, 'multicast never reaches the datapath');
  assert.equal(a.admitIn(unicast, 'lan'), false);
  assert.equal(filter.counters.packets, 2);
  // what the service sends goes around the datapath (its socket is bound to the device): checked here
  const reply = buildIpPacket({ src: '10.9.0.1', dst: '10.9.0.2', protocol: 240, payload: new Uint8Array(12) });
  assert.equal(a.admitOut(reply, 'sync'), false);
  assert.equal(filter.counters.packets, 3);
});
