// State table: inserts, hits and misses per second and bytes per state at
// 10,000 / 1,000,000 / 10,000,000 IPv4 TCP states, beside a Map keyed by
// strings and an lru-cache doing the same work in the same run.
// Run: npm run bench:state

import { LRUCache } from 'lru-cache';
import { StateTable } from '../src/state/state-table.js';

const SIZES = [10_000, 1_000_000, 10_000_000];
/** The string-keyed baselines need ~150+ bytes a key: they stop at this size. */
const BASELINE_MAX = 1_000_000;
const LOOKUPS = 2_000_000;

// Flow i's key is computed from i, so the benchmark itself reads no memory
// beside the structure under test.
const srcOf = (i: number) => (0x0a000000 | (i & 0xffffff)) >>> 0;
const dstOf = (i: number) => (0xc6336400 | (Math.imul(i, 0x9e3779b1) >>> 24)) >>> 0;
const sportOf = (i: number) => 1024 + ((i >>> 24) & 0xff) * 200 + (Math.imul(i, 0x85ebca6b) >>> 26);
const dportOf = (i: number) => [80, 443, 22, 53][i & 3]!;

function rate(n: number, t0: bigint): number {
  return n / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function heapUsed(): number {
  global.gc?.();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

function benchTable(n: number) {
  const a = new Uint32Array(4);
  const b = new Uint32Array(4);
  const t = new StateTable({ capacity: n, startSeconds: 0 });
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    a[0] = srcOf(i);
    b[0] = dstOf(i);
    if (t.insert(4, 6, a, sportOf(i), b, dportOf(i)) < 0) throw new Error('insert refused');
  }
  const inserts = rate(n, t0);
  let found = 0;
  let x = 12345;
  t0 = process.hrtime.bigint();
  for (let k = 0; k < LOOKUPS; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const i = x % n;
    // half the lookups come from the reply direction
    if (k & 1) {
      a[0] = dstOf(i);
      b[0] = srcOf(i);
      if (t.find(4, 6, a, dportOf(i), b, sportOf(i)) >= 0) found++;
    } else {
      a[0] = srcOf(i);
      b[0] = dstOf(i);
      if (t.find(4, 6, a, sportOf(i), b, dportOf(i)) >= 0) found++;
    }
  }
  const hits = rate(LOOKUPS, t0);
  if (found !== LOOKUPS) throw new Error(`lost states: ${LOOKUPS - found}`);
  // the datapath looks up a batch of packets at once: warm the batch, then find
  const BATCH = 32;
  const hashes = new Uint32Array(BATCH);
  const idx = new Uint32Array(BATCH);
  found = 0;
  let sink = 0;
  t0 = process.hrtime.bigint();
  for (let k = 0; k < LOOKUPS; k += BATCH) {
    for (let j = 0; j < BATCH; j++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const i = (idx[j] = x % n);
      a[0] = srcOf(i);
      b[0] = dstOf(i);
      hashes[j] = t.hash(4, 6, a, 0, sportOf(i), b, 0, dportOf(i));
    }
    sink ^= t.warm(hashes, BATCH);
    for (let j = 0; j < BATCH; j++) {
      const i = idx[j]!;
      a[0] = srcOf(i);
      b[0] = dstOf(i);
      if (t.findHashed(hashes[j]!, 4, 6, a, sportOf(i), b, dportOf(i)) >= 0) found++;
    }
  }
  const batchedHits = rate(LOOKUPS, t0);
  if (found !== LOOKUPS) throw new Error(`lost states in batches: ${LOOKUPS - found}`);
  void sink;
  t0 = process.hrtime.bigint();
  let missed = 0;
  for (let k = 0; k < LOOKUPS; k++) {
    a[0] = 0x0b000000 + k;
    b[0] = 0xc6336401;
    if (t.find(4, 6, a, 1234, b, 80) < 0) missed++;
  }
  const misses = rate(LOOKUPS, t0);
  if (missed !== LOOKUPS) throw new Error('phantom hits');
  return { inserts, hits, misses, bytes: t.memoryBytes / n, batchedHits };
}

function benchMap(n: number, kind: 'map' | 'lru') {
  const before = heapUsed();
  // a string key needs one canonical orientation so both directions find the flow
  const key = (s: number, sp: number, d: number, dp: number) =>
    s < d || (s === d && sp <= dp) ? `4/6/${s}:${sp}/${d}:${dp}` : `4/6/${d}:${dp}/${s}:${sp}`;
  const m = kind === 'map' ? new Map<string, number>() : new LRUCache<string, number>({ max: n });
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) m.set(key(srcOf(i), sportOf(i), dstOf(i), dportOf(i)), i);
  const inserts = rate(n, t0);
  const bytes = (heapUsed() - before) / n;
  let x = 12345;
  let found = 0;
  t0 = process.hrtime.bigint();
  for (let k = 0; k < LOOKUPS; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const i = x % n;
    const hit =
      k & 1
        ? m.get(key(dstOf(i), dportOf(i), srcOf(i), sportOf(i)))
        : m.get(key(srcOf(i), sportOf(i), dstOf(i), dportOf(i)));
    if (hit !== undefined) found++;
  }
  if (found !== LOOKUPS) throw new Error(`${kind}: lost keys`);
  const hits = rate(LOOKUPS, t0);
  t0 = process.hrtime.bigint();
  for (let k = 0; k < LOOKUPS; k++) m.get(key(0x0b000000 + k, 1234, 0xc6336401, 80));
  const misses = rate(LOOKUPS, t0);
  return { inserts, hits, misses, bytes, batchedHits: 0 };
}

const fmt = (r: number) => `${(r / 1e6).toFixed(2)} M/s`.padStart(11);
console.log(`tunpf state-table benchmark (node ${process.version}, one core, ${LOOKUPS / 1e6} M lookups per figure)`);
console.log(
  `${'states'.padStart(11)} ${'structure'.padEnd(16)} ${'inserts'.padStart(11)} ${'hits'.padStart(11)} ` +
    `${'hits/batch'.padStart(11)} ${'misses'.padStart(11)} ${'bytes/state'.padStart(12)}   hits vs Map`,
);
for (const n of SIZES) {
  const t = benchTable(n);
  let mapHits = 0;
  const rows: [string, ReturnType<typeof benchTable>][] = [['StateTable', t]];
  if (n <= BASELINE_MAX) {
    const m = benchMap(n, 'map');
    mapHits = m.hits;
    rows.push(['Map<string>', m], ['lru-cache', benchMap(n, 'lru')]);
  }
  for (const [name, r] of rows) {
    const ratio = mapHits
      ? `${(r.hits / mapHits).toFixed(1)}x${r.batchedHits ? `, batched ${(r.batchedHits / mapHits).toFixed(1)}x` : ''}`
      : '(baselines skipped: over 1M string keys)';
    const batched = r.batchedHits ? fmt(r.batchedHits) : '-'.padStart(11);
    console.log(
      `${n.toLocaleString('en').padStart(11)} ${name.padEnd(16)} ${fmt(r.inserts)} ${fmt(r.hits)} ${batched} ` +
        `${fmt(r.misses)} ${r.bytes.toFixed(1).padStart(12)}   ${ratio}`,
    );
  }
}
