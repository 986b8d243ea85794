// The lab's story, told as it happens: who is master, the flows and the
// states on each router, a takeover, the old master's return. Every number
// and every verdict comes from what the routers (over their control
// sockets) and the client (its traffic status) report at that moment; the
// narrator explains what a reader sees, it never assumes an outcome.
//
// It works against LabView and a clock, so a test can tell it any story.

import type {
  ShowCarpResult,
  ShowInfoResult,
  ShowPfsyncResult,
  ShowRulesResult,
  ShowStatesResult,
  StateInfo,
} from '../control/results.js';
import { humanCount, stateLine } from '../control/format.js';
import { epochMs, type Clock } from '../os/clock.js';
import { advertInterval, CARP_GROUPS, LAB, masterDown, ROUTERS, type LabTiming, type RouterName } from './lab-plan.js';
import { settledMaster } from './carp-settled.js';
import { longestPause, pauseAround, type FlowName, type FlowStatus, type TrafficStatus } from './traffic-status.js';

export interface LabView {
  timing: LabTiming;
  /** null: nothing answers on the router's control socket. */
  carp(r: RouterName): Promise<ShowCarpResult | null>;
  /** The states of the lab client's flows. */
  states(r: RouterName): Promise<ShowStatesResult | null>;
  info(r: RouterName): Promise<ShowInfoResult | null>;
  rules(r: RouterName): Promise<ShowRulesResult | null>;
  /** 'absent': the daemon has no pfsync (not configured, or not in this build). */
  pfsync(r: RouterName): Promise<ShowPfsyncResult | 'absent' | null>;
  traffic(): TrafficStatus | null;
  /** SIGKILLs the router's tunpf; resolves with its pid once it is gone. */
  kill(r: RouterName): Promise<number>;
  /** Starts the router's tunpf again; resolves when its control socket answers. */
  start(r: RouterName): Promise<void>;
  /** Makes the interactive session type a key now. */
  typeKey(): void;
}

/** The story's time: ms since the epoch, and a way to wait. */
export interface StoryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export function realClock(clock: Clock): StoryClock {
  return { now: () => epochMs(clock), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
}

const other = (r: RouterName): RouterName => (r === 'r1' ? 'r2' : 'r1');
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

const FLOW_TEXT: Record<FlowName, string> = {
  transfer: 'a long upload, echoed back',
  stream: 'a datagram every 20 ms, echoed back',
  session: 'an interactive session, idle but for a keystroke now and then',
};

export function flowLabel(f: FlowStatus): string {
  const local = f.local ? `${f.local.address}:${f.local.port}` : `${LAB.client.v4}:?`;
  return `${f.proto} ${local} -> ${f.remote.address}:${f.remote.port}`;
}

/**
 * The states that belong to a flow (one per side of the router: in on lan, out on wan). The one out on wan
 * is translated (nat-to): the client is its stack key's source, the wire key has the gateway's address.
 */
export function statesOf(f: FlowStatus, states: StateInfo[]): StateInfo[] {
  if (!f.local) return [];
  const client = f.local;
  return states.filter((s) => {
    const { src, dst } = s.stack ?? s;
    return (
      s.proto === f.proto &&
      src.address === client.address &&
      src.port === client.port &&
      dst.address === f.remote.address &&
      dst.port === f.remote.port
    );
  });
}

/** A state's translated end as text: `address:port`, or the address alone where the protocol has no ports. */
const endText = (proto: string, e: { address: string; port: number }) =>
  proto === 'tcp' || proto === 'udp' ? `${e.address}:${e.port}` : e.address;

type Roles = Record<string, Record<RouterName, string>>;

function rolesOf(carp: Record<RouterName, ShowCarpResult | null>): Roles {
  const out: Roles = {};
  for (const g of CARP_GROUPS) {
    out[g.name] = { r1: '-', r2: '-' };
    for (const r of ROUTERS)
      out[g.name]![r] = carp[r] ? (carp[r]!.groups.find((x) => x.name === g.name)?.state ?? '?') : 'down';
  }
  return out;
}

export class Narrator {
  private step = 0;

  constructor(
    private readonly view: LabView,
    private readonly say: (line: string) => void,
    private readonly clock: StoryClock,
    private readonly steps = 5,
  ) {}

  heading(text: string): void {
    this.say('');
    this.say(`[${++this.step}/${this.steps}] ${text}`);
  }

  private line(text = ''): void {
    this.say(text ? `      ${text}` : '');
  }

  private async roles(): Promise<Roles> {
    return rolesOf({ r1: await this.view.carp('r1'), r2: await this.view.carp('r2') });
  }

  private masterOf(roles: Roles, group: string): RouterName | null {
    const m = ROUTERS.filter((r) => roles[group]![r] === 'MASTER');
    return m.length === 1 ? m[0]! : null;
  }

