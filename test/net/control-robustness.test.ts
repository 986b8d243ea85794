// The control socket under bad clients: malformed, oversized and
// half-sent requests, clients that leave before the answer; the daemon
// answers each clearly and goes on filtering. A second daemon in the same
// namespace is told to take --socket, and both sides honour it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { netTestsUnavailable } from './helpers/netns.js';
import { mainPath, sleep, Topology, waitForOutput } from './helpers/topology.js';
import { ctl, ctlJson, defaultSocketOf, tunpfIn } from './helpers/ctl.js';
import type { ShowInfoResult, ShowRulesResult } from '../../src/control/results.js';
import type { ErrorBody, RequestId } from '../../src/control/protocol.js';

const skip = netTestsUnavailable();
let topo: Topology;
let socket: string;

before(async () => {
  if (skip) return;
  topo = await Topology.create();
  await topo.startDaemon(
    topo.writeRules('block all\npass in on lan proto tcp from 10.1.0.0/24 to any port 7000\npass out on wan all\n'),
  );
  socket = defaultSocketOf(topo.router);
});

after(async () => {
  await topo?.destroy();
});

/** A response line, read before telling an answer from an error. */
interface Reply {
  id: RequestId | null;
  ok: boolean;
  result?: unknown;
  error?: ErrorBody;
}

/** Sends raw bytes on one connection and reads `count` response lines. */
function exchange(data: Buffer | string, count: number): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no ${count} answers; got ${JSON.stringify(buf)}`)), 5000);
    s.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n').filter(Boolean);
      if (lines.length >= count) {
        clearTimeout(timer);
        s.destroy();
        resolve(lines.map((l) => JSON.parse(l) as Reply));
      }
    });
    s.on('error', reject);
    s.write(data);
  });
}

const stillServes = async () => {
  assert.equal(topo.daemon!.exitCode, null, 'the daemon runs');
  assert.equal((await topo.probe(topo.client, 'tcp', '10.2.0.2', '7000', '1000')).ok, true, 'and forwards');
  assert.equal((await ctlJson<ShowInfoResult>(topo.router, 'show', 'info')).rules, 3, 'and answers');
};

test(
  'malformed, oversized and wrong requests get clear errors; the daemon keeps running',
  { skip: skip ?? false },
  async () => {
    const big = Buffer.alloc(200 * 1024, 0x7b);
    const replies = await exchange(
      Buffer.concat([
        Buffer.from('this is not json\n'),
        Buffer.from('{"id":1}\n'),
        big,
        Buffer.from(
          '\n{"id":2,"command":"no such thing"}\n' +
            '{"id":3,"command":"show states","args":{"sort":"colour"}}\n' +
            '{"id":4,"command":"show info"}\n',
        ),
      ]),
      5,
    );
    assert.equal(replies[0].error?.code, 'malformed');
    assert.match(replies[0].error?.message ?? '', /not valid JSON/);
    assert.deepEqual(replies[1], {
      id: 1,
      ok: false,
      error: { code: 'malformed', message: 'the request needs a "command" (a string)' },
    });
    assert.deepEqual(replies[2], {
      id: null,
      ok: false,
      error: { code: 'too-large', message: 'request over 65536 bytes refused' },
    });
    assert.deepEqual(replies[3], {
      id: 2,
      ok: false,
      error: { code: 'unknown-command', message: "unknown command 'no such thing'" },
    });
    assert.equal(replies[4].id, 3);
    assert.equal(replies[4].error?.code, 'bad-args');
    const last = await exchange('{"id":4,"command":"show info"}\n', 1);
    assert.equal(last[0].ok, true);
    await stillServes();
  },
);

test('clients that leave mid-request or before the answer do no harm', { skip: skip ?? false }, async () => {
  for (const data of [
    '{"id":1,"command":"show st',
    '{"id":2,"command":"show states"}\n{"id":3,"command":"show rules"}\n',
    Buffer.alloc(100 * 1024, 0x20),
  ]) {
    const s = connect(socket);
    await new Promise((r) => s.once('connect', r));
    s.write(data);
    s.destroy();
  }
  for (let k = 0; k < 20; k++)
    connect(socket).on('connect', function (this: ReturnType<typeof connect>) {
      this.end('{"id":9,"command":"show info"}\n'); // half-close right after the request
    });
  await sleep(500);
  await stillServes();
  assert.doesNotMatch(topo.daemonLog.join(''), /"level":50|uncaught|EPIPE/i, 'nothing went wrong in the daemon');
});

test(
  'a second daemon in the namespace is refused before it touches the kernel, and says to use --socket',
  { skip: skip ?? false },
  async () => {
    topo.router.exec('ip', 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd1');
    const rules = topo.writeRules('pass all\n', 'second.conf');
    const before_ = topo.routerSnapshot();
    const node = [...(mainPath.endsWith('.ts') ? ['--import', 'tsx'] : []), mainPath];
    const refused = spawn(
      'ip',
      ['netns', 'exec', topo.router.name, process.execPath, ...node, 'run', '-f', rules, '--interfaces', 'd0'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out = await waitForOutput(refused, /served by another tunpf/);
    assert.match(
      out,
      new RegExp(
        `tunpf run: control socket ${socket} is served by another tunpf \\(pid \\d+\\); give this one --socket PATH`,
      ),
    );
    assert.equal(await new Promise((r) => refused.once('exit', r)), 1);
    assert.deepEqual(topo.routerSnapshot(), before_, 'no rule, route or TUN of the refused one');
    await stillServes();
  },
);

test('--socket PATH on both sides', { skip: skip ?? false }, async () => {
  assert.equal(await topo.stopDaemon(), 0);
  const other = join(topo.dir, 'ctl', 'other.sock');
  await topo.startDaemon(topo.writeRules('pass all\n', 'pass.conf'), ['--socket', other]);
  assert.equal((await ctlJson<ShowRulesResult>(topo.router, '--socket', other, 'show', 'rules')).rules.length, 1);
  const r = await ctl(topo.router, 'show', 'rules');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no tunpf daemon is running/);
  const top = await tunpfIn(topo.router, ['top', '--once', '--socket', other]);
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /^tunpf top +.*other\.sock/);
});
