// The fragment cache (pf_reassemble, pf_reassemble6) and IPv6 refragmentation
// (pf_refragment6) over hand-made fragments: in order, out of order,
// duplicates, IPv4 overlaps cut as pf cuts them, IPv6 overlaps dropping the
// datagram, contradictions, timeout and limit.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../../src/packet/checksum.js';
import { ipv6FragmentCount, refragmentIpv6 } from '../../src/packet/fragment.js';
import { Direction, PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { PfReason } from '../../src/packet/pflog.js';
import { FragmentCache, FragStep } from '../../src/state/fragment-cache.js';

const LIMIT = 65536;
const TIMEOUT = 60;

function payload(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, k) => (k * 7 + 3) & 0xff);
}

function datagram(af: 4 | 6, size: number, id = 0x4242): Uint8Array {
  const [src, dst] = af === 4 ? ['10.1.0.2', '10.2.0.2'] : ['2001:db8:1::2', '2001:db8:2::2'];
  return buildUdp({ src, dst, sport: 40000, dport: 5000, payload: payload(size), ipId: id });
}

/** Feeds one fragment; returns the step. */
function feed(cache: FragmentCache, frag: Uint8Array, now = 0, limit = LIMIT, dir: Direction = Direction.IN): number {
  const m = new PacketMeta();
  assert.equal(parsePacket(frag, 0, frag.length, m), 0, 'fragment parses');
  assert.ok(m.isFragment);
  return cache.add(m, frag, 0, dir, now, limit, TIMEOUT);
}

function joined(cache: FragmentCache): Uint8Array {
  return cache.out.slice(cache.wholeStart, cache.wholeEnd);
}

/** A copy of an IPv4 fragment with other data bytes (an overlap that disagrees). */
function withData(frag: Uint8Array, fill: number): Uint8Array {
  const f = frag.slice();
  f.fill(fill, (f[0]! & 0x0f) << 2);
  return f;
}

/** An IPv4 fragment of `len` data bytes at `off` (bytes), MF as given, cut from the whole packet `whole`. */
function v4Fragment(whole: Uint8Array, off: number, len: number, more: boolean): Uint8Array {
  const hl = (whole[0]! & 0x0f) << 2;
  const f = new Uint8Array(hl + len);
  f.set(whole.subarray(0, hl));
  f.set(whole.subarray(hl + off, hl + off + len), hl);
  f[2] = (hl + len) >>> 8;
  f[3] = (hl + len) & 0xff;
  const w = (more ? 0x2000 : 0) | (off >>> 3);
  f[6] = w >>> 8;
  f[7] = w & 0xff;
  return f;
}

for (const af of [4, 6] as const) {
  test(`IPv${af}: fragments in order and out of order join into the datagram, byte for byte`, () => {
    const whole = datagram(af, 3000);
    const frags = fragmentPacket(whole, 1000);
    assert.equal(frags.length, 4);
    for (const order of [
      [0, 1, 2, 3],
      [3, 1, 0, 2],
      [2, 3, 1, 0],
    ]) {
      const cache = new FragmentCache(10);
      for (const [k, i] of order.entries()) {
        const step = feed(cache, frags[i]!);
        assert.equal(step, k === order.length - 1 ? FragStep.COMPLETE : FragStep.HELD, `order ${order}`);
      }
      const out = joined(cache);
      if (af === 4) {
        // the joined header: no MF, no offset, a good checksum; the rest as sent
        assert.ok(verifyIpv4HeaderChecksum(out, 0));
        assert.deepEqual(out.subarray(20), whole.subarray(20));
        assert.equal((out[2]! << 8) | out[3]!, whole.length);
        assert.equal((out[6]! << 8) | out[7]!, 0);
      } else assert.deepEqual(out, whole);
      const m = new PacketMeta();
      assert.equal(parsePacket(out, 0, out.length, m), 0);
      assert.equal(m.isFragment, false);
      assert.equal(m.dstPort, 5000);
      assert.ok(verifyL4Checksum(out, 0, m.af, m.proto, m.l4Offset, m.l4Length));
      assert.equal(cache.fragments, 0, 'nothing held once joined');
      assert.equal(cache.counters.reassembled, 1);
      if (af === 6) {
        assert.equal(cache.wholeMaxlen, 1000 & ~7);
        assert.equal(cache.wholeHdrlen, 40);
        assert.equal(cache.wholeId, 0x1234);
      }
    }
  });

  test(`IPv${af}: a duplicate fragment is dropped, the datagram still completes`, () => {
    const frags = fragmentPacket(datagram(af, 2000), 1000);
    const cache = new FragmentCache();
    assert.equal(feed(cache, frags[0]!), FragStep.HELD);
    assert.equal(feed(cache, frags[0]!), FragStep.DROP);
    assert.equal(cache.reason, PfReason.FRAG);
    if (af === 4) {
      // IPv4 keeps what it had
      assert.equal(cache.fragments, 1);
      feed(cache, frags[1]!);
      assert.equal(feed(cache, frags[2]!), FragStep.COMPLETE);
    } else {
      // RFC 5722: the whole datagram goes, later fragments start a new one that never completes
      assert.equal(cache.fragments, 0);
      assert.equal(cache.counters.discarded, 1);
      assert.equal(feed(cache, frags[1]!), FragStep.HELD);
      assert.equal(feed(cache, frags[2]!), FragStep.HELD);
    }
  });

  test(`IPv${af}: a fragment held past timeout frag is dropped with its datagram`, () => {
    const frags = fragmentPacket(datagram(af, 2000), 1000);
    const cache = new FragmentCache();
    assert.equal(feed(cache, frags[0]!, 100), FragStep.HELD);
    assert.equal(feed(cache, frags[1]!, 159), FragStep.HELD);
    // 60 s after the first fragment the datagram is gone: the last fragment starts a new one
    assert.equal(feed(cache, frags[2]!, 160), FragStep.HELD);
    assert.equal(cache.counters.expired, 2);
    assert.equal(cache.fragments, 1);
    cache.expire(220, TIMEOUT);
    assert.equal(cache.fragments, 0);
    assert.equal(cache.pending, 0);
  });
}

