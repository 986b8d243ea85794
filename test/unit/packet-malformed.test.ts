// Every ParseError code, each produced by hand-written byte vectors, and a
// fuzz pass: parsePacket never throws and always reports a known code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError, ParseErrorName } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { buildIcmpErrorFor, buildIcmpEcho, buildTcp, buildUdp, fragmentPacket } from '../../src/packet/build.js';
import { encodeOptionsData } from '../../src/packet/ipv6.js';
import { seededRandom, testSeed } from './helpers/random.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// Header pieces, written out by hand: addresses 10.0.0.1 > 10.0.0.2 and 2001:db8::1 > 2001:db8::2.
const A4 = '0a000001 0a000002';
const A4R = '0a000002 0a000001';
const A6 = '20010db8 00000000 00000000 00000001 20010db8 00000000 00000000 00000002';
const ADDR9 = '20010db8 00000000 00000000 00000009';

const CASES: Array<[number, string, string]> = [
  // [code, what, bytes]
  [ParseError.SHORT, 'empty frame', ''],
  [ParseError.SHORT, 'one byte with version 4', '45'],
  [ParseError.SHORT, '19 bytes of IPv4', `45000014 00000000 40060000 ${A4}`.slice(0, -2)],
  [ParseError.SHORT, '39 bytes of IPv6', `60000000 00003b40 ${A6}`.slice(0, -2)],

  [ParseError.BAD_VERSION, 'version 5', `55000014 00000000 40060000 ${A4}`],
  [ParseError.BAD_VERSION, 'version 0', '00'],
  [ParseError.BAD_VERSION, 'version 15', `f5000014 00000000 40060000 ${A4}`],

  [ParseError.BAD_HEADER_LENGTH, 'IHL 4', `44000014 00000000 40060000 ${A4}`],
  [ParseError.BAD_HEADER_LENGTH, 'IHL 0', `40000014 00000000 40060000 ${A4}`],
  [ParseError.BAD_HEADER_LENGTH, 'IHL 6 with 20 bytes present', `46000018 00000000 40fd0000 ${A4}`],

  [ParseError.BAD_TOTAL_LENGTH, 'IPv4 total length beyond the bytes', `45000030 00000000 40fd0000 ${A4}`],
  [ParseError.BAD_TOTAL_LENGTH, 'IPv4 total length below the header', `45000010 00000000 40fd0000 ${A4}`],
  [
    ParseError.BAD_TOTAL_LENGTH,
    'IPv4 total length 0 (no BIG TCP / GSO beyond 64 KiB)',
    `45000000 00000000 40fd0000 ${A4}`,
  ],
  [
    ParseError.BAD_TOTAL_LENGTH,
    'IPv4 fragment ending past 65535 (ping of death)',
    `4500001c 00001fff 40110000 ${A4} 00000000 00000000`,
  ],
  [ParseError.BAD_TOTAL_LENGTH, 'IPv6 payload length 0 (jumbogram)', `60000000 00003b40 ${A6}`],
  [ParseError.BAD_TOTAL_LENGTH, 'IPv6 payload length beyond the bytes', `60000000 000a3b40 ${A6} 0000`],
  [
    ParseError.BAD_TOTAL_LENGTH,
    'IPv6 fragment ending past 65535',
    `60000000 00182c40 ${A6} 1100fff8 00000001 ${ADDR9}`,
  ],

  [ParseError.BAD_OPTIONS, 'IPv4 option of length 1', `46000018 00000000 40fd0000 ${A4} 07010000`],
  [ParseError.BAD_OPTIONS, 'IPv4 option overrunning the header', `46000018 00000000 40fd0000 ${A4} 07080000`],
  [ParseError.BAD_OPTIONS, 'IPv4 option type in the last byte, no length', `46000018 00000000 40fd0000 ${A4} 01010144`],
  [
    ParseError.BAD_OPTIONS,
    'IPv6 hop-by-hop option overrunning its header',
    `60000000 00080040 ${A6} 3b001e05 00000000`,
  ],
  [
    ParseError.BAD_OPTIONS,
    'IPv6 jumbo payload option (we take no jumbograms)',
    `60000000 00080040 ${A6} 3b00c204 00010000`,
  ],
  [
    ParseError.BAD_OPTIONS,
    'IPv6 destination option overrunning its header',
    `60000000 00083c40 ${A6} 3b000106 00000000`,
  ],

  [ParseError.EXTENSION_CHAIN, 'hop-by-hop longer than the packet', `60000000 00080040 ${A6} 3b010104 00000000`],
  [ParseError.EXTENSION_CHAIN, 'extension header cut below 8 bytes', `60000000 00043c40 ${A6} 3b000104`],
  [ParseError.EXTENSION_CHAIN, 'hop-by-hop not first', `60000000 00103c40 ${A6} 00000104 00000000 3b000104 00000000`],
  [ParseError.EXTENSION_CHAIN, 'two fragment headers', `60000000 00102c40 ${A6} 2c000000 00000001 3b000000 00000001`],
  [ParseError.EXTENSION_CHAIN, 'routing header type 0', `60000000 00182b40 ${A6} 3b020001 00000000 ${ADDR9}`],
  [
    ParseError.EXTENSION_CHAIN,
    'two routing headers',
    `60000000 00302b40 ${A6} 2b020201 00000000 ${ADDR9} 3b020201 00000000 ${ADDR9}`,
  ],
  [
    ParseError.EXTENSION_CHAIN,
    'nine extension headers',
    `60000000 00483c40 ${A6} ${'3c000104 00000000 '.repeat(8)} 3b000104 00000000`,
  ],
  [ParseError.EXTENSION_CHAIN, 'IPv4 AH longer than the packet', `4500001c 00000000 40330000 ${A4} 06040000 00000000`],

  [
    ParseError.SHORT_L4,
    'IPv4 TCP of 19 bytes',
    `45000027 00000000 40060000 ${A4} 04d20050 00000001 00000000 50020000 000000`,
  ],
  [ParseError.SHORT_L4, 'IPv4 UDP of 7 bytes', `4500001b 00000000 40110000 ${A4} 00350035 000800`],
  [ParseError.SHORT_L4, 'IPv4 ICMP of 7 bytes', `4500001b 00000000 40010000 ${A4} 08000000 000100`],
  [ParseError.SHORT_L4, 'IPv6 TCP of 10 bytes', `60000000 000a0640 ${A6} 04d20050 00000001 0000`],
  [ParseError.SHORT_L4, 'IPv6 ICMPv6 of 4 bytes', `60000000 00043a40 ${A6} 80000000`],
  [
    ParseError.SHORT_L4,
    'a first fragment holding 8 bytes of TCP',
    `4500001c 00002000 40060000 ${A4} 04d20050 00000001`,
  ],

  [
    ParseError.BAD_TCP_OFFSET,
    'data offset 4',
    `45000028 00000000 40060000 ${A4} 04d20050 00000001 00000000 40020000 00000000`,
  ],
  [
    ParseError.BAD_TCP_OFFSET,
    'data offset 0',
    `45000028 00000000 40060000 ${A4} 04d20050 00000001 00000000 00020000 00000000`,
  ],
  [
    ParseError.BAD_TCP_OFFSET,
    'data offset 6 in a 20-byte segment',
    `45000028 00000000 40060000 ${A4} 04d20050 00000001 00000000 60020000 00000000`,
  ],

  [
    ParseError.BAD_TCP_OPTIONS,
    'option length 0',
    `4500002c 00000000 40060000 ${A4} 04d20050 00000001 00000000 60020000 00000000 02000000`,
  ],
  [
    ParseError.BAD_TCP_OPTIONS,
    'option length 1',
    `4500002c 00000000 40060000 ${A4} 04d20050 00000001 00000000 60020000 00000000 02010000`,
  ],
  [
    ParseError.BAD_TCP_OPTIONS,
    'option overrunning the header',
    `4500002c 00000000 40060000 ${A4} 04d20050 00000001 00000000 60020000 00000000 080a0000`,
  ],
  [
    ParseError.BAD_TCP_OPTIONS,
    'option kind in the last byte, no length',
    `4500002c 00000000 40060000 ${A4} 04d20050 00000001 00000000 60020000 00000000 01010102`,
  ],

  [ParseError.BAD_UDP_LENGTH, 'UDP length 7', `4500001c 00000000 40110000 ${A4} 00350035 00070000`],
  [ParseError.BAD_UDP_LENGTH, 'UDP length beyond the IP payload', `4500001c 00000000 40110000 ${A4} 00350035 00090000`],
  [ParseError.BAD_UDP_LENGTH, 'IPv6 UDP length 0 (jumbo UDP)', `60000000 00081140 ${A6} 00350035 00000000`],

  [
    ParseError.SHORT_ICMP_INNER,
    'unreachable quoting 10 bytes',
    `45000026 00000000 40010000 ${A4R} 03030000 00000000 45000021 004d0000 3f11`,
  ],
  [ParseError.SHORT_ICMP_INNER, 'unreachable quoting nothing', `4500001c 00000000 40010000 ${A4R} 03030000 00000000`],
  [
    ParseError.SHORT_ICMP_INNER,
    'quoted IHL beyond the quote',
    `45000030 00000000 40010000 ${A4R} 03030000 00000000 46000021 004d0000 3f11677d ${A4}`,
  ],
  [
    ParseError.SHORT_ICMP_INNER,
    'ICMP quoting an IPv6 header',
    `45000044 00000000 40010000 ${A4R} 03030000 00000000 60000000 00081140 ${A6}`,
  ],
  [
    ParseError.SHORT_ICMP_INNER,
    'ICMPv6 error quoting 30 bytes',
    `60000000 00263a40 ${A6} 01040000 00000000 60000000 00081140 20010db8 00000000 00000000 00000001 20010db8 0000`,
  ],
  [
    ParseError.SHORT_ICMP_INNER,
    'ICMPv6 error quoting an IPv4 header',
    `60000000 00243a40 ${A6} 01040000 00000000 45000021 004d0000 3f11677d ${A4} 9c400035 000d0000`,
  ],
];

