// What a killed instance leaves is undone from its run folder: the ip
// journal's undo commands run newest first and the file goes; `tunpf
// cleanup` refuses while a live process holds an interface lock there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanupCommand } from '../../src/cli/cleanup-command.js';
import { lockHolders } from '../../src/daemon/instance-lock.js';
import { IpJournal } from '../../src/os/ip-journal.js';
import type { Kernel } from '../../src/os/kernel.js';

function fakeKernel(fails: string[] = []): { kernel: Kernel; ran: string[] } {
  const ran: string[] = [];
  const kernel = {
    ipQuiet: (...args: string[]) => {
      ran.push(args.join(' '));
      return !fails.includes(args.join(' '));
    },
  } as unknown as Kernel;
  return { kernel, ran };
}

test('the ip journal records each undo once and a dead instance’s is run newest first', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-journal-'));
  const path = join(dir, 'ip-journal.json');
  const j = new IpJournal(path);
  j.record(['link', 'del', 'carp-lan']);
  j.record(['-4', 'route', 'del', '10.5.0.0/24', 'dev', 'lan']);
  j.record(['link', 'del', 'carp-lan']);
  assert.equal((JSON.parse(readFileSync(path, 'utf8')) as unknown[]).length, 2);
  const { kernel, ran } = fakeKernel(['link del carp-lan']);
  assert.deepEqual(IpJournal.recover(kernel, path), ['ip -4 route del 10.5.0.0/24 dev lan']);
  assert.deepEqual(ran, ['-4 route del 10.5.0.0/24 dev lan', 'link del carp-lan']);
  assert.equal(existsSync(path), false);
  assert.deepEqual(IpJournal.recover(kernel, path), [], 'no journal: nothing to do');
  writeFileSync(path, '{"not": "a list"}');
  assert.deepEqual(IpJournal.recover(kernel, path), [], 'a damaged journal runs nothing');
});

test('a clean stop clears the journal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-journal-'));
  const path = join(dir, 'ip-journal.json');
  const j = new IpJournal(path);
  j.record(['link', 'del', 'carp-lan']);
  j.clear();
  assert.equal(existsSync(path), false);
});

test('tunpf cleanup refuses while a live process holds a lock in the run folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunpf-run-'));
  writeFileSync(join(dir, 'lan.pid'), `${process.ppid}\n`);
  writeFileSync(join(dir, 'wan.pid'), '999999999\n');
  assert.deepEqual(
    lockHolders(dir).map((l) => [l.ifname, l.alive]),
    [
      ['lan', true],
      ['wan', false],
    ],
  );
  const out: string[] = [];
  const err: string[] = [];
  const code = cleanupCommand(['--run-dir', dir], { out: (t) => out.push(t), err: (t) => err.push(t) });
  assert.equal(code, 1);
  assert.match(err.join('\n'), new RegExp(`a tunpf instance is running here \\(pid ${process.ppid} filters lan\\)`));
  assert.deepEqual(out, []);
  assert.ok(existsSync(join(dir, 'wan.pid')), 'nothing removed');
});
