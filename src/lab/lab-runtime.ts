// The lab's I/O: builds the namespaces from the plan, starts the processes
// (detached, so they outlive `tunpf lab`), records everything in a state
// file, talks to the routers over their control sockets, and takes it all
// down again. Teardown trusts nothing but the prefix: it also finds what a
// failed or interrupted `up` left and no state file mentions.

import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError, ConnectError, requestOnce } from '../control/client.js';
import { ErrorCode } from '../control/protocol.js';
import { SOCKET_NAME } from '../control/socket-path.js';
import { epochMs, type Clock } from '../os/clock.js';
import { alive } from '../os/process.js';
import {
  buildCommands,
  LAB,
  LAB_DIR,
  LAB_PREFIX,
  labHaConfig,
  netnsOf,
  type LabNode,
  type LabTiming,
  type RouterName,
} from './lab-plan.js';
import { readTrafficStatus } from './traffic-status.js';

/** Where a daemon in a namespace keeps its lock, sysctl journal and socket (src/os/run-dir.ts). */
export const TUNPF_RUN_DIR = '/run/tunpf';

export type ProcessRole = 'router' | 'echo' | 'traffic';

export interface LabProcess {
  role: ProcessRole;
  node: LabNode;
  pid: number;
  log: string;
  startedAt: number;
}

export interface LabState {
  version: 1;
  startedAt: number;
  phase: 'building' | 'up';
  timing: 'normal' | 'fast';
  /** Each namespace with its inode: the daemon's folder under /run/tunpf is named after it. */
  namespaces: { name: string; inode: number }[];
  processes: LabProcess[];
}

export const paths = {
  dir: LAB_DIR,
  state: join(LAB_DIR, 'state.json'),
  traffic: join(LAB_DIR, 'traffic.json'),
  log: (what: string) => join(LAB_DIR, `${what}.log`),
  ha: (r: RouterName) => join(LAB_DIR, `${r}.ha`),
  pflog: (r: RouterName) => join(LAB_DIR, `${r}.pflog`),
};

const here = dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';

/** The checkout (or installed package) this code runs from: where rules/ lives. */
export function packageRoot(): string {
  let d = here;
  for (let k = 0; k < 6; k++) {
    if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'rules'))) return d;
    d = dirname(d);
  }
  throw new Error(`cannot find the tunpf package (with rules/) above ${here}`);
}

export const rulesetPath = () => join(packageRoot(), 'rules', 'lab.conf');
const script = (rel: string) => join(here, `${rel}.${ext}`);
export const mainScript = () => script('../cli/main');

/** How to run node with this program's loader flags (tsx while developing). */
export const nodeCommand = (): string[] => [
  process.execPath,
  ...process.execArgv.filter(
    (a, i, all) =>
      a.startsWith('--import') || a.startsWith('--loader') || all[i - 1] === '--import' || all[i - 1] === '--loader',
  ),
];

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- namespaces

export function labNamespaces(): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(LAB_PREFIX));
  } catch {
    return [];
  }
}

export function namespaceInode(name: string): number | null {
  try {
    return statSync(join('/run/netns', name)).ino;
  } catch {
    return null;
  }
}

/** The control socket a daemon in that namespace listens on by default (control/socket-path.ts). */
export function socketOf(node: LabNode): string {
  const ino = namespaceInode(netnsOf(node));
  return join(TUNPF_RUN_DIR, `net-${ino ?? 'missing'}`, SOCKET_NAME);
}

function run(argv: string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = String((e as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`${argv.join(' ')}: ${err || (e as Error).message}`, { cause: e });
  }
}

export function inNamespace(node: LabNode, ...argv: string[]): string {
  return run(['ip', 'netns', 'exec', netnsOf(node), ...argv]);
}

// ---------------------------------------------------------------- state file

export function readState(): LabState | null {
  try {
    const s = JSON.parse(readFileSync(paths.state, 'utf8')) as LabState;
    return s.version === 1 ? s : null;
  } catch {
    return null;
  }
}

export function writeState(s: LabState): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o755 });
  writeFileSync(paths.state, JSON.stringify(s, null, 2) + '\n');
}