test('every ParseError code has a vector here', () => {
  const codes = new Set(CASES.map((c) => c[0]));
  for (const [name, code] of Object.entries(ParseError)) {
    if (code === ParseError.OK) continue;
    assert.ok(codes.has(code), `no vector for ${name}`);
  }
  assert.equal(ParseErrorName.length, Object.keys(ParseError).length);
});

for (const [code, what, bytes] of CASES) {
  test(`${ParseErrorName[code]}: ${what}`, () => {
    const pkt = hex(bytes);
    const m = new PacketMeta();
    const rc = parsePacket(pkt, 0, pkt.length, m);
    assert.equal(ParseErrorName[rc], ParseErrorName[code]);
    assert.equal(m.error, code);
    // the same bytes inside a bigger buffer, at an odd offset, with junk around
    const big = new Uint8Array(pkt.length + 20).fill(0xa5);
    big.set(pkt, 9);
    assert.equal(parsePacket(big, 9, pkt.length, m), code);
  });
}

test('the same packets with the defect repaired parse OK (the vectors test what they claim)', () => {
  const m = new PacketMeta();
  const ok = (s: string): number => {
    const p = hex(s);
    return parsePacket(p, 0, p.length, m);
  };
  assert.equal(ok(`45000014 00000000 40fd0000 ${A4}`), ParseError.OK);
  assert.equal(ok(`46000018 00000000 40fd0000 ${A4} 07030400`), ParseError.OK);
  assert.equal(ok(`60000000 00080040 ${A6} 3b001e04 00000000`), ParseError.OK);
  assert.equal(ok(`60000000 00182b40 ${A6} 3b020201 00000000 ${ADDR9}`), ParseError.OK);
  assert.equal(ok(`60000000 00403c40 ${A6} ${'3c000104 00000000 '.repeat(7)} 3b000104 00000000`), ParseError.OK);
  assert.equal(ok(`45000028 00000000 40060000 ${A4} 04d20050 00000001 00000000 50020000 00000000`), ParseError.OK);
  assert.equal(
    ok(`4500002c 00000000 40060000 ${A4} 04d20050 00000001 00000000 60020000 00000000 02040100`),
    ParseError.OK,
  );
  assert.equal(ok(`4500001c 00000000 40110000 ${A4} 00350035 00080000`), ParseError.OK);
  assert.equal(
    ok(`45000030 00000000 40010000 ${A4R} 03030000 00000000 45000021 004d0000 3f11677d ${A4} 9c400035 000d0000`),
    ParseError.OK,
  );
});

