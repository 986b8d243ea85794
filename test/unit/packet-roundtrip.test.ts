// Randomised round trips: random packets of every kind are built, parsed and
// compared field by field (checksums verified), fragmented and parsed again;
// every codec satisfies decode(encode(obj)) ~ obj and encode(decode(x)) == x.
// A failure prints its seed; rerun it with TEST_SEED=<seed>.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PacketMeta, ParseError, TCPFlag } from '../../src/packet/meta.js';
import { parsePacket } from '../../src/packet/parse.js';
import { formatAddress, parseAddress } from '../../src/packet/address.js';
import { verifyIpv4HeaderChecksum, verifyL4Checksum } from '../../src/packet/checksum.js';
import {
  buildIcmpEcho,
  buildIcmpError,
  buildTcp,
  buildUdp,
  fragmentPacket,
  type IpFields,
} from '../../src/packet/build.js';
import * as ipv4 from '../../src/packet/ipv4.js';
import * as ipv6 from '../../src/packet/ipv6.js';
import * as tcp from '../../src/packet/tcp.js';
import * as udp from '../../src/packet/udp.js';
import * as icmp from '../../src/packet/icmp.js';

const SEED = Number(process.env.TEST_SEED ?? Math.floor(Math.random() * 0x7fffffff));
let state = SEED || 1;
function u32(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state;
}
const int = (n: number): number => u32() % n; // 0 .. n-1
const chance = (p: number): boolean => u32() / 0x100000000 < p;
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256));
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

function randomAddress(af: 4 | 6): string {
  const w = new Uint32Array(4);
  for (let i = 0; i < (af === 4 ? 1 : 4); i++) w[i] = chance(0.3) ? 0 : u32();
  return formatAddress(af, w);
}

/** Valid IPv4 option bytes: NOPs and TLVs, padded by the codec. */
function randomIpv4Options(): Uint8Array | undefined {
  if (chance(0.6)) return undefined;
  const out: number[] = [];
  while (out.length < 30 && chance(0.7)) {
    if (chance(0.3)) out.push(1);
    else {
      const len = 2 + int(8);
      out.push(pick([7, 68, 130, 131, 137]), len, ...bytes(len - 2));
    }
  }
  if (out.length === 0) out.push(1);
  return Uint8Array.from(out);
}

function randomOptionsData(): Uint8Array {
  const opts: Array<{ type: number; value?: Uint8Array }> = [];
  const n = int(3);
  for (let i = 0; i < n; i++)
    opts.push(chance(0.2) ? { type: 0 } : { type: pick([0x1e, 0x3e, 0x05, 0x01]), value: bytes(int(10)) });
  return ipv6.encodeOptionsData(opts);
}

/**
 * A valid extension chain pf accepts: hop-by-hop first, one routing header (not type 0),
 * one atomic fragment header.
 */
function randomExtensions(): ipv6.Ipv6Extension[] {
  const out: ipv6.Ipv6Extension[] = [];
  if (chance(0.5)) return out;
  if (chance(0.4)) out.push({ type: 0, data: randomOptionsData() });
  if (chance(0.3)) out.push({ type: 60, data: randomOptionsData() });
  if (chance(0.3)) {
    const data = new Uint8Array(6 + 16 * (1 + int(2)));
    data[0] = 2 + int(3); // routing type 2..4
    data.set(bytes(data.length - 6), 6);
    out.push({ type: 43, data });
  }
  if (chance(0.3)) out.push({ type: 44, fragmentOffset: 0, more: false, id: u32() });
  if (chance(0.3)) out.push({ type: 51, data: bytes(10 + 4 * int(3)) });
  if (chance(0.2)) out.push({ type: 60, data: randomOptionsData() });
  return out;
}

function randomIp(af: 4 | 6): IpFields {
  const f: IpFields = { src: randomAddress(af), dst: randomAddress(af), ttl: int(256), tos: int(256) };
  if (af === 4) {
    f.ipId = int(65536);
    f.df = chance(0.5);
    f.ipOptions = randomIpv4Options();
  } else {
    f.flowLabel = int(1 << 20);
    f.extensions = randomExtensions();
  }
  return f;
}

