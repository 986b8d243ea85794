// The lab's narrator reports what it observes, not what should happen: told
// the same story with and without state replication (a fake lab on a fake
// clock), it says the flows carried on only where they did, with the times
// the routers and the client reported.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  ShowCarpResult,
  ShowPfsyncResult,
  ShowRulesResult,
  ShowStatesResult,
  StateInfo,
} from '../../src/control/results.js';
import { TIMINGS, type RouterName } from '../../src/lab/lab-plan.js';
import { Narrator, type LabView } from '../../src/lab/narrator.js';
import type { FlowStatus, TrafficStatus } from '../../src/lab/traffic-status.js';

interface Story {
  replicates: boolean;
  /** ms from the kill until the backup is master. */
  takeoverMs: number;
  /** ms from the restart until the old master has the groups back. */
  returnMs: number;
  /** The transfer is reset at the kill with this error. */
  resetWith?: string;
}

const HOSTID: Record<RouterName, string> = { r1: 'aaaa0001', r2: 'bbbb0002' };
const CLIENT = '192.168.10.10';
const SERVER = '203.0.113.10';
const GATEWAY = '203.0.113.1';
const FLOWS = [
  { name: 'transfer', proto: 'tcp', port: 40001, dport: 7 },
  { name: 'session', proto: 'tcp', port: 40002, dport: 22 },
  { name: 'stream', proto: 'udp', port: 40003, dport: 7 },
] as const;

class FakeLab implements LabView {
  timing = TIMINGS.fast;
  now = 100_000;
  killedAt: number | null = null;
  restartedAt: number | null = null;
  key: { sentAt: number; echoedAt: number | null } | undefined;
  constructor(private readonly s: Story) {}

  alive(r: RouterName): boolean {
    return r === 'r2' || this.killedAt === null || this.restartedAt !== null;
  }
  master(): RouterName | null {
    if (this.restartedAt !== null && this.now >= this.restartedAt + this.s.returnMs) return 'r1';
    if (this.killedAt !== null && this.now >= this.killedAt + this.s.takeoverMs) return 'r2';
    return this.killedAt === null ? 'r1' : null;
  }
  async carp(r: RouterName): Promise<ShowCarpResult | null> {
    if (!this.alive(r)) return null;
    const state = this.master() === r ? 'MASTER' : 'BACKUP';
    const g = (name: string) =>
      ({
        name,
        carpdev: name.slice(5),
        vhid: 1,
        state,
        advbase: 0,
        advskew: 0,
        preempt: true,
        addresses: [],
        since: '',
        reason: '',
        counters: { received: 0, accepted: 0, sent: 0, dropped: {} },
      }) as ShowCarpResult['groups'][number];
    return { demote: 0, demoteReasons: {}, groups: [g('carp-lan'), g('carp-wan')] };
  }
  /** A flow's two states: in on lan as the client sent it, out on wan translated to the gateway's address. */
  private state(f: (typeof FLOWS)[number], creator: RouterName): StateInfo[] {
    const inside = { src: { address: CLIENT, port: f.port }, dst: { address: SERVER, port: f.dport } };
    const common: Omit<StateInfo, 'id' | 'direction' | 'src' | 'dst' | 'rule'> = {
      creator: HOSTID[creator],
      interface: 'all',
      af: 4,
      proto: f.proto,
      peers: ['ESTABLISHED', 'ESTABLISHED'],
      age: 1,
      expires: 86400,
      packets: [1, 1],
      bytes: [1, 1],
      rate: 1,
    };
    return [
      { ...common, id: `00000000000000${f.port - 39990}`, direction: 'in', ...inside, rule: 4 },
      {
        ...common,
        id: `00000000000001${f.port - 39990}`,
        direction: 'out',
        src: { address: GATEWAY, port: f.port + 20000 },
        dst: inside.dst,
        stack: inside,
        rule: 8,
      },
    ];
  }
  async states(r: RouterName): Promise<ShowStatesResult | null> {
    if (!this.alive(r)) return null;
    let states: StateInfo[] = [];
    const tookOver = this.killedAt !== null && this.now >= this.killedAt + this.s.takeoverMs;
    if (r === 'r1' && (this.restartedAt === null || this.s.replicates))
      states = FLOWS.flatMap((f) => this.state(f, 'r1'));
    else if (r === 'r2' && this.s.replicates) states = FLOWS.flatMap((f) => this.state(f, 'r1'));
    else if (r === 'r2' && tookOver) states = this.state(FLOWS[2], 'r2'); // the stream's next datagram made new ones
    return { total: states.length, matched: states.length, states };
  }
  async info(r: RouterName) {
    return { hostid: HOSTID[r] } as never;
  }
  async rules(r: RouterName): Promise<ShowRulesResult | null> {
    const blocked =
      r === 'r2' && !this.s.replicates && this.killedAt !== null && this.now > this.killedAt + this.s.takeoverMs
        ? 10
        : 0;
    return {
      rules: [
        {
          nr: 0,
          text: 'block log all',
          label: null,
          action: 'block',
          evaluations: 0,
          packets: blocked,
          bytes: 0,
          states: 0,
          stateCreations: 0,
        },
      ],
      default: { packets: 0, bytes: 0 },
    };
  }
  async pfsync(): Promise<ShowPfsyncResult | 'absent'> {
    if (!this.s.replicates) return 'absent';
    return {
      syncdev: 'sync',
      syncpeer: '10.99.0.2',
      maxupd: 128,
      defer: false,
      hostid: HOSTID.r1,
      bulk: { state: 'done', started: null, ended: null },
      queued: { ins: 0, upd: 0, updc: 0, del: 0, iack: 0 },
      sent: { packets: 42, bytes: 0, messages: {} },
      received: { packets: 7, bytes: 0, messages: { upd_c: 7 } },
      dropped: {},
      lagMs: { last: 1, p50: 1, p99: 2 },
    };
  }
  /** Flows stop at the kill; the stream (and, with replication, the TCP flows) come back 100 ms after the takeover. */
  traffic(): TrafficStatus {
    const flows: FlowStatus[] = FLOWS.map((f) => {
      const resumes = f.name === 'stream' || this.s.replicates;
      const out: FlowStatus = {
        name: f.name,
        proto: f.proto,
        local: { address: CLIENT, port: f.port },
        remote: { address: SERVER, port: f.dport },
        connected: true,
        connections: 1,
        breaks: [],
        sent: 1,
        received: 1,
        lastReceived: this.now - 10,
        gaps: [],
      };
      if (this.killedAt !== null) {
        const back = this.killedAt + this.s.takeoverMs + 100;
        if (resumes && this.now >= back) out.gaps.push({ at: this.killedAt, ms: back - this.killedAt });
        else out.lastReceived = this.killedAt;
      }
      if (f.name === 'transfer' && this.s.resetWith && this.killedAt !== null) {
        out.breaks.push({ at: this.killedAt + 5, why: this.s.resetWith });
        out.connected = false;
      }
      if (f.name === 'session') out.key = this.key;
      return out;
    });
    return { pid: 1, startedAt: 0, updatedAt: this.now, flows };
  }
  async kill(r: RouterName) {
    assert.equal(r, 'r1');
    this.killedAt = this.now;
    return 4242;
  }
  async start(r: RouterName) {
    assert.equal(r, 'r1');
    this.restartedAt = this.now;
    this.now += 500;
  }
  typeKey() {
    this.key = { sentAt: this.now, echoedAt: this.s.replicates ? this.now + 3 : null };
  }
}

