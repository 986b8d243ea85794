// CARP takeover time: the master is killed (SIGKILL, so it cannot bow out)
// while a client sends a UDP datagram every millisecond through the virtual
// gateway to an echo server behind the routers; the takeover time is the
// longest gap in the echoes. For advbase 1 and for the fastest timing the
// protocol allows (advbase 0, advskew 0: 1/256 s), against the protocol's own
// bound (the backup's master-down time) and against ucarp, measured in the
// same run on the same switch (two ucarp nodes, the client sending to the
// virtual address itself). Needs root and ucarp. Run: npm run bench:takeover

import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netTestsUnavailable, type Netns } from '../test/net/helpers/netns.js';
import { HaTopology, LAN_VIP, SERVER } from '../test/net/helpers/ha-topology.js';
import { sleep } from '../test/net/helpers/topology.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  what: string;
  masterDownMs: number;
  gaps: number[];
}

async function tunpfTakeovers(advbase: number, advskew: [number, number]): Promise<Row> {
  const t = await HaTopology.create({ advbase, advskew, preempt: true });
  const interval = (s: number) => (advbase + s / 256 || 1 / 256) * 1000;
  const row: Row = {
    what: `tunpf advbase ${advbase} advskew ${advskew.join('/')}`,
    masterDownMs: 3 * interval(advskew[1]),
    gaps: [],
  };
  try {
    await t.start(t.r2);
    for (let k = 0; k < ROUNDS; k++) {
      await t.start(t.r1);
      await t.until(
        'r1 master',
        () => t.owns(t.r1, LAN_VIP) && t.owns(t.r1, '10.2.0.1') && !t.owns(t.r2, LAN_VIP),
        15000,
      );
      await sleep(1000);
      const f = await t.flows(3 + row.masterDownMs / 1000, ['udp', `${SERVER}:7000`], { FLOWS_UDP_INTERVAL_MS: '1' });
      await sleep(1000);
      await t.stop(t.r1, 'SIGKILL');
      const [r] = await f.done;
      row.gaps.push(r!.maxGapMs);
      process.stdout.write(`  ${row.what}: round ${k + 1}: ${r!.maxGapMs} ms\n`);
    }
  } finally {
    await t.destroy();
  }
  return row;
}

async function ucarpTakeovers(t: HaTopology): Promise<Row> {
  const row: Row = { what: 'ucarp advbase 1 advskew 0/100', masterDownMs: 3 * (1 + 100 / 256) * 1000, gaps: [] };
  const hosts: Netns[] = [];
  for (const [k, addr] of ['10.1.0.21', '10.1.0.22'].entries()) {
    const u = t.addHost();
    t.plug(t.lanSw, u, 'eth0');
    u.exec('ip', 'link', 'set', 'lo', 'up');
    u.exec('ip', 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
    u.exec('ip', 'link', 'set', 'eth0', 'up');
    await t.echoIn(u);
    hosts[k] = u;
  }
  const up = join(t.dir, 'up.sh');
  const down = join(t.dir, 'down.sh');
  writeFileSync(up, '#!/bin/sh\nip addr add "$2"/24 dev "$1"\nip neigh flush dev "$1"\n');
  writeFileSync(down, '#!/bin/sh\nip addr del "$2"/24 dev "$1" 2>/dev/null\n');
  chmodSync(up, 0o755);
  chmodSync(down, 0o755);
  const run = (u: Netns, src: string, skew: number) =>
    t.spawnIn(u, 'ucarp', [
      '-i',
      'eth0',
      '-s',
      src,
      '-v',
      '9',
      '-p',
      'bench',
      '-a',
      LAN_VIP,
      '-b',
      '1',
      '-k',
      String(skew),
      '-u',
      up,
      '-d',
      down,
      '-P',
    ]);
  const owns = (u: Netns) => u.exec('ip', '-o', 'addr', 'show', 'dev', 'eth0').includes(` ${LAN_VIP}/`);
  const backup = run(hosts[1]!, '10.1.0.22', 100);
  for (let k = 0; k < ROUNDS; k++) {
    const master = run(hosts[0]!, '10.1.0.21', 0);
    await t.until('ucarp master', () => owns(hosts[0]!) && !owns(hosts[1]!), 15000);
    await sleep(1000);
    const f = await t.flows(3 + row.masterDownMs / 1000 + 1, ['udp', `${LAN_VIP}:7000`], {
      FLOWS_UDP_INTERVAL_MS: '1',
    });
    await sleep(1000);
    master.kill('SIGKILL');
    // a killed ucarp leaves its address: take it away as its next start would
    await sleep(50);
    hosts[0]!.exec('ip', 'addr', 'flush', 'dev', 'eth0', 'to', `${LAN_VIP}/32`);
    const [r] = await f.done;
    row.gaps.push(r!.maxGapMs);
    process.stdout.write(`  ${row.what}: round ${k + 1}: ${r!.maxGapMs} ms\n`);
  }
  backup.kill('SIGKILL');
  return row;
}

async function main(): Promise<void> {
  const why = netTestsUnavailable();
  if (why) {
    console.error(`bench:takeover: ${why}`);
    process.exit(1);
  }
  const rows: Row[] = [];
  rows.push(await tunpfTakeovers(1, [0, 100]));
  rows.push(await tunpfTakeovers(0, [0, 2]));
  rows.push(await tunpfTakeovers(0, [10, 20]));
  const t = await HaTopology.create();
  try {
    rows.push(await ucarpTakeovers(t));
  } finally {
    await t.destroy();
  }
  console.log(`\nCARP takeover (master SIGKILLed -> client traffic flows again), ${ROUNDS} rounds each, 1 ms probes:`);
  console.log(
    `${'setting'.padEnd(36)} ${'master-down'.padStart(12)} ${'median'.padStart(8)} ${'min'.padStart(6)} ` +
      `${'max'.padStart(6)}  ratio to master-down`,
  );
  for (const r of rows) {
    const m = median(r.gaps);
    console.log(
      `${r.what.padEnd(36)} ${(r.masterDownMs.toFixed(0) + ' ms').padStart(12)} ${(m + ' ms').padStart(8)} ` +
        `${(Math.min(...r.gaps) + '').padStart(6)} ${(Math.max(...r.gaps) + '').padStart(6)}  ` +
        `${(m / r.masterDownMs).toFixed(2)}`,
    );
  }
  const tunpf1 = median(rows[0]!.gaps);
  const ucarp1 = median(rows[3]!.gaps);
  console.log(`\ntunpf / ucarp at advbase 1 (same switch, same run): ${(tunpf1 / ucarp1).toFixed(2)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
