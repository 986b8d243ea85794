// Drives a PacketFilter with built packets and a fake clock, for the state tests.

import assert from 'node:assert/strict';
import { PacketFilter, Verdict, WhyName } from '../../../src/filter/packet-filter.js';
import { InterfaceRegistry } from '../../../src/filter/interface-registry.js';
import { buildTcp, type TcpFields } from '../../../src/packet/build.js';
import { Direction, PacketMeta } from '../../../src/packet/meta.js';
import { parsePacket } from '../../../src/packet/parse.js';
import { parseRuleset } from '../../../src/rules/rule-parser.js';
import { StateEngine } from '../../../src/state/state-engine.js';
import { TEST_INTERFACES } from './filter-harness.js';

export class Flow {
  readonly filter: PacketFilter;
  readonly states: StateEngine;
  readonly meta = new PacketMeta();
  readonly verdict = new Verdict();
  now = 1000;

  constructor(rules: string, opts: { hostid?: number } = {}) {
    const { ruleset, diagnostics } = parseRuleset(rules, { file: 'flow.conf', interfaces: TEST_INTERFACES });
    assert.ok(ruleset, diagnostics.map((d) => d.message).join('\n'));
    this.states = StateEngine.forRuleset(ruleset, {
      seeds: Uint32Array.of(1, 2, 3),
      hostid: opts.hostid ?? 0x1d2c3b4a,
      startSeconds: this.now,
    });
    this.filter = new PacketFilter(ruleset, {
      states: this.states,
      interfaces: new InterfaceRegistry(TEST_INTERFACES),
    });
  }

  /**
   * Checks one packet as pf would on `ifname` in direction `dir`. By default
   * a client's packet comes in and a server's reply (TcpPair.s, replyOf)
   * goes out on the same interface: a state matches replies travelling the
   * other way, as in pf.
   */
  send(pkt: Uint8Array, dir: Direction = replies.has(pkt) ? Direction.OUT : Direction.IN, ifname = 'lan'): Verdict {
    assert.equal(parsePacket(pkt, 0, pkt.length, this.meta), 0);
    return this.filter.test(this.meta, dir, this.filter.interfaces.id(ifname), this.now, this.verdict);
  }

  /** 'pass' or the block reason. */
  outcome(pkt: Uint8Array, dir: Direction = replies.has(pkt) ? Direction.OUT : Direction.IN, ifname = 'lan'): string {
    const v = this.send(pkt, dir, ifname);
    return v.pass ? (v.created ? 'pass:new' : 'pass:state') : `block:${WhyName[v.why]}`;
  }
}

/** Packets that travel back to the client: sent `out` unless the test says otherwise. */
const replies = new WeakSet<Uint8Array>();

/** Marks a packet as a reply (it goes out by default). */
export function replyOf(pkt: Uint8Array): Uint8Array {
  replies.add(pkt);
  return pkt;
}

/** A TCP conversation between a client and a server with sequence numbers kept for you. */
export class TcpPair {
  cseq: number;
  sseq: number;
  constructor(
    readonly client = '192.168.1.10',
    readonly server = '203.0.113.5',
    readonly cport = 40000,
    readonly sport = 80,
    cisn = 1000,
    sisn = 500000,
  ) {
    this.cseq = cisn;
    this.sseq = sisn;
  }
  c(flags: string, len = 0, extra: Partial<TcpFields> = {}): Uint8Array {
    const pkt = buildTcp({
      src: this.client,
      dst: this.server,
      sport: this.cport,
      dport: this.sport,
      seq: this.cseq,
      ack: flags.includes('A') ? this.sseq : 0,
      flags,
      window: 64000,
      payload: new Uint8Array(len),
      ...extra,
    });
    this.cseq = (this.cseq + len + (flags.includes('S') ? 1 : 0) + (flags.includes('F') ? 1 : 0)) >>> 0;
    return pkt;
  }
  s(flags: string, len = 0, extra: Partial<TcpFields> = {}): Uint8Array {
    const pkt = buildTcp({
      src: this.server,
      dst: this.client,
      sport: this.sport,
      dport: this.cport,
      seq: this.sseq,
      ack: flags.includes('A') ? this.cseq : 0,
      flags,
      window: 64000,
      payload: new Uint8Array(len),
      ...extra,
    });
    this.sseq = (this.sseq + len + (flags.includes('S') ? 1 : 0) + (flags.includes('F') ? 1 : 0)) >>> 0;
    return replyOf(pkt);
  }
}
