// Address text <-> words: strict parsing, RFC 5952 formatting, prefixes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressEquals,
  formatAddress,
  formatPrefix,
  maskAddress,
  parseAddress,
  parsePrefix,
  prefixMaskWord,
  wordsFromBytes,
  wordsToBytes,
} from '../../src/packet/address.js';

const w = (text: string): number[] => {
  const a = parseAddress(text);
  assert.ok(a, `${text} should parse`);
  return [...a.words];
};

test('IPv4: dotted quads parse into word 0', () => {
  assert.deepEqual(parseAddress('10.0.0.1'), { af: 4, words: Uint32Array.from([0x0a000001, 0, 0, 0]) });
  assert.deepEqual(w('255.255.255.255'), [0xffffffff, 0, 0, 0]);
  assert.deepEqual(w('0.0.0.0'), [0, 0, 0, 0]);
  assert.deepEqual(w('192.168.1.254'), [0xc0a801fe, 0, 0, 0]);
});

test('IPv4: everything else is rejected', () => {
  for (const bad of [
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '1.2.3.-1',
    '01.2.3.4',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1..2.3',
    'a.b.c.d',
    '1.2.3.4/8',
    '0x1.2.3.4',
    '1.2.3.1000',
    '1e2.1.1.1',
  ]) {
    assert.equal(parseAddress(bad), null, JSON.stringify(bad));
  }
});

