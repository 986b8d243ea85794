// Two filters (or two gateways) with pfsync between them over a fake wire and
// a shared fake clock: what one node sends is held until deliver() hands it
// to the other.

import { PfsyncEngine } from '../../../src/pfsync/pfsync-engine.js';
import type { PfsyncConfig } from '../../../src/pfsync/pfsync-config.js';
import { decodePacket, type DecodedPacket } from '../../../src/pfsync/codec.js';
import { PfsyncActionName } from '../../../src/pfsync/constants.js';
import type { PacketFilter } from '../../../src/filter/packet-filter.js';
import type { StateEngine } from '../../../src/state/state-engine.js';
import { Flow } from './flow.js';
import { Gateway } from './gateway.js';

export const PAIR_RULES = 'block all\npass in on lan proto { tcp udp icmp }\npass out on wan';

/** What a node runs pfsync for: a filter with its state engine and a clock (a Flow or a Gateway). */
export interface SyncHost {
  readonly states: StateEngine;
  readonly filter: PacketFilter;
  now: number;
}

export class SyncNode<H extends SyncHost = SyncHost> {
  readonly engine: PfsyncEngine;
  readonly wire: Uint8Array[] = [];
  demote = 0;

  constructor(
    readonly name: string,
    readonly host: H,
    clock: { now: number },
    config: Partial<PfsyncConfig> = {},
  ) {
    Object.defineProperty(host, 'now', { get: () => clock.now, set: (v: number) => (clock.now = v) });
    this.engine = new PfsyncEngine({
      states: host.states,
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
      ifName: (id) => host.filter.interfaces.name(id),
      ifId: (name) => host.filter.interfaces.id(name),
    });
  }

  get table() {
    return this.host.states.table;
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

/** A node driven packet by packet through its filter (Flow). */
export class Node extends SyncNode<Flow> {
  constructor(
    name: string,
    hostid: number,
    clock: { now: number },
    config: Partial<PfsyncConfig> = {},
    rules = PAIR_RULES,
  ) {
    super(name, new Flow(rules, { hostid }), clock, config);
  }

  get flow(): Flow {
    return this.host;
  }
}

/** A node that forwards packets through the whole pipeline, rewriting translated ones (Gateway). */
export class GatewayNode extends SyncNode<Gateway> {
  constructor(name: string, hostid: number, clock: { now: number }, config: Partial<PfsyncConfig>, rules: string) {
    super(name, new Gateway(rules, { hostid }), clock, config);
  }

  get gateway(): Gateway {
    return this.host;
  }
}

type MakeNode<N> = (name: string, hostid: number, clock: { now: number }) => N;

export class Pair<N extends SyncNode = Node> {
  readonly clock = { now: 1000 };
  readonly a: N;
  readonly b: N;
  constructor(config: Partial<PfsyncConfig> = {}, rules?: string, make?: MakeNode<N>) {
    const m = make ?? ((name, hostid, clock) => new Node(name, hostid, clock, config, rules) as SyncNode as N);
    this.a = m('a', 0xaaaa0001, this.clock);
    this.b = m('b', 0xbbbb0002, this.clock);
  }

  /** Two gateways (the whole pipeline, translation included) with pfsync between them. */
  static ofGateways(rules: string, config: Partial<PfsyncConfig> = {}): Pair<GatewayNode> {
    return new Pair(config, rules, (name, hostid, clock) => new GatewayNode(name, hostid, clock, config, rules));
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
