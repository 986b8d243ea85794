// The pflog writer: records as tcpdump reads them, rotation by size, the
// memory bound with its drop count (PflogQueue driven by a fake disk), and
// the file edge: newsyslog-style names, appending, a torn record, failures.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PflogFile, PflogQueue, PflogSyncFile, type PflogOp } from '../../src/log/pflog-writer.js';
import { buildUdp } from '../../src/packet/build.js';
import { PcapReader } from '../../src/packet/pcap.js';
import * as pflog from '../../src/packet/pflog.js';
import { PfAction, PfReason } from '../../src/packet/pflog.js';

const packet = (k: number) => buildUdp({ src: '10.1.0.2', dst: '10.2.0.2', sport: 1000 + k, dport: 53 });
const RECORD = 16 + 100 + packet(0).length; // pcap record header + pflog header + IP
const dir = mkdtempSync(join(tmpdir(), 'tunpf-pflogw-'));

interface Rec {
  time: number;
  sport: number;
  rule: number;
  action: number;
  dir: number;
  ifname: string;
  af: number;
  incl: number;
  orig: number;
}

/** Every record of one pflog file. */
function readPflog(file: Uint8Array): Rec[] {
  const r = new PcapReader(file);
  assert.equal(r.header.linkType, 117);
  const out: Rec[] = [];
  while (r.next()) {
    const h = pflog.decode(file, r.dataOffset);
    const ip = r.dataOffset + pflog.decode.bytes;
    out.push({
      time: r.time,
      sport: (file[ip + 20]! << 8) | file[ip + 21]!,
      rule: h.rulenr,
      action: h.action,
      dir: h.dir,
      ifname: h.ifname,
      af: h.af,
      incl: r.capLength,
      orig: r.origLength,
    });
  }
  return out;
}

/** A fake disk: takes every op, splits the bytes into files at each rotation. */
function drain(q: PflogQueue, files: Uint8Array[][]): void {
  q.seal();
  for (let op: PflogOp | null = q.take(); op !== null; op = q.take()) {
    if (op.rotate) files.push([]);
    else {
      files[files.length - 1]!.push(op.bytes.slice());
      q.release(op);
    }
  }
}

test('records carry rule, action, reason, direction, interface and family; time in microseconds', () => {
  const q = new PflogQueue();
  q.beginFile();
  q.add(1700000000.123456, packet(1), 4, 1, 'lan', 3, PfAction.DROP, PfReason.MATCH);
  q.add(1700000001, packet(2), 6, 2, 'wan', -1, PfAction.PASS, PfReason.MATCH);
  const files: Uint8Array[][] = [[]];
  drain(q, files);
  const recs = readPflog(Buffer.concat(files[0]!));
  assert.deepEqual(
    recs.map((r) => [r.sport, r.rule, r.action, r.dir, r.ifname, r.af]),
    [
      [1001, 3, 1, 1, 'lan', 2],
      [1002, pflog.PFLOG_NO_RULE, 0, 2, 'wan', 24],
    ],
  );
  assert.ok(Math.abs(recs[0]!.time - 1700000000.123456) < 1e-6);
  assert.deepEqual([q.counters.logged, q.counters.written, q.counters.dropped], [2, 2, 0]);
});

test('rotation by size: no file grows beyond the limit, every record lands once, in order', () => {
  const max = 1000;
  const q = new PflogQueue({ maxFileBytes: max, chunkBytes: 4096 });
  q.beginFile();
  const files: Uint8Array[][] = [[]];
  for (let k = 0; k < 40; k++) {
    assert.equal(q.add(1700000000 + k, packet(k), 4, 1, 'lan', 0, 0, 0), true);
    if (k % 7 === 0) drain(q, files); // the disk keeps up now and then
  }
  drain(q, files);
  const perFile = Math.floor((max - 24) / RECORD);
  assert.equal(files.length, Math.ceil(40 / perFile));
  assert.equal(q.counters.rotations, files.length - 1);
  const all = files.flatMap((f) => {
    const bytes = Buffer.concat(f);
    assert.ok(bytes.length <= max, `a file of ${bytes.length} bytes`);
    return readPflog(bytes).map((r) => r.sport - 1000);
  });
  assert.deepEqual(
    all,
    Array.from({ length: 40 }, (_, k) => k),
  );
});

test('a disk that cannot keep up: memory stays bounded, the rest is dropped and counted', () => {
  const q = new PflogQueue({ chunkBytes: 1024, maxBufferedBytes: 2048 });
  q.beginFile();
  let accepted = 0;
  for (let k = 0; k < 100; k++) {
    if (q.add(1, packet(k), 4, 1, 'lan', 0, 0, 0)) accepted++;
    assert.ok(q.buffered <= 2048);
  }
  // chunk 1: the file header and 6 records; chunk 2: 7 records; a third chunk is over the bound
  assert.equal(accepted, Math.floor((1024 - 24) / RECORD) + Math.floor(1024 / RECORD));
  assert.deepEqual([q.counters.logged, q.counters.dropped], [accepted, 100 - accepted]);
  const files: Uint8Array[][] = [[]];
  drain(q, files);
  assert.equal(q.buffered, 0, 'written chunks are free again');
  assert.equal(q.add(2, packet(500), 4, 1, 'lan', 0, 0, 0), true, 'room again once the disk caught up');
  drain(q, files);
  assert.equal(readPflog(Buffer.concat(files[0]!)).length, accepted + 1);
  assert.equal(q.counters.written, accepted + 1);
});

