// Micro-benchmark: parsePacket on a TCP segment (IPv4 and IPv6, with the
// timestamp option every established Linux connection carries), beside
// baselines measured in the same run on the same bytes:
//  - naive: a DataView per packet and a fresh result object (the obvious code);
//  - minimal/DataView and minimal/bytes: the same reduced IPv4+TCP parse (no
//    fragments, IP options or ICMP) into the reusable PacketMeta, reading
//    through one DataView per buffer or with byte reads, to show what the read
//    style alone costs.
// Run: node --import tsx bench/parse.bench.ts   (or the built dist/bench/parse.bench.js)

import { buildTcp } from '../src/packet/build.js';
import { PacketMeta } from '../src/packet/meta.js';
import { parsePacket } from '../src/packet/parse.js';

const ROUND_MS = 300;
const ROUNDS = 7;

// A batch buffer as the datapath sees it: many frames back to back, read in turn.
function batch(pkt: Uint8Array, count: number): { buf: Uint8Array; offsets: Int32Array; lengths: Int32Array } {
  const buf = new Uint8Array(pkt.length * count);
  const offsets = new Int32Array(count);
  const lengths = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    buf.set(pkt, i * pkt.length);
    offsets[i] = i * pkt.length;
    lengths[i] = pkt.length;
  }
  return { buf, offsets, lengths };
}

interface NaiveResult {
  af: number;
  src: number;
  dst: number;
  proto: number;
  ttl: number;
  totalLength: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  payloadLength: number;
  tsVal: number;
  tsEcr: number;
  mss: number;
  wscale: number;
  error: number;
}

/** The obvious parser: DataView per packet, object per packet; IPv4 + TCP only. */
function naiveParse(buf: Uint8Array, offset: number, length: number): NaiveResult {
  const dv = new DataView(buf.buffer, buf.byteOffset + offset, length);
  const r: NaiveResult = {
    af: 0,
    src: 0,
    dst: 0,
    proto: 0,
    ttl: 0,
    totalLength: 0,
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    payloadLength: 0,
    tsVal: 0,
    tsEcr: 0,
    mss: 0,
    wscale: -1,
    error: 0,
  };
  if (length < 20) {
    r.error = 1;
    return r;
  }
  const vhl = dv.getUint8(0);
  if (vhl >> 4 !== 4) {
    r.error = 2;
    return r;
  }
  const hl = (vhl & 15) * 4;
  const tot = dv.getUint16(2);
  if (hl < 20 || tot < hl || tot > length) {
    r.error = 4;
    return r;
  }
  r.af = 4;
  r.totalLength = tot;
  r.ttl = dv.getUint8(8);
  r.proto = dv.getUint8(9);
  r.src = dv.getUint32(12);
  r.dst = dv.getUint32(16);
  if (r.proto !== 6) return r;
  const t = hl;
  if (tot - t < 20) {
    r.error = 7;
    return r;
  }
  r.srcPort = dv.getUint16(t);
  r.dstPort = dv.getUint16(t + 2);
  r.seq = dv.getUint32(t + 4);
  r.ack = dv.getUint32(t + 8);
  const thl = (dv.getUint8(t + 12) >> 4) * 4;
  r.flags = dv.getUint8(t + 13);
  r.window = dv.getUint16(t + 14);
  if (thl < 20 || thl > tot - t) {
    r.error = 8;
    return r;
  }
  r.payloadLength = tot - t - thl;
  for (let p = t + 20; p < t + thl;) {
    const kind = dv.getUint8(p);
    if (kind === 0) break;
    if (kind === 1) {
      p++;
      continue;
    }
    const olen = dv.getUint8(p + 1);
    if (olen < 2 || p + olen > t + thl) {
      r.error = 9;
      return r;
    }
    if (kind === 2 && olen === 4) r.mss = dv.getUint16(p + 2);
    else if (kind === 3 && olen === 3) r.wscale = Math.min(dv.getUint8(p + 2), 14);
    else if (kind === 8 && olen === 10) {
      r.tsVal = dv.getUint32(p + 2);
      r.tsEcr = dv.getUint32(p + 6);
    }
    p += olen;
  }
  return r;
}

