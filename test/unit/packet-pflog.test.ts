// The pflog header codec: byte vectors that Debian's tcpdump 4.99.3 prints as
// pf would show them (checked again here when tcpdump is installed), a
// randomised round trip of both header forms, and damaged headers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { decodeLinkLayer, LinkType } from '../../src/packet/link-layer.js';
import { PcapWriter } from '../../src/packet/pcap.js';
import * as pflog from '../../src/packet/pflog.js';
import { LINKTYPE_PFLOG, PfAction, PfDirection, PflogAf, PfReason } from '../../src/packet/pflog.js';
import { randomSource } from './helpers/random.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// OpenBSD form (length 100): block in on lan, rule 2, IPv4
const BLOCK_IN_LAN =
  '64' +
  '02' +
  '01' +
  '00' +
  '6c616e00000000000000000000000000' +
  '00'.repeat(16) +
  '00000002' +
  'ffffffff' +
  'ffffffff' +
  'ffffffff' +
  '00000000' +
  'ffffffff' +
  '01' +
  '00' +
  '02' +
  '00' +
  '00'.repeat(36);
// minimal form (length 61, 64 bytes): pass out on wan, rule 7, state-mismatch, IPv6 (af 24)
const PASS_OUT_WAN =
  '3d' +
  '18' +
  '00' +
  '0a' +
  '77616e00000000000000000000000000' +
  '00'.repeat(16) +
  '00000007' +
  'ffffffff' +
  'ffffffff' +
  'ffffffff' +
  '00000000' +
  'ffffffff' +
  '02' +
  '000000';

const blockIn = {
  af: PflogAf.INET,
  action: PfAction.DROP,
  reason: PfReason.MATCH,
  ifname: 'lan',
  rulenr: 2,
  dir: PfDirection.IN,
};
const passOut = {
  length: 61,
  af: PflogAf.INET6,
  action: PfAction.PASS,
  reason: PfReason.BADSTATE,
  ifname: 'wan',
  rulenr: 7,
  dir: PfDirection.OUT,
};

test('vectors: both header forms encode to the bytes tcpdump reads', () => {
  assert.equal(hex(pflog.encode(blockIn)), BLOCK_IN_LAN);
  assert.equal(pflog.encode.bytes, 100);
  assert.equal(hex(pflog.encode(passOut)), PASS_OUT_WAN);
  assert.equal(pflog.encode.bytes, 64);
  const d = pflog.decode(Buffer.from(PASS_OUT_WAN, 'hex'));
  assert.deepEqual(
    [d.length, d.af, d.action, d.reason, d.ifname, d.rulenr, d.subrulenr, d.uid, d.pid, d.dir, d.naf],
    [61, 24, 0, 10, 'wan', 7, pflog.PFLOG_NO_RULE, pflog.PFLOG_NO_UID, -1, 2, 24],
  );
  assert.equal(pflog.decode.bytes, 64);
});

test('tcpdump -n -e prints rule, reason, action, direction and interface of the vectors', (t) => {
  if (spawnSync('tcpdump', ['--version']).error) return t.skip('tcpdump is not installed');
  const ip4 = buildTcp({ src: '10.1.0.2', dst: '10.2.0.2', sport: 40000, dport: 22, flags: 'S', seq: 1000 });
  const ip6 = buildUdp({ src: 'fd02::2', dst: 'fd01::2', sport: 53, dport: 5353, payload: new Uint8Array(4) });
  const parts: Uint8Array[] = [];
  const w = new PcapWriter((b) => parts.push(b), LINKTYPE_PFLOG);
  w.write(1700000000.25, Buffer.concat([Buffer.from(BLOCK_IN_LAN, 'hex'), ip4]));
  w.write(1700000001.5, Buffer.concat([Buffer.from(PASS_OUT_WAN, 'hex'), ip6]));
  const file = join(mkdtempSync(join(tmpdir(), 'tunpf-pflog-')), 'v.pcap');
  writeFileSync(file, Buffer.concat(parts));
  const r = spawnSync('tcpdump', ['-n', '-e', '-tt', '-r', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    '1700000000.250000 rule 2/0(match): block in on lan: ' +
      '10.1.0.2.40000 > 10.2.0.2.22: Flags [S], seq 1000, win 65535, length 0',
    '1700000001.500000 rule 7/10(state-mismatch): pass out on wan: ' +
      'fd02::2.53 > fd01::2.5353: domain [length 4 < 12] (invalid)',
  ]);
});

