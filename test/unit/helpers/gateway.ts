// A router in a test: the ruleset, the state engine, the filter and the
// packet pipeline with a routing table (lan 192.168.1.0/24 and
// 2001:db8:1::/64, wan 198.51.100.0/30 and the default routes), driven with
// built packets and a fake clock. What leaves is the rewritten packet.

import assert from 'node:assert/strict';
import { InterfaceRegistry } from '../../../src/filter/interface-registry.js';
import { PacketFilter, WhyName } from '../../../src/filter/packet-filter.js';
import { formatAddress } from '../../../src/packet/address.js';
import { PacketMeta } from '../../../src/packet/meta.js';
import { parsePacket } from '../../../src/packet/parse.js';
import { parseRuleset } from '../../../src/rules/rule-parser.js';
import type { InterfaceInfo } from '../../../src/rules/ast.js';
import { StateEngine } from '../../../src/state/state-engine.js';
import { PacketPipeline, type PacketOutcome } from '../../../src/datapath/pipeline.js';
import { RouteTable, routeTo, type Route } from '../../../src/datapath/route-table.js';
import { TEST_INTERFACES } from './filter-harness.js';

export interface Forwarded {
  pass: boolean;
  /** The packet as it leaves (rewritten), when it passed. */
  packet: Uint8Array;
  meta: PacketMeta;
  outcome: PacketOutcome;
  /** Why it was blocked ('rule', 'translate', ...), '' when it passed. */
  why: string;
}

export class Gateway {
  readonly filter: PacketFilter;
  readonly states: StateEngine;
  readonly pipeline: PacketPipeline;
  now = 1000;

  constructor(
    rules: string,
    opts: { random?: (n: number) => number; hostid?: number; interfaces?: InterfaceInfo[] } = {},
  ) {
    const ifs = opts.interfaces ?? TEST_INTERFACES;
    const { ruleset, diagnostics } = parseRuleset(rules, { file: 'gateway.conf', interfaces: ifs });
    assert.ok(ruleset, diagnostics.map((d) => `${d.loc.line}:${d.loc.col} ${d.message}`).join('\n'));
    this.states = StateEngine.forRuleset(ruleset, {
      seeds: Uint32Array.of(1, 2, 3),
      startSeconds: this.now,
      hostid: opts.hostid,
    });
    const interfaces = new InterfaceRegistry(ifs);
    this.filter = new PacketFilter(ruleset, { states: this.states, interfaces, random: opts.random });
    const routes = new RouteTable();
    const r = (p: string, dev: string): Route => routeTo(p, dev, interfaces.id(dev))!;
    routes.replace([
      r('192.168.1.0/24', 'lan'),
      r('2001:db8:1::/64', 'lan'),
      r('172.16.0.0/24', 'dmz'),
      r('198.51.100.0/30', 'wan'),
      r('0.0.0.0/0', 'wan'),
      r('::/0', 'wan'),
    ]);
    this.pipeline = new PacketPipeline(this.filter, this.states, routes);
  }

  /** A packet arriving on `ifname`, forwarded: `in` there, `out` where the route says. */
  forward(pkt: Uint8Array, ifname: string): Forwarded {
    const buf = Uint8Array.from(pkt);
    const meta = new PacketMeta();
    assert.equal(parsePacket(buf, 0, buf.length, meta), 0, 'test packet must parse');
    const o = this.pipeline.forward(meta, buf, 0, buf.length, this.filter.interfaces.id(ifname), this.now);
    const v = o.outChecked ? o.outCheck : o.inCheck;
    return { pass: o.pass, packet: buf, meta, outcome: o, why: o.pass ? '' : WhyName[v.why]! };
  }

  /** The states as `pfctl -ss` keys would show them: wire and stack tuples of each. */
  keys(): string[] {
    const t = this.states.table;
    const out: string[] = [];
    t.forEach((i) => {
      const af = t.afOf(i);
      const side = (stack: boolean, s: number) => {
        const a = stack ? t.stackAddressOf(i, s) : t.addressOf(i, s);
        return `${formatAddress(af, a)}:${stack ? t.stackPortOf(i, s) : t.portOf(i, s)}`;
      };
      const wire = `${side(false, 0)} -> ${side(false, 1)}`;
      out.push(t.translated(i) ? `${wire} (stack ${side(true, 0)} -> ${side(true, 1)})` : wire);
    });
    return out.sort();
  }
}