/** A reduced IPv4+TCP parse into the reusable PacketMeta, through one DataView per buffer. */
function minimalDataView(dv: DataView, offset: number, length: number, m: PacketMeta): number {
  m.reset();
  if (length < 20) return (m.error = 1);
  const vhl = dv.getUint8(offset);
  if (vhl >> 4 !== 4) return (m.error = 2);
  const hl = (vhl & 15) * 4;
  const tot = dv.getUint16(offset + 2);
  if (hl < 20 || tot < hl || tot > length) return (m.error = 4);
  m.af = 4;
  m.totalLength = tot;
  m.ttl = dv.getUint8(offset + 8);
  m.proto = dv.getUint8(offset + 9);
  m.src[0] = dv.getUint32(offset + 12);
  m.dst[0] = dv.getUint32(offset + 16);
  if (m.proto !== 6) return 0;
  const t = offset + hl;
  if (tot - hl < 20) return (m.error = 7);
  m.srcPort = dv.getUint16(t);
  m.dstPort = dv.getUint16(t + 2);
  m.seq = dv.getUint32(t + 4);
  m.ack = dv.getUint32(t + 8);
  const thl = (dv.getUint8(t + 12) >> 4) * 4;
  m.tcpFlags = dv.getUint8(t + 13);
  m.window = dv.getUint16(t + 14);
  if (thl < 20 || thl > tot - hl) return (m.error = 8);
  m.payloadLength = tot - hl - thl;
  for (let p = t + 20; p < t + thl;) {
    const kind = dv.getUint8(p);
    if (kind === 0) break;
    if (kind === 1) {
      p++;
      continue;
    }
    const olen = dv.getUint8(p + 1);
    if (olen < 2 || p + olen > t + thl) return (m.error = 9);
    if (kind === 2 && olen === 4) m.mss = dv.getUint16(p + 2);
    else if (kind === 3 && olen === 3) m.wscale = Math.min(dv.getUint8(p + 2), 14);
    else if (kind === 8 && olen === 10) {
      m.hasTimestamp = true;
      m.tsVal = dv.getUint32(p + 2);
      m.tsEcr = dv.getUint32(p + 6);
    }
    p += olen;
  }
  return 0;
}

function r16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function r32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** minimalDataView with byte reads. */
function minimalBytes(b: Uint8Array, offset: number, length: number, m: PacketMeta): number {
  m.reset();
  if (length < 20) return (m.error = 1);
  const vhl = b[offset]!;
  if (vhl >> 4 !== 4) return (m.error = 2);
  const hl = (vhl & 15) * 4;
  const tot = r16(b, offset + 2);
  if (hl < 20 || tot < hl || tot > length) return (m.error = 4);
  m.af = 4;
  m.totalLength = tot;
  m.ttl = b[offset + 8]!;
  m.proto = b[offset + 9]!;
  m.src[0] = r32(b, offset + 12);
  m.dst[0] = r32(b, offset + 16);
  if (m.proto !== 6) return 0;
  const t = offset + hl;
  if (tot - hl < 20) return (m.error = 7);
  m.srcPort = r16(b, t);
  m.dstPort = r16(b, t + 2);
  m.seq = r32(b, t + 4);
  m.ack = r32(b, t + 8);
  const thl = (b[t + 12]! >> 4) * 4;
  m.tcpFlags = b[t + 13]!;
  m.window = r16(b, t + 14);
  if (thl < 20 || thl > tot - hl) return (m.error = 8);
  m.payloadLength = tot - hl - thl;
  for (let p = t + 20; p < t + thl;) {
    const kind = b[p]!;
    if (kind === 0) break;
    if (kind === 1) {
      p++;
      continue;
    }
    const olen = b[p + 1]!;
    if (olen < 2 || p + olen > t + thl) return (m.error = 9);
    if (kind === 2 && olen === 4) m.mss = r16(b, p + 2);
    else if (kind === 3 && olen === 3) m.wscale = Math.min(b[p + 2]!, 14);
    else if (kind === 8 && olen === 10) {
      m.hasTimestamp = true;
      m.tsVal = r32(b, p + 2);
      m.tsEcr = r32(b, p + 6);
    }
    p += olen;
  }
  return 0;
}

type Runner = (n: number) => number;