function expectIp(m: PacketMeta, f: IpFields, pkt: Uint8Array, what: string): void {
  const af = parseAddress(f.src)!.af;
  assert.equal(m.af, af, what);
  assert.deepEqual([...m.src], [...parseAddress(f.src)!.words], what);
  assert.deepEqual([...m.dst], [...parseAddress(f.dst)!.words], what);
  assert.equal(m.ttl, f.ttl, what);
  assert.equal(m.tos, f.tos, what);
  assert.equal(m.totalLength, pkt.length, what);
  assert.equal(m.l4Offset + m.l4Length, pkt.length, what);
  if (af === 4) {
    assert.equal(m.fragmentId, f.ipId, what);
    assert.equal(m.hasIpOptions, f.ipOptions !== undefined, what);
    assert.ok(verifyIpv4HeaderChecksum(pkt, 0), what);
  } else {
    const exts = f.extensions ?? [];
    assert.equal(
      m.hasIpOptions,
      exts.some((e) => e.type === 0 || e.type === 43 || e.type === 60),
      what,
    );
    const frag = exts.find((e) => e.type === 44) as ipv6.Ipv6FragmentExtension | undefined;
    if (frag) assert.equal(m.fragmentId, frag.id, what);
  }
  assert.equal(m.isFragment, false, what);
}

function randomTcpOptions(): {
  opts: Parameters<typeof buildTcp>[0]['options'];
  mss: number;
  ws: number;
  sack: boolean;
  ts: [number, number] | null;
} {
  const mss = chance(0.5) ? 1 + int(65535) : 0;
  const ws = chance(0.5) ? int(16) : -1;
  const sack = chance(0.5);
  const ts: [number, number] | null = chance(0.5) ? [u32(), u32()] : null;
  const blocks: Array<[number, number]> = chance(0.2) ? [[u32(), u32()]] : [];
  return {
    opts: { mss: mss || undefined, wscale: ws >= 0 ? ws : undefined, sackOk: sack, ts: ts ?? undefined, sack: blocks },
    mss,
    ws,
    sack,
    ts,
  };
}

test(`random TCP packets parse to what they were built from (seed ${SEED})`, () => {
  const m = new PacketMeta();
  for (let i = 0; i < 1500; i++) {
    const af = chance(0.5) ? 4 : 6;
    const ip = randomIp(af);
    const o = randomTcpOptions();
    const f = {
      ...ip,
      sport: int(65536),
      dport: int(65536),
      seq: u32(),
      ack: u32(),
      flags: int(256),
      window: int(65536),
      options: o.opts,
      payload: bytes(int(300)),
    };
    const pkt = buildTcp(f);
    const what = `seed ${SEED}, TCP case ${i}`;
    assert.equal(parsePacket(pkt, 0, pkt.length, m), ParseError.OK, what);
    expectIp(m, ip, pkt, what);
    assert.equal(m.proto, 6, what);
    assert.equal(m.srcPort, f.sport, what);
    assert.equal(m.dstPort, f.dport, what);
    assert.equal(m.seq, f.seq, what);
    assert.equal(m.ack, f.ack, what);
    assert.equal(m.tcpFlags, f.flags, what);
    assert.equal(m.window, f.window, what);
    assert.equal(m.payloadLength, f.payload.length, what);
    assert.equal(m.tcpHeaderLength + m.payloadLength, m.l4Length, what);
    assert.equal(m.mss, o.mss, what);
    assert.equal(m.wscaleRaw, o.ws, what);
    assert.equal(m.wscale, o.ws > 14 ? 14 : o.ws, what);
    assert.equal(m.sackPermitted, o.sack, what);
    assert.equal(m.hasTimestamp, o.ts !== null, what);
    if (o.ts) assert.deepEqual([m.tsVal, m.tsEcr], o.ts, what);
    assert.ok(verifyL4Checksum(pkt, 0, af, 6, m.l4Offset, m.l4Length), what);
  }
});

test(`random UDP and ICMP echo packets parse to what they were built from (seed ${SEED})`, () => {
  const m = new PacketMeta();
  for (let i = 0; i < 1500; i++) {
    const af = chance(0.5) ? 4 : 6;
    const ip = randomIp(af);
    const what = `seed ${SEED}, case ${i}`;
    if (chance(0.5)) {
      const f = { ...ip, sport: int(65536), dport: int(65536), payload: bytes(int(600)) };
      const pkt = buildUdp(f);
      assert.equal(parsePacket(pkt, 0, pkt.length, m), ParseError.OK, what);
      expectIp(m, ip, pkt, what);
      assert.equal(m.proto, 17, what);
      assert.equal(m.srcPort, f.sport, what);
      assert.equal(m.dstPort, f.dport, what);
      assert.equal(m.payloadLength, f.payload.length, what);
      assert.ok(verifyL4Checksum(pkt, 0, af, 17, m.l4Offset, m.l4Length), what);
    } else {
      const f = { ...ip, id: int(65536), seq: int(65536), reply: chance(0.5), payload: bytes(int(100)) };
      const pkt = buildIcmpEcho(f);
      assert.equal(parsePacket(pkt, 0, pkt.length, m), ParseError.OK, what);
      expectIp(m, ip, pkt, what);
      assert.equal(m.proto, af === 4 ? 1 : 58, what);
      assert.equal(m.icmpType, af === 4 ? (f.reply ? 0 : 8) : f.reply ? 129 : 128, what);
      assert.equal(m.icmpCode, 0, what);
      assert.equal(m.icmpId, f.id, what);
      assert.equal(m.srcPort, f.id, what);
      assert.equal(m.dstPort, f.id, what);
      assert.equal(m.icmpIsError, false, what);
      assert.ok(verifyL4Checksum(pkt, 0, af, m.proto, m.l4Offset, m.l4Length), what);
    }
  }
});

