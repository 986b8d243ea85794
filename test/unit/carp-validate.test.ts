// Received advertisements: every check in OpenBSD's order drops and counts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../src/carp/advertisement.js';
import { CarpDrop } from '../../src/carp/constants.js';
import { carpHmac } from '../../src/carp/hmac.js';
import { CarpCounters, validateAdvertisement } from '../../src/carp/validate.js';

const cfg = { vhid: 3, addresses: ['192.0.2.1'], passphrase: 'pw' };
const groups = new Map([[3, { ...cfg, cookie: null as bigint | null }]]);
const withCookie = (cookie: bigint | null) => new Map([[3, { ...cfg, cookie }]]);
const COUNTER = 0x1111222233334444n;

function ad(over: Partial<{ vhid: number; version: number; passphrase: string; counter: bigint }> = {}): Uint8Array {
  const counter = over.counter ?? COUNTER;
  const cbytes = Buffer.alloc(8);
  cbytes.writeBigUInt64BE(counter);
  const hmac = carpHmac({ ...cfg, vhid: over.vhid ?? 3, passphrase: over.passphrase ?? 'pw' }, cbytes);
  return encode({
    version: over.version ?? 2,
    type: 1,
    vhid: over.vhid ?? 3,
    advskew: 0,
    authlen: 7,
    demote: 0,
    advbase: 1,
    counter,
    hmac,
  });
}

test('a good advertisement is accepted', () => {
  const c = new CarpCounters();
  const r = validateAdvertisement(ad(), 255, groups, c);
  assert.equal(r.drop, 0);
  assert.equal(r.ad!.vhid, 3);
  assert.equal(c.accepted, 1);
});

test('each forgery or fault is dropped with its reason and counted', () => {
  const c = new CarpCounters();
  const cases: [number, Uint8Array, number, bigint | null][] = [
    [CarpDrop.BAD_TTL, ad(), 254, null],
    [CarpDrop.BAD_LENGTH, ad().subarray(0, 35), 255, null],
    [
      CarpDrop.BAD_CHECKSUM,
      (() => {
        const b = ad();
        b[5] = 9;
        return b;
      })(),
      255,
      null,
    ],
    [CarpDrop.BAD_VHID, ad({ vhid: 4 }), 255, null],
    [CarpDrop.BAD_VERSION, ad({ version: 3 }), 255, null],
    [CarpDrop.BAD_AUTH, ad({ passphrase: 'wrong' }), 255, null],
    [CarpDrop.OWN_COUNTER, ad(), 255, COUNTER],
  ];
  for (const [code, bytes, ttl, own] of cases)
    assert.equal(validateAdvertisement(bytes, ttl, withCookie(own), c).drop, code);
  for (const [code] of cases) assert.equal(c.dropped[code], 1);
  assert.equal(c.accepted, 0);
  assert.equal(c.received, cases.length);
});

test('trailing bytes after the 36 are ignored', () => {
  const b = new Uint8Array(40);
  b.set(ad());
  assert.equal(validateAdvertisement(b, 255, groups, new CarpCounters()).drop, 0);
});
