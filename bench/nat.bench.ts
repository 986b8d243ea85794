// Through nat-to, beside nftables masquerade, in the same run, on the same
// namespaces (client — router — server over veth), rounds interleaved (the
// machine's speed changes between rounds): TCP with one stream (iperf3),
// small UDP packets per second (trafgen, counted at the server's ingress),
// and new TCP connections per second (short connections, a byte echoed
// each). The server has no route back to the client's network: every
// figure is of translated traffic. Prints each figure and tunpf/nftables.
// Needs root, iperf3, nft and trafgen (Debian: iperf3 nftables netsniff-ng).
// Run: npm run bench:nat
//   BENCH_SECONDS (5), BENCH_ROUNDS (3); BENCH_CPU_PROF=DIR writes tunpf's CPU profiles there (node --cpu-prof).

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { netTestsUnavailable, runInNetns } from '../test/net/helpers/netns.js';
import { sleep, Topology } from '../test/net/helpers/topology.js';
import { cpuSeconds, installSink, iperf, median, smallPackets, tunpfPid } from './net-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CPU_PROF = process.env.BENCH_CPU_PROF;
/** The echo server's ports the short connections go to, in turn. */
const CONNECT_PORTS = [7000, 7001, 7002, 7003];
const CONNECT_CONCURRENCY = 32;

const NFT_RULES = `
table ip natbench {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "wan" ip saddr 10.1.0.0/24 masquerade
  }
}
table inet filterbench {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" ip saddr 10.1.0.0/24 ct state new accept
  }
}`;

const TUNPF_RULES = `
match out on wan inet from 10.1.0.0/24 nat-to (wan)
block all
pass in on lan inet from 10.1.0.0/24
pass out on wan inet
`;

interface Figures {
  tcp1: number; // Gbit/s
  pps: number;
  cps: number; // connections per second
  connectFailures: number;
  cpu?: { perGbit: number; perMpkt: number; perKconn: number };
}

async function connections(topo: Topology): Promise<{ perSecond: number; done: number; failed: number }> {
  const args = ['10.2.0.2', CONNECT_PORTS.join(','), String(SECONDS), String(CONNECT_CONCURRENCY)];
  const r = await runInNetns(topo.client, 'tcp-connects', args, (SECONDS + 10) * 1000);
  const line = r.stdout.trim().split('\n').pop();
  if (!line) throw new Error(`tcp-connects: no result; ${r.stderr}`);
  return JSON.parse(line) as { perSecond: number; done: number; failed: number };
}

async function measure(topo: Topology, pid?: number): Promise<Figures> {
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const t1 = await iperf(topo, SECONDS, []);
  const cpuTcp = pid ? cpuSeconds(pid) - cpu0 : 0;
  const u = await smallPackets(topo, SECONDS, pid);
  const cpu1 = pid ? cpuSeconds(pid) : 0;
  const c = await connections(topo);
  const cpuConn = pid ? cpuSeconds(pid) - cpu1 : 0;
  const f: Figures = {
    tcp1: t1.end.sum_received.bits_per_second / 1e9,
    pps: u.pps,
    cps: c.perSecond,
    connectFailures: c.failed,
  };
  if (pid) {
    const bits = t1.end.sum_received.bytes * 8;
    f.cpu = { perGbit: cpuTcp / (bits / 1e9), perMpkt: u.cpu / (u.packets / 1e6), perKconn: cpuConn / (c.done / 1e3) };
  }
  await sleep(500);
  return f;
}

