// `user` and `group`: the evaluator's matching with an injected owner lookup
// (pf_match_uid's operators, `unknown`, looked up lazily and once per packet),
// and the datapath's lookup (datapath/socket-owners.ts) with a fake kernel:
// the tuple it asks for, forwarded packets left unknown, the group cache.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketPipeline } from '../../src/datapath/pipeline.js';
import { LOCAL_DELIVERY, RouteTable, routeTo } from '../../src/datapath/route-table.js';
import { SocketOwners, type SocketQueries } from '../../src/datapath/socket-owners.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { PacketFilter, Verdict } from '../../src/filter/packet-filter.js';
import { OWNER_UNKNOWN, SocketOwner, type SocketOwnerLookup } from '../../src/filter/socket-owner.js';
import { parseAddress } from '../../src/packet/address.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../src/packet/build.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { StateEngine } from '../../src/state/state-engine.js';
import { iface } from './helpers/filter-harness.js';

const INTERFACES = [iface('lan', ['192.168.1.1/24']), iface('wan', ['198.51.100.2/30'])];

/** A lookup that answers fixed ids and counts its calls. */
class FakeOwners implements SocketOwnerLookup {
  userCalls = 0;
  groupCalls = 0;
  constructor(
    public uid: number,
    public gid: number,
  ) {}
  lookup(_m: PacketMeta, _d: Direction, owner: SocketOwner, group: boolean): void {
    if (group) {
      this.groupCalls++;
      owner.gid = this.gid;
    } else {
      this.userCalls++;
      owner.uid = this.uid;
    }
  }
}

function filterWith(rules: string, owners: SocketOwnerLookup) {
  // a small state table: the operator test builds one filter per case
  const { ruleset, diagnostics } = parseRuleset(`set limit states 1000\n${rules}`, {
    file: 't.conf',
    interfaces: INTERFACES,
  });
  assert.ok(ruleset, diagnostics.map((d) => d.message).join('\n'));
  const registry = new InterfaceRegistry(INTERFACES);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000 });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry, owners });
  return { filter, registry, states };
}

const meta = (pkt: Uint8Array): PacketMeta => {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), 0);
  return m;
};