  private printRoles(roles: Roles): void {
    this.line(`${'group'.padEnd(9)} ${'vhid'.padEnd(5)} ${'gateway addresses'.padEnd(30)} ${'r1'.padEnd(8)} r2`);
    for (const g of CARP_GROUPS) {
      const s = LAB[g.side];
      this.line(
        [
          g.name.padEnd(9),
          String(g.vhid).padEnd(5),
          `${s.vip4}, ${s.vip6}`.padEnd(30),
          roles[g.name]!.r1.padEnd(8),
          roles[g.name]!.r2,
        ].join(' '),
      );
    }
  }

  /** Waits until each group has its lasting master (carp-settled.ts) and the other router is backup. */
  async election(startedAt: number, limitMs = 30_000): Promise<RouterName | null> {
    const t = this.view.timing;
    this.heading('Electing a master');
    this.line(
      `Each router advertises each group on its side: r1 every ${seconds(advertInterval(t, 'r1') * 1000)} ` +
        `(advbase ${t.advbase}, advskew ${t.advskew.r1}),`,
    );
    this.line(
      `r2 every ${seconds(advertInterval(t, 'r2') * 1000)} (advskew ${t.advskew.r2}). ` +
        'A router that hears no faster router for three of its',
    );
    this.line('own intervals takes the group: it becomes MASTER, holds the gateway addresses, and answers for them.');
    this.line('A router starts demoted (it advertises as less preferred) until its pfsync bulk update is in and its');
    this.line('links have settled; the roles count once neither router is demoted and no backup would preempt.');
    let roles: Roles;
    let lan: RouterName | null;
    for (;;) {
      const carp = { r1: await this.view.carp('r1'), r2: await this.view.carp('r2') };
      roles = rolesOf(carp);
      lan = settledMaster(
        carp,
        CARP_GROUPS.map((g) => g.name),
      );
      if (lan) break;
      if (this.clock.now() - startedAt > limitMs) {
        this.line(`After ${seconds(this.clock.now() - startedAt)} the groups have not settled:`);
        this.printRoles(roles);
        return null;
      }
      await this.clock.sleep(200);
    }
    this.line('');
    this.printRoles(roles);
    const both = CARP_GROUPS.every((g) => this.masterOf(roles, g.name) === lan);
    this.line('');
    this.line(
      `Settled ${seconds(this.clock.now() - startedAt)} after the routers started` +
        (both
          ? `: ${lan} is master of both groups, ${other(lan)} is its backup.`
          : ': the groups have different masters.'),
    );
    return lan;
  }

  /** The flows, and the states each router holds for them. */
  async flowsAndStates(master: RouterName): Promise<void> {
    this.heading('Traffic through the gateway, and the states it makes');
    const tr = this.view.traffic();
    if (!tr) return this.line('The client reports no flows (the traffic generator is not running).');
    this.line(`The client (${LAB.client.v4}) talks to the server (${LAB.server.v4}) through the gateway addresses:`);
    for (const f of tr.flows) this.line(`  ${f.name.padEnd(9)} ${flowLabel(f).padEnd(46)} ${FLOW_TEXT[f.name]}`);
    this.line('');
    const backup = other(master);
    const [ms, minfo, pf] = [
      await this.view.states(master),
      await this.view.info(master),
      await this.view.pfsync(master),
    ];
    if (!ms) return this.line(`${master} does not answer.`);
    // copies travel within milliseconds; give them a moment, but only where pfsync runs
    let bs = await this.view.states(backup);
    const t0 = this.clock.now();
    while (pf !== 'absent' && bs && copiesOf(bs, ms).length < ms.states.length && this.clock.now() - t0 < 2000) {
      await this.clock.sleep(200);
      bs = await this.view.states(backup);
    }
    this.line(`${master}, the master, forwards all of it, so it holds the states (tunpf ctl show states):`);
    for (const s of ms.states) this.line(`  ${stateLine(s)}`);
    const seen = tr.flows.filter((f) => statesOf(f, ms.states).length > 0).length;
    this.line(
      `  ${plural(ms.states.length, 'state')}, covering ${seen} of the ${plural(tr.flows.length, 'flow')}: ` +
        'the first packet of each flow passed a rule, which made the state;',
    );
    this.line('  every packet since, both ways, matched the state and went through without the rules.');
    this.describeTranslation(ms.states);
    this.line('');
    this.describeCopies(master, backup, bs, ms, minfo, pf);
  }