async function startTunpf(topo: Topology, rules: string): Promise<number> {
  await topo.startDaemon(rules, [], CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`] : []);
  return tunpfPid(topo);
}

async function main() {
  const why = netTestsUnavailable();
  if (why) {
    console.log(`bench:nat skipped: ${why}`);
    return;
  }
  for (const tool of ['iperf3', 'nft', 'trafgen']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
      console.log(`bench:nat needs ${tool} (Debian: apt-get install iperf3 nftables netsniff-ng)`);
      return;
    }
  }
  const topo = await Topology.create(CONNECT_PORTS);
  // "the internet" knows no way back to the client's network: only the translation answers it
  topo.server.exec('ip', 'route', 'del', 'default');
  topo.server.exec('ip', '-6', 'route', 'del', 'default');
  installSink(topo);
  topo.router.exec('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  const iperfServer = spawn('ip', ['netns', 'exec', topo.server.name, 'iperf3', '-s'], { stdio: 'ignore' });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      iperfServer.kill('SIGKILL');
      void topo.destroy().finally(() => process.exit(130));
    });
  }
  await sleep(500);
  try {
    const rules = topo.writeRules(TUNPF_RULES);
    const nft = (...args: string[]) =>
      execFileSync('ip', ['netns', 'exec', topo.router.name, 'nft', ...args], { input: NFT_RULES });
    const setups: Record<string, { up: () => Promise<number | undefined>; down: () => Promise<void> }> = {
      nftables: {
        up: async () => (nft('-f', '-'), undefined),
        down: async () => void nft('flush', 'ruleset'),
      },
      tunpf: {
        up: () => startTunpf(topo, rules),
        down: async () => void (await topo.stopDaemon()),
      },
    };
    const runs: Record<string, Figures[]> = { nftables: [], tunpf: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, s] of Object.entries(setups)) {
        console.error(`round ${round + 1}/${ROUNDS}: ${name} ...`);
        const pid = await s.up();
        try {
          const f = await measure(topo, pid);
          console.error(`  ${JSON.stringify(f)}`);
          runs[name]!.push(f);
        } finally {
          await s.down();
        }
      }
    }
    const med = (fs: Figures[]): Figures => ({
      tcp1: median(fs.map((f) => f.tcp1)),
      pps: median(fs.map((f) => f.pps)),
      cps: median(fs.map((f) => f.cps)),
      connectFailures: fs.reduce((a, f) => a + f.connectFailures, 0),
      cpu: fs[0]!.cpu
        ? {
            perGbit: median(fs.map((f) => f.cpu!.perGbit)),
            perMpkt: median(fs.map((f) => f.cpu!.perMpkt)),
            perKconn: median(fs.map((f) => f.cpu!.perKconn)),
          }
        : undefined,
    });
    const n = med(runs.nftables!);
    const t = med(runs.tunpf!);
    const row = (name: string, f: Figures) =>
      `${name.padEnd(22)} ${f.tcp1.toFixed(2).padStart(8)} ${(f.pps / 1000).toFixed(0).padStart(9)} ` +
      `${f.cps.toFixed(0).padStart(10)} ${String(f.connectFailures).padStart(7)}`;
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    console.log(
      `tunpf nat-to vs nftables masquerade (${SECONDS} s per figure, median of ${ROUNDS} interleaved rounds; ` +
        'client — router — server namespaces over veth)',
    );
    console.log(
      `${''.padEnd(22)} ${'TCP x1'.padStart(8)} ${'UDP kpps'.padStart(9)} ${'conn/s'.padStart(10)} ` +
        `${'failed'.padStart(7)}   (Gbit/s; 64-byte UDP payloads; connect, 1-byte echo, close, ` +
        `${CONNECT_CONCURRENCY} at a time)`,
    );
    console.log(row('nftables masquerade', n));
    console.log(row('tunpf nat-to', t));
    console.log(
      `tunpf/nftables: TCP x1 ${ratio(t.tcp1, n.tcp1)} (target 0.7x), UDP pps ${ratio(t.pps, n.pps)} ` +
        `(target 0.8x), connections/s ${ratio(t.cps, n.cps)}`,
    );
    if (t.cpu)
      console.log(
        `tunpf CPU: ${t.cpu.perGbit.toFixed(3)} s per Gbit (TCP), ${t.cpu.perMpkt.toFixed(2)} s per million packets ` +
          `(UDP), ${t.cpu.perKconn.toFixed(3)} s per thousand connections`,
      );
    if (CPU_PROF) console.log(`tunpf CPU profiles (one per round): ${CPU_PROF}`);
  } finally {
    iperfServer.kill('SIGKILL');
    await topo.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
