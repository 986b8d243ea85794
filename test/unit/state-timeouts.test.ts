// Every timeout class expires a state exactly when it should, with a fake clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildIcmpEcho, buildTcp, buildUdp } from '../../src/packet/build.js';
import { DEFAULT_TIMEOUTS } from '../../src/rules/ast.js';
import { Timeout, TimeoutName } from '../../src/state/constants.js';
import { Flow, replyOf, TcpPair } from './helpers/flow.js';

const RULES = 'pass all';

/** After `seconds` idle the state is still there; one second later it is gone. */
function expiresAfter(f: Flow, pkt: Uint8Array, seconds: number): void {
  const start = f.now;
  f.now = start + seconds - 1;
  assert.notEqual(f.states.lookup(parseOf(f, pkt), ANY_DIRECTION, -1, f.now), -1, `still there after ${seconds - 1} s`);
  f.now = start + seconds;
  assert.equal(f.states.lookup(parseOf(f, pkt), ANY_DIRECTION, -1, f.now), -1, `gone after ${seconds} s`);
}

import { ANY_DIRECTION } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
function parseOf(f: Flow, pkt: Uint8Array) {
  parsePacket(pkt, 0, pkt.length, f.meta);
  return f.meta;
}

test('tcp.first, tcp.opening, tcp.established, tcp.closing, tcp.finwait, tcp.closed', () => {
  const stages: [string, (f: Flow, c: TcpPair) => void, number][] = [
    ['tcp.first', (f, c) => f.send(c.c('S')), Timeout.TCP_FIRST],
    [
      'tcp.opening',
      (f, c) => {
        f.send(c.c('S'));
        f.send(c.s('SA'));
      },
      Timeout.TCP_OPENING,
    ],
    [
      'tcp.established',
      (f, c) => {
        f.send(c.c('S'));
        f.send(c.s('SA'));
        f.send(c.c('A'));
      },
      Timeout.TCP_ESTABLISHED,
    ],
    [
      'tcp.closing',
      (f, c) => {
        f.send(c.c('S'));
        f.send(c.s('SA'));
        f.send(c.c('A'));
        f.send(c.c('FA'));
      },
      Timeout.TCP_CLOSING,
    ],
    [
      'tcp.finwait',
      (f, c) => {
        f.send(c.c('S'));
        f.send(c.s('SA'));
        f.send(c.c('A'));
        f.send(c.c('FA'));
        f.send(c.s('FA'));
      },
      Timeout.TCP_FIN_WAIT,
    ],
    [
      'tcp.closed',
      (f, c) => {
        f.send(c.c('S'));
        f.send(c.s('SA'));
        f.send(c.c('A'));
        f.send(c.c('FA'));
        f.send(c.s('FA'));
        f.send(c.c('A'));
      },
      Timeout.TCP_CLOSED,
    ],
  ];
  for (const [name, drive, cls] of stages) {
    const f = new Flow(RULES);
    const c = new TcpPair();
    drive(f, c);
    const i = f.verdict.state >= 0 ? f.verdict.state : 0;
    assert.equal(f.states.table.timeoutClass[i], cls, name);
    expiresAfter(
      f,
      buildTcp({ src: c.client, dst: c.server, sport: c.cport, dport: c.sport, flags: 'A' }),
      DEFAULT_TIMEOUTS[name]!,
    );
  }
});

