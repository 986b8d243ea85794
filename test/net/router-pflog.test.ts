// tunpf run --pflog: traffic through the router that logging rules pass and
// block, then tcpdump reads the pflog files (rotated small on purpose) and
// every line names the right rule, action, direction and interface.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { netTestsUnavailable } from './helpers/netns.js';
import { sleep, Topology } from './helpers/topology.js';

const skip = netTestsUnavailable() ?? (spawnSync('tcpdump', ['--version']).error ? 'tcpdump is not installed' : null);

// Link-local multicast the hosts send (router solicitations) reaches the
// filter too; it is blocked unlogged, so that the log holds only the probes.
const RULES = `
block log all
block quick inet6 from fe80::/10 to ff02::/16
pass out on wan all
pass in log on lan proto tcp from 10.1.0.0/24 to any port 7000
pass in log (all) on lan proto udp from 10.1.0.0/24 to any port 7000
pass in log on lan inet6 proto tcp from fd01::/64 to any port 7000
pass in on lan proto tcp from 10.1.0.0/24 to any port 7002 keep state (if-bound)
pass out log on wan proto tcp to any port 7002
pass in on lan proto udp from 10.1.0.0/24 to any port 7001 keep state (if-bound)
block out log on wan proto udp to any port 7001
`;
// rule numbers: @0 block log all, @1 block quick (link-local), @2 pass out on wan, then @3 … @9 below

let topo: Topology;
let pflog: string;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  pflog = join(topo.dir, 'pflog');
  await topo.startDaemon(topo.writeRules(RULES), ['--pflog', pflog, '--pflog-size', '1K', '--pflog-keep', '20']);
});

after(async () => {
  await topo?.destroy();
});

test('traffic that logging rules pass and block', { skip: skip ?? false }, async () => {
  assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '1000'), { ok: true, received: 1000 });
  assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7000')).ok, true);
  assert.deepEqual(await topo.probe(topo.client, 'tcp', 'fd02::2', '7000', '1000'), { ok: true, received: 1000 });
  assert.deepEqual(await topo.probe(topo.client, 'tcp', '10.2.0.2', '7002', '1000'), { ok: true, received: 1000 });
  assert.equal((await topo.probe(topo.client, 'udp', '10.2.0.2', '7001')).ok, false, 'blocked out on wan');
  assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7003', '10')).ok, false, 'blocked in on lan');
  await sleep(200);
  assert.equal(await topo.stopDaemon('SIGTERM'), 0, topo.daemonLog.join(''));
  assert.match(topo.daemonLog.join(''), /"msg":"pflog file closed"/);
});

interface Line {
  rule: number;
  reason: string;
  action: string;
  dir: string;
  ifname: string;
  src: string;
  dst: string;
  text: string;
}

/** tcpdump -n -e over every file, oldest first (FILE.N … FILE.1, FILE). */
function readLogs(): { lines: Line[]; files: number } {
  const files: string[] = [];
  for (let k = 1; existsSync(`${pflog}.${k}`); k++) files.unshift(`${pflog}.${k}`);
  files.push(pflog);
  const lines: Line[] = [];
  for (const f of files) {
    const r = spawnSync('tcpdump', ['-n', '-e', '-tt', '-r', f], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const text of r.stdout.split('\n').filter(Boolean)) {
      // 1733000000.123456 rule 2/0(match): pass in on lan: 10.1.0.2.41234 > 10.2.0.2.7000: Flags [S], ...
      const m = /^\d+\.\d{6} rule (\d+)\/(\S+): (\S+) (in|out) on (\S+): (\S+) > (\S+?):? /.exec(text);
      assert.ok(m, `not a pflog line: ${text}`);
      lines.push({
        rule: Number(m[1]),
        reason: m[2]!,
        action: m[3]!,
        dir: m[4]!,
        ifname: m[5]!,
        src: m[6]!,
        dst: m[7]!,
        text,
      });
    }
  }
  return { lines, files: files.length };
}

test('tcpdump shows each logged packet with rule, action, direction and interface', { skip: skip ?? false }, () => {
  const { lines, files } = readLogs();
  assert.ok(files > 1, 'a 1K limit rotated the file');
  const key = (l: Line) => `${l.rule} ${l.action} ${l.dir} ${l.ifname} ${l.dst.replace(/^(.*)\.(\d+)$/, '$1:$2')}`;
  const count = (k: string) => lines.filter((l) => key(l) === k).length;
  // log: the SYN that made the state, nothing after it
  assert.equal(count('3 pass in lan 10.2.0.2:7000'), 1, lines.map((l) => l.text).join('\n'));
  assert.match(lines.find((l) => l.rule === 3)!.text, /10\.1\.0\.2\.\d+ > 10\.2\.0\.2\.7000: Flags \[S\]/);
  // log (all): every packet of the state @4 made in on lan: the datagram coming in on lan and the
  // answer leaving on lan; out on wan the datagram and its answer meet the state `pass out on wan`
  // (@2, no log) made, as in pf, which keeps a state on each side of a forwarded flow
  assert.equal(count('4 pass in lan 10.2.0.2:7000'), 1);
  assert.equal(count('4 pass out wan 10.2.0.2:7000'), 0);
  assert.equal(
    lines.filter((l) => l.rule === 4 && l.src === '10.2.0.2.7000' && l.dir === 'in' && l.ifname === 'wan').length,
    0,
  );
  assert.equal(
    lines.filter((l) => l.rule === 4 && l.src === '10.2.0.2.7000' && l.dir === 'out' && l.ifname === 'lan').length,
    1,
  );
  // IPv6 (pflog af 24)
  assert.equal(count('5 pass in lan fd02::2:7000'), 1);
  // an out rule: the if-bound state on lan does not cover wan, so the out check logs
  assert.equal(count('7 pass out wan 10.2.0.2:7002'), 1);
  // blocked out on wan, and blocked in on lan by the default block (the SYN may be sent again)
  assert.equal(count('9 block out wan 10.2.0.2:7001'), 1);
  assert.ok(count('0 block in lan 10.2.0.2:7003') >= 1);
  // and nothing else: every line is one of these
  for (const l of lines) {
    assert.ok(
      ['3 pass in lan', '4 pass', '5 pass in lan', '7 pass out wan', '9 block out wan', '0 block in lan'].some((p) =>
        key(l).startsWith(p),
      ),
      `unexpected: ${l.text}`,
    );
    assert.equal(l.reason, '0(match)', l.text);
  }
});