test(
  'random ICMP errors: the quoted packet comes back, innerValid exactly when 8 L4 bytes are quoted ' + `(seed ${SEED})`,
  () => {
    const m = new PacketMeta();
    for (let i = 0; i < 1500; i++) {
      const af = chance(0.5) ? 4 : 6;
      const inner = randomIp(af);
      const kind = pick(['tcp', 'udp', 'icmp'] as const);
      const sport = int(65536);
      const dport = int(65536);
      const seq = u32();
      const id = int(65536);
      const offending =
        kind === 'tcp'
          ? buildTcp({ ...inner, sport, dport, seq })
          : kind === 'udp'
            ? buildUdp({ ...inner, sport, dport, payload: bytes(int(40)) })
            : buildIcmpEcho({ ...inner, id });
      const pi = new PacketMeta();
      parsePacket(offending, 0, offending.length, pi);
      const hdrEnd = pi.l4Offset; // IP header and extension headers
      const quoteLen = chance(0.3) ? hdrEnd + int(8) : Math.min(offending.length, hdrEnd + 8 + int(60));
      const outer = { src: randomAddress(af), dst: randomAddress(af) };
      const type = af === 4 ? pick([3, 4, 5, 11, 12]) : pick([1, 2, 3, 4]);
      const code = int(16);
      const pkt = buildIcmpError({ ...outer, type, code, quoted: offending.subarray(0, quoteLen) });
      const what = `seed ${SEED}, case ${i} (${kind}, quote ${quoteLen} of ${offending.length}, headers ${hdrEnd})`;
      assert.equal(parsePacket(pkt, 0, pkt.length, m), ParseError.OK, what);
      assert.equal(m.icmpIsError, true, what);
      assert.equal(m.icmpType, type, what);
      assert.equal(m.icmpCode, code, what);
      assert.equal(m.innerL3Offset, m.l4Offset + 8, what);
      assert.deepEqual([...m.innerSrc], [...parseAddress(inner.src)!.words], what);
      assert.deepEqual([...m.innerDst], [...parseAddress(inner.dst)!.words], what);
      assert.equal(m.innerValid, quoteLen >= hdrEnd + 8, what);
      assert.ok(verifyL4Checksum(pkt, 0, af, m.proto, m.l4Offset, m.l4Length), what);
      if (!m.innerValid) continue;
      assert.equal(m.innerProto, pi.proto, what);
      if (kind === 'icmp') {
        assert.equal(m.innerIcmpType, af === 4 ? 8 : 128, what);
        assert.equal(m.innerIcmpId, id, what);
        assert.equal(m.innerSrcPort, id, what);
      } else {
        assert.equal(m.innerSrcPort, sport, what);
        assert.equal(m.innerDstPort, dport, what);
        if (kind === 'tcp') assert.equal(m.innerSeq, seq, what);
      }
    }
  },
);

