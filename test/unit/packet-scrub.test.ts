// The scrub rewrites of src/packet/scrub.ts: each rewritten packet is compared
// byte for byte with the packet a builder makes with the new value (so every
// checksum is computed from scratch, independently of the incremental update),
// checked against the plain oracle's checksums, and its PacketMeta against a
// fresh parse.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIpPacket, buildTcp, buildUdp, type TcpFields } from '../../src/packet/build.js';
import { clampMss, clearDf, setIpId, setMinTtl, setTos } from '../../src/packet/scrub.js';
import {
  assertChecksums,
  assertMetaInStep,
  completePartial,
  makePartial,
  parsed,
  partialSum,
} from './helpers/rewrite-oracle.js';

const SYN: TcpFields = {
  src: '10.0.0.5',
  dst: '198.51.100.7',
  sport: 51234,
  dport: 443,
  seq: 0x1a2b3c4d,
  flags: 'S',
  ipId: 0x4242,
  df: true,
  options: { mss: 1460, sackOk: true, ts: [123456, 0], wscale: 7 },
};
const SYN6: TcpFields = { ...SYN, src: '2001:db8:1::5', dst: '2001:db8:ff::7' };

test('clampMss: a larger MSS is lowered to the limit, the TCP checksum follows (IPv4 and IPv6)', () => {
  for (const f of [SYN, SYN6]) {
    const pkt = buildTcp(f);
    const m = parsed(pkt);
    assert.equal(clampMss(pkt, m, 1400), true);
    assert.deepEqual(pkt, buildTcp({ ...f, options: { ...f.options, mss: 1400 } }));
    assertChecksums(pkt, 'clamped SYN');
    assertMetaInStep(pkt, m);
    assert.equal(m.mss, 1400);
  }
});

test('clampMss: an MSS at or below the limit, or none, is left alone', () => {
  const pkt = buildTcp(SYN);
  const before = Uint8Array.from(pkt);
  assert.equal(clampMss(pkt, parsed(pkt), 1460), false);
  assert.equal(clampMss(pkt, parsed(pkt), 9000), false);
  assert.deepEqual(pkt, before);
  const none = buildTcp({ ...SYN, options: { sackOk: true } });
  const copy = Uint8Array.from(none);
  assert.equal(clampMss(none, parsed(none), 536), false);
  assert.deepEqual(none, copy);
  const udp = buildUdp({ src: '10.0.0.5', dst: '10.0.0.6', sport: 1, dport: 2 });
  assert.equal(clampMss(udp, parsed(udp), 536), false);
});

test('clampMss: an MSS option at an odd offset (after one NOP) straddles two checksum words', () => {
  const f: TcpFields = {
    ...SYN,
    options: [{ kind: 1 }, { kind: 2, mss: 1460 }, { kind: 1 }, { kind: 1 }, { kind: 1 }],
  };
  const pkt = buildTcp(f);
  const m = parsed(pkt);
  assert.equal(m.mss, 1460);
  assert.equal(clampMss(pkt, m, 1300), true);
  const want = buildTcp({
    ...f,
    options: [{ kind: 1 }, { kind: 2, mss: 1300 }, { kind: 1 }, { kind: 1 }, { kind: 1 }],
  });
  assert.deepEqual(pkt, want);
  assertChecksums(pkt, 'odd MSS');
});

test('clampMss, partial checksum: the field (pseudo-header sum) stays, the device sums the new MSS', () => {
  const pkt = makePartial(buildTcp(SYN));
  const m = parsed(pkt);
  m.checksumPartial = true;
  const sum = partialSum(pkt);
  assert.equal(clampMss(pkt, m, 1400), true);
  assert.equal(partialSum(pkt), sum);
  assert.deepEqual(completePartial(pkt), buildTcp({ ...SYN, options: { ...SYN.options, mss: 1400 } }));
});

test('clearDf: DF cleared with the header checksum following; IPv6 and packets without DF unchanged', () => {
  const pkt = buildTcp(SYN);
  const m = parsed(pkt);
  assert.equal(clearDf(pkt, m), true);
  assert.deepEqual(pkt, buildTcp({ ...SYN, df: false }));
  assertChecksums(pkt, 'no-df');
  assert.equal(clearDf(pkt, parsed(pkt)), false);
  const six = buildTcp(SYN6);
  assert.equal(clearDf(six, parsed(six)), false);
});

test('setMinTtl: raises a lower TTL / hop limit, keeps a higher one', () => {
  const low = buildTcp({ ...SYN, ttl: 3 });
  const m = parsed(low);
  assert.equal(setMinTtl(low, m, 64), true);
  assert.deepEqual(low, buildTcp({ ...SYN, ttl: 64 }));
  assertChecksums(low, 'min-ttl');
  assertMetaInStep(low, m);
  const high = buildTcp({ ...SYN, ttl: 200 });
  assert.equal(setMinTtl(high, parsed(high), 64), false);
  const six = buildTcp({ ...SYN6, ttl: 1 });
  const m6 = parsed(six);
  assert.equal(setMinTtl(six, m6, 32), true);
  assert.deepEqual(six, buildTcp({ ...SYN6, ttl: 32 }));
  assertMetaInStep(six, m6);
});

test('setIpId: a new IPv4 id with the header checksum following; IPv6 has none', () => {
  const pkt = buildTcp(SYN);
  assert.equal(setIpId(pkt, parsed(pkt), 0xbeef), true);
  assert.deepEqual(pkt, buildTcp({ ...SYN, ipId: 0xbeef }));
  assertChecksums(pkt, 'random-id');
  assert.equal(setIpId(pkt, parsed(pkt), 0xbeef), false, 'same id: nothing to do');
  const six = buildTcp(SYN6);
  assert.equal(setIpId(six, parsed(six), 1), false);
});

test('setTos: the TOS / traffic class is set and the ECN bits kept', () => {
  const pkt = buildTcp({ ...SYN, tos: 0x02 }); // ECT(0)
  const m = parsed(pkt);
  assert.equal(setTos(pkt, m, 0x10), true);
  assert.deepEqual(pkt, buildTcp({ ...SYN, tos: 0x12 }));
  assertChecksums(pkt, 'set tos');
  assertMetaInStep(pkt, m);
  const six = buildTcp({ ...SYN6, tos: 0x03, flowLabel: 0xabcde });
  const m6 = parsed(six);
  assert.equal(setTos(six, m6, 0xb8), true);
  assert.deepEqual(six, buildTcp({ ...SYN6, tos: 0xbb, flowLabel: 0xabcde }));
  assertMetaInStep(six, m6);
  assert.equal(setTos(six, parsed(six), 0xb8), false);
});

test('a raw IPv4 packet with options: the header checksum stays right after every IPv4 rewrite', () => {
  const udp = { protocol: 17, payload: Uint8Array.of(0, 1, 0, 2, 0, 8, 0, 0), ipOptions: Uint8Array.of(1, 1, 1, 0) };
  const pkt = buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 2, df: true, ...udp });
  const m = parsed(pkt);
  clearDf(pkt, m);
  setMinTtl(pkt, m, 100);
  setIpId(pkt, m, 0x1234);
  setTos(pkt, m, 0x28);
  assert.deepEqual(pkt, buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', ttl: 100, tos: 0x28, ipId: 0x1234, ...udp }));
});
