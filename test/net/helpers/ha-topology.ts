// Two routers in a redundancy group, all in namespaces of their own:
//
//   client ── LAN switch ──┬── r1 ──┬── WAN switch ── server
//    .10      (bridge)     └── r2 ──┘   (bridge)       .10
//                           sync link r1 ── r2
//
// LAN 10.1.0.0/24 fd01::/64, WAN 10.2.0.0/24 fd02::/64: the virtual
// addresses are .1 / ::1 (the hosts' gateways), r1 is .2 and r2 .3; the
// sync link is 10.9.0.1 (r1) and 10.9.0.2 (r2). Extra hosts (a ucarp node,
// a capture point) can be plugged into a switch. Everything is torn down by
// destroy(), whatever state the test left it in.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Netns } from './netns.js';
import type { FlowResult } from './flows.js';
import { echoServerArgs, sleep, startTunpfRun, waitForOutput } from './topology.js';
import type { ShowCarpResult } from '../../../src/control/results.js';
import type { ForwardCounters } from '../../../src/datapath/forwarder.js';

const compiled = import.meta.url.endsWith('.js');
const nodeArgs = (script: string) => [...(compiled ? [] : ['--import', 'tsx']), script];
const here = (p: string) => fileURLToPath(new URL(`${p}.${compiled ? 'js' : 'ts'}`, import.meta.url));

export const LAN_VIP = '10.1.0.1';
export const WAN_VIP = '10.2.0.1';
export const CLIENT = '10.1.0.10';
export const SERVER = '10.2.0.10';
export const SERVER6 = 'fd02::10';

export interface RouterNode {
  name: 'r1' | 'r2';
  ns: Netns;
  index: number; // 2 or 3: the last octet of its own addresses
  daemon: ChildProcess | null;
  log: string[];
}

export interface HaOptions {
  advbase?: number;
  /** advskew of r1 and r2 (r1 lower: r1 becomes master). */
  advskew?: [number, number];
  preempt?: boolean;
  pass?: [string, string];
  ipv6?: boolean;
  /** An extra pfsync block per router (its text, given the router's index). */
  pfsync?: (index: number) => string;
  echoPorts?: number[];
  /** The routers' rules (HA_RULES by default). */
  rules?: string;
}

/** The daemon's SIGUSR1 `counters` log line (src/cli/run-command.ts): the parts these tests read. */
export interface CountersLine {
  packets: number;
  passed: number;
  blocked: number;
  states: number;
  /** Absent when the daemon does not forward (no TUN interfaces). */
  forward?: ForwardCounters;
  /** Absent without CARP. */
  carp?: ShowCarpResult;
}

/** The routers' own conversation: CARP and pfsync meet the rules like any packet (as in pf). */
export const HA_PASS_OWN = `
pass on { lan wan } proto carp no state
pass on sync proto pfsync no state
`;

export const HA_RULES = `
set block-policy drop
block all
pass in on lan proto { tcp udp icmp } from 10.1.0.0/24
pass in on lan inet6 proto { tcp udp ipv6-icmp } from fd01::/64
pass out on wan
pass in on wan inet6 proto ipv6-icmp icmp6-type { neighbrsol neighbradv }
${HA_PASS_OWN}`;

export class HaTopology {
  readonly lanSw = new Netns();
  readonly wanSw = new Netns();
  readonly client = new Netns();
  readonly server = new Netns();
  readonly r1: RouterNode = { name: 'r1', ns: new Netns(), index: 2, daemon: null, log: [] };
  readonly r2: RouterNode = { name: 'r2', ns: new Netns(), index: 3, daemon: null, log: [] };
  readonly dir = mkdtempSync(join(tmpdir(), 'tunpf-ha-'));
  private readonly extra: Netns[] = [];
  private readonly procs: ChildProcess[] = [];
  echo: ChildProcess | null = null;

  static async create(opts: HaOptions = {}): Promise<HaTopology> {
    const t = new HaTopology();
    try {
      await t.build(opts);
    } catch (e) {
      await t.destroy();
      throw e;
    }
    return t;
  }

