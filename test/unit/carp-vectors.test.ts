// CARP against the worked vectors of shared/spec/carp.md §13: a constructed
// advertisement checked byte for byte (IP header included), a real ucarp
// capture, and the multi-address HMACs.

import { test } from 'node:test';
import { FRAME_13_1, hex } from './helpers/carp-vectors.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { decode, encode, checksumValid } from '../../src/carp/advertisement.js';
import { carpHmac, carpHmacValid, checkPassphrase } from '../../src/carp/hmac.js';
import { buildIpPacket } from '../../src/packet/build.js';
import { seededRandom, testSeed } from './helpers/random.js';

test('§13.1: the advertisement and its IPv4 packet, byte for byte', () => {
  const cfg = { vhid: 1, addresses: ['192.0.2.1'], passphrase: 'tunpf-secret' };
  const counter = hex('0123456789abcdef');
  const mac = carpHmac(cfg, counter);
  assert.equal(mac.toString('hex'), 'b9076c5cba769823f23f9e3453d3f336637bfc61');
  const carp = encode({
    version: 2,
    type: 1,
    vhid: 1,
    advskew: 0,
    authlen: 7,
    demote: 0,
    advbase: 1,
    counter: 0x0123456789abcdefn,
    hmac: mac,
  });
  assert.deepEqual(carp, FRAME_13_1.subarray(34));
  const ip = buildIpPacket({
    src: '192.0.2.2',
    dst: '224.0.0.18',
    protocol: 112,
    ttl: 255,
    tos: 0x10,
    ipId: 0x1c46,
    df: true,
    payload: carp,
  });
  assert.deepEqual(ip, FRAME_13_1.subarray(14), 'IPv4 header with checksum bc ea');
  const back = decode(FRAME_13_1, 34);
  assert.deepEqual(
    { vhid: back.vhid, advbase: back.advbase, advskew: back.advskew, checksum: back.checksum, counter: back.counter },
    { vhid: 1, advbase: 1, advskew: 0, checksum: 0x9176, counter: 0x0123456789abcdefn },
  );
});

test('§13.2: a real ucarp advertisement verifies (checksum and HMAC)', () => {
  const carp = hex(
    '21 07 00 07 00 01 06 21 45 1b 10 f5 fa 07 c8 ac 3d 2d 6a 56 71 e7 c6 89 9f d3 26 ec 89 3d 0f 0a 85 08 fc 05',
  );
  assert.equal(checksumValid(carp), true);
  const ad = decode(carp);
  assert.equal(ad.vhid, 7);
  assert.equal(ad.counter, 0x451b10f5fa07c8acn);
  const cfg = { vhid: 7, addresses: ['10.99.0.100'], passphrase: 'secret' };
  assert.equal(carpHmacValid(cfg, carp.subarray(8, 16), ad.hmac), true);
  assert.equal(carpHmacValid({ ...cfg, passphrase: 'secreT' }, carp.subarray(8, 16), ad.hmac), false);
});

test('§13.3: several addresses: the NOV6LL digest, the ORIG digest, an empty passphrase', () => {
  const cfg = {
    vhid: 5,
    addresses: ['192.0.2.10', '10.1.1.1', '2001:db8::1', 'fe80::200:5eff:fe00:105'],
    passphrase: 'tunpf-secret',
  };
  const counter = hex('1122334455667788');
  assert.equal(carpHmac(cfg, counter, false).toString('hex'), '34d8672f8047093010e4fbed473fcdd3d12d9ca3');
  assert.equal(carpHmac(cfg, counter, true).toString('hex'), 'f384ac7521143d2714e2b2d38b5eb8409e80115f');
  assert.equal(
    carpHmac({ ...cfg, passphrase: '' }, counter, false).toString('hex'),
    'd696c196b9fd20058b2e51bce7e66984b0d82bf7',
  );
  // a receiver accepts either context
  assert.equal(carpHmacValid(cfg, counter, hex('f384ac7521143d2714e2b2d38b5eb8409e80115f')), true);
});

test('the HMAC matches openssl computed independently', (t) => {
  const r = spawnSync('openssl', ['dgst', '-sha1', '-hmac', 'tunpf-secret'], {
    input: Buffer.from('020101c000020101234567 89abcdef'.replace(/ /g, ''), 'hex'),
    encoding: 'utf8',
  });
  if (r.error || r.status !== 0) return t.skip('openssl is not available');
  const digest = r.stdout.trim().split(/\s+/).pop();
  assert.equal(
    digest,
    carpHmac({ vhid: 1, addresses: ['192.0.2.1'], passphrase: 'tunpf-secret' }, hex('0123456789abcdef')).toString(
      'hex',
    ),
  );
});

test('passphrases longer than 19 bytes are refused with a reason', () => {
  assert.equal(checkPassphrase('a'.repeat(19)), null);
  assert.match(checkPassphrase('a'.repeat(20))!, /at most 19 bytes .*this one has 20/);
});

test('randomised round trip of the advertisement codec', () => {
  const seed = testSeed();
  const rnd = seededRandom(seed);
  for (let i = 0; i < 500; i++) {
    const ad = {
      version: 2,
      type: 1,
      vhid: 1 + Math.floor(rnd() * 255),
      advskew: Math.floor(rnd() * 256),
      authlen: 7,
      demote: Math.floor(rnd() * 256),
      advbase: Math.floor(rnd() * 256),
      counter: BigInt(Math.floor(rnd() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(rnd() * 2 ** 32)),
      hmac: Uint8Array.from({ length: 20 }, () => Math.floor(rnd() * 256)),
    };
    const bytes = encode(ad);
    assert.equal(checksumValid(bytes), true, `seed ${seed}`);
    const back = decode(bytes);
    assert.deepEqual({ ...back, checksum: 0 }, { ...ad, checksum: 0 });
    assert.deepEqual(encode(back, undefined, 0, true), bytes);
  }
});