test('randomised round trip of both header forms', () => {
  const rnd = randomSource('pflog');
  const int = (n: number) => Math.floor(rnd() * n);
  const name = () => Array.from({ length: int(16) }, () => 'abcdefghijklmnopqrstuvwxyz0123456789.-_'[int(39)]).join('');
  for (let k = 0; k < 1000; k++) {
    const openbsd = rnd() < 0.5;
    const h: Required<pflog.PflogHeader> = {
      length: openbsd ? 100 : 61,
      af: int(256),
      action: int(256),
      reason: int(256),
      ifname: name().slice(0, 15),
      ruleset: name().slice(0, 15),
      rulenr: int(2 ** 32),
      subrulenr: int(2 ** 32),
      uid: int(2 ** 32),
      pid: int(2 ** 32) | 0,
      ruleUid: int(2 ** 32),
      rulePid: int(2 ** 32) | 0,
      dir: int(256),
      rewritten: openbsd && rnd() < 0.5,
      naf: int(256),
      saddr: Uint8Array.from({ length: 16 }, () => int(256)),
      daddr: Uint8Array.from({ length: 16 }, () => int(256)),
      sport: int(65536),
      dport: int(65536),
    };
    if (!openbsd)
      Object.assign(h, {
        rewritten: false,
        naf: h.af,
        saddr: new Uint8Array(16),
        daddr: new Uint8Array(16),
        sport: 0,
        dport: 0,
      });
    const at = int(8);
    const buf = Uint8Array.from({ length: at + pflog.encodingLength(h) + int(8) }, () => int(256));
    pflog.encode(h, buf, at);
    assert.equal(pflog.encode.bytes, pflog.encodingLength(h));
    const back = pflog.decode(buf, at);
    assert.equal(pflog.decode.bytes, pflog.encodingLength(h));
    assert.deepEqual(
      { ...back, saddr: [...back.saddr], daddr: [...back.daddr] },
      { ...h, saddr: [...h.saddr], daddr: [...h.daddr] },
    );
  }
});

test('bad headers are refused with a reason', () => {
  assert.throws(() => pflog.decode(new Uint8Array(0)), /empty/);
  assert.throws(() => pflog.decode(Uint8Array.of(45, ...new Uint8Array(63))), /header length 45 \(61\.\.100\)/);
  assert.throws(
    () => pflog.decode(Buffer.from(BLOCK_IN_LAN, 'hex').subarray(0, 80)),
    /header of 100 bytes, 80 present/,
  );
  assert.throws(
    () => pflog.encode({ ...blockIn, ifname: 'a-name-of-16-chr' }),
    /interface name 'a-name-of-16-chr' longer than 15 bytes/,
  );
  assert.throws(() => pflog.encode({ ...blockIn, length: 69 }), /header length 69/);
  // a FreeBSD header (length 69): the shared fields are read, the wire length is rounded up
  const fbsd = new Uint8Array(72);
  fbsd.set(Buffer.from(PASS_OUT_WAN, 'hex'));
  fbsd[0] = 69;
  assert.equal(pflog.decode(fbsd).ifname, 'wan');
  assert.equal(pflog.decode.bytes, 72);
});

test('replay reads pflog frames: the IP packet after the header, direction and interface from it', () => {
  const ip = buildUdp({ src: '10.1.0.2', dst: '10.2.0.2', sport: 1, dport: 2 });
  for (const [head, at, dir, ifname] of [
    [BLOCK_IN_LAN, 100, 'in', 'lan'],
    [PASS_OUT_WAN, 64, 'out', 'wan'],
  ] as const) {
    const frame = Buffer.concat([Buffer.from(head, 'hex'), ip]);
    const l = decodeLinkLayer(LinkType.PFLOG, frame, 0, frame.length);
    assert.deepEqual([l.ipOffset, l.direction, l.ifname], [at, dir, ifname]);
  }
  const ipx = Buffer.from(BLOCK_IN_LAN, 'hex');
  ipx[1] = 23; // AF_IPX
  assert.match(decodeLinkLayer(LinkType.PFLOG, ipx, 0, ipx.length).reason, /not IP \(address family 23\)/);
  assert.match(decodeLinkLayer(LinkType.PFLOG, Uint8Array.of(61), 0, 1).reason, /header of 64 bytes, 1 present/);
});
