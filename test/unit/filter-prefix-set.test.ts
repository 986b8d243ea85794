import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrefixSet, type PrefixEntry } from '../../src/filter/prefix-set.js';
import { maskAddress, parseAddress, parsePrefix } from '../../src/packet/address.js';
import { randomSource } from './helpers/random.js';

function entry(text: string): PrefixEntry {
  const neg = text.startsWith('!');
  const p = parsePrefix(neg ? text.slice(1) : text)!;
  return { af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits, neg };
}
const has = (s: PrefixSet, a: string) => {
  const x = parseAddress(a)!;
  return s.contains(x.af, x.words);
};

test('longest prefix decides, negation excludes', () => {
  const s = new PrefixSet(['10.0.0.0/8', '!10.1.0.0/16', '10.1.2.0/24', '192.0.2.7'].map(entry));
  assert.equal(has(s, '10.9.9.9'), true);
  assert.equal(has(s, '10.1.9.9'), false);
  assert.equal(has(s, '10.1.2.200'), true);
  assert.equal(has(s, '192.0.2.7'), true);
  assert.equal(has(s, '192.0.2.8'), false);
  assert.equal(has(s, '11.0.0.0'), false);
  assert.equal(has(s, '9.255.255.255'), false);
});

test('edges of the address space, both families', () => {
  const s = new PrefixSet(
    ['0.0.0.0/1', '255.255.255.255', '::/1', '!::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].map(entry),
  );
  assert.equal(has(s, '0.0.0.0'), true);
  assert.equal(has(s, '127.255.255.255'), true);
  assert.equal(has(s, '128.0.0.0'), false);
  assert.equal(has(s, '255.255.255.255'), true);
  assert.equal(has(s, '::'), true);
  assert.equal(has(s, '::1'), false);
  assert.equal(has(s, '::2'), true);
  assert.equal(has(s, '8000::'), false);
  assert.equal(has(s, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), true);
  assert.equal(new PrefixSet([entry('0.0.0.0/0')]).intervals, 1 + 1);
});

test('an empty set contains nothing', () => {
  const s = new PrefixSet([]);
  assert.equal(has(s, '10.0.0.1'), false);
  assert.equal(has(s, '2001:db8::1'), false);
});

function bruteForce(entries: PrefixEntry[], af: 4 | 6, words: Uint32Array): boolean {
  let best = -1;
  let inside = false;
  for (const e of entries) {
    if (e.af !== af) continue;
    const m = maskAddress(words, e.bits);
    if (m.every((w, i) => w === e.words[i]! >>> 0) && e.bits >= best) {
      best = e.bits;
      inside = !e.neg;
    }
  }
  return inside;
}

test('randomised: agrees with a brute-force longest-prefix match', () => {
  const rnd = randomSource('prefix-set');
  for (let round = 0; round < 40; round++) {
    const entries: PrefixEntry[] = [];
    const n = 1 + Math.floor(rnd() * 60);
    for (let i = 0; i < n; i++) {
      const af: 4 | 6 = rnd() < 0.5 ? 4 : 6;
      // a few short top words so prefixes nest often
      const words = new Uint32Array([
        af === 4 ? (0x0a000000 | (Math.floor(rnd() * 0x3ff) << 14)) >>> 0 : 0x20010db8,
        Math.floor(rnd() * 4),
        0,
        Math.floor(rnd() * 8),
      ]);
      if (af === 4) words.fill(0, 1);
      const bits = af === 4 ? 8 + Math.floor(rnd() * 25) : 32 + Math.floor(rnd() * 97);
      entries.push({ af, words: maskAddress(words, bits), bits, neg: rnd() < 0.3 });
    }
    // later duplicates win, as in the set
    const dedup = new Map<string, PrefixEntry>();
    for (const e of entries) dedup.set(`${e.af}/${Array.from(e.words)}/${e.bits}`, e);
    const set = new PrefixSet(entries);
    for (let k = 0; k < 400; k++) {
      const probe = entries[Math.floor(rnd() * entries.length)]!;
      const words = Uint32Array.from(probe.words);
      const af = probe.af;
      const flip = Math.floor(rnd() * (af === 4 ? 32 : 128));
      if (rnd() < 0.7) words[flip >>> 5] = (words[flip >>> 5]! ^ (1 << (31 - (flip & 31)))) >>> 0;
      assert.equal(
        set.contains(af, words),
        bruteForce([...dedup.values()], af, words),
        `round ${round} probe ${Array.from(words)}`,
      );
    }
  }
});
