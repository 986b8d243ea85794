// Two filters with pfsync between them over a fake wire and a shared fake
// clock: what one node sends is held until deliver() hands it to the other.

import { PfsyncEngine } from '../../../src/pfsync/pfsync-engine.js';
import type { PfsyncConfig } from '../../../src/pfsync/pfsync-config.js';
import { decodePacket, type DecodedPacket } from '../../../src/pfsync/codec.js';
import { PfsyncActionName } from '../../../src/pfsync/constants.js';
import { Flow } from './flow.js';

export const PAIR_RULES = 'block all\npass in on lan proto { tcp udp icmp }\npass out on wan';

export class Node {
  readonly flow: Flow;
  readonly engine: PfsyncEngine;
  readonly wire: Uint8Array[] = [];
  demote = 0;

  constructor(
    readonly name: string,
    hostid: number,
    clock: { now: number },
    config: Partial<PfsyncConfig> = {},
    rules = PAIR_RULES,
  ) {
    this.flow = new Flow(rules, { hostid });
    const f = this.flow;
    Object.defineProperty(f, 'now', { get: () => clock.now, set: (v: number) => (clock.now = v) });
    this.engine = new PfsyncEngine({
      states: f.states,
      config: {
        syncdev: 'sync0',
        syncpeer: null,
        maxupd: 128,
        defer: false,
        loc: { file: 't', line: 1, col: 1 },
        ...config,
      },
      mtu: 1500,
      clock: () => clock.now,
      send: (p) => this.wire.push(Uint8Array.from(p)),
      demote: (d) => (this.demote += d),
      ifName: (id) => f.filter.interfaces.name(id),
      ifId: (name) => f.filter.interfaces.id(name),
    });
  }

  get table() {
    return this.flow.states.table;
  }

  /** The packets sent so far, decoded, and forgotten. */
  take(): DecodedPacket[] {
    return this.wire.splice(0).map((p) => decodePacket(p));
  }

  /** Action names of every section sent so far (without taking them). */
  sections(): string[] {
    return this.wire.flatMap((p) => decodePacket(p).sections.map((s) => `${PfsyncActionName[s.action]}x${s.count}`));
  }
}

export class Pair {
  readonly clock = { now: 1000 };
  readonly a: Node;
  readonly b: Node;
  constructor(config: Partial<PfsyncConfig> = {}, rules?: string) {
    this.a = new Node('a', 0xaaaa0001, this.clock, config, rules);
    this.b = new Node('b', 0xbbbb0002, this.clock, config, rules);
  }

  /** Hands each node what the other sent (repeatedly, until the wire is quiet); returns how many packets moved. */
  deliver(): number {
    let moved = 0;
    for (let round = 0; round < 100; round++) {
      const fromA = this.a.wire.splice(0);
      const fromB = this.b.wire.splice(0);
      if (fromA.length === 0 && fromB.length === 0) break;
      for (const p of fromA) this.b.engine.receive(p, 0, p.length);
      for (const p of fromB) this.a.engine.receive(p, 0, p.length);
      moved += fromA.length + fromB.length;
    }
    return moved;
  }

  /** Moves the clock and runs both engines' timers. */
  advance(seconds: number): void {
    this.clock.now += seconds;
    this.a.engine.tick();
    this.b.engine.tick();
  }
}
