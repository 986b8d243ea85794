// `tunpf lab`: a complete two-router HA setup in network namespaces on this
// machine, narrated. `up` (the default) builds it, starts tunpf on both
// routers, an echo server and client traffic, and tells what happens when
// the master dies and comes back; the lab then stays up until `down`.
// `status`, `failover`, `exec`, `ctl` and `top` work on a running lab.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { ShowCarpResult, ShowStatesResult } from '../control/results.js';
import {
  CARP_GROUPS,
  LAB,
  LAB_DIR,
  masterDown,
  netnsOf,
  NODES,
  ROUTERS,
  TIMINGS,
  type LabNode,
  type RouterName,
} from '../lab/lab-plan.js';
import { epochMs, systemClock, type Clock } from '../os/clock.js';
import { alive } from '../os/process.js';
import {
  ask,
  Lab,
  labExists,
  labNamespaces,
  mainScript,
  nodeCommand,
  paths,
  readState,
  rulesetPath,
  socketOf,
  teardown,
} from '../lab/lab-runtime.js';
import { settledMaster } from '../lab/carp-settled.js';
import { labView } from '../lab/lab-view.js';
import { Narrator, realClock, seconds } from '../lab/narrator.js';
import { readTrafficStatus } from '../lab/traffic-status.js';
import { ctlCommand } from './ctl-command.js';
import type { CommandIO } from './io.js';
import { topCommand } from './top-command.js';

export const labUsage = `usage: tunpf lab [up] [--quick] [--fast] [--rate MBPS]
       tunpf lab down | status [--json] | failover [--no-return] | start ROUTER
       tunpf lab ctl ROUTER CTL-ARGS...  |  tunpf lab top ROUTER  |  tunpf lab exec NODE -- COMMAND...
  up            build the lab, start tunpf on r1 and r2 and traffic, and narrate a takeover (the default)
  --quick       build and start only, no narration (also --no-narrate)
  --fast        sub-second CARP timing (advbase 0) instead of advbase 1
  --rate MBPS   the client's TCP transfer rate (default 2 MB/s)
  down          stop and remove everything the lab made (safe to repeat, and after a failed up)
  status        what runs where, who is master, how the flows are doing
  failover      kill the master again and narrate the takeover and the return (--no-return: leave it dead)
  start         start tunpf again on a router whose tunpf is not running (r1, r2)
  ctl, top      tunpf ctl / tunpf top against a router's daemon (r1, r2)
  exec          run a command in a node's namespace (${NODES.join(', ')}); 'tunpf' runs this tunpf
Needs root. Everything lives in namespaces named tpflab-* and in ${LAB_DIR}/.`;

export interface LabDeps {
  uid: number;
}

/** How the user ran us, for the commands we print: `sudo tunpf` or `sudo node dist/src/cli/main.js`. */
function invocation(): string {
  const argv1 = process.argv[1] ?? 'tunpf';
  const self =
    basename(argv1) === 'tunpf'
      ? 'tunpf'
      : `node ${relative(process.cwd(), argv1).startsWith('..') ? argv1 : relative(process.cwd(), argv1)}`;
  return `${process.env.SUDO_USER ? 'sudo ' : ''}${self}`;
}

const isRouter = (x: string | undefined): x is RouterName => x === 'r1' || x === 'r2';

export async function labCommand(
  argv: string[],
  io: CommandIO,
  deps: LabDeps = { uid: process.getuid?.() ?? 0 },
): Promise<number> {
  const [sub = 'up', ...rest] = argv[0]?.startsWith('-') ? ['up', ...argv] : argv;
  // after `exec NODE --` and `ctl`/`top ROUTER`, --help belongs to the command run there
  const ownHelp = ['exec', 'ctl', 'top'].includes(sub) ? false : rest.includes('--help') || rest.includes('-h');
  if (sub === '--help' || sub === '-h' || sub === 'help' || ownHelp) return (io.out(labUsage), 0);
  if (deps.uid !== 0) {
    io.err('tunpf lab: needs root (it creates network namespaces and runs tunpf in them): run it with sudo');
    return 1;
  }
  const clock = systemClock();
  switch (sub) {
    case 'up':
      return up(rest, io, clock);
    case 'down':
      return down(io, clock);
    case 'status':
      return status(rest, io, clock);
    case 'failover':
      return failover(rest, io, clock);
    case 'exec':
      return execIn(rest, io);
    case 'start':
      return startRouter(rest, io, clock);
    case 'ctl':
    case 'top': {
      const [r, ...args] = rest;
      if (!isRouter(r))
        return (
          io.err(
            `tunpf lab ${sub}: which router? r1 or r2 (e.g. tunpf lab ${sub} r1${sub === 'ctl' ? ' show carp' : ''})`,
          ),
          2
        );
      if (!readState()) return (io.err('tunpf lab: no lab is up (tunpf lab starts one)'), 1);
      return sub === 'ctl'
        ? ctlCommand(['--socket', socketOf(r), ...args], io)
        : topCommand(['--socket', socketOf(r), ...args], io);
    }
  }
  io.err(`tunpf lab: unknown subcommand '${sub}'\n${labUsage}`);
  return 2;
}