test('a length or offset outside the buffer is SHORT / clamped, never a throw', () => {
  const pkt = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, pkt.length, 10, m), ParseError.SHORT);
  assert.equal(parsePacket(pkt, -5, 10, m), ParseError.SHORT);
  assert.equal(parsePacket(pkt, 0, pkt.length + 100, m), ParseError.OK);
  assert.equal(parsePacket(pkt, 0, 0, m), ParseError.SHORT);
});

test('parsing resets the record: nothing stale from the previous packet', () => {
  const m = new PacketMeta();
  const tcp = buildTcp({
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 5,
    dport: 6,
    seq: 7,
    flags: 'S',
    options: { mss: 1400, wscale: 3, ts: [1, 2] },
  });
  const err = buildIcmpErrorFor(tcp, { type: 3, code: 3, src: '10.0.0.2' });
  parsePacket(err, 0, err.length, m);
  assert.equal(m.innerValid, true);
  parsePacket(tcp, 0, tcp.length, m);
  assert.equal(m.innerValid, false);
  assert.equal(m.icmpType, -1);
  assert.equal(m.mss, 1400);
  const v6 = buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2 });
  parsePacket(v6, 0, v6.length, m);
  assert.equal(m.mss, 0);
  assert.equal(m.wscale, -1);
  assert.equal(m.hasTimestamp, false);
  assert.equal(m.tcpFlags, 0);
  parsePacket(tcp, 0, tcp.length, m);
  assert.deepEqual([...m.src], [0x0a000001, 0, 0, 0], 'IPv6 words cleared for IPv4');
  const bad = hex('55');
  parsePacket(bad, 0, 1, m);
  assert.equal(m.af, 0);
  assert.equal(m.srcPort, 0);
});