test('IPv6: the forms RFC 4291 allows', () => {
  assert.deepEqual(w('2001:db8:0:0:1:0:0:1'), [0x20010db8, 0, 0x10000, 1]);
  assert.deepEqual(w('2001:DB8::1'), [0x20010db8, 0, 0, 1]);
  assert.deepEqual(w('::'), [0, 0, 0, 0]);
  assert.deepEqual(w('::1'), [0, 0, 0, 1]);
  assert.deepEqual(w('1::'), [0x10000, 0, 0, 0]);
  assert.deepEqual(w('1:2:3:4:5:6:7::'), [0x10002, 0x30004, 0x50006, 0x70000]);
  assert.deepEqual(w('::2:3:4:5:6:7:8'), [0x2, 0x30004, 0x50006, 0x70008]);
  assert.deepEqual(w('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
  assert.deepEqual(w('::ffff:192.0.2.1'), [0, 0, 0xffff, 0xc0000201]);
  assert.deepEqual(w('64:ff9b::10.0.0.1'), [0x0064ff9b, 0, 0, 0x0a000001]);
  assert.deepEqual(w('1:2:3:4:5:6:1.2.3.4'), [0x10002, 0x30004, 0x50006, 0x01020304]);
  assert.deepEqual(w('0001:0002:0003:0004:0005:0006:0007:0008'), [0x10002, 0x30004, 0x50006, 0x70008]);
  assert.equal(parseAddress('fe80::1')!.af, 6);
});

test('IPv6: malformed text is rejected', () => {
  for (const bad of [
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1::2::3',
    ':::',
    ':1::2',
    '1::2:',
    '12345::',
    'g::1',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1.2.3.4::',
    '::1.2.3',
    '::1.2.3.4.5',
    '::256.1.1.1',
    '1:2:3:4:5:6:7:1.2.3.4',
    'fe80::1%eth0',
    ':',
    '1:',
    ':1',
    '::-1',
    ' ::1',
  ]) {
    assert.equal(parseAddress(bad), null, JSON.stringify(bad));
  }
});

test('IPv6 formatting follows RFC 5952', () => {
  const f = (text: string): string => formatAddress(6, parseAddress(text)!.words);
  assert.equal(f('2001:0db8:0000:0000:0000:0000:0000:0001'), '2001:db8::1'); // 4.1, 4.2.1
  assert.equal(f('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1'); // 4.2.2: one zero group stays
  assert.equal(f('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1'); // 4.2.3: the longest run
  assert.equal(f('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1'); // 4.2.3: the first of equal runs
  assert.equal(f('2001:DB8::ABCD'), '2001:db8::abcd'); // 4.3: lower case
  assert.equal(f('::'), '::');
  assert.equal(f('::1'), '::1');
  assert.equal(f('1::'), '1::');
  assert.equal(f('0:0:1:0:0:0:0:0'), '0:0:1::');
  assert.equal(f('1:0:0:0:0:0:0:0'), '1::');
  assert.equal(f('0:1:0:0:0:0:0:1'), '0:1::1');
  assert.equal(f('::ffff:10.1.2.3'), '::ffff:10.1.2.3'); // 5: IPv4-mapped in mixed notation
  assert.equal(f('::ffff:a01:203'), '::ffff:10.1.2.3');
  assert.equal(f('1:2:3:4:5:6:7:8'), '1:2:3:4:5:6:7:8');
  assert.equal(formatAddress(4, Uint32Array.from([0xc0a80001, 0, 0, 0])), '192.168.0.1');
});

test('randomised: format(parse(x)) is canonical and parse(format(words)) gives the words back', () => {
  const seed = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 0x7fffffff));
  let s = seed || 1;
  const rand = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  for (let i = 0; i < 5000; i++) {
    const af = i % 2 === 0 ? 4 : 6;
    const words = new Uint32Array(4);
    for (let k = 0; k < (af === 4 ? 1 : 4); k++) {
      // plenty of zero groups so '::' placement is exercised
      const r = rand();
      words[k] = r % 3 === 0 ? 0 : r % 3 === 1 ? rand() & 0xffff : rand();
    }
    const text = formatAddress(af, words);
    const back = parseAddress(text);
    assert.ok(back, `seed ${seed}: ${text}`);
    assert.equal(back.af, af);
    assert.deepEqual([...back.words], [...words], `seed ${seed}: ${text}`);
    assert.equal(formatAddress(af, back.words), text);
    if (af === 6) {
      assert.ok(!/(^|:)0[0-9a-f]/.test(text), `leading zero in ${text}`);
      assert.ok(!/::.*::/.test(text), `two '::' in ${text}`);
      // the uncompressed form parses to the same words
      const full = Array.from({ length: 8 }, (_, g) =>
        ((words[g >> 1]! >>> (g % 2 === 0 ? 16 : 0)) & 0xffff).toString(16),
      ).join(':');
      assert.deepEqual([...parseAddress(full)!.words], [...words]);
    }
  }
});

test('prefixes: parse, keep host bits, mask', () => {
  assert.deepEqual(parsePrefix('10.0.0.0/8'), { af: 4, words: Uint32Array.from([0x0a000000, 0, 0, 0]), bits: 8 });
  const p = parsePrefix('10.1.2.3/8')!;
  assert.deepEqual([...p.words], [0x0a010203, 0, 0, 0], 'written address kept');
  assert.deepEqual([...maskAddress(p.words, p.bits)], [0x0a000000, 0, 0, 0]);
  assert.equal(parsePrefix('10.1.2.3')!.bits, 32);
  assert.equal(parsePrefix('2001:db8::1')!.bits, 128);
  assert.equal(parsePrefix('0.0.0.0/0')!.bits, 0);
  assert.equal(parsePrefix('::/0')!.bits, 0);
  const six = parsePrefix('2001:db8:aaaa:bbbb::1/36')!;
  assert.deepEqual([...maskAddress(six.words, six.bits)], [0x20010db8, 0xa0000000, 0, 0]);
  assert.equal(formatPrefix(six.af, maskAddress(six.words, six.bits), six.bits), '2001:db8:a000::/36');
  for (const bad of [
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '/8',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0.0/ 8',
    '10.0.0.0/0x8',
    'x/8',
    '10.0.0.0/1000',
  ]) {
    assert.equal(parsePrefix(bad), null, bad);
  }
});

test('prefix mask words at every length', () => {
  for (let bits = 0; bits <= 128; bits++) {
    const m = [0, 1, 2, 3].map((i) => prefixMaskWord(bits, i));
    const ones = m.reduce((n, x) => n + x.toString(2).replace(/0/g, '').length, 0);
    assert.equal(ones, bits);
    // contiguous from the top
    const bin = m.map((x) => x.toString(2).padStart(32, '0')).join('');
    assert.equal(bin, '1'.repeat(bits) + '0'.repeat(128 - bits));
  }
});

test('words to and from bytes; equality', () => {
  const buf = new Uint8Array(20);
  wordsToBytes(parseAddress('2001:db8::ff00:42:8329')!.words, 6, buf, 2);
  assert.equal(Buffer.from(buf.subarray(2, 18)).toString('hex'), '20010db8000000000000ff0000428329');
  const out = new Uint32Array(4).fill(7);
  wordsFromBytes(buf, 2, 6, out);
  assert.ok(addressEquals(out, parseAddress('2001:db8::ff00:42:8329')!.words));
  wordsToBytes(parseAddress('192.0.2.33')!.words, 4, buf, 0);
  assert.deepEqual([...buf.subarray(0, 4)], [192, 0, 2, 33]);
  wordsFromBytes(buf, 0, 4, out);
  assert.deepEqual([...out], [0xc0000221, 0, 0, 0], 'IPv4 clears words 1..3');
  assert.equal(addressEquals(out, parseAddress('192.0.2.34')!.words), false);
});