function preflight(): string | null {
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun: tunpf needs the tun driver (modprobe tun)';
  const ipv = spawnSync('ip', ['-V'], { stdio: 'ignore' });
  if (ipv.error || ipv.status !== 0) return "the 'ip' command (iproute2) is not installed";
  if (!existsSync(rulesetPath())) return `the lab's ruleset ${rulesetPath()} is missing`;
  if (!existsSync(mainScript())) return `${mainScript()} is missing: run npm run build first`;
  return null;
}

/** The lab drawn with its addresses, aligned on the first line's junctions. */
function diagram(): string[] {
  const top = '  client ────── LAN switch ──────┬── r1 ──┬────── WAN switch ────── server';
  const a = top.indexOf('┬');
  const b = top.lastIndexOf('┬');
  return [
    top,
    `  ${LAB.client.v4}`.padEnd(a) + '│  sync  │' + LAB.server.v4.padStart(top.length - b - 1),
    ' '.repeat(a) + '└── r2 ──┘',
    `  gateway ${LAB.lan.vip4} (carp-lan, vhid 1)`.padEnd(b + 2) + `gateway ${LAB.wan.vip4} (carp-wan, vhid 2)`,
    `  r1: lan .2, wan .2, sync ${LAB.sync.r1}`.padEnd(b + 2) + `r2: lan .3, wan .3, sync ${LAB.sync.r2}`,
  ];
}

export const labUpOptions = {
  quick: { type: 'boolean' },
  'no-narrate': { type: 'boolean' },
  fast: { type: 'boolean' },
  rate: { type: 'string' },
} as const;

/** Every flag `tunpf lab` takes: up's, and those its other subcommands look for. */
export const labFlags = { ...labUpOptions, json: { type: 'boolean' }, 'no-return': { type: 'boolean' } } as const;

