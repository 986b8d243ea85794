// Loads rule text with fixed interfaces and evaluates built packets, for the filter tests.

import assert from 'node:assert/strict';
import { compileRuleset, type CompiledRuleset } from '../../../src/filter/compile-rules.js';
import { evaluate, FilterResult } from '../../../src/filter/evaluate-rules.js';
import { InterfaceRegistry } from '../../../src/filter/interface-registry.js';
import { TableStore } from '../../../src/filter/table-store.js';
import { parsePrefix } from '../../../src/packet/address.js';
import { Direction, PacketMeta } from '../../../src/packet/meta.js';
import { parsePacket } from '../../../src/packet/parse.js';
import type { InterfaceInfo } from '../../../src/rules/ast.js';
import { parseRuleset } from '../../../src/rules/rule-parser.js';

export const TEST_INTERFACES: InterfaceInfo[] = [
  iface('lan', ['192.168.1.1/24', '2001:db8:1::1/64']),
  iface('wan', ['198.51.100.2/30', '2001:db8:ff::2/64'], ['egress']),
  iface('dmz', ['172.16.0.1/24']),
];

export function iface(name: string, addrs: string[], groups: string[] = []): InterfaceInfo {
  return {
    name,
    groups,
    addresses: addrs.map((a) => {
      const p = parsePrefix(a)!;
      return { af: p.af, words: p.words, bits: p.bits };
    }),
  };
}

export class Harness {
  readonly rs: CompiledRuleset;
  readonly meta = new PacketMeta();
  readonly result = new FilterResult();
  readonly interfaces: InterfaceRegistry;
  readonly tables: TableStore;

  constructor(text: string, interfaces = TEST_INTERFACES) {
    const { ruleset, diagnostics } = parseRuleset(text, { file: 'test.conf', interfaces });
    assert.ok(ruleset, diagnostics.map((d) => `${d.loc.line}:${d.loc.col} ${d.message}`).join('\n'));
    this.interfaces = new InterfaceRegistry(interfaces);
    this.tables = TableStore.forRuleset(ruleset.tables);
    this.rs = compileRuleset(ruleset, { interfaces: this.interfaces, tables: this.tables });
  }

  /** Evaluates a raw IP packet; returns 'pass' / 'block' and the deciding rule number. */
  test(
    pkt: Uint8Array,
    dir: Direction,
    ifname: string,
  ): { action: 'pass' | 'block'; rule: number; result: FilterResult } {
    assert.equal(parsePacket(pkt, 0, pkt.length, this.meta), 0, 'test packet must parse');
    evaluate(this.rs, this.meta, dir, this.interfaces.id(ifname), this.result);
    return { action: this.result.action === 0 ? 'pass' : 'block', rule: this.result.ruleIndex, result: this.result };
  }
}
