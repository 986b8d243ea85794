// pfsync on the two-router topology (test/net/helpers/ha-topology.ts):
//  1. the takeover gap of a running TCP transfer when the master is killed
//     (median of several takeovers), with sub-second CARP timing and with
//     advbase 1, against the same topology without pfsync (the baseline: the
//     transfer does not survive);
//  2. the replication lag, from a new flow's first packet on the LAN to its
//     state's insert arriving at the backup's sync interface (both captured,
//     one clock), at 1,000 and 10,000 new flows a second;
//  3. pfsync's bytes per state change and per packet.
// Needs root and tcpdump. Run: npm run bench:failover

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Direction } from '../src/packet/meta.js';
import { readCapture } from '../src/packet/capture-file.js';
import { walkPacket } from '../src/pfsync/codec.js';
import { readU16 } from '../src/pfsync/wire.js';
import { PfsyncAction, KeyOffset, StateOffset } from '../src/pfsync/constants.js';
import { ctlJson } from '../test/net/helpers/ctl.js';
import type { ShowInfoResult, ShowPfsyncResult } from '../src/control/results.js';
import { netTestsUnavailable } from '../test/net/helpers/netns.js';
import {
  HaTopology,
  LAN_VIP,
  SERVER,
  WAN_VIP,
  type HaOptions,
  type RouterNode,
} from '../test/net/helpers/ha-topology.js';
import { sleep, waitForOutput } from '../test/net/helpers/topology.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const compiled = import.meta.url.endsWith('.js');
const helper = (name: string) =>
  fileURLToPath(new URL(`../test/net/helpers/${name}.${compiled ? 'js' : 'ts'}`, import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const pfsyncBlock = (i: number) => `pfsync { syncdev sync syncpeer 10.9.0.${i === 2 ? 2 : 1} }`;

async function settled(t: HaTopology, master: RouterNode, backup: RouterNode, pfsync: boolean): Promise<void> {
  await t.until(
    `${master.name} master`,
    () => t.owns(master, LAN_VIP) && t.owns(master, WAN_VIP) && !t.owns(backup, LAN_VIP),
    40000,
  );
  if (!pfsync) return;
  for (const r of [master, backup])
    while ((await ctlJson<ShowPfsyncResult>(r.ns, 'show', 'pfsync')).bulk.state !== 'done') await sleep(200);
}

interface GapRow {
  what: string;
  gaps: number[];
  survived: number;
}

async function takeovers(what: string, o: HaOptions, withPfsync: boolean): Promise<GapRow> {
  const t = await HaTopology.create({ ...o, preempt: true, pfsync: withPfsync ? pfsyncBlock : undefined });
  const row: GapRow = { what, gaps: [], survived: 0 };
  try {
    await t.start(t.r2);
    for (let k = 0; k < ROUNDS; k++) {
      await t.start(t.r1);
      await settled(t, t.r1, t.r2, withPfsync);
      await sleep(1000);
      let f;
      try {
        f = await t.flows(10, ['tcp', `${SERVER}:7000`]);
      } catch (e) {
        // the transfer could not start: say so and measure the next round
        process.stdout.write(`  ${what}: round ${k + 1}: not measured (${(e as Error).message.split('\n')[0]})\n`);
        await t.stop(t.r1, 'SIGKILL');
        continue;
      }
      await sleep(2000);
      await t.stop(t.r1, 'SIGKILL');
      const [r] = await f.done;
      const ok = r!.ok && r!.error === undefined && !r!.stalled;
      if (ok) row.survived++;
      row.gaps.push(ok ? r!.maxGapMs : Infinity);
      const outcome = ok
        ? `${r!.maxGapMs} ms`
        : `transfer lost (${r!.error ?? 'it hangs: nothing came back after the takeover'})`;
      process.stdout.write(`  ${what}: round ${k + 1}: ${outcome}\n`);
    }
  } finally {
    await t.destroy();
  }
  return row;
}

interface LagRow {
  rate: number;
  flows: number;
  matched: number;
  lagsMs: number[];
  /** pfsync's own part: from the state's insert to its packet leaving (recent inserts, from show pfsync). */
  senderMs: { p50: number | null; p99: number | null };
  /** After the generator stopped, how long until r1 had made the last state (its datapath's backlog). */
  behindMs: number;
  bytesPerChange: number;
  bytesPerPacket: number;
  statesPerPacket: number;
}

/**
 * New UDP flows at `rate` a second through r1 for `seconds`; the lag from each flow's first packet on the LAN
 * to its INS at r2.
 */
async function lag(t: HaTopology, rate: number, seconds: number, basePort: number): Promise<LagRow> {
  const lanFile = join(t.dir, `lan-${rate}.pcap`);
  const syncFile = join(t.dir, `sync-${rate}.pcap`);
  // each flow's first packet on the wire at the client, and the inserts as they arrive at r2's end of the sync link
  const caps = [
    t.spawnIn(t.client, 'tcpdump', [
      '-i',
      'c0',
      '-n',
      '-p',
      '-U',
      '-B',
      '16384',
      '-w',
      lanFile,
      `udp and dst portrange ${basePort}-65535`,
    ]),
    t.spawnIn(t.r2.ns, 'tcpdump', ['-i', 'sync', '-n', '-p', '-U', '-B', '16384', '-w', syncFile, 'ip proto 240']),
  ];
  for (const c of caps) await waitForOutput(c, /listening on/, 5000);
  const before = (await ctlJson<ShowPfsyncResult>(t.r1.ns, 'show', 'pfsync')).sent;
  const inserts0 = (await ctlJson<ShowInfoResult>(t.r1.ns, 'show', 'info')).states.inserts;
  const gen = t.spawnIn(t.client, process.execPath, [
    ...(compiled ? [] : ['--import', 'tsx']),
    helper('new-flows'),
    SERVER,
    String(basePort),
    String(rate),
    String(seconds),
  ]);
  let out = '';
  gen.stdout!.on('data', (d) => (out += d));
  await new Promise((r) => gen.once('close', r));
  // how far behind the generator r1's datapath was: when its last state was made
  const genDone = Date.now();
  const want = inserts0 + 2 * Math.round(rate * seconds);
  while ((await ctlJson<ShowInfoResult>(t.r1.ns, 'show', 'info')).states.inserts < want && Date.now() - genDone < 10000)
    await sleep(20);
  const behindMs = Date.now() - genDone;
  await sleep(1500); // the last inserts' timer
  const sender = (await ctlJson<ShowPfsyncResult>(t.r1.ns, 'show', 'pfsync')).lagMs;
  const after = (await ctlJson<ShowPfsyncResult>(t.r1.ns, 'show', 'pfsync')).sent;
  for (const c of caps) {
    c.kill('SIGINT');
    await new Promise((r) => c.once('close', r));
  }
  const sent = JSON.parse(out.trim().split('\n').pop()!) as { flows: number };
  const firstSeen = new Map<number, number>();
  for (const rec of readCapture(readFileSync(lanFile))) {
    const ip = rec.data.subarray(14); // Ethernet
    const ihl = (ip[0]! & 0x0f) * 4;
    const dport = (ip[ihl + 2]! << 8) | ip[ihl + 3]!;
    if (!firstSeen.has(dport)) firstSeen.set(dport, rec.time);
  }
  const lags: number[] = [];
  for (const rec of readCapture(readFileSync(syncFile))) {
    const ip = rec.data.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    walkPacket(ip, ihl, ip.length - ihl, {
      section(action, buf, o, stride, count) {
        if (action !== PfsyncAction.INS) return;
        for (let k = 0; k < count; k++) {
          // only inbound states: an outbound one's port[1] is the client's source port, which may fall in the range
          if (buf[o + k * stride + StateOffset.DIRECTION] !== Direction.IN) continue;
          const key = o + k * stride + StateOffset.KEY_WIRE;
          const dport = readU16(buf, key + KeyOffset.PORT1); // inbound state: port[1] is the server's
          const t0 = firstSeen.get(dport);
          if (t0 !== undefined) lags.push((rec.time - t0) * 1000);
        }
      },
    });
  }
  const changes = (after.changes ?? 0) - (before.changes ?? 0);
  const bytes = after.bytes - before.bytes;
  const packets = after.packets - before.packets;
  const ins = (after.messages.INS ?? 0) - (before.messages.INS ?? 0);
  return {
    rate,
    flows: sent.flows,
    matched: lags.length,
    lagsMs: lags,
    senderMs: sender,
    behindMs,
    bytesPerChange: bytes / Math.max(1, changes),
    bytesPerPacket: bytes / Math.max(1, packets),
    statesPerPacket: ins / Math.max(1, packets),
  };
}

async function main(): Promise<void> {
  const why = netTestsUnavailable();
  if (why) {
    console.error(`bench:failover: ${why}`);
    process.exit(1);
  }
  const gaps: GapRow[] = [];
  // sub-second CARP timing: master-down 3 × 40/256 s = 0.47 s
  gaps.push(await takeovers('pfsync, advbase 0 advskew 20/40', { advbase: 0, advskew: [20, 40] }, true));
  gaps.push(await takeovers('pfsync, advbase 0 advskew 50/100', { advbase: 0, advskew: [50, 100] }, true));
  gaps.push(await takeovers('pfsync, advbase 1 advskew 0/100', { advbase: 1, advskew: [0, 100] }, true));
  gaps.push(await takeovers('no pfsync (baseline), advbase 0 20/40', { advbase: 0, advskew: [20, 40] }, false));

  const t = await HaTopology.create({ advbase: 1, advskew: [0, 100], preempt: true, pfsync: pfsyncBlock });
  const lags: LagRow[] = [];
  try {
    await t.start(t.r1);
    await t.start(t.r2);
    await settled(t, t.r1, t.r2, true);
    lags.push(await lag(t, 1000, 5, 10000));
    lags.push(await lag(t, 10000, 3, 20000));
  } finally {
    await t.destroy();
  }

  console.log(
    `\nTakeover of a running TCP transfer (the master SIGKILLed; ${ROUNDS} rounds; longest gap in the echoed data):`,
  );
  console.log(`${'setup'.padEnd(40)} ${'survived'.padStart(9)} ${'median'.padStart(9)} ${'max'.padStart(9)}`);
  for (const r of gaps) {
    const ok = r.gaps.filter(Number.isFinite);
    const survived = `${r.survived}/${r.gaps.length}`;
    const medianGap = ok.length ? `${median(ok)} ms` : '-';
    const maxGap = ok.length ? `${Math.max(...ok)} ms` : '-';
    console.log(`${r.what.padEnd(40)} ${survived.padStart(9)} ${medianGap.padStart(9)} ${maxGap.padStart(9)}`);
  }
  console.log("\nReplication lag (first packet on the LAN -> its INS at the backup), and pfsync's cost:");
  console.log(
    [
      'new flows/s'.padStart(11),
      'matched'.padStart(7),
      'p50'.padStart(9),
      'p99'.padStart(9),
      'max'.padStart(9),
      'pfsync p50'.padStart(11),
      'p99'.padStart(8),
      'B/change'.padStart(9),
      'B/packet'.padStart(9),
      'states/pkt'.padStart(10),
      'backlog'.padStart(9),
    ].join(' '),
  );
  for (const l of lags) {
    const f = (x: number | null) => (x === null ? '-' : `${x.toFixed(1)} ms`);
    console.log(
      [
        String(l.rate).padStart(11),
        String(l.matched).padStart(7),
        f(pct(l.lagsMs, 0.5)).padStart(9),
        f(pct(l.lagsMs, 0.99)).padStart(9),
        f(Math.max(...l.lagsMs)).padStart(9),
        f(l.senderMs.p50).padStart(11),
        f(l.senderMs.p99).padStart(8),
        l.bytesPerChange.toFixed(0).padStart(9),
        l.bytesPerPacket.toFixed(0).padStart(9),
        l.statesPerPacket.toFixed(1).padStart(10),
        `${l.behindMs} ms`.padStart(9),
      ].join(' '),
    );
  }
  console.log(
    '(each new flow makes two states, in on lan and out on wan, as in pf; ' +
      "matched: the inbound ones, whose key names the flow's port;",
  );
  console.log(' "pfsync" = from a state\'s insert to its packet leaving, the recent 4096;');
  console.log(
    " backlog = how long after the generator stopped the master made its last state: the machine's share of the lag)",
  );
  console.log(
    "\n(the lag's bound is pfsync's 1-second send timer; " +
      'B/change = pfsync bytes on the wire per local insert, update or delete)',
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
