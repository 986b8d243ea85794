// The --pflog options of tunpf run: sizes, limits, and clear refusals (no root needed: they are checked first).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../src/cli/main.js';
import { parseByteSize, pflogSettings } from '../../src/cli/pflog-options.js';

test('sizes with K, M, G suffixes', () => {
  assert.equal(parseByteSize('4096'), 4096);
  assert.equal(parseByteSize('512k'), 512 * 1024);
  assert.equal(parseByteSize('10M'), 10 * 1024 * 1024);
  assert.equal(parseByteSize('1G'), 1024 ** 3);
  assert.equal(parseByteSize('1.5M'), null);
  assert.equal(parseByteSize('-1'), null);
});

test('settings: defaults, and each mistake named', () => {
  assert.equal(pflogSettings({}), null);
  assert.deepEqual(pflogSettings({ pflog: '/var/log/pflog' }), {
    file: '/var/log/pflog',
    maxFileBytes: 10 * 1024 * 1024,
    keep: 3,
  });
  assert.deepEqual(pflogSettings({ pflog: 'f', 'pflog-size': '2M', 'pflog-keep': '0' }), {
    file: 'f',
    maxFileBytes: 2 * 1024 * 1024,
    keep: 0,
  });
  assert.match(String(pflogSettings({ 'pflog-keep': '2' })), /need --pflog FILE/);
  assert.match(String(pflogSettings({ pflog: 'f', 'pflog-size': '100' })), /at least 1K/);
  assert.match(String(pflogSettings({ pflog: 'f', 'pflog-keep': 'many' })), /--pflog-keep must be 0\.\.1000/);
});

test('tunpf run refuses bad --pflog options before touching anything', async () => {
  const err: string[] = [];
  const code = await main(['run', '-f', 'rules.conf', '--interfaces', 'lan', '--pflog', 'x', '--pflog-size', 'lots'], {
    out: () => {},
    err: (t) => err.push(t),
  });
  assert.equal(code, 2);
  assert.match(err.join('\n'), /tunpf run: --pflog-size must be a size/);
});
