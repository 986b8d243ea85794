// TCP header and option parsing, and the TCP codec.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError, TCPFlag } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import * as tcp from '../../src/packet/tcp.js';
import { buildTcp } from '../../src/packet/build.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

// 10.0.0.1:1234 > 10.0.0.2:80 SYN seq 1000 win 64240: mss 1460, sackOK, TS 1/0, nop, wscale 7 (checksums by Python)
const TCP4_SYN = hex(`4500003c 1c464000 40060a74 0a000001 0a000002
  04d20050 000003e8 00000000 a002faf0 30020000 020405b4 0402080a 00000001 00000000 01030307`);

function parse(pkt: Uint8Array): PacketMeta {
  const m = new PacketMeta();
  assert.equal(parsePacket(pkt, 0, pkt.length, m), m.error);
  return m;
}

const base = { src: '192.0.2.1', dst: '198.51.100.2', sport: 40000, dport: 443 };

test('SYN vector: ports, sequence numbers, flags, window and every option', () => {
  const m = parse(TCP4_SYN);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.srcPort, 1234);
  assert.equal(m.dstPort, 80);
  assert.equal(m.seq, 1000);
  assert.equal(m.ack, 0);
  assert.equal(m.tcpFlags, TCPFlag.SYN);
  assert.equal(m.window, 64240);
  assert.equal(m.tcpHeaderLength, 40);
  assert.equal(m.payloadLength, 0);
  assert.equal(m.mss, 1460);
  assert.equal(m.sackPermitted, true);
  assert.equal(m.hasTimestamp, true);
  assert.equal(m.tsVal, 1);
  assert.equal(m.tsEcr, 0);
  assert.equal(m.wscale, 7);
  assert.equal(m.wscaleRaw, 7);
});

test('32-bit fields above 2^31 come out unsigned', () => {
  const m = parse(buildTcp({ ...base, seq: 0xffffffff, ack: 0x80000000, options: { ts: [0xfedcba98, 0x89abcdef] } }));
  assert.equal(m.seq, 0xffffffff);
  assert.equal(m.ack, 0x80000000);
  assert.equal(m.tsVal, 0xfedcba98);
  assert.equal(m.tsEcr, 0x89abcdef);
});

test('all eight flag bits, ECE and CWR included', () => {
  for (let f = 0; f < 256; f++) {
    assert.equal(parse(buildTcp({ ...base, flags: f })).tcpFlags, f);
  }
  const m = parse(buildTcp({ ...base, flags: 'SEW' }));
  assert.equal(m.tcpFlags, TCPFlag.SYN | TCPFlag.ECE | TCPFlag.CWR);
});

test('window scale above 14 is clamped (RFC 7323), the raw value kept', () => {
  const m = parse(buildTcp({ ...base, flags: 'S', options: { wscale: 15 } }));
  assert.equal(m.wscale, 14);
  assert.equal(m.wscaleRaw, 15);
  const none = parse(buildTcp({ ...base, flags: 'S' }));
  assert.equal(none.wscale, -1);
  assert.equal(none.wscaleRaw, -1);
  assert.equal(none.mss, 0);
  assert.equal(none.sackPermitted, false);
  assert.equal(none.hasTimestamp, false);
});

test('timestamps are found in any position, not only after two NOPs', () => {
  const opts: tcp.TcpOption[] = [{ kind: 8, tsVal: 11, tsEcr: 22 }, { kind: 2, mss: 536 }, { kind: 1 }, { kind: 1 }];
  const m = parse(buildTcp({ ...base, options: opts }));
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.tsVal, 11);
  assert.equal(m.tsEcr, 22);
  assert.equal(m.mss, 536);
});

test('unknown options are skipped; known kinds of a wrong length are ignored', () => {
  const opts: tcp.TcpOption[] = [
    { kind: 30, data: hex('0102030405') }, // MPTCP-like
    { kind: 2, data: hex('05') }, // MSS of length 3
    { kind: 3, data: hex('0700') }, // window scale of length 4
    { kind: 4, data: hex('00') }, // SACK-permitted of length 3
    { kind: 8, data: hex('0000000100') }, // timestamps of length 7
    { kind: 3, shift: 2 },
  ];
  const m = parse(buildTcp({ ...base, options: opts }));
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.mss, 0);
  assert.equal(m.sackPermitted, false);
  assert.equal(m.hasTimestamp, false);
  assert.equal(m.wscale, 2);
});

