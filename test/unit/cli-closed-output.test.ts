// A reader that closes our stdout (`tunpf check -v FILE | head -1`): the
// command ends quietly with no EPIPE stack trace; a command holding the
// system stops as on SIGTERM.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { endQuietlyWhenClosed } from '../../src/cli/closed-output.js';

const compiled = import.meta.url.endsWith('.js');
const mainPath = fileURLToPath(new URL(`../../src/cli/main.${compiled ? 'js' : 'ts'}`, import.meta.url));

test('check -v into a reader that leaves after one chunk: exit 0, nothing on stderr', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tunpf-epipe-')), 'big.conf');
  const rules = [];
  for (let k = 0; k < 20_000; k++)
    rules.push(`pass in on lan proto tcp from 10.0.${k >> 8}.${k & 255} to port ${k + 1}`);
  writeFileSync(file, rules.join('\n') + '\n');
  const p = spawn(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), mainPath, 'check', '-v', '-q', file]);
  let stderr = '';
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  p.stdout.once('data', () => p.stdout.destroy());
  const code = await new Promise((r) => p.on('close', r));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

function fakeProcess(): NodeJS.Process & { exited: number | null } {
  const proc = new EventEmitter() as unknown as NodeJS.Process & { exited: number | null };
  proc.exited = null;
  proc.exit = ((code: number) => {
    proc.exited = code;
  }) as never;
  return proc;
}

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });

test('a closed output exits once; with a SIGTERM handler it stops through it instead', () => {
  const plain = fakeProcess();
  const out = new PassThrough();
  endQuietlyWhenClosed(out, plain);
  out.emit('error', epipe());
  out.emit('error', epipe());
  assert.equal(plain.exited, 0);

  const daemon = fakeProcess();
  let stops = 0;
  daemon.on('SIGTERM', () => stops++);
  const log = new PassThrough();
  endQuietlyWhenClosed(log, daemon);
  log.emit('error', epipe());
  log.emit('error', epipe());
  assert.equal(stops, 1);
  assert.equal(daemon.exited, null);

  const other = new PassThrough();
  endQuietlyWhenClosed(other, fakeProcess());
  assert.throws(() => other.emit('error', Object.assign(new Error('disk full'), { code: 'ENOSPC' })), /disk full/);
});