test(`random fragments: offsets add up, the first carries the L4 header, data reassembles (seed ${SEED})`, () => {
  const m = new PacketMeta();
  for (let i = 0; i < 400; i++) {
    const af = chance(0.5) ? 4 : 6;
    const ip = randomIp(af);
    if (af === 6) ip.extensions = (ip.extensions ?? []).filter((e) => e.type !== 44);
    const payload = bytes(100 + int(3000));
    const whole = chance(0.5)
      ? buildUdp({ ...ip, sport: 1000, dport: 2000, payload })
      : buildTcp({ ...ip, sport: 1000, dport: 2000, payload });
    const pw = new PacketMeta();
    parsePacket(whole, 0, whole.length, pw);
    const id = u32();
    const frags = fragmentPacket(whole, 8 + int(1400), id);
    const what = `seed ${SEED}, case ${i}`;
    // what follows the IP header (IPv4) or the fragment header (IPv6): a later fragment belongs to that protocol
    const firstProto = af === 4 ? whole[9]! : unfragLen(whole) === 40 ? whole[6]! : whole[unfragNextHeaderAt(whole)]!;
    const l4Need = pw.l4Offset + (pw.proto === 6 ? pw.tcpHeaderLength : 8);
    const pieces: Array<[number, Uint8Array]> = [];
    frags.forEach((fr, k) => {
      const rc = parsePacket(fr, 0, fr.length, m);
      const w = `${what}, fragment ${k} of ${frags.length}`;
      const dataStart = af === 4 ? m.l3HeaderLength : fragDataStart(fr);
      if (k === 0) {
        // the first fragment must hold the whole header chain and the L4 header (RFC 7112), else it is refused
        const held = (af === 4 ? pw.l3HeaderLength : unfragLen(whole)) + (fr.length - dataStart);
        if (held < l4Need) {
          assert.ok(rc === ParseError.SHORT_L4 || rc === ParseError.EXTENSION_CHAIN, `${w}: ${rc}`);
        } else {
          assert.equal(rc, ParseError.OK, w);
          assert.equal(m.proto, pw.proto, w);
          assert.equal(m.srcPort, 1000, w);
        }
      } else {
        assert.equal(rc, ParseError.OK, w);
        assert.equal(m.proto, firstProto, w);
        assert.equal(m.srcPort, 0, w);
      }
      assert.equal(m.isFragment, frags.length > 1, w);
      assert.equal(m.isLaterFragment, k > 0, w);
      assert.equal(m.moreFragments, k < frags.length - 1, w);
      assert.equal(m.fragmentId, af === 4 ? ip.ipId : id, w);
      pieces.push([m.fragmentOffset, fr.subarray(dataStart)]);
    });
    // reassemble the fragmentable part and compare with the original
    const orig = whole.subarray(af === 4 ? pw.l3HeaderLength : unfragLen(whole));
    const re = new Uint8Array(orig.length);
    for (const [off, data] of pieces) re.set(data, off);
    assert.deepEqual(re, orig, what);
  }
});

/** IPv6: bytes before the fragmentable part (header, hop-by-hop, routing and what precedes it). */
function unfragLen(pkt: Uint8Array): number {
  let nh = pkt[6]!;
  let p = 40;
  let end = 40;
  while (nh === 0 || nh === 43 || nh === 60) {
    const len = (pkt[p + 1]! + 1) * 8;
    if (nh === 0 || nh === 43) end = p + len;
    nh = pkt[p]!;
    p += len;
  }
  return end;
}

/** IPv6: offset of the Next Header byte that names the first fragmentable header. */
function unfragNextHeaderAt(pkt: Uint8Array): number {
  let nh = pkt[6]!;
  let p = 40;
  let at = 6;
  while (nh === 0 || nh === 43 || nh === 60) {
    const len = (pkt[p + 1]! + 1) * 8;
    if (nh === 0 || nh === 43) at = p;
    nh = pkt[p]!;
    p += len;
  }
  return at;
}

/**
 * IPv6 fragment: where the fragment's data starts
 * (after the fragment header, which follows the unfragmentable part).
 */
function fragDataStart(fr: Uint8Array): number {
  let nh = fr[6]!;
  let p = 40;
  while (nh !== 44) {
    if (nh !== 0 && nh !== 43 && nh !== 60) throw new Error('no fragment header');
    nh = fr[p]!;
    p += (fr[p + 1]! + 1) * 8;
  }
  return p + 8;
}

// -- codecs -----------------------------------------------------------------------------