const SYN = { src: '198.51.100.2', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' } as const;

/** Whether `block out quick <opts>` blocks the router's SYN when the lookup finds uid/gid. */
function blocks(opts: string, uid: number, gid = OWNER_UNKNOWN): boolean {
  const { filter, registry } = filterWith(`pass out\nblock out quick proto tcp ${opts}`, new FakeOwners(uid, gid));
  const v = filter.test(meta(buildTcp(SYN)), Direction.OUT, registry.id('wan'), 1000, new Verdict());
  return !v.pass;
}

test('user and group: pf_match_uid operators over the looked-up ids, unknown only for = and !=', () => {
  const U = OWNER_UNKNOWN;
  const cases: [string, number, boolean][] = [
    ['user 1000', 1000, true],
    ['user 1000', 1001, false],
    ['user = 0', 0, true],
    ['user != 0', 0, false],
    ['user != 0', 65534, true],
    ['user != 0', U, true],
    ['user < 1000', 999, true],
    ['user < 1000', 1000, false],
    ['user < 1000', U, false],
    ['user <= 1000', 1000, true],
    ['user > 1000', 1001, true],
    ['user > 1000', U, false],
    ['user >= 1000', 1000, true],
    ['user 1000 >< 2000', 1500, true],
    ['user 1000 >< 2000', 1000, false],
    ['user 1000 <> 2000', 999, true],
    ['user 1000 <> 2000', 1500, false],
    ['user 1000 <> 2000', U, false],
    ['user 1000:2000', 2000, true],
    ['user 1000:2000', 2001, false],
    ['user unknown', U, true],
    ['user unknown', 0, false],
    ['user != unknown', 0, true],
    ['user != unknown', U, false],
    // ids compare unsigned, unknown the largest: every known uid is below it
    ['user < unknown', 4000000, true],
  ];
  for (const [opts, uid, want] of cases) assert.equal(blocks(opts, uid), want, opts);
  assert.equal(blocks('group 100', 0, 100), true);
  assert.equal(blocks('group 100', 0, 101), false);
  assert.equal(blocks('group >= 100', 0, U), false);
  assert.equal(blocks('group unknown', 0, U), true);
  assert.equal(blocks('user 0 group 100', 0, 100), true, 'both must hold');
  assert.equal(blocks('user 0 group 100', 1, 100), false);
});

test('the owner is looked up lazily: once per packet, only for TCP and UDP reaching a rule that asks', () => {
  const owners = new FakeOwners(0, 0);
  const { filter, registry } = filterWith(
    [
      'pass out',
      'block out quick proto tcp to port 22 user 0',
      'match out proto { tcp udp } user 0 tag root',
      'block out proto { tcp udp } user > 0',
      'block out user 1000',
      'pass out proto udp group 0',
    ].join('\n'),
    owners,
  );
  const wan = registry.id('wan');
  const test = (pkt: Uint8Array) => filter.test(meta(pkt), Direction.OUT, wan, 1000, new Verdict());
  assert.equal(test(buildTcp(SYN)).pass, true);
  assert.deepEqual(
    [owners.userCalls, owners.groupCalls],
    [1, 0],
    'three user rules, one lookup; no group rule reached',
  );
  assert.equal(test(buildUdp({ src: '198.51.100.2', dst: '203.0.113.5', sport: 5353, dport: 53 })).pass, true);
  assert.deepEqual([owners.userCalls, owners.groupCalls], [2, 1], 'the group is looked up apart, when asked');
  // ICMP: pf tests user and group of TCP and UDP only; `block out user 1000` (no proto) matches it
  const ping = buildIcmpEcho({ src: '198.51.100.2', dst: '203.0.113.5', id: 1, seq: 1 });
  assert.equal(test(ping).pass, false);
  assert.deepEqual([owners.userCalls, owners.groupCalls], [2, 1], 'no lookup for ICMP');
  // a state hit never looks up (pf looks up on rule evaluation only)
  const again = filterWith('pass out proto tcp user 0', owners);
  const v = () => again.filter.test(meta(buildTcp(SYN)), Direction.OUT, again.registry.id('wan'), 1000, new Verdict());
  assert.equal(v().pass, true);
  assert.equal(v().pass, true);
  assert.equal(owners.userCalls, 3);
});

test('without a lookup every owner is unknown', () => {
  const { ruleset } = parseRuleset('block out proto tcp user unknown\npass out proto tcp user 0', {
    file: 't',
    interfaces: INTERFACES,
  });
  const registry = new InterfaceRegistry(INTERFACES);
  const filter = new PacketFilter(ruleset!, {
    states: StateEngine.forRuleset(ruleset!, { startSeconds: 1000 }),
    interfaces: registry,
  });
  const v = filter.test(meta(buildTcp(SYN)), Direction.OUT, registry.id('wan'), 1000, new Verdict());
  assert.equal(v.pass, false);
});

/** A kernel with one socket per local port: its uid and inode; inode -> gid for the group. */
class FakeKernel implements SocketQueries {
  queries: number[][] = [];
  gidCalls = 0;
  failing = false;
  constructor(
    readonly sockets: Map<number, [number, number]>,
    readonly gids: Map<number, number>,
  ) {}
  sockOwner(q: Uint32Array): boolean {
    if (this.failing) throw new Error('sock_diag: Operation not permitted');
    this.queries.push(Array.from(q.subarray(0, 12)));
    const s = this.sockets.get(q[2]!);
    if (!s) return false;
    [q[12], q[13]] = s;
    return true;
  }
  socketGid(inode: number): number {
    this.gidCalls++;
    return this.gids.get(inode) ?? -1;
  }
}

function routerOwners(kernel: FakeKernel) {
  const owners = new SocketOwners(kernel, 2);
  const routes = new RouteTable();
  routes.replace([
    routeTo('0.0.0.0/0', 'wan', 2)!,
    routeTo('198.51.100.2/32', 'wan', LOCAL_DELIVERY)!,
    routeTo('192.168.1.1/32', 'lan', LOCAL_DELIVERY)!,
  ]);
  owners.routes = routes;
  return owners;
}

const word = (a: string) => parseAddress(a)!.words[0]!;

test('SocketOwners asks the kernel for the tuple as the router sees it; forwarded packets stay unknown', () => {
  const kernel = new FakeKernel(
    new Map([
      [40000, [65534, 77]],
      [22, [0, 78]],
    ]),
    new Map([[77, 65533]]),
  );
  const owners = routerOwners(kernel);
  const o = new SocketOwner();
  const find = (pkt: Uint8Array, dir: Direction, group = false) => {
    o.reset();
    owners.lookup(meta(pkt), dir, o, group);
    return [o.uid, o.gid];
  };
  // sent by the router: local is the source
  assert.deepEqual(find(buildTcp(SYN), Direction.OUT, true), [65534, 65533]);
  assert.deepEqual(kernel.queries.pop(), [
    4,
    6,
    40000,
    443,
    word('198.51.100.2'),
    0,
    0,
    0,
    word('203.0.113.5'),
    0,
    0,
    0,
  ]);
  // to the router: local is the destination
  const toSsh = { src: '203.0.113.5', dst: '192.168.1.1', sport: 50000, dport: 22, flags: 'S' } as const;
  assert.deepEqual(find(buildTcp(toSsh), Direction.IN, true), [0, OWNER_UNKNOWN], 'no process holds inode 78');
  assert.deepEqual(kernel.queries.pop(), [4, 6, 22, 50000, word('192.168.1.1'), 0, 0, 0, word('203.0.113.5'), 0, 0, 0]);
  // forwarded, in and out: not the router's, never asked
  const through = { src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' } as const;
  assert.deepEqual(find(buildTcp(through), Direction.IN), [OWNER_UNKNOWN, OWNER_UNKNOWN]);
  assert.deepEqual(find(buildTcp(through), Direction.OUT), [OWNER_UNKNOWN, OWNER_UNKNOWN]);
  assert.deepEqual(find(buildTcp({ ...toSsh, dst: '192.168.1.20' }), Direction.IN), [OWNER_UNKNOWN, OWNER_UNKNOWN]);
  assert.equal(kernel.queries.length, 0);
  // the group of an inode is asked once (a bounded cache); an unknown one too
  find(buildTcp(SYN), Direction.OUT, true);
  find(buildTcp(toSsh), Direction.IN, true);
  assert.equal(kernel.gidCalls, 2);
  // the kernel refusing: unknown, counted
  kernel.failing = true;
  assert.deepEqual(find(buildTcp(SYN), Direction.OUT, true), [OWNER_UNKNOWN, OWNER_UNKNOWN]);
  assert.equal(owners.errors, 1);
  // no routing table yet: nothing is the router's
  const early = new SocketOwners(new FakeKernel(new Map([[40000, [0, 1]]]), new Map()));
  o.reset();
  early.lookup(meta(buildTcp(SYN)), Direction.OUT, o, false);
  assert.equal(o.uid, OWNER_UNKNOWN);
});

test('through the pipeline: the router sends as nobody and root, rules by user decide', () => {
  const kernel = new FakeKernel(
    new Map([
      [40000, [65534, 10]],
      [40001, [0, 11]],
    ]),
    new Map(),
  );
  const owners = routerOwners(kernel);
  const { filter, registry, states } = filterWith(
    'block out proto tcp\nblock out quick proto tcp user 65534\npass out proto tcp user 0',
    owners,
  );
  const routes = new RouteTable();
  routes.replace([routeTo('0.0.0.0/0', 'wan', registry.id('wan'))!]);
  const pipe = new PacketPipeline(filter, states, routes);
  const send = (sport: number) => {
    const pkt = buildTcp({ ...SYN, sport });
    return pipe.send(meta(pkt), pkt, 0, pkt.length, 1000).pass;
  };
  assert.equal(send(40000), false, 'nobody is blocked');
  assert.equal(send(40001), true, 'root passes');
  assert.equal(send(40002), false, 'no socket: unknown, neither rule');
});