test('fuzz: mutated and truncated packets never throw and report a known code', () => {
  const seed = testSeed();
  const rand = seededRandom(seed);
  const seeds = [
    buildTcp({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      sport: 1,
      dport: 2,
      flags: 'S',
      options: { mss: 1460, sackOk: true, ts: [1, 2], wscale: 7 },
      ipOptions: hex('07070400 00000000'),
    }),
    buildTcp({
      src: '2001:db8::1',
      dst: '2001:db8::2',
      sport: 1,
      dport: 2,
      extensions: [
        { type: 0, data: encodeOptionsData([{ type: 5, value: new Uint8Array(2) }]) },
        { type: 44, fragmentOffset: 0, more: false, id: 9 },
      ],
    }),
    buildIcmpErrorFor(buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(30) }), {
      type: 3,
      code: 3,
      src: '10.0.0.2',
    }),
    buildIcmpErrorFor(
      buildTcp({
        src: '2001:db8::1',
        dst: '2001:db8::2',
        sport: 1,
        dport: 2,
        extensions: [{ type: 60, data: encodeOptionsData([]) }],
      }),
      { type: 1, code: 4, src: '2001:db8::2' },
    ),
    buildIcmpEcho({ src: '2001:db8::1', dst: '2001:db8::2', id: 3, payload: new Uint8Array(20) }),
    ...fragmentPacket(
      buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', sport: 1, dport: 2, payload: new Uint8Array(100) }),
      48,
    ),
  ];
  const m = new PacketMeta();
  const seen = new Set<number>();
  for (let i = 0; i < 20000; i++) {
    const src = seeds[i % seeds.length]!;
    const pkt = src.slice();
    const flips = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < flips; k++) pkt[Math.floor(rand() * pkt.length)] = Math.floor(rand() * 256);
    const len = rand() < 0.3 ? Math.floor(rand() * (pkt.length + 1)) : pkt.length;
    let rc: number;
    try {
      rc = parsePacket(pkt, 0, len, m);
    } catch (e) {
      assert.fail(
        `seed ${seed}, case ${i}: threw ${String(e)} on ${Buffer.from(pkt.subarray(0, len)).toString('hex')}`,
      );
    }
    assert.equal(rc, m.error, `seed ${seed}, case ${i}`);
    assert.ok(rc >= 0 && rc < ParseErrorName.length, `seed ${seed}, case ${i}: code ${rc}`);
    if (rc === ParseError.OK) {
      assert.ok(m.l4Offset + m.l4Length <= len, `seed ${seed}, case ${i}: L4 beyond the frame`);
      assert.ok(m.l3Offset + m.totalLength <= len, `seed ${seed}, case ${i}: IP length beyond the frame`);
    }
    seen.add(rc);
  }
  assert.ok(seen.size >= 6, `seed ${seed}: the fuzzer reached only codes ${[...seen]}`);
});
