// Through the router, in the same run and on the same namespace topology:
// (1) the kernel forwarding with no filter, (2) nftables with an equivalent
// stateful ruleset, (3) tunpf with a ~50-rule ruleset. TCP throughput with one
// stream and four (iperf3), small UDP packets per second, round-trip latency
// of small UDP datagrams; tunpf's ratio to each and its CPU seconds per
// gigabit and per million packets.
// Small packets come from trafgen (one process, 64-byte payloads, 64 flows)
// and are counted and dropped at the server's ingress: unlike an iperf3
// client and server, neither end spends a socket call per packet, so the two
// cores go to the router under test rather than to the load.
// Needs root, iperf3, nft and trafgen (Debian: iperf3 nftables netsniff-ng).
// Run: npm run bench:net

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { netTestsUnavailable, runInNetns } from '../test/net/helpers/netns.js';
import { sleep, Topology } from '../test/net/helpers/topology.js';
import { cpuSeconds, installSink, iperf, smallPackets, tunpfPid } from './net-load.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Each setup is measured this many times, interleaved with the others; the median is printed. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const NFT_RULES = `
table inet bench {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" ip saddr 10.1.0.0/24 tcp dport 5201 ct state new accept
    iifname "lan" ip saddr 10.1.0.0/24 udp dport { 9, 5201, 7000 } ct state new accept
  }
}`;

function tunpfRules(): string {
  // the shipped gateway ruleset's shape (~50 rules) plus the benchmark's flows
  const lines = [
    'block log all',
    'table <bogons> const { 0.0.0.0/8, 100.64.0.0/10, 169.254.0.0/16, 192.0.2.0/24, 198.18.0.0/15, 224.0.0.0/4 }',
  ];
  lines.push('block drop in quick on wan from <bogons>');
  for (let i = 0; i < 44; i++)
    lines.push(`pass in on lan inet proto tcp from 10.1.0.0/24 to 10.9.${i}.0/24 port ${2000 + i}`);
  lines.push('pass in on lan inet proto tcp from 10.1.0.0/24 to any port 5201');
  lines.push('pass in on lan inet proto udp from 10.1.0.0/24 to any port { 9 5201 7000 }');
  lines.push('pass out on wan all');
  return lines.join('\n') + '\n';
}

interface Figures {
  tcp1: number; // Gbit/s
  tcp4: number;
  udpPps: number;
  rttUs: number;
  cpu?: { perGbit: number; perMpkt: number };
}

async function measure(topo: Topology, name: string, pid?: number): Promise<Figures> {
  const cpu0 = pid ? cpuSeconds(pid) : 0;
  const t1 = await iperf(topo, SECONDS, []);
  const tcp1 = t1.end.sum_received.bits_per_second / 1e9;
  const t4 = await iperf(topo, SECONDS, ['-P', '4']);
  const tcp4 = t4.end.sum_received.bits_per_second / 1e9;
  const cpuTcp = pid ? cpuSeconds(pid) - cpu0 : 0;
  const bitsTcp = t1.end.sum_received.bytes * 8 + t4.end.sum_received.bytes * 8;
  const u = await smallPackets(topo, SECONDS, pid);
  const udpPps = u.pps;
  const cpuUdp = u.cpu;
  const rtt = JSON.parse((await runInNetns(topo.client, 'udp-rtt', ['10.2.0.2', '7000', '2000'])).stdout.trim());
  const f: Figures = { tcp1, tcp4, udpPps, rttUs: rtt.median };
  if (pid) f.cpu = { perGbit: cpuTcp / (bitsTcp / 1e9), perMpkt: cpuUdp / (u.packets / 1e6) };
  return f;
}

async function main() {
  const why = netTestsUnavailable();
  if (why) {
    console.log(`bench:net skipped: ${why}`);
    return;
  }
  for (const tool of ['iperf3', 'nft', 'trafgen']) {
    // trafgen --version exits 1: ask the shell whether the command is there
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
      console.log(`bench:net needs ${tool} (Debian: apt-get install iperf3 nftables netsniff-ng)`);
      return;
    }
  }
  const topo = await Topology.create([7000]);
  installSink(topo);
  // the plain kernel router of baseline (1): forwarding on, nothing else
  topo.router.exec('sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
  const iperfServer = spawn('ip', ['netns', 'exec', topo.server.name, 'iperf3', '-s'], { stdio: 'ignore' });
  // interrupted (^C, timeout): the namespaces go too
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      iperfServer.kill('SIGKILL');
      void topo.destroy().finally(() => process.exit(130));
    });
  }
  await sleep(500);
  try {
    const rules = topo.writeRules(tunpfRules());
    const setups: Record<string, { up: () => Promise<number | undefined>; down: () => Promise<void> }> = {
      kernel: { up: async () => undefined, down: async () => {} },
      nftables: {
        up: async () => {
          execFileSync('ip', ['netns', 'exec', topo.router.name, 'nft', '-f', '-'], { input: NFT_RULES });
          return undefined;
        },
        down: async () => {
          execFileSync('ip', ['netns', 'exec', topo.router.name, 'nft', 'flush', 'ruleset']);
        },
      },
      tunpf: {
        up: async () => (await topo.startDaemon(rules, ['--wakeup', 'poll']), tunpfPid(topo)),
        down: async () => void (await topo.stopDaemon()),
      },
      thread: {
        up: async () => (await topo.startDaemon(rules, ['--wakeup', 'thread']), tunpfPid(topo)),
        down: async () => void (await topo.stopDaemon()),
      },
    };
    const runs: Record<string, Figures[]> = { kernel: [], nftables: [], tunpf: [], thread: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, s] of Object.entries(setups)) {
        console.error(`round ${round + 1}/${ROUNDS}: ${name} ...`);
        const pid = await s.up();
        runs[name]!.push(await measure(topo, name, pid));
        await s.down();
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const med = (fs: Figures[]): Figures => ({
      tcp1: median(fs.map((f) => f.tcp1)),
      tcp4: median(fs.map((f) => f.tcp4)),
      udpPps: median(fs.map((f) => f.udpPps)),
      rttUs: median(fs.map((f) => f.rttUs)),
      cpu: fs[0]!.cpu
        ? { perGbit: median(fs.map((f) => f.cpu!.perGbit)), perMpkt: median(fs.map((f) => f.cpu!.perMpkt)) }
        : undefined,
    });
    const kernel = med(runs.kernel!);
    const nft = med(runs.nftables!);
    const tunpf = med(runs.tunpf!);
    const threaded = med(runs.thread!);

    const row = (name: string, f: Figures) =>
      `${name.padEnd(10)} ${f.tcp1.toFixed(2).padStart(8)} ${f.tcp4.toFixed(2).padStart(8)} ` +
      `${(f.udpPps / 1000).toFixed(0).padStart(9)} ${f.rttUs.toFixed(0).padStart(8)}`;
    const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
    console.log(
      `tunpf network benchmark (${SECONDS} s per figure, median of ${ROUNDS} interleaved rounds; ` +
        'client — router — server namespaces over veth)',
    );
    console.log(
      `${''.padEnd(10)} ${'TCP x1'.padStart(8)} ${'TCP x4'.padStart(8)} ` +
        `${'UDP kpps'.padStart(9)} ${'RTT µs'.padStart(8)}` +
        '   (Gbit/s; 64-byte UDP payloads from trafgen; median UDP round trip)',
    );
    console.log(row('kernel', kernel));
    console.log(row('nftables', nft));
    console.log(row('tunpf', tunpf));
    console.log(row('(thread)', threaded));
    console.log(
      `tunpf vs kernel:   TCP x1 ${pct(tunpf.tcp1, kernel.tcp1)}, TCP x4 ${pct(tunpf.tcp4, kernel.tcp4)}, ` +
        `UDP pps ${pct(tunpf.udpPps, kernel.udpPps)}, RTT +${(tunpf.rttUs - kernel.rttUs).toFixed(0)} µs`,
    );
    console.log(
      `tunpf vs nftables: TCP x1 ${pct(tunpf.tcp1, nft.tcp1)}, TCP x4 ${pct(tunpf.tcp4, nft.tcp4)}, ` +
        `UDP pps ${pct(tunpf.udpPps, nft.udpPps)}, RTT +${(tunpf.rttUs - nft.rttUs).toFixed(0)} µs`,
    );
    console.log(
      `wakeup: libuv poll (default) vs reader thread: TCP x1 ${tunpf.tcp1.toFixed(2)} vs ${threaded.tcp1.toFixed(2)} ` +
        `Gbit/s, UDP ${(tunpf.udpPps / 1000).toFixed(0)} vs ${(threaded.udpPps / 1000).toFixed(0)} kpps, ` +
        `RTT ${tunpf.rttUs.toFixed(0)} vs ${threaded.rttUs.toFixed(0)} µs`,
    );
    if (tunpf.cpu) {
      console.log(
        `tunpf CPU: ${tunpf.cpu.perGbit.toFixed(3)} s per Gbit (TCP), ` +
          `${tunpf.cpu.perMpkt.toFixed(2)} s per million packets (UDP)`,
      );
    }
  } finally {
    iperfServer.kill('SIGKILL');
    await topo.destroy();
  }
}

void fileURLToPath;
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
