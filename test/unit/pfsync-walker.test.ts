// The receiver's walk over a packet's sections (spec §2 rules 4-5, §3.3):
// every drop reason, OpenBSD's skipping rules, longer records than known,
// and random bytes that must never throw or point outside the packet.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePacket, walkPacket, type SectionVisitor } from '../../src/pfsync/codec.js';
import { delC, updC, type StatePeer } from '../../src/pfsync/state-record.js';
import { writeU16 } from '../../src/pfsync/wire.js';
import { PfsyncAction, PfsyncDrop, PfsyncDropName } from '../../src/pfsync/constants.js';
import { randomSource } from './helpers/random.js';

type Section = { action: number; words: number; count: number; body?: Uint8Array };

/** A packet from raw sections; `len` overrides the header's length field, `extra` adds bytes after it. */
function packet(sections: Section[], o: { version?: number; len?: number; extra?: number } = {}): Uint8Array {
  const bodies = sections.map(
    (s) => s.body ?? new Uint8Array(s.words * 4 * s.count).map((_, k) => (k * 7 + s.action) & 0xff),
  );
  const total = 20 + sections.reduce((n, s, k) => n + 4 + bodies[k]!.length, 0);
  const buf = new Uint8Array(total + (o.extra ?? 0)).fill(0x5a);
  buf[0] = o.version ?? 6;
  buf[1] = 0;
  writeU16(buf, 2, o.len ?? total);
  buf.fill(0, 4, 20);
  let at = 20;
  sections.forEach((s, k) => {
    buf[at] = s.action;
    buf[at + 1] = s.words;
    writeU16(buf, at + 2, s.count);
    buf.set(bodies[k]!, at + 4);
    at += 4 + bodies[k]!.length;
  });
  return buf;
}

class Recorder implements SectionVisitor {
  readonly seen: string[] = [];
  section(action: number, _b: Uint8Array, offset: number, stride: number, count: number) {
    this.seen.push(`${action}@${offset}x${stride}*${count}`);
  }
  skipped(action: number, offset: number, stride: number, count: number) {
    this.seen.push(`skip ${action}@${offset}x${stride}*${count}`);
  }
}

function walk(buf: Uint8Array, offset = 0, length = buf.length - offset): { drop: string; seen: string[] } {
  const r = new Recorder();
  const drop = walkPacket(buf, offset, length, r);
  return { drop: PfsyncDropName[drop]!, seen: r.seen };
}

const delCs = (n: number) => ({ action: PfsyncAction.DEL_C, words: 3, count: n });

test('a well-formed packet: every section visited in place', () => {
  const p = packet([delCs(2), { action: PfsyncAction.BUS, words: 3, count: 1 }]);
  assert.deepEqual(walk(p), { drop: 'ok', seen: ['7@24x12*2', '10@52x12*1'] });
});

test('hdrops: fewer than 20 bytes, or an offset outside the buffer', () => {
  assert.equal(walk(new Uint8Array(0)).drop, 'hdrops');
  assert.equal(walk(packet([]).subarray(0, 19)).drop, 'hdrops');
  const p = packet([delCs(1)]);
  assert.equal(walk(p, 0, 19).drop, 'hdrops', 'the length given is what counts');
  assert.equal(walk(p, p.length + 1, 20).drop, 'hdrops');
  assert.equal(walk(p, -1, 20).drop, 'hdrops');
});

test('badver: FreeBSD (5) and anything but 6', () => {
  for (const v of [0, 5, 7, 255]) assert.equal(walk(packet([delCs(1)], { version: v })).drop, 'badver');
});

test('badlen: the header length beyond the bytes present, or below the header itself', () => {
  const p = packet([delCs(1)]);
  assert.equal(walk(packet([delCs(1)], { len: p.length + 1 })).drop, 'badlen');
  assert.equal(walk(p, 0, p.length - 1).drop, 'badlen', 'a truncated read');
  assert.equal(walk(packet([], { len: 19 })).drop, 'badlen');
  assert.equal(walk(packet([], { len: 0 })).drop, 'badlen');
});

test('badlen: a section running past the header length, after the sections before it were handled', () => {
  const p = packet([delCs(1), delCs(3)], { len: 20 + 16 + 4 + 35 });
  assert.deepEqual(walk(p), { drop: 'badlen', seen: ['7@24x12*1'] });
  // the bytes are in the buffer, but beyond len they do not count
  const q = packet([delCs(1), delCs(3)]);
  writeU16(q, 2, q.length - 12);
  assert.equal(walk(q).drop, 'badlen');
  // an unknown section that claims more than there is
  assert.equal(walk(packet([{ action: 99, words: 10, count: 5, body: new Uint8Array(8) }])).drop, 'badlen');
});

test('badact: a section that cannot be skipped (unknown or too short, with count or len 0)', () => {
  assert.equal(walk(packet([{ action: 16, words: 3, count: 0 }])).drop, 'badact');
  assert.equal(walk(packet([{ action: 200, words: 0, count: 4, body: new Uint8Array(0) }])).drop, 'badact');
  assert.equal(
    walk(packet([{ action: PfsyncAction.UPD_C, words: 20, count: 0 }])).drop,
    'badact',
    'too short for UPD_C and count 0',
  );
  assert.equal(
    walk(packet([{ action: PfsyncAction.INS, words: 0, count: 1, body: new Uint8Array(0) }])).drop,
    'badact',
  );
  // what came before is kept
  const p = packet([delCs(1), { action: 77, words: 0, count: 0 }, delCs(1)]);
  assert.deepEqual(walk(p), { drop: 'badact', seen: ['7@24x12*1'] });
});

