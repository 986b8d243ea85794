// pflog's record of a rule inside an anchor, as pflog_packet writes it: rulenr
// is the number of the anchor rule that called the anchor (in its own list),
// subrulenr the rule's number inside the anchor, ruleset the anchor's name;
// main rules keep subrulenr -1 and an empty ruleset. tcpdump prints these as
// "rule 1.ssh.0".

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PflogQueue, type AnchorLogPlace, type PacketLogSink } from '../../src/log/pflog-writer.js';
import { buildTcp } from '../../src/packet/build.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { PcapReader } from '../../src/packet/pcap.js';
import * as pflog from '../../src/packet/pflog.js';
import { PfAction, PfReason } from '../../src/packet/pflog.js';
import { parsePrefix } from '../../src/packet/address.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import type { InterfaceInfo } from '../../src/rules/ast.js';
import { PacketFilter } from '../../src/filter/packet-filter.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { RouteTable } from '../../src/datapath/route-table.js';

const interfaces: InterfaceInfo[] = [
  { name: 'lan', groups: [], addresses: [{ ...parsePrefix('192.168.1.1/24')!, bits: 24 }] },
];

/** What the pipeline hands its log sink for one inbound SYN to `dport`. */
function logged(text: string, dport: number): { rule: number; anchor: AnchorLogPlace | undefined }[] {
  const r = parseRuleset(text, { file: 'pf.conf', interfaces });
  assert.ok(r.ruleset, JSON.stringify(r.diagnostics));
  const registry = new InterfaceRegistry(interfaces);
  const states = StateEngine.forRuleset(r.ruleset, { startSeconds: 0 });
  const filter = new PacketFilter(r.ruleset, { states, interfaces: registry });
  const pipeline = new PacketPipeline(filter, states, new RouteTable());
  const out: { rule: number; anchor: AnchorLogPlace | undefined }[] = [];
  const sink: PacketLogSink = {
    logPacket: (_t, _p, _af, _dir, _if, rule, _action, _reason, anchor) => void out.push({ rule, anchor }),
  };
  pipeline.logTo(sink);
  const p = buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport, flags: 'S' });
  const m = new PacketMeta();
  assert.equal(parsePacket(p, 0, p.length, m), 0);
  pipeline.checkOnce(m, p, 0, p.length, Direction.IN, registry.id('lan'), 100);
  return out;
}

const RULES = `block log all
pass in proto udp
anchor "ssh" in proto tcp {
  pass in log proto tcp to port 2222
  block in log proto tcp to port 22
}
anchor "web/*"
`;

test('a rule in an anchor logs the calling rule, its own number there and the anchor name', () => {
  assert.deepEqual(logged(RULES, 22), [{ rule: 2, anchor: { subrulenr: 1, ruleset: 'ssh' } }]);
  assert.deepEqual(logged(RULES, 2222), [{ rule: 2, anchor: { subrulenr: 0, ruleset: 'ssh' } }]);
});

test('a main rule logs its number and no anchor', () => {
  assert.deepEqual(logged(RULES, 80), [{ rule: 0, anchor: undefined }]);
});

test('nested and wildcard anchors name the innermost anchor and the rule that called it', () => {
  const text = `anchor "outer" {
  pass in proto udp
  anchor "inner" {
    block in log proto tcp to port 23
  }
}
anchor "web/*"
anchor "web/a" {
  block in log proto tcp to port 80
}
`;
  assert.deepEqual(logged(text, 23), [{ rule: 1, anchor: { subrulenr: 0, ruleset: 'inner' } }]);
  // web/a is called by `anchor "web/*"` (main rule 1) and by its own anchor rule (main rule 2): the first names it
  assert.deepEqual(logged(text, 80), [{ rule: 1, anchor: { subrulenr: 0, ruleset: 'a' } }]);
});

test('the pflog header carries subrulenr and the ruleset name, cut to 15 bytes as strlcpy does', () => {
  const q = new PflogQueue();
  q.beginFile();
  const pkt = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, flags: 'S' });
  q.add(1, pkt, 4, 1, 'lan', 2, PfAction.DROP, PfReason.MATCH, { subrulenr: 1, ruleset: 'ssh' });
  q.add(2, pkt, 4, 1, 'lan', 3, PfAction.DROP, PfReason.MATCH, { subrulenr: 7, ruleset: 'a-very-long-anchor-name' });
  q.add(3, pkt, 4, 1, 'lan', 0, PfAction.PASS, PfReason.MATCH);
  q.seal();
  const bytes: Uint8Array[] = [];
  for (let op = q.take(); op !== null; op = q.take()) if (!op.rotate) bytes.push(op.bytes.slice());
  const file = Buffer.concat(bytes);
  const r = new PcapReader(file);
  const got: [number, number, string][] = [];
  while (r.next()) {
    const h = pflog.decode(file, r.dataOffset);
    got.push([h.rulenr, h.subrulenr ?? -2, h.ruleset ?? '']);
  }
  assert.deepEqual(got, [
    [2, 1, 'ssh'],
    [3, 7, 'a-very-long-anc'],
    [0, pflog.PFLOG_NO_RULE, ''],
  ]);
});