/** Median packets per second over ROUNDS rounds of about ROUND_MS each. */
function measure(run: Runner, perCall: number): number {
  let calls = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    run(calls);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > 50) {
      calls = Math.ceil((calls * ROUND_MS) / ms);
      break;
    }
    calls *= 2;
  }
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    run(calls);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push((calls * perCall) / s);
  }
  rates.sort((a, b) => a - b);
  return rates[ROUNDS >> 1]!;
}

function fmt(pps: number): string {
  return `${(pps / 1e6).toFixed(2)} M/s`.padStart(11);
}

const opts = {
  sport: 51234,
  dport: 443,
  seq: 123456789,
  ack: 987654321,
  flags: 'PA',
  window: 501,
  options: { ts: [3000000000, 2000000000] as [number, number] },
  payload: new Uint8Array(100),
};
const tcp4 = buildTcp({ src: '192.168.1.10', dst: '10.20.30.40', ...opts });
const tcp6 = buildTcp({ src: '2001:db8:1::10', dst: '2001:db8:2::40', ...opts });
const BATCH = 256;
const b4 = batch(tcp4, BATCH);
const b6 = batch(tcp6, BATCH);
const meta = new PacketMeta();
let sink = 0;

const parse4: Runner = (n) => {
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < BATCH; i++) sink += parsePacket(b4.buf, b4.offsets[i]!, b4.lengths[i]!, meta);
  }
  return sink;
};
const parse6: Runner = (n) => {
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < BATCH; i++) sink += parsePacket(b6.buf, b6.offsets[i]!, b6.lengths[i]!, meta);
  }
  return sink;
};
const naive4: Runner = (n) => {
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < BATCH; i++) sink += naiveParse(b4.buf, b4.offsets[i]!, b4.lengths[i]!).seq & 1;
  }
  return sink;
};
const dv = new DataView(b4.buf.buffer, b4.buf.byteOffset, b4.buf.byteLength);
const bytes4: Runner = (n) => {
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < BATCH; i++) sink += minimalBytes(b4.buf, b4.offsets[i]!, b4.lengths[i]!, meta);
  }
  return sink;
};
const dataview4: Runner = (n) => {
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < BATCH; i++) sink += minimalDataView(dv, b4.offsets[i]!, b4.lengths[i]!, meta);
  }
  return sink;
};

// sanity: all parsers agree on the packet
parsePacket(tcp4, 0, tcp4.length, meta);
const ref = { seq: meta.seq, ack: meta.ack, tsVal: meta.tsVal, len: meta.payloadLength };
const nv = naiveParse(tcp4, 0, tcp4.length);
const agree = (m: { seq: number; ack: number; tsVal: number; payloadLength: number }): boolean =>
  m.seq === ref.seq && m.ack === ref.ack && m.tsVal === ref.tsVal && m.payloadLength === ref.len;
const other = new PacketMeta();
const ok =
  meta.error === 0 &&
  agree(nv) &&
  minimalBytes(tcp4, 0, tcp4.length, other) === 0 &&
  agree(other) &&
  minimalDataView(new DataView(tcp4.buffer, tcp4.byteOffset, tcp4.length), 0, tcp4.length, other) === 0 &&
  agree(other);
if (!ok) throw new Error('parsers disagree');

const results = new Map<string, number>();
results.set('parsePacket, IPv4', measure(parse4, BATCH));
results.set('parsePacket, IPv6', measure(parse6, BATCH));
results.set('naive DataView, IPv4', measure(naive4, BATCH));
results.set('minimal/DataView, IPv4', measure(dataview4, BATCH));
results.set('minimal/bytes, IPv4', measure(bytes4, BATCH));
console.log(
  `parse.bench: ${tcp4.length}-byte IPv4 / ${tcp6.length}-byte IPv6 TCP segment with timestamps, ` +
    `node ${process.version}`,
);
for (const [name, pps] of results) console.log(`  ${name.padEnd(24)} ${fmt(pps)}  ${(1e9 / pps).toFixed(1)} ns/packet`);
const speedup = results.get('parsePacket, IPv4')! / results.get('naive DataView, IPv4')!;
console.log(`  parsePacket vs naive DataView: ${speedup.toFixed(2)}x`);
if (sink === 0.5) console.log(sink); // keep the results alive