async function up(argv: string[], io: CommandIO, clock: Clock): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: labUpOptions,
    });
  } catch (e) {
    return (io.err(`tunpf lab: ${(e as Error).message}\n${labUsage}`), 2);
  }
  const quick = !!(args.values.quick || args.values['no-narrate']);
  const timing = args.values.fast ? 'fast' : 'normal';
  const rate = Number(args.values.rate ?? 2);
  if (!(rate > 0 && rate <= 100)) return (io.err('tunpf lab: --rate must be 0 < MBPS <= 100'), 2);
  const why = preflight();
  if (why) return (io.err(`tunpf lab: ${why}`), 1);
  if (labExists()) {
    io.err(
      `tunpf lab: a lab is already up (or left over): '${invocation()} lab status' shows it, ` +
        `'${invocation()} lab down' removes it`,
    );
    return 1;
  }
  const say = (l: string) => io.out(l);
  const t0 = epochMs(clock);
  const lab = Lab.begin(timing, clock);
  const narrator = new Narrator(labView(lab), say, realClock(clock));
  // Ctrl-C while building takes down what was built; once up, the lab stays
  let building = true;
  const onInterrupt = () => {
    if (!building) {
      io.err(`\ninterrupted; the lab stays up ('${invocation()} lab down' removes it)`);
      process.exit(130);
    }
    io.err('\ninterrupted; removing what was built');
    lab.abort();
    void teardown(clock).finally(() => process.exit(130));
  };
  process.on('SIGINT', onInterrupt);
  try {
    if (quick) say(`tunpf lab: building the lab in namespaces ${netnsOf('client').replace('client', '*')} ...`);
    else {
      say('tunpf lab: two tunpf routers sharing one gateway, in network namespaces on this machine.');
      say('');
      for (const l of diagram()) say(l);
      narrator.heading('Building the network and starting tunpf on both routers');
    }
    lab.build();
    await lab.linkLocalReady();
    lab.writeHaFiles(TIMINGS[timing]);
    if (!quick) {
      say(`      ${NODES.length} namespaces (${NODES.map(netnsOf).join(', ')}), two bridges as switches, veth cables.`);
      say(
        '      Each router runs: tunpf run -f rules/lab.conf --interfaces lan,wan ' +
          `--ha ${paths.ha('r1').replace('r1', 'rN')} --pflog ...`,
      );
      say(
        '      (rules/lab.conf is the ruleset, explained line by line; ' +
          'rules/lab-r1.ha and lab-r2.ha the CARP and pfsync settings.)',
      );
    }
    const startedAt = epochMs(clock);
    await Promise.all(ROUTERS.map((r) => lab.startRouter(r)));
    await lab.startEcho();
    if (!quick)
      say(
        `      Both answer on their control sockets after ${seconds(epochMs(clock) - startedAt)}; ` +
          'the server runs an echo service.',
      );
    const master = quick ? await settle(startedAt, clock) : await narrator.election(startedAt);
    if (!master)
      throw new Error(`the routers did not elect a master within 30 s; see ${paths.log('r1')} and ${paths.log('r2')}`);
    await lab.startTraffic(rate);
    lab.state.phase = 'up';
    lab.save();
    building = false;
    if (quick) {
      say(
        `tunpf lab: up in ${seconds(epochMs(clock) - t0)}: ` +
          `${master} is master of ${CARP_GROUPS.map((g) => g.name).join(' and ')}, traffic is flowing.`,
      );
    } else {
      await narrator.flowsAndStates(master);
      const newMaster = await narrator.takeover(master);
      if (newMaster) await narrator.comeback(master);
    }
    explore(say, quick);
    return 0;
  } catch (e) {
    if (!building) {
      io.err(`tunpf lab: ${(e as Error).message}`);
      io.err(`the lab stays up for a look ('${invocation()} lab status'; '${invocation()} lab down' removes it)`);
      return 1;
    }
    io.err(`tunpf lab: ${(e as Error).message}`);
    io.err('removing what was built');
    const r = await teardown(clock);
    for (const p of r.problems) io.err(`  ${p}`);
    return 1;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** Quick mode: waits, silently, for one master per group and the other router backup. */
async function settle(startedAt: number, clock: Clock, limitMs = 30_000): Promise<RouterName | null> {
  for (;;) {
    const answers = await Promise.all(ROUTERS.map((r) => ask<ShowCarpResult>(r, 'show carp')));
    const carp = Object.fromEntries(ROUTERS.map((r, i) => [r, answers[i]!.ok ? answers[i]!.value : null])) as Record<
      RouterName,
      ShowCarpResult | null
    >;
    const master = settledMaster(
      carp,
      CARP_GROUPS.map((g) => g.name),
    );
    if (master) return master;
    if (epochMs(clock) - startedAt > limitMs) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function explore(say: (l: string) => void, quick: boolean): void {
  const me = invocation();
  const sudo = process.env.SUDO_USER ? 'sudo ' : '';
  const self = me.slice(sudo.length);
  const lines: [string, string][] = [
    [`${me} lab ctl r1 show carp`, 'CARP: roles, gateway addresses, counters'],
    [`${me} lab ctl r2 show states`, 'the states r2 holds (-v for counters)'],
    [`${sudo}ip netns exec ${netnsOf('r2')} ${self} ctl show states`, 'the same: each router is a network namespace'],
    [`${me} lab ctl r1 show rules`, 'each rule of rules/lab.conf with its counters'],
    [`${me} lab ctl r2 show pfsync`, 'state replication: queues, messages, lag'],
    [`${me} lab top r1`, 'the live view of r1 (q quits)'],
    [`${me} lab exec client -- ping -c 3 ${LAB.server.v4}`, 'any command inside a node (client, r1, r2, server, ...)'],
    [`${sudo}ip netns exec ${netnsOf('r1')} tcpdump -ni sync`, 'pfsync on the wire (tcpdump -ni lan: CARP)'],
    [`${me} lab failover`, 'kill the master again and watch'],
    [`${me} lab status`, 'what runs where'],
    [`${me} lab down`, 'remove everything'],
  ];
  const w = Math.max(...lines.map(([c]) => c.length)) + 2;
  say('');
  say(quick ? 'Look around:' : 'The lab stays up. Look around:');
  for (const [c, what] of lines) say(`  ${c.padEnd(w)}${what}`);
  say(
    `Logs and files in ${LAB_DIR}/: r1.log, r2.log (tunpf's JSON logs), ` +
      `r1.pflog (tcpdump -n -e -r ${paths.pflog('r1')}).`,
  );
}

async function down(io: CommandIO, clock: Clock): Promise<number> {
  if (!labExists()) {
    io.out('tunpf lab: no lab is up; nothing to remove');
    return 0;
  }
  const r = await teardown(clock);
  io.out(
    `tunpf lab: removed ${r.namespaces.length} namespaces, stopped ${r.processes} processes, ` +
      `removed ${r.files.length ? r.files.join(', ') : 'no files'}`,
  );
  for (const p of r.problems) io.err(`  ${p}`);
  return r.problems.length ? 1 : 0;
}

interface StatusReport {
  up: boolean;
  phase: string | null;
  since: string | null;
  timing: string | null;
  namespaces: { name: string; present: boolean }[];
  processes: { role: string; node: string; pid: number; running: boolean; log: string }[];
  routers: Record<RouterName, { answering: boolean; groups: Record<string, string>; states: number | null }>;
  flows: {
    name: string;
    connected: boolean;
    connections: number;
    received: number;
    lastReceivedMsAgo: number | null;
  }[];
}

async function status(argv: string[], io: CommandIO, clock: Clock): Promise<number> {
  const json = argv.includes('--json');
  const state = readState();
  const present = new Set(labNamespaces());
  if (!state && present.size === 0) {
    if (json) io.out(JSON.stringify({ up: false }));
    else io.out('tunpf lab: no lab is up');
    return 1;
  }
  const report: StatusReport = {
    up: false,
    phase: state?.phase ?? null,
    since: state ? new Date(state.startedAt).toISOString() : null,
    timing: state?.timing ?? null,
    namespaces: NODES.map((n) => ({ name: netnsOf(n), present: present.has(netnsOf(n)) })),
    processes: (state?.processes ?? []).map((p) => ({
      role: p.role,
      node: p.node,
      pid: p.pid,
      running: alive(p.pid),
      log: p.log,
    })),
    routers: { r1: { answering: false, groups: {}, states: null }, r2: { answering: false, groups: {}, states: null } },
    flows: [],
  };
  for (const r of ROUTERS) {
    const c = await ask<ShowCarpResult>(r, 'show carp');
    if (!c.ok) continue;
    report.routers[r].answering = true;
    for (const g of c.value.groups) report.routers[r].groups[g.name] = g.state;
    const s = await ask<ShowStatesResult>(r, 'show states', { limit: 0 });
    if (s.ok) report.routers[r].states = s.value.total;
  }
  const tr = readTrafficStatus(paths.traffic);
  const now = epochMs(clock);
  for (const f of tr?.flows ?? [])
    report.flows.push({
      name: f.name,
      connected: f.connected,
      connections: f.connections,
      received: f.received,
      lastReceivedMsAgo: f.lastReceived ? now - f.lastReceived : null,
    });
  report.up =
    report.phase === 'up' &&
    report.namespaces.every((n) => n.present) &&
    report.processes.length > 0 &&
    report.processes.every((p) => p.running);
  if (json) {
    io.out(JSON.stringify(report, null, 2));
    return report.up ? 0 : 1;
  }
  const out: string[] = [];
  out.push(
    report.up
      ? `tunpf lab is up since ${new Date(state!.startedAt).toLocaleTimeString()} ` +
          `(${state!.timing} CARP timing), in ${LAB_DIR}`
      : `tunpf lab is not fully up (phase ${report.phase ?? 'unknown'}): ` +
          `'${invocation()} lab down' removes what is left`,
  );
  const missing = report.namespaces.filter((n) => !n.present).map((n) => n.name);
  const allPresent = `all ${NODES.length} present (${netnsOf('client').replace('client', '*')})`;
  out.push(`  namespaces: ${missing.length ? `missing ${missing.join(', ')}` : allPresent}`);
  const order = (n: string) => (NODES as readonly string[]).indexOf(n);
  for (const p of [...report.processes].sort((a, b) => order(a.node) - order(b.node))) {
    const what = p.role === 'router' ? 'tunpf run' : p.role === 'echo' ? 'echo server' : 'client traffic';
    let extra = '';
    if (p.role === 'router' && isRouter(p.node)) {
      const r = report.routers[p.node];
      extra = r.answering
        ? `  ${Object.entries(r.groups)
            .map(([g, s]) => `${g} ${s}`)
            .join(', ')}; ${r.states ?? '?'} state${r.states === 1 ? '' : 's'}`
        : '  not answering';
    }
    out.push(
      `  ${p.node.padEnd(7)} ${what.padEnd(15)} pid ${String(p.pid).padEnd(8)} ` +
        `${p.running ? 'running' : 'STOPPED'}${extra}`,
    );
  }
  for (const f of tr?.flows ?? []) {
    const ago = f.lastReceived ? now - f.lastReceived : null;
    out.push(
      `  flow ${f.name.padEnd(9)} ${f.connected ? 'up' : 'down'}, ` +
        `${f.connections} connection${f.connections === 1 ? '' : 's'}, ` +
        `${f.received} ${f.proto === 'udp' ? 'datagrams' : 'bytes'} echoed, ` +
        `last ${ago === null ? 'never' : `${seconds(ago)} ago`}`,
    );
  }
  io.out(out.join('\n'));
  return report.up ? 0 : 1;
}

async function failover(argv: string[], io: CommandIO, clock: Clock): Promise<number> {
  const lab = Lab.current(clock);
  if (!lab || lab.state.phase !== 'up') return (io.err('tunpf lab: no lab is up (tunpf lab starts one)'), 1);
  const narrator = new Narrator(labView(lab), (l) => io.out(l), realClock(clock), argv.includes('--no-return') ? 1 : 2);
  const roles = await Promise.all(ROUTERS.map(async (r) => ({ r, c: await ask<ShowCarpResult>(r, 'show carp') })));
  const master = roles.find(
    (x) => x.c.ok && x.c.value.groups.some((g) => g.name === 'carp-lan' && g.state === 'MASTER'),
  )?.r;
  if (!master) return (io.err('tunpf lab: no router is master of carp-lan right now; try tunpf lab status'), 1);
  const backup = master === 'r1' ? 'r2' : 'r1';
  const b = lab.process('router', backup);
  if (!b || !alive(b.pid)) return (io.err(`tunpf lab: ${backup} is not running, so nobody would take over`), 1);
  io.out(
    `${master} is master; ${backup} takes over after ` +
      `${seconds(masterDown(TIMINGS[lab.state.timing], backup) * 1000)} of silence.`,
  );
  const newMaster = await narrator.takeover(master);
  if (newMaster && !argv.includes('--no-return')) await narrator.comeback(master);
  else if (newMaster) io.out(`\n${master} stays down ('${invocation()} lab start ${master}' starts it again).`);
  return 0;
}

async function startRouter(argv: string[], io: CommandIO, clock: Clock): Promise<number> {
  const [r] = argv;
  if (!isRouter(r) || argv.length !== 1) return (io.err('usage: tunpf lab start r1|r2'), 2);
  const lab = Lab.current(clock);
  if (!lab || lab.state.phase !== 'up') return (io.err('tunpf lab: no lab is up (tunpf lab starts one)'), 1);
  const p = lab.process('router', r);
  if (p && alive(p.pid)) return (io.err(`tunpf lab: tunpf already runs on ${r} (pid ${p.pid})`), 1);
  const t0 = epochMs(clock);
  try {
    const started = await lab.startRouter(r);
    io.out(`tunpf runs on ${r} again (pid ${started.pid}), answering after ${seconds(epochMs(clock) - t0)}.`);
    return 0;
  } catch (e) {
    io.err(`tunpf lab: ${(e as Error).message}`);
    return 1;
  }
}

function execIn(argv: string[], io: CommandIO): number {
  const [node, ...rest] = argv;
  const command = rest[0] === '--' ? rest.slice(1) : rest;
  if (!node || !(NODES as readonly string[]).includes(node) || command.length === 0) {
    io.err(`usage: tunpf lab exec NODE -- COMMAND...   (NODE: ${NODES.join(', ')})`);
    return 2;
  }
  if (!labNamespaces().includes(netnsOf(node as LabNode)))
    return (io.err('tunpf lab: no lab is up (tunpf lab starts one)'), 1);
  const argvIn = command[0] === 'tunpf' ? [...nodeCommand(), mainScript(), ...command.slice(1)] : command;
  const r = spawnSync('ip', ['netns', 'exec', netnsOf(node as LabNode), ...argvIn], { stdio: 'inherit' });
  if (r.error) return (io.err(`tunpf lab exec: ${r.error.message}`), 1);
  return r.status ?? 1;
}