  /** What nat-to did, read from the translated states (the stack key is the client's, the wire key what left). */
  private describeTranslation(states: StateInfo[]): void {
    const translated = states.filter((s) => s.stack && s.stack.src.address !== s.src.address);
    if (translated.length === 0) return;
    this.line(
      `  ${plural(translated.length, 'state')} out on wan ${translated.length === 1 ? 'is' : 'are'} translated ` +
        '(nat-to): in parentheses, the address and port the client sent from; before them, what left the gateway.',
    );
    for (const s of translated)
      this.line(`    ${s.proto} ${endText(s.proto, s.stack!.src)} leaves as ${endText(s.proto, s.src)}`);
    this.line(`  The server has no route to ${LAB.lan.net4}: it sees only the gateway's CARP address ${LAB.wan.vip4}.`);
  }

  private describeCopies(
    master: RouterName,
    backup: RouterName,
    bs: ShowStatesResult | null,
    ms: ShowStatesResult,
    minfo: ShowInfoResult | null,
    pf: ShowPfsyncResult | 'absent' | null,
  ): void {
    if (!bs) return this.line(`${backup} does not answer.`);
    const copies = copiesOf(bs, ms);
    this.line(
      `${backup}, the backup, forwards nothing. ` +
        'What it knows of these flows is what pfsync sent it over the sync link:',
    );
    if (copies.length > 0) {
      for (const s of copies) this.line(`  ${stateLine(s)}`);
      this.line(
        `  ${copies.length} of ${master}'s ${ms.states.length} states are here too, with the same ids ` +
          `(made by ${minfo ? `${master}, hostid ${minfo.hostid}` : master}).`,
      );
    } else
      this.line(
        `  none of the master's ${ms.states.length} states (${backup} holds ${plural(bs.total, 'state')} in all).`,
      );
    if (pf === 'absent')
      this.line(
        '  show pfsync: unknown to this tunpf (the HA file has a pfsync block, but this build does not run pfsync).',
      );
    else if (pf)
      this.line(
        `  show pfsync on the master: ${humanCount(pf.sent.packets)} packets sent, ` +
          `${humanCount(pf.received.packets)} received; bulk update ${pf.bulk.state}; ` +
          `lag p50 ${pf.lagMs.p50 ?? '-'} ms.`,
      );
  }

  /** Kills the master and measures what happens. Returns the new master (or null). */
  async takeover(master: RouterName, limitMs = 20_000, flowWaitMs = 10_000): Promise<RouterName | null> {
    const backup = other(master);
    const t = this.view.timing;
    this.heading('Takeover: the master dies');
    const rulesBefore = await this.view.rules(backup);
    const killedAt = this.clock.now();
    const pid = await this.view.kill(master);
    this.line(`kill -KILL ${pid}: ${master}'s tunpf is gone at once, as in a crash or a power cut, with no goodbye.`);
    this.line(
      `${backup} hears no more advertisements. ` +
        `${seconds(masterDown(t, backup) * 1000)} (3 × its own interval) after the last one it heard,`,
    );
    this.line('which came up to one interval before the kill, it takes the group over.');
    const tookAt: Record<string, number> = {};
    while (Object.keys(tookAt).length < CARP_GROUPS.length && this.clock.now() - killedAt < limitMs) {
      const c = await this.view.carp(backup);
      for (const g of c?.groups ?? [])
        if (g.state === 'MASTER' && tookAt[g.name] === undefined) tookAt[g.name] = this.clock.now();
      await this.clock.sleep(50);
    }
    for (const g of CARP_GROUPS) {
      this.line(
        tookAt[g.name] === undefined
          ? `${g.name}: ${backup} did not take it within ${seconds(limitMs)}.`
          : `${g.name}: ${backup} is MASTER ${seconds(tookAt[g.name]! - killedAt)} after the kill.`,
      );
    }
    if (Object.keys(tookAt).length === 0) return null;
    const tookOver = Math.max(...Object.values(tookAt));
    await this.flowOutcome(killedAt, tookOver, backup, flowWaitMs);
    await this.explainStuck(backup, rulesBefore);
    return backup;
  }

  /** The old master starts again; with preempt it takes the groups back. */
  async comeback(r: RouterName, limitMs = 30_000, flowWaitMs = 8_000): Promise<void> {
    const peer = other(r);
    this.heading(`${r} comes back`);
    this.line(`Starting tunpf on ${r} again. It clears what the killed one left behind (its macvlans still held the`);
    this.line(`gateway addresses), asks ${peer} for the state table (a pfsync bulk update), and comes up as backup;`);
    this.line(`with preempt, seeing that it advertises faster than ${peer}, it takes the groups back.`);
    const startedAt = this.clock.now();
    await this.view.start(r);
    const answering = this.clock.now();
    this.line(`${r} answers on its control socket after ${seconds(answering - startedAt)}.`);
    let backAt: number | null = null;
    let roles: Roles = await this.roles();
    while (this.clock.now() - startedAt < limitMs) {
      roles = await this.roles();
      if (CARP_GROUPS.every((g) => roles[g.name]![r] === 'MASTER' && roles[g.name]![peer] === 'BACKUP')) {
        backAt = this.clock.now();
        break;
      }
      await this.clock.sleep(100);
    }
    const pf = await this.view.pfsync(r);
    if (pf && pf !== 'absent')
      this.line(
        `Its bulk update: ${pf.bulk.state}; it received ${humanCount(pf.received.packets)} pfsync packets (${
          Object.entries(pf.received.messages)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || 'no messages'
        }).`,
      );
    if (backAt === null) {
      this.line(`After ${seconds(limitMs)} ${r} has not taken the groups back:`);
      this.printRoles(roles);
      return;
    }
    this.line(
      `${r} is MASTER of both groups again ${seconds(backAt - startedAt)} after it started; ${peer} is backup.`,
    );
    await this.flowOutcome(startedAt, backAt, r, flowWaitMs);
  }