test('udp.first, udp.single, udp.multiple; icmp.first, icmp.error; other.*', () => {
  const q = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  const a = replyOf(buildUdp({ src: '10.0.0.2', dst: '10.0.0.1', sport: 2, dport: 1 }));
  let f = new Flow(RULES);
  f.send(q);
  expiresAfter(f, q, DEFAULT_TIMEOUTS['udp.first']!);
  f = new Flow(RULES);
  f.send(q);
  f.send(a);
  expiresAfter(f, q, DEFAULT_TIMEOUTS['udp.single']!);
  f = new Flow(RULES);
  f.send(q);
  f.send(a);
  f.send(q);
  expiresAfter(f, q, DEFAULT_TIMEOUTS['udp.multiple']!);
  const ping = buildIcmpEcho({ src: '10.0.0.1', dst: '10.0.0.2', id: 9 });
  f = new Flow(RULES);
  f.send(ping);
  expiresAfter(f, ping, DEFAULT_TIMEOUTS['icmp.first']!);
  f = new Flow(RULES);
  f.send(ping);
  f.send(replyOf(buildIcmpEcho({ src: '10.0.0.2', dst: '10.0.0.1', id: 9, reply: true })));
  expiresAfter(f, ping, DEFAULT_TIMEOUTS['icmp.error']!);
  const gre = (src: string, dst: string) => buildIpRaw(src, dst, 47);
  f = new Flow(RULES);
  f.send(gre('10.0.0.1', '10.0.0.2'));
  expiresAfter(f, gre('10.0.0.1', '10.0.0.2'), DEFAULT_TIMEOUTS['other.first']!);
  f.send(gre('10.0.0.1', '10.0.0.2'));
  f.send(replyOf(gre('10.0.0.2', '10.0.0.1')));
  expiresAfter(f, gre('10.0.0.1', '10.0.0.2'), DEFAULT_TIMEOUTS['other.single']!);
  f.send(gre('10.0.0.1', '10.0.0.2'));
  f.send(replyOf(gre('10.0.0.2', '10.0.0.1')));
  f.send(gre('10.0.0.1', '10.0.0.2'));
  expiresAfter(f, gre('10.0.0.1', '10.0.0.2'), DEFAULT_TIMEOUTS['other.multiple']!);
  assert.equal(TimeoutName.length, 14);
});

import { buildIpPacket } from '../../src/packet/build.js';
function buildIpRaw(src: string, dst: string, protocol: number): Uint8Array {
  return buildIpPacket({ src, dst, protocol, payload: new Uint8Array(8) });
}

test('set timeout and per-rule timeouts override the defaults', () => {
  const q = buildUdp({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2 });
  let f = new Flow('set timeout udp.first 7\npass all');
  f.send(q);
  expiresAfter(f, q, 7);
  f = new Flow('set timeout udp.first 7\npass proto udp all keep state (udp.first 3)');
  f.send(q);
  expiresAfter(f, q, 3);
});

test('adaptive timeouts shrink as the table fills', () => {
  // limit 100: start 60, end 120 by default; at 90 states a 60 s timeout becomes 60 * (120-90)/(120-60) = 30 s
  const f = new Flow('set limit states 100\npass all');
  for (let k = 0; k < 90; k++) f.send(buildUdp({ src: '10.0.0.1', dst: '10.0.1.1', sport: 1000 + k, dport: 53 }));
  const s = f.states;
  assert.equal(s.table.count, 90);
  const i = s.lookup(
    parseOf(f, buildUdp({ src: '10.0.0.1', dst: '10.0.1.1', sport: 1000, dport: 53 })),
    ANY_DIRECTION,
    -1,
    f.now,
  );
  assert.equal(s.expiresIn(i, f.now), 30);
  const g = new Flow('set limit states 100\nset timeout { adaptive.start 10, adaptive.end 110 }\npass all');
  for (let k = 0; k < 60; k++) g.send(buildUdp({ src: '10.0.0.1', dst: '10.0.1.1', sport: 1000 + k, dport: 53 }));
  const j = g.states.lookup(
    parseOf(g, buildUdp({ src: '10.0.0.1', dst: '10.0.1.1', sport: 1000, dport: 53 })),
    ANY_DIRECTION,
    -1,
    g.now,
  );
  assert.equal(g.states.expiresIn(j, g.now), 30, '60 * (110-60)/(110-10)');
});

test('the purge looks at a bounded number of states per tick and gets them all in the end', () => {
  const f = new Flow('pass all');
  for (let k = 0; k < 1000; k++) f.send(buildUdp({ src: '10.0.0.1', dst: '10.0.1.1', sport: 1000 + k, dport: 53 }));
  const s = f.states;
  const later = f.now + 61;
  assert.equal(s.expire(later, 100), 100, 'a tick removes at most its budget');
  let ticks = 1;
  while (s.table.count > 0) {
    assert.ok(s.expire(later, 100) <= 100);
    ticks++;
  }
  assert.equal(ticks, 10);
  assert.equal(s.counters.expired, 1000);
});
