// The native TUN addon in a namespace of its own: a datagram routed into the
// TUN is read back in a batch, and a packet written into the TUN is delivered.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netTestsUnavailable, runInNetns, withNetns } from './helpers/netns.js';

const skip = netTestsUnavailable();

test('TUN: read a routed datagram in a batch, write a reply that gets delivered', { skip: skip ?? false }, async () => {
  await withNetns(1, async (ns) => {
    const r = await runInNetns(ns, 'tun-echo-child');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.error, undefined, r.stdout);
    assert.equal(out.name, 'tpf0');
    assert.equal(out.vnetHdrSize, 10);
    assert.ok((out.offload & 0x07) === 0x07, 'checksum and TSO offload accepted');
    assert.equal(out.read.dst, '10.99.0.2:9999');
    assert.match(out.read.src, /^10\.99\.0\.1:\d+$/);
    assert.equal(out.read.payload, 'ping');
    assert.equal(out.read.length, 10 + 20 + 8 + 4);
    assert.equal(out.written, 1);
    assert.deepEqual(out.reply, { text: 'pong', from: '10.99.0.2:9999' });
  });
});

test('errors carry the errno name and the operation', { skip: skip ?? false }, async () => {
  const { loadNativeAddon } = await import('../../src/os/native-addon.js');
  const native = loadNativeAddon();
  assert.throws(
    () => native.ifconfig('tpf-no-such', 1500, true),
    (e: NodeJS.ErrnoException) =>
      e.code === 'ENODEV' && e.syscall === 'SIOCSIFMTU' && /SIOCSIFMTU tpf-no-such: No such device/.test(e.message),
  );
  assert.throws(
    () => native.readBatch(-1, Buffer.alloc(10), 10, 1, new Uint32Array(1)),
    (e: NodeJS.ErrnoException) => e.code === 'EBADF' && e.syscall === 'read',
  );
  assert.throws(() => native.readBatch(0, Buffer.alloc(10), 10, 2, new Uint32Array(2)), RangeError);
});
