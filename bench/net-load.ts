// The loads the network benchmarks put through the router of a Topology
// (client — router — server namespaces), and the readings they take: iperf3
// TCP, trafgen's small UDP packets counted at the server's ingress, the
// router process's CPU time.

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sleep, type Topology } from '../test/net/helpers/topology.js';

/** The parts of iperf3's JSON report read here. */
export interface IperfReport {
  error?: string;
  end: { sum_received: { bits_per_second: number; bytes: number } };
}

const CONNECT_TRIES = 5;

/**
 * iperf3 from the client to the server for `seconds`. A failed connect is
 * tried again (the first connection after a router hand-over can meet a
 * neighbour entry still being resolved); a failed measurement is not.
 */
export async function iperf(topo: Topology, seconds: number, args: string[]): Promise<IperfReport> {
  for (let attempt = 1; ; attempt++) {
    let out: string;
    try {
      out = topo.client.exec('iperf3', '-c', '10.2.0.2', '-t', String(seconds), '-J', ...args);
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? '{}');
    }
    const r = JSON.parse(out || '{}') as IperfReport;
    if (!r.error) return r;
    if (!/unable to connect/i.test(r.error) || attempt === CONNECT_TRIES)
      throw new Error(`iperf3 ${args.join(' ')}: ${r.error}`);
    console.error(`iperf3: ${r.error}; connecting again (${attempt}/${CONNECT_TRIES - 1})`);
    await sleep(1000);
  }
}

export const SINK_PORT = 9;

/** Counts and drops the small-packet load where it reaches the server, before any socket. */
export function installSink(topo: Topology): void {
  const nft = `table netdev bench_sink {
  chain ingress {
    type filter hook ingress device "s0" priority 0;
    ip protocol udp udp dport ${SINK_PORT} counter drop
  }
}`;
  execFileSync('ip', ['netns', 'exec', topo.server.name, 'nft', '-f', '-'], { input: nft });
}

function sinkCount(topo: Topology): number {
  const out = JSON.parse(topo.server.exec('nft', '-j', 'list', 'chain', 'netdev', 'bench_sink', 'ingress'));
  for (const item of out.nftables)
    for (const e of item.rule?.expr ?? []) if (e.counter) return e.counter.packets as number;
  throw new Error('bench_sink: no counter');
}

const macOf = (ns: Topology['client'], dev: string) => ns.exec('cat', `/sys/class/net/${dev}/address`).trim();

/**
 * trafgen floods 64-byte UDP payloads (64 source ports) from the client for
 * a second of warm-up and `seconds` of measurement; the rate is what the
 * server's ingress counted in the measured window.
 */
export async function smallPackets(
  topo: Topology,
  seconds: number,
  pid?: number,
): Promise<{ pps: number; packets: number; cpu: number }> {
  const conf = join(topo.dir, 'small.trafgen');
  writeFileSync(
    conf,
    `{
  eth(da=${macOf(topo.router, 'lan')}, sa=${macOf(topo.client, 'c0')}),
  ipv4(sa=10.1.0.2, da=10.2.0.2, ttl=64, df),
  udp(sp=dinc(10000, 10063), dp=${SINK_PORT}),
  fill(0x61, 64)
}
`,
  );
  // timeout(1) stops the generator with SIGINT, trafgen's own forks included, half a second after the window
  const runFor = (1 + seconds + 0.5).toFixed(1);
  const gen = spawn(
    'ip',
    [
      'netns',
      'exec',
      topo.client.name,
      'timeout',
      '-s',
      'INT',
      runFor,
      'trafgen',
      '-o',
      'c0',
      '-i',
      conf,
      '-P',
      '1',
      '-C',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((res) => gen.once('exit', () => res()));
  try {
    await sleep(1000);
    const n0 = sinkCount(topo);
    const cpu0 = pid ? cpuSeconds(pid) : 0;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const n1 = sinkCount(topo);
    const cpu1 = pid ? cpuSeconds(pid) : 0;
    const t1 = performance.now();
    return { pps: (n1 - n0) / ((t1 - t0) / 1000), packets: n1 - n0, cpu: cpu1 - cpu0 };
  } finally {
    await exited;
    await sleep(300); // the router's queues drain before the next figure
  }
}

export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

/** The tunpf process inside the router namespace (the daemon child of `ip netns exec`). */
export function tunpfPid(topo: Topology): number {
  const out = execFileSync('pgrep', ['-f', `run -f ${topo.dir}`], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map(Number);
  return Math.max(...out);
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