test('IPv4: overlaps are cut as pf cuts them, the first data wins', () => {
  const whole = datagram(4, 2392); // 2400 bytes of UDP data
  const a = v4Fragment(whole, 0, 1200, true);
  // 800..2000 over 0..1200: its head (800..1200) is cut off
  const b = withData(v4Fragment(whole, 800, 1200, true), 0xee);
  const bFixed = v4Fragment(whole, 1200, 800, true);
  const c = v4Fragment(whole, 2000, 400, false);
  const cache = new FragmentCache();
  assert.equal(feed(cache, a), FragStep.HELD);
  assert.equal(feed(cache, b), FragStep.HELD);
  // b kept 1200..2000 (0xee); a fragment that covers no more than that is dropped: the data held stays
  assert.equal(feed(cache, bFixed), FragStep.DROP);
  assert.equal(feed(cache, c), FragStep.COMPLETE);
  const out = joined(cache);
  assert.deepEqual(out.subarray(20, 20 + 1200), whole.subarray(20, 20 + 1200));
  assert.ok(out.subarray(20 + 1200, 20 + 2000).every((x) => x === 0xee));
  assert.deepEqual(out.subarray(20 + 2000), whole.subarray(20 + 2000));
});

test('IPv4: a new fragment cuts the head of the one after it and replaces those it covers', () => {
  const whole = datagram(4, 2392);
  const cache = new FragmentCache();
  assert.equal(feed(cache, withData(v4Fragment(whole, 1200, 400, true), 0xee)), FragStep.HELD);
  assert.equal(feed(cache, withData(v4Fragment(whole, 1600, 400, true), 0xdd)), FragStep.HELD);
  // 800..1800 covers the first wholly and the second's head
  assert.equal(feed(cache, v4Fragment(whole, 800, 1000, true)), FragStep.HELD);
  assert.equal(cache.counters.discarded, 1);
  assert.equal(feed(cache, v4Fragment(whole, 0, 800, true)), FragStep.HELD);
  assert.equal(feed(cache, v4Fragment(whole, 2000, 400, false)), FragStep.COMPLETE);
  const out = joined(cache);
  assert.deepEqual(out.subarray(20, 20 + 1800), whole.subarray(20, 20 + 1800));
  assert.ok(out.subarray(20 + 1800, 20 + 2000).every((x) => x === 0xdd));
});

test('IPv6: any overlap drops the whole datagram (RFC 5722)', () => {
  const whole = datagram(6, 2392);
  const frags = fragmentPacket(whole, 1200);
  const shifted = fragmentPacket(whole, 800);
  const cache = new FragmentCache();
  assert.equal(feed(cache, frags[0]!), FragStep.HELD);
  assert.equal(feed(cache, shifted[1]!), FragStep.DROP); // 800.. overlaps 0..1200
  assert.equal(cache.fragments, 0);
  assert.equal(cache.pending, 0);
});

test("fragments that contradict the datagram or pf's bounds are dropped with PFRES_FRAG", () => {
  const whole = datagram(4, 2392);
  const cache = new FragmentCache();
  // MF with a length not a multiple of 8
  assert.equal(feed(cache, v4Fragment(whole, 0, 1001, true)), FragStep.DROP);
  assert.equal(cache.reason, PfReason.FRAG);
  assert.equal(feed(cache, v4Fragment(whole, 0, 1000, true)), FragStep.HELD);
  assert.equal(feed(cache, v4Fragment(whole, 2000, 400, false)), FragStep.HELD);
  // past the end the last fragment set
  assert.equal(feed(cache, v4Fragment(whole, 2400, 8, true)), FragStep.DROP);
  // a second end, before the first
  assert.equal(feed(cache, v4Fragment(whole, 1000, 200, false)), FragStep.DROP);
  assert.equal(cache.counters.badFragments, 3);
  assert.equal(cache.fragments, 2);
});