test('snaplen: long packets are cut, the original length kept', () => {
  const q = new PflogQueue({ snaplen: 20 });
  q.beginFile();
  const big = buildUdp({ src: '10.1.0.2', dst: '10.2.0.2', sport: 1, dport: 2, payload: new Uint8Array(1000) });
  q.add(1, big, 4, 1, 'lan', 0, 0, 0);
  const files: Uint8Array[][] = [[]];
  drain(q, files);
  const [r] = readPflog(Buffer.concat(files[0]!));
  assert.deepEqual([r!.incl, r!.orig], [100 + 20, 100 + big.length]);
});

const waitFor = async (f: PflogFile, n: number) => {
  for (let k = 0; k < 200 && f.counters.written < n; k++) await new Promise((r) => setTimeout(r, 5));
};

test('PflogFile: rotation keeps FILE.1 … FILE.N like newsyslog, the oldest goes', async () => {
  const path = join(dir, 'rot.pflog');
  const f = await PflogFile.open(path, { maxFileBytes: 24 + 2 * RECORD, keep: 2 });
  for (let k = 0; k < 9; k++) {
    f.logPacket(1700000000 + k, packet(k), 4, 1, 'lan', k, 0, 0);
    await waitFor(f, k + 1); // one rotation at a time on disk
  }
  await f.close();
  // 9 records, 2 a file: 5 files were made; FILE holds 8, FILE.1 6-7, FILE.2 4-5; 0-3 were rotated away
  const sports = (p: string) => readPflog(new Uint8Array(readFileSync(p))).map((r) => r.sport - 1000);
  assert.deepEqual(sports(path), [8]);
  assert.deepEqual(sports(`${path}.1`), [6, 7]);
  assert.deepEqual(sports(`${path}.2`), [4, 5]);
  assert.equal(existsSync(`${path}.3`), false);
  assert.equal(f.counters.rotations, 4);
});

test('PflogFile: appends to its own file, cuts a torn record, refuses any other file', async () => {
  const path = join(dir, 'append.pflog');
  const a = await PflogFile.open(path);
  a.logPacket(1, packet(1), 4, 1, 'lan', 0, 0, 0);
  a.logPacket(2, packet(2), 4, 1, 'lan', 0, 0, 0);
  await a.close();
  const whole = readFileSync(path);
  writeFileSync(path, whole.subarray(0, whole.length - 10)); // a crash in the middle of the second record
  const b = await PflogFile.open(path);
  b.logPacket(3, packet(3), 6, 2, 'wan', 7, 1, 0);
  await b.close();
  assert.deepEqual(
    readPflog(new Uint8Array(readFileSync(path))).map((r) => [r.sport, r.ifname]),
    [
      [1001, 'lan'],
      [1003, 'wan'],
    ],
  );
  const other = join(dir, 'notes.txt');
  writeFileSync(other, 'precious notes, not a capture\n');
  await assert.rejects(
    PflogFile.open(other),
    /notes\.txt exists and is not a pflog capture tunpf can append to; not touching it/,
  );
  assert.equal(readFileSync(other, 'utf8'), 'precious notes, not a capture\n');
});

test('PflogFile: a failing disk is reported once, later records are counted as dropped', async () => {
  const path = join(dir, 'fail.pflog');
  mkdirSync(`${path}.1`);
  writeFileSync(join(`${path}.1`, 'x'), 'a non-empty directory: rotating onto it fails');
  const errors: Error[] = [];
  const f = await PflogFile.open(path, { maxFileBytes: 24 + RECORD, keep: 1, onError: (e) => errors.push(e) });
  f.logPacket(1, packet(1), 4, 1, 'lan', 0, 0, 0);
  await waitFor(f, 1);
  f.logPacket(2, packet(2), 4, 1, 'lan', 0, 0, 0); // rotates: fails
  for (let k = 0; k < 100 && errors.length === 0; k++) await new Promise((r) => setTimeout(r, 5));
  f.logPacket(3, packet(3), 4, 1, 'lan', 0, 0, 0);
  await f.close();
  assert.equal(errors.length, 1);
  assert.deepEqual([f.counters.written, f.counters.dropped, f.counters.errors], [1, 2, 1]);
});

test('PflogSyncFile: replaces the file, writes every record', () => {
  const path = join(dir, 'sync.pflog');
  writeFileSync(path, 'old');
  const s = new PflogSyncFile(path);
  for (let k = 0; k < 1000; k++) s.logPacket(k, packet(k % 50), 4, 1, 'lan', k, 0, 0);
  s.close();
  const recs = readPflog(new Uint8Array(readFileSync(path)));
  assert.equal(recs.length, 1000);
  assert.deepEqual(
    recs.slice(0, 3).map((r) => r.rule),
    [0, 1, 2],
  );
});

test('PflogFile: an existing file that is full already is rotated before the first record', async () => {
  const path = join(dir, 'full.pflog');
  const a = await PflogFile.open(path);
  for (let k = 0; k < 3; k++) a.logPacket(k, packet(k), 4, 1, 'lan', 0, 0, 0);
  await a.close();
  const b = await PflogFile.open(path, { maxFileBytes: 24 + 2 * RECORD, keep: 1 });
  b.logPacket(9, packet(9), 4, 1, 'lan', 0, 0, 0);
  await b.close();
  const sports = (p: string) => readPflog(new Uint8Array(readFileSync(p))).map((r) => r.sport - 1000);
  assert.deepEqual(sports(`${path}.1`), [0, 1, 2]);
  assert.deepEqual(sports(path), [9]);
});