/** Whether any part of a lab exists (a state file, a namespace). */
export function labExists(): boolean {
  return existsSync(paths.state) || labNamespaces().length > 0;
}

// ---------------------------------------------------------------- processes

function netnsInodeOfPid(pid: number): number | null {
  try {
    const m = readlinkSync(`/proc/${pid}/ns/net`).match(/\[(\d+)\]/);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function parentOf(pid: number): number {
  try {
    // the field after the command name, which is in parentheses and may hold spaces
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** Starts `argv` in a node's namespace, detached, its output appended to `log`. */
export function spawnDetached(node: LabNode, argv: string[], log: string): number {
  const fd = openSync(log, 'a');
  try {
    // `ip netns exec` execs the command, so the pid is the program's own
    const child = spawn('ip', ['netns', 'exec', netnsOf(node), ...argv], {
      detached: true,
      stdio: ['ignore', fd, fd],
      cwd: packageRoot(),
    });
    child.unref();
    if (!child.pid) throw new Error(`could not start ${argv.join(' ')} in ${netnsOf(node)}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function logTail(log: string, lines = 8): string {
  try {
    return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------- the control sockets

export type Answer<T> =
  { ok: true; value: T } | { ok: false; why: 'no-daemon' | 'not-configured' | 'error'; message: string };

/** One request to a router's daemon; never throws. */
export async function ask<T>(
  r: RouterName,
  command: string,
  args: Record<string, unknown> = {},
  timeoutMs = 1500,
): Promise<Answer<T>> {
  try {
    return { ok: true, value: await requestOnce<T>(command, args, { path: socketOf(r), timeoutMs }) };
  } catch (e) {
    if (e instanceof CommandError && e.code === ErrorCode.UNKNOWN_COMMAND)
      return { ok: false, why: 'not-configured', message: e.message };
    if (e instanceof ConnectError && (e.code === 'no-daemon' || e.code === 'closed' || e.code === 'timeout'))
      return { ok: false, why: 'no-daemon', message: e.message };
    return { ok: false, why: 'error', message: (e as Error).message };
  }
}

// ---------------------------------------------------------------- up

export class Lab {
  state: LabState;
  /** Set when the user interrupts `up`: nothing more is started. */
  private aborted = false;

  private constructor(
    state: LabState,
    private readonly clock: Clock,
  ) {
    this.state = state;
  }

  static begin(timing: 'normal' | 'fast', clock: Clock): Lab {
    mkdirSync(paths.dir, { recursive: true, mode: 0o755 });
    const lab = new Lab(
      { version: 1, startedAt: epochMs(clock), phase: 'building', timing, namespaces: [], processes: [] },
      clock,
    );
    lab.save();
    return lab;
  }

  static current(clock: Clock): Lab | null {
    const s = readState();
    return s ? new Lab(s, clock) : null;
  }

  save(): void {
    writeState(this.state);
  }

  abort(): void {
    this.aborted = true;
  }

  private go(): void {
    if (this.aborted) throw new Error('interrupted');
  }

  /** The namespaces and links, recorded as they are made. */
  build(): void {
    for (const c of buildCommands()) {
      this.go();
      run(c);
      if (c[1] === 'netns' && c[2] === 'add') {
        this.state.namespaces.push({ name: c[3]!, inode: namespaceInode(c[3]!) ?? 0 });
        this.save();
      }
    }
  }

  /** Link-local addresses (the source of IPv6 advertisements) appear a moment after link up. */
  async linkLocalReady(ms = 5000): Promise<void> {
    const t0 = epochMs(this.clock);
    for (const r of ['r1', 'r2'] as const) {
      for (const dev of ['lan', 'wan']) {
        while (!/fe80::/.test(inNamespace(r, 'ip', '-6', 'addr', 'show', 'dev', dev))) {
          if (epochMs(this.clock) - t0 > ms) throw new Error(`${r} ${dev}: no IPv6 link-local address after ${ms} ms`);
          await sleep(100);
        }
      }
    }
  }

  writeHaFiles(t: LabTiming): void {
    for (const r of ['r1', 'r2'] as const) writeFileSync(paths.ha(r), labHaConfig(r, t));
  }

  private record(p: Omit<LabProcess, 'startedAt'>): LabProcess {
    const entry = { ...p, startedAt: epochMs(this.clock) };
    this.state.processes = this.state.processes.filter((x) => !(x.role === p.role && x.node === p.node));
    this.state.processes.push(entry);
    this.save();
    return entry;
  }

  process(role: ProcessRole, node: LabNode): LabProcess | undefined {
    return this.state.processes.find((p) => p.role === role && p.node === node);
  }

  routerCommand(r: RouterName): string[] {
    return [
      ...nodeCommand(),
      mainScript(),
      'run',
      '-f',
      rulesetPath(),
      '--interfaces',
      'lan,wan',
      '--ha',
      paths.ha(r),
      '--pflog',
      paths.pflog(r),
    ];
  }

  /** Starts tunpf on a router; resolves when its control socket answers. */
  async startRouter(r: RouterName, ms = 20_000): Promise<LabProcess> {
    this.go();
    const log = paths.log(r);
    writeFileSync(
      log,
      `--- ${new Date(this.clock() * 1000).toISOString()} ${this.routerCommand(r).slice(1).join(' ')}\n`,
      { flag: 'a' },
    );
    const p = this.record({ role: 'router', node: r, pid: spawnDetached(r, this.routerCommand(r), log), log });
    const t0 = epochMs(this.clock);
    for (;;) {
      const a = await ask(r, 'show carp', {}, 1000);
      if (a.ok) return p;
      if (!alive(p.pid)) throw new Error(`tunpf on ${r} exited; the end of ${log}:\n${logTail(log)}`);
      if (epochMs(this.clock) - t0 > ms)
        throw new Error(
          `tunpf on ${r} did not answer on ${socketOf(r)} within ${ms / 1000} s; the end of ${log}:\n${logTail(log)}`,
        );
      await sleep(150);
    }
  }

  async startEcho(ms = 10_000): Promise<LabProcess> {
    this.go();
    const log = paths.log('server');
    const p = this.record({
      role: 'echo',
      node: 'server',
      pid: spawnDetached(
        'server',
        [...nodeCommand(), script('./echo-server'), String(LAB.ports.echo), String(LAB.ports.session)],
        log,
      ),
      log,
    });
    await this.waitForLog(p, 'ready', ms);
    return p;
  }

  async startTraffic(rate: number, ms = 15_000): Promise<LabProcess> {
    this.go();
    const log = paths.log('client');
    const argv = [
      ...nodeCommand(),
      script('./traffic'),
      '--status',
      paths.traffic,
      '--server',
      LAB.server.v4,
      '--echo-port',
      String(LAB.ports.echo),
      '--session-port',
      String(LAB.ports.session),
      '--rate',
      String(rate),
    ];
    const p = this.record({ role: 'traffic', node: 'client', pid: spawnDetached('client', argv, log), log });
    const t0 = epochMs(this.clock);
    for (;;) {
      const s = readTrafficStatus(paths.traffic);
      if (s && s.flows.length === 3 && s.flows.every((f) => f.connected && f.received > 0)) return p;
      if (!alive(p.pid)) throw new Error(`the traffic generator exited; the end of ${log}:\n${logTail(log)}`);
      if (epochMs(this.clock) - t0 > ms) {
        const why = s
          ? s.flows
              .filter((f) => !(f.connected && f.received > 0))
              .map(
                (f) =>
                  `${f.name} ` +
                  (f.connected
                    ? 'connected, nothing echoed'
                    : `not connected (${f.breaks.at(-1)?.why ?? 'connecting'})`),
              )
              .join('; ')
          : 'no status file';
        throw new Error(`the client's flows did not get through within ${ms / 1000} s: ${why}`);
      }
      await sleep(150);
    }
  }

  private async waitForLog(p: LabProcess, text: string, ms: number): Promise<void> {
    const t0 = epochMs(this.clock);
    while (!logTail(p.log, 50).includes(text)) {
      if (!alive(p.pid)) throw new Error(`${p.role} on ${p.node} exited; the end of ${p.log}:\n${logTail(p.log)}`);
      if (epochMs(this.clock) - t0 > ms)
        throw new Error(`${p.role} on ${p.node} did not start within ${ms / 1000} s:\n${logTail(p.log)}`);
      await sleep(100);
    }
  }

  /** SIGKILLs a router's tunpf, as a crash would; resolves once it is gone. */
  async killRouter(r: RouterName): Promise<number> {
    const p = this.process('router', r);
    if (!p || !alive(p.pid)) throw new Error(`tunpf on ${r} is not running`);
    process.kill(p.pid, 'SIGKILL');
    while (alive(p.pid)) await sleep(10);
    return p.pid;
  }

  typeKey(): void {
    const p = this.process('traffic', 'client');
    if (p && alive(p.pid)) process.kill(p.pid, 'SIGUSR1');
  }
}

// ---------------------------------------------------------------- down

export interface TeardownReport {
  processes: number;
  namespaces: string[];
  files: string[];
  problems: string[];
}

/**
 * Stops every lab process and removes every namespace and file, whatever
 * state the lab is in. Processes are the ones the state file names (if they
 * still live in a lab namespace) and any other process inside one.
 */
export async function teardown(clock: Clock): Promise<TeardownReport> {
  const report: TeardownReport = { processes: 0, namespaces: [], files: [], problems: [] };
  const state = readState();
  // only names with the lab's prefix, whatever the state file says
  const recorded = (state?.namespaces ?? []).filter((n) => n.name.startsWith(LAB_PREFIX) && !n.name.includes('/'));
  const names = new Set([...labNamespaces(), ...recorded.map((n) => n.name)]);
  const inodes = new Map<string, number>();
  for (const n of recorded) if (n.inode) inodes.set(n.name, n.inode);
  for (const n of names) {
    const ino = namespaceInode(n);
    if (ino) inodes.set(n, ino);
  }
  const labInodes = new Set(inodes.values());

  const pidsInLab = (): Set<number> => {
    const pids = new Set<number>();
    for (const p of state?.processes ?? []) {
      const ino = netnsInodeOfPid(p.pid);
      if (ino !== null && labInodes.has(ino)) pids.add(p.pid);
    }
    for (const n of names) {
      if (namespaceInode(n) === null) continue;
      try {
        for (const pid of run(['ip', 'netns', 'pids', n]).split(/\s+/).filter(Boolean).map(Number)) pids.add(pid);
      } catch (e) {
        report.problems.push((e as Error).message);
      }
    }
    return pids;
  };
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  // SIGTERM to the lab's programs (not to their helpers, such as tunpf's `ip monitor`):
  // tunpf takes down what it set up and ends its own children
  const first = pidsInLab();
  const roots = [...first].filter((pid) => !first.has(parentOf(pid)));
  for (const pid of roots) signal(pid, 'SIGTERM');
  const t0 = epochMs(clock);
  while (roots.some(alive) && epochMs(clock) - t0 < 5000) await sleep(50);
  // whatever is still inside a lab namespace goes now
  const rest = pidsInLab();
  for (const pid of rest) signal(pid, 'SIGKILL');
  while ([...rest].some(alive) && epochMs(clock) - t0 < 8000) await sleep(50);
  for (const pid of rest) if (alive(pid)) report.problems.push(`process ${pid} did not stop`);
  report.processes = roots.length;

  // each daemon's folder (lock, sysctl journal, control socket), named after its namespace's inode
  for (const ino of labInodes) {
    const d = join(TUNPF_RUN_DIR, `net-${ino}`);
    if (existsSync(d)) {
      rmSync(d, { recursive: true, force: true });
      report.files.push(d);
    }
  }
  for (const n of names) {
    if (namespaceInode(n) === null && !existsSync(join('/run/netns', n))) continue;
    try {
      run(['ip', 'netns', 'del', n]);
      report.namespaces.push(n);
    } catch (e) {
      report.problems.push((e as Error).message);
    }
  }
  if (existsSync(paths.dir)) {
    rmSync(paths.dir, { recursive: true, force: true });
    report.files.push(paths.dir);
  }
  return report;
}
