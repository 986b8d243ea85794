// tshark decodes tunpf's advertisements as CARP (Decode As, since it guesses
// VRRP for protocol 112 by default), over IPv4 and IPv6, with the vhid,
// advbase, advskew, demotion and counter that were sent, a good checksum,
// the virtual MAC as source, and no malformed-packet warnings.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { netTestsUnavailable } from './helpers/netns.js';
import { HaTopology, LAN_VIP } from './helpers/ha-topology.js';
import { sleep, waitForOutput } from './helpers/topology.js';

const tsharkMissing = (() => {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'tshark is not installed';
  }
})();
const skip = netTestsUnavailable() ?? tsharkMissing;
let t: HaTopology;

before(async () => {
  if (skip) return;
  t = await HaTopology.create({ advbase: 1, advskew: [40, 100], ipv6: true });
  await t.start(t.r1);
  await t.until('r1 master', () => t.owns(t.r1, LAN_VIP));
});

after(async () => {
  await t?.destroy();
});

test('tshark decodes the advertisements as CARP with the fields that were sent', { skip: skip ?? false }, async () => {
  // vhid 1 lives on the LAN, vhid 2 on the WAN
  const files = [join(t.dir, 'lan.pcap'), join(t.dir, 'wan.pcap')];
  const caps = [t.lanSw, t.wanSw].map((sw, k) =>
    t.spawnIn(sw, 'tcpdump', ['-i', 'br0', '-n', '-p', '-U', '-w', files[k]!, 'ip proto 112 or ip6 proto 112']),
  );
  for (const cap of caps) await waitForOutput(cap, /listening on/, 5000);
  await sleep(4000);
  for (const cap of caps) {
    cap.kill('SIGINT');
    await new Promise((r) => cap.once('close', r));
  }
  const fields = [
    'eth.src',
    'ip.ttl',
    'ipv6.hlim',
    'ip.dst',
    'ipv6.dst',
    'carp.version',
    'carp.type',
    'carp.vhid',
    'carp.adver_int',
    'carp.advskew',
    'carp.demotion',
    'carp.authlen',
    'carp.counter',
    'carp.checksum.status',
    '_ws.malformed',
    '_ws.expert.severity',
  ];
  const out = files
    .map((file) =>
      execFileSync(
        'tshark',
        [
          '-r',
          file,
          '-d',
          'ip.proto==112,carp',
          '-T',
          'fields',
          '-E',
          'separator=|',
          ...fields.flatMap((f) => ['-e', f]),
        ],
        { encoding: 'utf8' },
      ).trim(),
    )
    .join('\n');
  const rows = out
    .trim()
    .split('\n')
    .map((l) => Object.fromEntries(l.split('|').map((v, k) => [fields[k]!, v])));
  const v4 = rows.filter((r) => r['ip.dst'] === '224.0.0.18');
  const v6 = rows.filter((r) => r['ipv6.dst'] === 'ff02::12');
  assert.ok(v4.length >= 3 && v6.length >= 3, `advertisements of both families were captured:\n${out}`);
  const counters = new Set<string>();
  for (const r of [...v4, ...v6]) {
    assert.equal(r['carp.version'], '2');
    assert.equal(r['carp.type'], '1');
    assert.equal(r['carp.authlen'], '7');
    assert.equal(r['carp.adver_int'], '1');
    assert.equal(r['carp.advskew'], '40');
    assert.equal(r['carp.demotion'], '0');
    assert.equal(r['carp.checksum.status'], '1', "checksum Good (1 in tshark's status numbering)");
    assert.equal(r['_ws.malformed'], '', 'no malformed packet');
    assert.ok(
      !['1', '2'].includes(r['_ws.expert.severity']!) || r['_ws.expert.severity'] === '',
      'no warning or error from the dissector',
    );
    assert.ok(r['ip.ttl'] === '255' || r['ipv6.hlim'] === '255', 'TTL / hop limit 255');
    assert.match(r['eth.src']!, /^00:00:5e:00:01:0[12]$/, 'sent from the virtual MAC');
    counters.add(`${r['carp.vhid']}:${r['carp.counter']}`);
  }
  assert.deepEqual(new Set([...v4, ...v6].map((r) => r['carp.vhid'])), new Set(['1', '2']));
  // OpenBSD's replay cookie: one random counter per vhid, in every advertisement
  assert.equal(counters.size, 2, `one counter per vhid: ${[...counters].join(' ')}`);
  for (const c of counters) assert.notEqual(c.split(':')[1], '0');
});