  get routers(): RouterNode[] {
    return [this.r1, this.r2];
  }

  /** A veth from `ns` (named `dev`) into a switch's bridge. */
  plug(sw: Netns, ns: Netns, dev: string): void {
    const port = `p${Math.random().toString(36).slice(2, 9)}`;
    sw.exec('ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', dev, 'netns', ns.name);
    sw.exec('ip', 'link', 'set', port, 'master', 'br0', 'up');
  }

  /** Another namespace (a ucarp node, say), torn down with the rest. */
  addHost(): Netns {
    const ns = new Netns();
    this.extra.push(ns);
    return ns;
  }

  private async build(o: HaOptions): Promise<void> {
    for (const sw of [this.lanSw, this.wanSw]) {
      sw.exec('ip', 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0', 'stp_state', '0');
      sw.exec('ip', 'link', 'set', 'br0', 'up');
    }
    this.plug(this.lanSw, this.client, 'c0');
    this.plug(this.wanSw, this.server, 's0');
    for (const r of this.routers) {
      this.plug(this.lanSw, r.ns, 'lan');
      this.plug(this.wanSw, r.ns, 'wan');
    }
    this.r1.ns.exec('ip', 'link', 'add', 'sync', 'type', 'veth', 'peer', 'name', 'sync', 'netns', this.r2.ns.name);
    for (const [ns, dev, v4, v6, gw4, gw6] of [
      [this.client, 'c0', `${CLIENT}/24`, 'fd01::10/64', LAN_VIP, 'fd01::1'],
      [this.server, 's0', `${SERVER}/24`, `${SERVER6}/64`, WAN_VIP, 'fd02::1'],
    ] as const) {
      ns.exec('ip', 'link', 'set', 'lo', 'up');
      ns.exec('ip', 'addr', 'add', v4, 'dev', dev);
      ns.exec('ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
      ns.exec('ip', 'link', 'set', dev, 'up');
      ns.exec('ip', 'route', 'add', 'default', 'via', gw4);
      ns.exec('ip', '-6', 'route', 'add', 'default', 'via', gw6);
    }
    for (const r of this.routers) {
      const ns = r.ns;
      ns.exec('ip', 'link', 'set', 'lo', 'up');
      for (const [dev, v4, v6] of [
        ['lan', `10.1.0.${r.index}/24`, `fd01::${r.index}/64`],
        ['wan', `10.2.0.${r.index}/24`, `fd02::${r.index}/64`],
      ] as const) {
        // a managed router's addresses come back with the link (Linux drops IPv6 ones on link down otherwise)
        ns.exec('sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${dev}/keep_addr_on_down`);
        ns.exec('ip', 'addr', 'add', v4, 'dev', dev);
        ns.exec('ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
        ns.exec('ip', 'link', 'set', dev, 'up');
      }
      ns.exec('ip', 'addr', 'add', `10.9.0.${r.index - 1}/30`, 'dev', 'sync');
      ns.exec('ip', 'link', 'set', 'sync', 'up');
      this.writeConfig(r, o);
    }
    // link-local addresses (the IPv6 advertisements' source) appear a moment after link up, and
    // leave duplicate address detection a second or two later: a router has settled links when it starts
    for (const r of this.routers) {
      for (let k = 0; k < 50 && !/fe80::/.test(r.ns.exec('ip', '-6', 'addr', 'show', 'dev', 'lan') + ''); k++)
        await sleep(100);
      for (let k = 0; k < 50 && r.ns.exec('ip', '-6', '-o', 'addr', 'show', 'tentative').trim() !== ''; k++)
        await sleep(100);
    }
    this.echo = spawn(
      'ip',
      ['netns', 'exec', this.server.name, process.execPath, ...echoServerArgs(o.echoPorts ?? [7000])],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.echo.stderr!.on('data', (d) => (this.echoErr = (this.echoErr + d).slice(-2000)));
    await waitForOutput(this.echo, 'ready');
  }
  private echoErr = '';

  /** Whether the server's echo service still runs (a flow that cannot connect asks). */
  echoStatus(): string {
    const e = this.echo;
    if (!e) return 'echo server: not started';
    if (e.exitCode === null && e.signalCode === null) return 'echo server: running';
    return `echo server: exited (${e.exitCode ?? e.signalCode}): ${this.echoErr}`;
  }

  haConfig(r: RouterNode, o: HaOptions): string {
    const skew = (o.advskew ?? [0, 100])[r.index - 2]!;
    const pass = (o.pass ?? ['lan-secret', 'lan-secret'])[r.index - 2]!;
    const common = `advbase ${o.advbase ?? 1} advskew ${skew}${o.preempt === false ? '' : ' preempt'}`;
    const v6 = o.ipv6 ? ' address fd01::1/64' : '';
    const v6w = o.ipv6 ? ' address fd02::1/64' : '';
    return [
      `carp carp-lan { carpdev lan vhid 1 ${common} pass "${pass}" address ${LAN_VIP}/24${v6} }`,
      `carp carp-wan { carpdev wan vhid 2 ${common} pass "${pass}-w" address ${WAN_VIP}/24${v6w} }`,
      o.pfsync ? o.pfsync(r.index) : '',
    ].join('\n');
  }

  writeConfig(r: RouterNode, o: HaOptions): void {
    writeFileSync(join(this.dir, `${r.name}.rules`), o.rules ?? HA_RULES);
    writeFileSync(join(this.dir, `${r.name}.ha`), this.haConfig(r, o));
  }

  /** Starts tunpf run on a router and waits until it says it started. */
  async start(r: RouterNode, extra: string[] = []): Promise<void> {
    r.daemon = await startTunpfRun(
      r.ns,
      [
        '-f',
        join(this.dir, `${r.name}.rules`),
        '--interfaces',
        'lan,wan',
        '--ha',
        join(this.dir, `${r.name}.ha`),
        ...extra,
      ],
      r.log,
    );
  }

  /** Stops a router's daemon with a signal and waits for it to exit. */
  async stop(r: RouterNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const d = r.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const exited = new Promise<void>((res) => d.once('exit', () => res()));
    // `ip netns exec` execs node, so the pid is the daemon's own
    d.kill(signal);
    await exited;
  }

  /** Whether a router's namespace holds an address (on any interface). */
  owns(r: RouterNode, address: string): boolean {
    return r.ns
      .exec('ip', '-o', 'addr', 'show')
      .split('\n')
      .some((l) => l.includes(` ${address}/`));
  }

  /** The CARP state a router last logged for a group ('MASTER', 'BACKUP', 'INIT'), or null. */
  lastState(r: RouterNode, group: string): string | null {
    let state: string | null = null;
    for (const line of r.log.join('').split('\n')) {
      const m = line.match(new RegExp(`"msg":"carp ${group} is (\\w+)"`));
      if (m) state = m[1]!;
    }
    return state;
  }

  /** A router's counters (SIGUSR1 makes the daemon log them as one line). */
  async counters(r: RouterNode): Promise<CountersLine> {
    const before = r.log.join('').split('"msg":"counters"').length;
    r.daemon!.kill('SIGUSR1');
    await this.until(
      `${r.name} logs its counters`,
      () => r.log.join('').split('"msg":"counters"').length > before,
      3000,
    );
    const line = r.log
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"counters"'))
      .pop()!;
    return JSON.parse(line) as CountersLine;
  }

  /** Waits until fn() holds, polling; throws with `what` after ms. */
  async until(what: string, fn: () => boolean, ms = 10000): Promise<number> {
    const t0 = Date.now();
    while (!fn()) {
      if (Date.now() - t0 > ms) {
        throw new Error(
          `timed out waiting for ${what}\nr1 log:\n${this.r1.log.join('').slice(-3000)}\n` +
            `r2 log:\n${this.r2.log.join('').slice(-3000)}`,
        );
      }
      await sleep(50);
    }
    return Date.now() - t0;
  }

  /** Starts the flows helper in the client namespace; resolves once its connections are up. */
  async flows(
    seconds: number,
    specs: string[],
    env: Record<string, string> = {},
    from: Netns = this.client,
  ): Promise<{ proc: ChildProcess; done: Promise<FlowResult[]> }> {
    const proc = spawn(
      'ip',
      ['netns', 'exec', from.name, process.execPath, ...nodeArgs(here('./flows')), String(seconds), ...specs],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
    );
    this.procs.push(proc);
    let out = '';
    proc.stdout!.on('data', (d) => (out += d));
    const done = new Promise<FlowResult[]>((resolve, reject) => {
      proc.on('close', () => {
        const last = out.trim().split('\n').pop() ?? '';
        try {
          resolve(JSON.parse(last) as FlowResult[]);
        } catch {
          reject(new Error(`flows printed no summary: ${out}`));
        }
      });
    });
    try {
      await waitForOutput(proc, 'ready', 10000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${this.echoStatus()}`, { cause: e });
    }
    return { proc, done };
  }

  /** Starts the echo server in another namespace (UDP and TCP on the ports given). */
  async echoIn(ns: Netns, ports: number[] = [7000]): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...echoServerArgs(ports)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.procs.push(p);
    await waitForOutput(p, 'ready');
  }

  /** Runs a long-lived helper process in a namespace, killed at teardown. */
  spawnIn(ns: Netns, cmd: string, args: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    return p;
  }

  /** What a failing test needs to see: neighbours, switch tables, addresses and both daemons' counters. */
  async diagnose(): Promise<string> {
    for (const r of this.routers) r.daemon?.kill('SIGUSR1');
    await sleep(200);
    const out: string[] = [];
    for (const [name, ns] of [
      ['client', this.client],
      ['server', this.server],
      ['r1', this.r1.ns],
      ['r2', this.r2.ns],
    ] as const) {
      out.push(`== ${name}`, ns.exec('ip', 'neigh'), ns.exec('ip', '-6', 'neigh'), ns.exec('ip', '-br', 'addr'));
    }
    out.push(
      '== LAN switch',
      this.lanSw.exec('bridge', 'fdb', 'show', 'br', 'br0'),
      '== WAN switch',
      this.wanSw.exec('bridge', 'fdb', 'show', 'br', 'br0'),
    );
    for (const r of this.routers) out.push(`== ${r.name} log`, r.log.join('').split('\n').slice(-15).join('\n'));
    return out.join('\n');
  }

  /**
   * Cuts CARP (IP protocol 112, both families) arriving at the switches from
   * a router's ports, with every link left up; returns the undo.
   */
  cutCarpFrom(r: RouterNode): () => void {
    const undo: (() => void)[] = [];
    for (const [sw, dev] of [
      [this.lanSw, 'lan'],
      [this.wanSw, 'wan'],
    ] as const) {
      const ifindex = r.ns.exec('ip', '-o', 'link', 'show', 'dev', dev).match(/@if(\d+)/)![1]!;
      const port = sw
        .exec('ip', '-o', 'link', 'show')
        .split('\n')
        .find((l) => l.startsWith(`${ifindex}:`))!
        .split(':')[1]!
        .trim()
        .split('@')[0]!;
      const table = `cut_${r.name}`;
      const rules =
        `table bridge ${table} {\n chain forward {\n  type filter hook forward priority 0;\n` +
        `  iifname "${port}" ip protocol 112 drop\n  iifname "${port}" ip6 nexthdr 112 drop\n }\n}\n`;
      execFileSync('ip', ['netns', 'exec', sw.name, 'nft', '-f', '-'], { input: rules });
      undo.push(() => sw.exec('nft', 'delete', 'table', 'bridge', table));
    }
    return () => undo.forEach((u) => u());
  }

  async destroy(): Promise<void> {
    for (const r of this.routers) await this.stop(r, 'SIGTERM').catch(() => {});
    for (const p of this.procs) p.kill('SIGKILL');
    this.echo?.kill('SIGKILL');
    for (const ns of [this.lanSw, this.wanSw, this.client, this.server, this.r1.ns, this.r2.ns, ...this.extra])
      ns.delete();
  }
}

export type { FlowResult as FlowSummary } from './flows.js';