test('unknown actions and records shorter than known are skipped by len x count, and the walk goes on', () => {
  const p = packet([{ action: 42, words: 2, count: 3 }, { action: PfsyncAction.UPD_C, words: 20, count: 2 }, delCs(1)]);
  assert.deepEqual(walk(p), { drop: 'ok', seen: ['skip 42@24x8*3', 'skip 4@52x80*2', '7@216x12*1'] });
});

test('obsolete actions (OINS, OUPD, INS_F, DEL_F, OTDB) and EOF are skipped, even with len 0', () => {
  for (const a of [
    PfsyncAction.OINS,
    PfsyncAction.OUPD,
    PfsyncAction.INS_F,
    PfsyncAction.DEL_F,
    PfsyncAction.OTDB,
    PfsyncAction.EOF,
  ]) {
    const p = packet([
      { action: a, words: 5, count: 2 },
      { action: a, words: 0, count: 1, body: new Uint8Array(0) },
      delCs(1),
    ]);
    assert.deepEqual(
      walk(p),
      { drop: 'ok', seen: [`skip ${a}@24x20*2`, `skip ${a}@68x0*1`, '7@72x12*1'] },
      `action ${a}`,
    );
  }
});

test('a known action with count 0 is passed over; bytes after len and a short tail are ignored', () => {
  const p = packet([delCs(0), delCs(1)], { extra: 50 });
  writeU16(p, 2, p.length - 50);
  assert.deepEqual(walk(p), { drop: 'ok', seen: ['7@28x12*1'] });
  const q = packet([delCs(1), { action: 0, words: 0, count: 0, body: new Uint8Array(0) }]);
  writeU16(q, 2, q.length - 1); // three bytes of a subheader left: not a subheader
  assert.deepEqual(walk(q), { drop: 'ok', seen: ['7@24x12*1'] });
});

test('longer records than known: handed over with their stride, the known prefix decodes', () => {
  const peer: StatePeer = {
    scrubFlags: 0,
    scrubTtl: 0,
    scrubFlag: 0,
    scrubTsMod: 0,
    seqlo: 5,
    seqhi: 6,
    seqdiff: 0,
    maxWin: 7,
    mss: 0,
    state: 4,
    wscale: 0,
  };
  const rec = (lo: number) =>
    updC.encode({ idHi: 1, idLo: lo, src: peer, dst: peer, creatorid: 9, expire: 0, timeout: 2, stateFlags: 0 });
  const body = new Uint8Array(2 * 92);
  body.set(rec(1), 0);
  body.set(rec(2), 92);
  const p = packet([{ action: PfsyncAction.UPD_C, words: 23, count: 2, body }]);
  const d = decodePacket(p);
  assert.equal(d.drop, PfsyncDrop.OK);
  assert.equal(d.sections[0]!.stride, 92);
  assert.deepEqual(d.sections[0]!.messages, [updC.decode(rec(1)), updC.decode(rec(2))]);
});

test('a visitor without skipped() is only told of handled sections', () => {
  const seen: number[] = [];
  const p = packet([{ action: 42, words: 1, count: 1 }, delCs(1)]);
  assert.equal(walkPacket(p, 0, p.length, { section: (a) => seen.push(a) }), PfsyncDrop.OK);
  assert.deepEqual(seen, [PfsyncAction.DEL_C]);
});

test('random bytes: never a throw, every section inside the packet, decodable', () => {
  const rnd = randomSource('pfsync walker fuzz');
  const known = delC.encode({ idHi: 1, idLo: 2, creatorid: 3 });
  for (let round = 0; round < 3000; round++) {
    const n = (rnd() * 400) | 0;
    const buf = Uint8Array.from({ length: n }, () => (rnd() * 256) | 0);
    // mostly plausible headers, so the walk gets past them
    if (n >= 4 && rnd() < 0.8) {
      buf[0] = 6;
      writeU16(buf, 2, rnd() < 0.7 ? n : (rnd() * 65536) | 0);
    }
    for (let at = 20; at + 4 <= n && rnd() < 0.5; at += 4 + 12) {
      buf[at] = rnd() < 0.7 ? (rnd() * 16) | 0 : (rnd() * 256) | 0;
      buf[at + 1] = rnd() < 0.7 ? 3 : (rnd() * 8) | 0;
      writeU16(buf, at + 2, (rnd() * 3) | 0);
      if (at + 16 <= n) buf.set(known, at + 4);
    }
    const len = n >= 4 ? Math.min(n, (buf[2]! << 8) | buf[3]!) : 0;
    const drop = walkPacket(buf, 0, n, {
      section(action, b, offset, stride, count) {
        assert.ok(offset >= 24 && offset + stride * count <= len, 'inside len');
        decodePacket(b.subarray(0, n)); // and the allocating decoder copes too
        assert.ok(action < 16);
      },
      skipped(_a, offset, stride, count) {
        assert.ok(offset + stride * count <= len);
      },
    });
    assert.ok(drop >= 0 && drop < PfsyncDropName.length);
  }
});
