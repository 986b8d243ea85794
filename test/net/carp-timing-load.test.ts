// Under full forwarding load the master's advertisements keep their
// schedule: every interval between two advertisements, as captured on the
// LAN, stays within 50 ms of advbase + advskew/256.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable } from './helpers/netns.js';
import { HaTopology, LAN_VIP, SERVER } from './helpers/ha-topology.js';
import { sleep, waitForOutput } from './helpers/topology.js';
import { fileURLToPath } from 'node:url';

const skip = netTestsUnavailable();
const compiled = import.meta.url.endsWith('.js');
const helper = (name: string) => fileURLToPath(new URL(`./helpers/${name}.${compiled ? 'js' : 'ts'}`, import.meta.url));
let t: HaTopology;

before(async () => {
  if (skip) return;
  t = await HaTopology.create({ advbase: 1, advskew: [0, 100] });
  await t.start(t.r1);
  await t.until('r1 master', () => t.owns(t.r1, LAN_VIP));
});

after(async () => {
  await t?.destroy();
});

test(
  'advertisement intervals stay within 50 ms of 1 s while the router forwards all it can',
  { skip: skip ?? false },
  async () => {
    const capture = t.spawnIn(t.lanSw, 'tcpdump', ['-i', 'br0', '-n', '-l', '-tt', '-p', 'ip proto 112']);
    let lines = '';
    capture.stdout!.on('data', (d) => (lines += d));
    await waitForOutput(capture, /listening on/, 5000).catch(() => {});
    const seconds = 12;
    const floods = [0, 1].map(() =>
      t.spawnIn(t.client, process.execPath, [
        ...(compiled ? [] : ['--import', 'tsx']),
        helper('udp-flood'),
        SERVER,
        '9',
        String(seconds),
      ]),
    );
    const before = await t.counters(t.r1);
    await sleep(seconds * 1000);
    const afterC = await t.counters(t.r1);
    for (const f of floods) f.kill();
    capture.kill();
    const forwarded = afterC.forward!.packetsIn - before.forward!.packetsIn;
    const times = lines
      .split('\n')
      .filter((l) => l.includes('224.0.0.18'))
      .map((l) => Number(l.split(' ')[0]));
    const intervals = times.slice(1).map((x, k) => x - times[k]!);
    assert.ok(intervals.length >= seconds - 2, `advertisements were captured: ${lines.slice(0, 500)}`);
    assert.ok(forwarded > seconds * 20000, `the router was busy: ${forwarded} packets in ${seconds} s`);
    const worst = Math.max(...intervals.map((x) => Math.abs(x - 1)));
    const rate = `${Math.round(forwarded / seconds)} packets/s forwarded`;
    assert.ok(
      worst <= 0.05,
      `every interval within 50 ms of 1 s; worst ${(worst * 1000).toFixed(1)} ms of ` +
        `${intervals.map((x) => x.toFixed(3)).join(' ')} (${rate})`,
    );
    console.log(`# ${intervals.length} intervals, worst deviation ${(worst * 1000).toFixed(1)} ms, ${rate}`);
  },
);