test('end of option list stops the walk: what follows is not parsed', () => {
  // EOL, then bytes that would be a malformed option (kind 2, length 0) if they were read
  const pkt = buildTcp({ ...base, options: [{ kind: 0 }, { kind: 1 }, { kind: 1 }, { kind: 1 }] });
  pkt[20 + 21] = 2;
  pkt[20 + 22] = 0;
  const m = parse(pkt);
  assert.equal(m.error, ParseError.OK);
  assert.equal(m.mss, 0);
});

test('payload length is the segment minus the header, up to 64 KiB (GSO super-packets)', () => {
  const m = parse(buildTcp({ ...base, flags: 'PA', options: { ts: [1, 2] }, payload: new Uint8Array(1000) }));
  assert.equal(m.tcpHeaderLength, 32);
  assert.equal(m.payloadLength, 1000);
  const big = parse(buildTcp({ ...base, flags: 'A', payload: new Uint8Array(65535 - 40) }));
  assert.equal(big.error, ParseError.OK);
  assert.equal(big.totalLength, 65535);
  assert.equal(big.payloadLength, 65535 - 40);
});

test('codec: decode the vector', () => {
  const seg = tcp.decode(TCP4_SYN, 20);
  assert.equal(tcp.decode.bytes, 40);
  assert.equal(seg.srcPort, 1234);
  assert.equal(seg.dstPort, 80);
  assert.equal(seg.seq, 1000);
  assert.equal(seg.dataOffset, 10);
  assert.equal(seg.flags, TCPFlag.SYN);
  assert.equal(seg.window, 64240);
  assert.equal(seg.checksum, 0x3002);
  assert.deepEqual(seg.options, [
    { kind: 2, mss: 1460 },
    { kind: 4 },
    { kind: 8, tsVal: 1, tsEcr: 0 },
    { kind: 1 },
    { kind: 3, shift: 7 },
  ]);
  assert.equal(seg.payload.length, 0);
});

test('codec: encode(decode(x)) is x, including padding and a larger data offset', () => {
  const seg = TCP4_SYN.subarray(20);
  assert.deepEqual(tcp.encode(tcp.decode(seg)), seg);
  const padded = tcp.encode({
    srcPort: 1,
    dstPort: 2,
    dataOffset: 8,
    options: [{ kind: 2, mss: 1200 }, { kind: 0 }],
    payload: hex('aabb'),
  });
  assert.equal(padded.length, 34);
  const d = tcp.decode(padded);
  assert.equal(d.dataOffset, 8);
  assert.deepEqual(d.options, [{ kind: 2, mss: 1200 }, { kind: 0 }]);
  assert.deepEqual(tcp.encode(d), padded);
  assert.deepEqual(
    tcp
      .encode({
        srcPort: 1,
        dstPort: 2,
        options: [
          {
            kind: 5,
            blocks: [
              [1, 2],
              [3, 4],
            ],
          },
        ],
      })
      .subarray(20, 38),
    hex('05 12 00000001 00000002 00000003 00000004'),
  );
});

test('codec: malformed input throws RangeError', () => {
  const seg = TCP4_SYN.slice(20);
  assert.throws(() => tcp.decode(seg, 0, 19), RangeError);
  const badOff = seg.slice();
  badOff[12] = 0x40;
  assert.throws(() => tcp.decode(badOff), RangeError);
  const badOpt = seg.slice();
  badOpt[21] = 1; // MSS length 1
  assert.throws(() => tcp.decode(badOpt), RangeError);
  assert.throws(
    () => tcp.encode({ srcPort: 1, dstPort: 2, dataOffset: 5, options: [{ kind: 2, mss: 1 }] }),
    RangeError,
  );
});

test('flag letters as pf writes them', () => {
  assert.equal(tcp.tcpFlagsFromString('S'), TCPFlag.SYN);
  assert.equal(tcp.tcpFlagsFromString('SA'), TCPFlag.SYN | TCPFlag.ACK);
  assert.equal(tcp.tcpFlagsFromString('AS'), TCPFlag.SYN | TCPFlag.ACK);
  assert.equal(tcp.tcpFlagsFromString('FSRPAUEW'), 0xff);
  assert.equal(tcp.tcpFlagsFromString(''), 0);
  assert.equal(tcp.tcpFlagsFromString('X'), -1);
  assert.equal(tcp.tcpFlagsFromString('SS'), -1);
  assert.equal(tcp.tcpFlagsToString(TCPFlag.SYN | TCPFlag.ACK), 'SA');
  assert.equal(tcp.tcpFlagsToString(0xff), 'FSRPAUEW');
  for (let f = 0; f < 256; f++) assert.equal(tcp.tcpFlagsFromString(tcp.tcpFlagsToString(f)), f);
});
