// The control server over a real unix socket (in a private temp folder):
// commands, handler failures as error responses, malformed and oversized
// lines, clients that leave mid-request, permissions and leftovers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandError, ConnectError, ControlClient, requestOnce } from '../../src/control/client.js';
import { z } from 'zod';
import { MAX_REQUEST_BYTES } from '../../src/control/protocol.js';
import { noArgs } from '../../src/control/schemas.js';
import { ControlError, ControlServer } from '../../src/control/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function socketIn(): string {
  return join(mkdtempSync(join(tmpdir(), 'tunpf-ctl-')), 'run', 'control.sock');
}

/** Writes raw bytes on a fresh connection and collects the response lines until `count` arrived. */
function raw(path: string, data: Buffer | string, count: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n').filter(Boolean);
      if (lines.length >= count) {
        s.destroy();
        resolve(lines.map((l) => JSON.parse(l)));
      }
    });
    s.on('error', reject);
    s.write(data);
  });
}

function started(path = socketIn()): ControlServer {
  const server = new ControlServer({ path });
  server.register('echo', z.record(z.unknown()), (a) => a);
  server.register('boom', noArgs, () => {
    throw new Error('kaput');
  });
  server.register('refuse', noArgs, () => {
    throw new ControlError('refused', 'no, because', ['line 1', 'line 2']);
  });
  server.register('slow', noArgs, async () => {
    await sleep(200);
    return { done: true };
  });
  server.listen();
  return server;
}

test('a command answers through the client; the socket is 0600 in a 0700 folder', async () => {
  const server = started();
  try {
    assert.equal(statSync(server.path).mode & 0o777, 0o600);
    assert.equal(statSync(join(server.path, '..')).mode & 0o777, 0o700);
    assert.deepEqual(await requestOnce('echo', { a: [1, 'x'] }, { path: server.path }), { a: [1, 'x'] });
    const list = (
      await requestOnce<{ commands: { name: string }[] }>('commands', {}, { path: server.path })
    ).commands.map((c) => c.name);
    assert.deepEqual(list.sort(), ['boom', 'commands', 'echo', 'refuse', 'slow']);
  } finally {
    server.close();
  }
  assert.equal(existsSync(server.path), false, 'close removes the socket');
  assert.equal(existsSync(`${server.path}.pid`), false);
});

test('handler failures become error responses; the server keeps serving', async () => {
  const server = started();
  const c = await ControlClient.connect({ path: server.path });
  try {
    await assert.rejects(
      c.request('boom'),
      (e: unknown) => e instanceof CommandError && e.code === 'internal' && /boom: kaput/.test(e.message),
    );
    await assert.rejects(
      c.request('refuse'),
      (e: unknown) => e instanceof CommandError && e.code === 'refused' && e.details.join('|') === 'line 1|line 2',
    );
    await assert.rejects(
      c.request('nope'),
      (e: unknown) =>
        e instanceof CommandError && e.code === 'unknown-command' && /unknown command 'nope'/.test(e.message),
    );
    assert.deepEqual(await c.request('echo', { ok: 1 }), { ok: 1 });
  } finally {
    c.close();
    server.close();
  }
});

test('malformed and oversized lines get error responses on the same connection, which goes on', async () => {
  const server = started();
  try {
    const big = Buffer.alloc(MAX_REQUEST_BYTES + 100, 0x61);
    const replies = await raw(
      server.path,
      Buffer.concat([Buffer.from('garbage\n'), big, Buffer.from('\n\n{"id":9,"command":"echo","args":{"x":1}}\n')]),
      3,
    );
    assert.deepEqual(replies[0], {
      id: null,
      ok: false,
      error: { code: 'malformed', message: (replies[0] as { error: { message: string } }).error.message },
    });
    assert.match((replies[0] as { error: { message: string } }).error.message, /not valid JSON/);
    assert.equal((replies[1] as { error: { code: string } }).error.code, 'too-large');
    assert.deepEqual(replies[2], { id: 9, ok: true, result: { x: 1 } });
  } finally {
    server.close();
  }
});

test('a client that leaves mid-request, or before its answer, does no harm', async () => {
  const server = started();
  try {
    for (const data of ['{"id":1,"comm', '{"id":2,"command":"slow"}\n']) {
      const s = connect(server.path);
      await new Promise((r) => s.once('connect', r));
      s.write(data);
      await sleep(20);
      s.destroy();
    }
    await sleep(300); // the slow handler finishes and finds its client gone
    assert.deepEqual(await requestOnce('echo', { still: 'here' }, { path: server.path }), { still: 'here' });
  } finally {
    server.close();
  }
});

test('mutating commands run one at a time, in order', async () => {
  const server = new ControlServer({ path: socketIn() });
  const log: string[] = [];
  let running = 0;
  server.register(
    'mutate',
    z.object({ n: z.number() }),
    async (a) => {
      running++;
      log.push(`start ${a.n} (${running} running)`);
      await sleep(30);
      running--;
      log.push(`end ${a.n}`);
      return a.n;
    },
    { mutating: true },
  );
  server.listen();
  const c = await ControlClient.connect({ path: server.path });
  try {
    assert.deepEqual(await Promise.all([1, 2, 3].map((n) => c.request('mutate', { n }))), [1, 2, 3]);
    assert.deepEqual(log, [
      'start 1 (1 running)',
      'end 1',
      'start 2 (1 running)',
      'end 2',
      'start 3 (1 running)',
      'end 3',
    ]);
  } finally {
    c.close();
    server.close();
  }
  assert.throws(() => server.register('mutate', noArgs, () => 0), /registered twice/);
});

test('an unsafe folder is refused with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-ctl-'));
  chmodSync(dir, 0o777);
  assert.throws(
    () => new ControlServer({ path: join(dir, 'c.sock') }).listen(),
    /control socket not started: .* is world-writable \(mode 777\)/,
  );
  chmodSync(dir, 0o770);
  assert.throws(() => new ControlServer({ path: join(dir, 'c.sock') }).listen(), /is group-writable/);
  const file = join(dir, 'file');
  writeFileSync(file, '');
  assert.throws(() => new ControlServer({ path: join(file, 'c.sock') }).listen(), /not a directory|ENOTDIR|EEXIST/);
});

test("a dead daemon's leftover socket is replaced; a live one's is not", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-ctl-'));
  const path = join(dir, 'c.sock');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, '');
  writeFileSync(`${path}.pid`, '999999999\n');
  const s = started(path);
  assert.deepEqual(await requestOnce('echo', { a: 1 }, { path }), { a: 1 });
  s.close();
  const other = spawn('sleep', ['5']);
  try {
    writeFileSync(path, '');
    writeFileSync(`${path}.pid`, `${other.pid}\n`);
    assert.throws(
      () => new ControlServer({ path }).listen(),
      new RegExp(`served by another tunpf \\(pid ${other.pid}\\)`),
    );
  } finally {
    other.kill();
  }
});

test('the client says clearly when no daemon listens, and times out', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'tunpf-ctl-')), 'none.sock');
  await assert.rejects(
    ControlClient.connect({ path }),
    (e: unknown) => e instanceof ConnectError && e.code === 'no-daemon' && e.message.includes(path),
  );
  const server = new ControlServer({ path: socketIn() });
  server.register('hang', noArgs, () => new Promise(() => {}));
  server.listen();
  try {
    await assert.rejects(
      requestOnce('hang', {}, { path: server.path, timeoutMs: 100 }),
      (e: unknown) => e instanceof ConnectError && e.code === 'timeout',
    );
  } finally {
    server.close();
  }
});