test(`codec round trips with random objects (seed ${SEED})`, () => {
  for (let i = 0; i < 1000; i++) {
    const what = `seed ${SEED}, case ${i}`;

    const p4: ipv4.Ipv4Packet = {
      tos: int(256),
      id: int(65536),
      flags: int(8),
      fragmentOffset: int(8192) * 8,
      ttl: int(256),
      protocol: int(256),
      src: randomAddress(4),
      dst: randomAddress(4),
      options: randomIpv4Options(),
      payload: bytes(int(100)),
    };
    const b4 = ipv4.encode(p4);
    assert.equal(b4.length, ipv4.encodingLength(p4), what);
    const d4 = ipv4.decode(b4);
    assert.equal(ipv4.decode.bytes, b4.length);
    for (const k of ['tos', 'id', 'flags', 'fragmentOffset', 'ttl', 'protocol', 'src', 'dst'] as const)
      assert.equal(d4[k], p4[k], `${what} ${k}`);
    assert.deepEqual(d4.payload, p4.payload, what);
    assert.deepEqual(ipv4.encode(d4), b4, what);

    const p6: ipv6.Ipv6Packet = {
      trafficClass: int(256),
      flowLabel: int(1 << 20),
      hopLimit: int(256),
      src: randomAddress(6),
      dst: randomAddress(6),
      extensions: randomExtensions(),
      protocol: pick([6, 17, 58, 50, 59, 47]),
      payload: bytes(int(100)),
    };
    const b6 = ipv6.encode(p6);
    assert.equal(b6.length, ipv6.encodingLength(p6), what);
    const d6 = ipv6.decode(b6);
    for (const k of ['trafficClass', 'flowLabel', 'hopLimit', 'src', 'dst', 'protocol'] as const)
      assert.equal(d6[k], p6[k], `${what} ${k}`);
    assert.deepEqual(d6.extensions, p6.extensions, what);
    assert.deepEqual(d6.payload, p6.payload, what);
    assert.deepEqual(ipv6.encode(d6), b6, what);

    const options: tcp.TcpOption[] = [];
    let room = 40;
    while (chance(0.6)) {
      const opt: tcp.TcpOption = pick<() => tcp.TcpOption>([
        () => ({ kind: 1 }),
        () => ({ kind: 2, mss: int(65536) }),
        () => ({ kind: 3, shift: int(256) }),
        () => ({ kind: 4 }),
        () => ({ kind: 8, tsVal: u32(), tsEcr: u32() }),
        () => ({ kind: 5, blocks: [[u32(), u32()]] }),
        () => ({ kind: 30 + int(200), data: bytes(int(6)) }),
      ])();
      const len = tcp.encodingLength({ srcPort: 0, dstPort: 0, options: [opt] }) - 20;
      if (len > room) break;
      room -= len;
      options.push(opt);
    }
    const seg: tcp.TcpSegment = {
      srcPort: int(65536),
      dstPort: int(65536),
      seq: u32(),
      ack: u32(),
      flags: int(256),
      reserved: int(16),
      window: int(65536),
      checksum: int(65536),
      urgentPointer: int(65536),
      options,
      payload: bytes(int(100)),
    };
    const bt = tcp.encode(seg);
    const dt = tcp.decode(bt);
    for (const k of [
      'srcPort',
      'dstPort',
      'seq',
      'ack',
      'flags',
      'reserved',
      'window',
      'checksum',
      'urgentPointer',
    ] as const)
      assert.equal(dt[k], seg[k], `${what} ${k}`);
    assert.deepEqual(
      dt.options.filter((o) => o.kind !== 0),
      options,
      what,
    );
    assert.deepEqual(dt.payload, seg.payload, what);
    assert.deepEqual(tcp.encode(dt), bt, what);

    const dg: udp.UdpDatagram = {
      srcPort: int(65536),
      dstPort: int(65536),
      checksum: int(65536),
      payload: bytes(int(100)),
    };
    const bu = udp.encode(dg);
    const du = udp.decode(bu);
    assert.deepEqual(du, { ...dg, length: 8 + dg.payload!.length }, what);
    assert.deepEqual(udp.encode(du), bu, what);

    const msg: icmp.IcmpMessage = {
      type: int(256),
      code: int(256),
      checksum: int(65536),
      rest: u32(),
      payload: bytes(int(100)),
    };
    const bi = icmp.encode(msg);
    const di = icmp.decode(bi);
    assert.deepEqual(di, { ...msg, id: msg.rest! >>> 16, sequence: msg.rest! & 0xffff }, what);
    assert.deepEqual(icmp.encode(di), bi, what);
  }
});

test(`random built packets survive decode/encode through the IP codecs unchanged (seed ${SEED})`, () => {
  for (let i = 0; i < 500; i++) {
    const af = chance(0.5) ? 4 : 6;
    const ip = randomIp(af);
    const pkt = chance(0.5)
      ? buildTcp({
          ...ip,
          sport: 1,
          dport: 2,
          flags: TCPFlag.SYN,
          options: randomTcpOptions().opts,
          payload: bytes(int(50)),
        })
      : buildUdp({ ...ip, sport: 1, dport: 2, payload: bytes(int(50)) });
    const codec = af === 4 ? ipv4 : ipv6;
    assert.deepEqual(codec.encode(codec.decode(pkt) as never), pkt, `seed ${SEED}, case ${i}`);
  }
});