  /**
   * How each flow fared across an event at `from` (the kill, a return) that
   * ended with `newMaster` holding the gateway at `settledAt`.
   */
  private async flowOutcome(from: number, settledAt: number, newMaster: RouterName, waitMs: number): Promise<void> {
    const before = this.view.traffic();
    if (!before) return this.line('The client reports no flows.');
    this.view.typeKey();
    const typedAt = this.clock.now();
    const deadline = settledAt + waitMs;
    this.line(`Watching the flows (up to ${seconds(Math.max(0, deadline - this.clock.now()))}) ...`);
    let now: TrafficStatus = before;
    const resolved = (f: FlowStatus) => {
      if (f.breaks.some((b) => b.at >= from)) return true;
      if (f.name === 'session') return !!f.key && f.key.sentAt >= typedAt - 50 && f.key.echoedAt !== null;
      return f.lastReceived > settledAt;
    };
    for (;;) {
      now = this.view.traffic() ?? now;
      if (now.flows.every(resolved) || this.clock.now() >= deadline) break;
      await this.clock.sleep(200);
    }
    const at = this.clock.now();
    const states = await this.view.states(newMaster);
    const info = await this.view.info(newMaster);
    this.line('');
    this.line(`What the client saw (measured by the client):`);
    for (const f of now.flows) {
      const broke = f.breaks.filter((b) => b.at >= from);
      const pause = pauseAround(f, from, at);
      const longest = longestPause(f, from, at);
      let text: string;
      if (broke.length)
        text =
          `broke: ${broke[0]!.why}` +
          `${f.connected ? `; a new connection (the ${ordinal(f.connections)}) is running` : ''}.`;
      else if (f.name === 'session') {
        const k = f.key;
        const typed = `a key typed once ${newMaster} held the gateway`;
        text =
          k && k.sentAt >= typedAt - 50 && k.echoedAt !== null
            ? `${typed} echoed back in ${k.echoedAt - k.sentAt} ms, on the same connection.`
            : `${typed} has not come back after ${seconds(at - typedAt)} (same connection, not reset).`;
      } else if (f.lastReceived > settledAt)
        text =
          `carried on, on the same ${f.proto === 'tcp' ? 'connection' : 'socket'}; ` +
          `the longest pause was ${seconds(pause?.ms ?? longest)}.`;
      else text = `nothing came back for ${seconds(at - f.lastReceived)} (same connection, not reset: stuck).`;
      this.line(`  ${f.name.padEnd(9)} ${text}`);
    }
    if (!states) return;
    this.line(`States on ${newMaster} for these flows now:`);
    for (const f of now.flows) {
      const mine = statesOf(f, states.states);
      const made = mine.map((s) =>
        info && s.creator === info.hostid ? `made by ${newMaster}` : `copied (creator ${s.creator})`,
      );
      this.line(
        `  ${f.name.padEnd(9)} ` +
          (mine.length ? `${plural(mine.length, 'state')}, ${[...new Set(made)].join(', ')}` : 'none'),
      );
    }
  }

  /** For a flow with no state on the new master: what its block rules did meanwhile (measured, before vs now). */
  private async explainStuck(r: RouterName, before: ShowRulesResult | null): Promise<void> {
    const after = await this.view.rules(r);
    if (!before || !after) return;
    const blocked = (x: ShowRulesResult) =>
      x.rules.filter((y) => y.action === 'block').reduce((n, y) => n + y.packets, 0);
    const n = blocked(after) - blocked(before);
    if (n > 0)
      this.line(
        `${r}'s block rules refused ${plural(n, 'packet')} since the kill: ` +
          'a TCP packet in mid-connection matches no pass rule (they want a SYN, flags S/SA), ' +
          'so without a state it meets `block log all`.',
      );
  }
}

/** The backup's states that are the master's own (same id and creator: pfsync copies). */
function copiesOf(backup: ShowStatesResult, master: ShowStatesResult): StateInfo[] {
  return backup.states.filter((s) => master.states.some((m) => m.id === s.id && m.creator === s.creator));
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}
