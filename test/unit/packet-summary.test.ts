// The one-line tcpdump-like summary of a parsed packet.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { summarize } from '../../src/packet/summary.js';
import {
  buildIcmpEcho,
  buildIcmpErrorFor,
  buildIpPacket,
  buildTcp,
  buildUdp,
  fragmentPacket,
} from '../../src/packet/build.js';

function line(pkt: Uint8Array): string {
  const m = new PacketMeta();
  parsePacket(pkt, 0, pkt.length, m);
  return summarize(m);
}

test('TCP: endpoints, flags, sequence numbers, window, options and length', () => {
  assert.equal(
    line(buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, seq: 1000, flags: 'S', window: 64240 })),
    '10.0.0.1.1234 > 10.0.0.2.80: tcp S seq 1000 win 64240 len 0',
  );
  assert.equal(
    line(
      buildTcp({
        src: '10.0.0.2',
        dst: '10.0.0.1',
        sport: 80,
        dport: 1234,
        seq: 5,
        ack: 1001,
        flags: 'SA',
        window: 65160,
        options: { mss: 1460, sackOk: true, ts: [7, 8], wscale: 15 },
      }),
    ),
    '10.0.0.2.80 > 10.0.0.1.1234: tcp SA seq 5 ack 1001 win 65160 ' +
      'options [mss 1460,sackOK,TS val 7 ecr 8,wscale 15] len 0',
  );
  assert.equal(
    line(
      buildTcp({
        src: '2001:db8::1',
        dst: '2001:db8::2',
        sport: 1,
        dport: 2,
        flags: 'PA',
        seq: 1,
        ack: 2,
        payload: new Uint8Array(42),
      }),
    ),
    '2001:db8::1.1 > 2001:db8::2.2: tcp PA seq 1 ack 2 win 65535 len 42',
  );
  assert.equal(
    line(buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, flags: 0 })),
    '10.0.0.1.1 > 10.0.0.2.2: tcp none seq 0 win 65535 len 0',
  );
});

test('UDP, ICMP echo, and other protocols', () => {
  assert.equal(
    line(buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 53, dport: 4000, payload: new Uint8Array(30) })),
    '10.0.0.1.53 > 10.0.0.2.4000: udp len 30',
  );
  assert.equal(
    line(buildIcmpEcho({ src: '10.0.0.1', dst: '10.0.0.2', id: 7 })),
    '10.0.0.1 > 10.0.0.2: icmp echo request id 7',
  );
  assert.equal(
    line(buildIcmpEcho({ src: 'fe80::1', dst: 'fe80::2', id: 9, reply: true })),
    'fe80::1 > fe80::2: icmp6 echo reply id 9',
  );
  assert.equal(
    line(buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 112, payload: new Uint8Array(36) })),
    '10.0.0.1 > 10.0.0.2: carp len 36',
  );
  assert.equal(
    line(buildIpPacket({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 253, payload: new Uint8Array(3) })),
    '10.0.0.1 > 10.0.0.2: proto 253 len 3',
  );
});

test('ICMP errors name the packet they quote', () => {
  const udp = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 4000, dport: 53 });
  assert.equal(
    line(buildIcmpErrorFor(udp, { type: 3, code: 3, src: '10.0.0.2' })),
    '10.0.0.2 > 10.0.0.1: icmp unreachable port-unr for udp 10.0.0.1.4000 > 10.0.0.2.53',
  );
  const echo = buildIcmpEcho({ src: '2001:db8::1', dst: '2001:db8::9', id: 5 });
  assert.equal(
    line(buildIcmpErrorFor(echo, { type: 3, code: 0, src: '2001:db8::fe' })),
    '2001:db8::fe > 2001:db8::1: icmp6 time exceeded for icmp6 2001:db8::1 > 2001:db8::9 echo request id 5',
  );
  const short = buildIcmpErrorFor(udp, { type: 11, code: 0, src: '10.0.0.9' }).subarray(0, 52);
  short[3] = 52;
  assert.equal(line(short), '10.0.0.9 > 10.0.0.1: icmp time exceeded for udp 10.0.0.1 > 10.0.0.2 (truncated)');
});

test('fragments are marked', () => {
  const frags = fragmentPacket(
    buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, payload: new Uint8Array(100), ipId: 9 }),
    64,
  );
  assert.equal(line(frags[0]!), '10.0.0.1.1 > 10.0.0.2.2: udp len 100 [frag id 9 off 0+]');
  assert.equal(line(frags[1]!), '10.0.0.1 > 10.0.0.2: udp [frag id 9 off 64]');
});

test('malformed packets say why', () => {
  assert.equal(line(Uint8Array.from([0x55, 0, 0, 0])), 'malformed (bad-version)');
  const bad = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  bad[32] = 0x40; // data offset 4
  assert.equal(line(bad), '10.0.0.1 > 10.0.0.2: tcp malformed (bad-tcp-offset)');
});