async function tell(s: Story): Promise<string> {
  const lab = new FakeLab(s);
  const out: string[] = [];
  const n = new Narrator(lab, (l) => out.push(l), { now: () => lab.now, sleep: async (ms) => void (lab.now += ms) });
  assert.equal(await n.election(lab.now - 1000), 'r1');
  await n.flowsAndStates('r1');
  assert.equal(await n.takeover('r1'), 'r2');
  await n.comeback('r1');
  return out.join('\n');
}

test('with replication: copies on the backup, the measured takeover time, every flow carried on', async () => {
  const text = await tell({ replicates: true, takeoverMs: 1250, returnMs: 900 });
  assert.match(text, /6 of r1's 6 states are here too, with the same ids \(made by r1, hostid aaaa0001\)/);
  assert.match(text, /carp-lan: r2 is MASTER 1\.25 s after the kill/);
  assert.match(text, /transfer +carried on, on the same connection; the longest pause was 1\.35 s/);
  assert.match(text, /stream +carried on, on the same socket; the longest pause was 1\.35 s/);
  assert.match(text, /session +a key typed once r2 held the gateway echoed back in 3 ms, on the same connection/);
  assert.match(text, /transfer +2 states, copied \(creator aaaa0001\)/);
  assert.doesNotMatch(text, /stuck|not come back|broke|refused/);
  assert.match(text, /r1 is MASTER of both groups again 0\.90 s after it started/);
});

test('without replication: no copies on the backup, TCP flows stick, its block rule counts their packets', async () => {
  const text = await tell({ replicates: false, takeoverMs: 2000, returnMs: 600 });
  assert.match(text, /none of the master's 6 states \(r2 holds 0 states in all\)/);
  assert.match(text, /show pfsync: unknown to this tunpf/);
  assert.match(text, /carp-wan: r2 is MASTER 2\.00 s after the kill/);
  assert.match(text, /transfer +nothing came back for \d+\.\d+ s \(same connection, not reset: stuck\)/);
  assert.match(text, /session +a key typed once r2 held the gateway has not come back/);
  assert.match(text, /stream +carried on, on the same socket; the longest pause was 2\.10 s/);
  assert.match(text, /stream +2 states, made by r2/);
  assert.match(text, /transfer +none/);
  assert.match(text, /r2's block rules refused 10 packets since the kill/);
  assert.doesNotMatch(text, /states are here too/);
});

test('a flow that is reset is reported as broken, with the error the client saw', async () => {
  const text = await tell({ replicates: false, takeoverMs: 1000, returnMs: 600, resetWith: 'ECONNRESET' });
  assert.match(text, /transfer +broke: ECONNRESET/);
});

test("the flows' states out on wan show the translation: the client's address and port, and what left", async () => {
  const text = await tell({ replicates: true, takeoverMs: 1250, returnMs: 900 });
  assert.match(text, /3 states out on wan are translated \(nat-to\)/);
  assert.match(text, /all tcp 203\.0\.113\.1:60001 \(192\.168\.10\.10:40001\) -> 203\.0\.113\.10:7 /);
  assert.match(text, /tcp 192\.168\.10\.10:40001 leaves as 203\.0\.113\.1:60001\n/);
  assert.match(text, /udp 192\.168\.10\.10:40003 leaves as 203\.0\.113\.1:60003/);
  assert.match(text, /covering 3 of the 3 flows/);
  assert.match(
    text,
    /The server has no route to 192\.168\.10\.0\/24: it sees only the gateway's CARP address 203\.0\.113\.1/,
  );
});