test('set limit frags: at the limit the oldest datagrams are flushed to 90%; the fragment goes in', () => {
  const cache = new FragmentCache();
  const firsts = Array.from({ length: 20 }, (_, k) => fragmentPacket(datagram(4, 2000, 100 + k), 1000)[0]!);
  for (const f of firsts) assert.equal(feed(cache, f, 0, 20), FragStep.HELD);
  assert.equal(cache.fragments, 20);
  const next = fragmentPacket(datagram(4, 2000, 999), 1000)[0]!;
  assert.equal(feed(cache, next, 0, 20), FragStep.HELD);
  assert.equal(cache.counters.flushed, 2);
  assert.equal(cache.fragments, 19);
  // the flushed were the oldest (ids 100 and 101): 100 starts over, 102 completes
  assert.equal(feed(cache, fragmentPacket(datagram(4, 2000, 100), 1000)[1]!), FragStep.HELD);
  assert.equal(feed(cache, fragmentPacket(datagram(4, 2000, 100), 1000)[2]!), FragStep.HELD);
  assert.equal(feed(cache, fragmentPacket(datagram(4, 2000, 102), 1000)[1]!), FragStep.HELD);
  assert.equal(feed(cache, fragmentPacket(datagram(4, 2000, 102), 1000)[2]!), FragStep.COMPLETE);
});

test('set limit frags 0: nothing can be held, fragments are dropped for memory', () => {
  const cache = new FragmentCache();
  assert.equal(feed(cache, fragmentPacket(datagram(4, 2000), 1000)[0]!, 0, 0), FragStep.DROP);
  assert.equal(cache.reason, PfReason.MEMORY);
  assert.equal(cache.counters.memoryDrops, 1);
});

test('the key: direction, addresses and id apart keep datagrams apart', () => {
  const frags = fragmentPacket(datagram(4, 2000), 1000);
  const other = fragmentPacket(datagram(4, 2000, 0x4343), 1000);
  const cache = new FragmentCache();
  assert.equal(feed(cache, frags[0]!), FragStep.HELD);
  assert.equal(feed(cache, frags[1]!, 0, LIMIT, Direction.OUT), FragStep.HELD);
  assert.equal(feed(cache, other[2]!), FragStep.HELD);
  assert.equal(cache.pending, 3);
  assert.equal(feed(cache, frags[2]!), FragStep.HELD);
  assert.equal(feed(cache, frags[1]!), FragStep.COMPLETE);
});

test('a datagram with more than 64 fragments in one 4096-byte span is dropped whole', () => {
  const whole = datagram(6, 4000);
  const frags = fragmentPacket(whole, 8);
  const cache = new FragmentCache();
  let k = 0;
  for (; k < 64; k++) assert.equal(feed(cache, frags[k]!), FragStep.HELD);
  assert.equal(feed(cache, frags[k]!), FragStep.DROP);
  assert.equal(cache.fragments, 0);
});

test('pf_refragment6: a joined IPv6 datagram is cut back to its largest fragment, same id', () => {
  const whole = datagram(6, 3000);
  const frags = fragmentPacket(whole, 1232, 0xabcdef01);
  const cache = new FragmentCache();
  for (const f of frags.reverse()) feed(cache, f);
  assert.equal(cache.counters.reassembled, 1);
  const len = cache.wholeEnd - cache.wholeStart;
  const count = ipv6FragmentCount(len, cache.wholeHdrlen, cache.wholeMaxlen);
  assert.equal(count, frags.length);
  const headroom = 10;
  const out = new Uint8Array(count * (headroom + cache.wholeHdrlen + 8) + len - cache.wholeHdrlen);
  const offsets = new Uint32Array(count);
  const lengths = new Uint32Array(count);
  const n = refragmentIpv6(
    cache.out,
    cache.wholeStart,
    len,
    cache.wholeHdrlen,
    cache.wholeNxtAt,
    cache.wholeMaxlen,
    cache.wholeId,
    out,
    headroom,
    offsets,
    lengths,
  );
  assert.equal(n, count);
  const again = fragmentPacket(whole, 1232, 0xabcdef01);
  for (let k = 0; k < n; k++)
    assert.deepEqual(out.subarray(offsets[k]! + headroom, offsets[k]! + lengths[k]!), again[k], `fragment ${k}`);
  assert.equal(ipv6FragmentCount(len, 40, 7), -1, 'pf drops what it cannot cut into 8-byte units');
});
