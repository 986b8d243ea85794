// The pcap and pcapng codecs one by one: randomised round trips (at random
// offsets, both byte orders), the readers over files built from the codecs,
// and damaged input answered by an error that names the byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CaptureFormatError,
  fileHeader,
  PcapReader,
  recordHeader,
  type PcapFileHeader,
  type PcapRecordHeader,
} from '../../src/packet/pcap.js';
import { enhancedPacket, interfaceDescription, PcapngReader, sectionHeader } from '../../src/packet/pcapng.js';
import { randomSource } from './helpers/random.js';

const rnd = randomSource('capture-codecs');
const int = (n: number) => Math.floor(rnd() * n);
const u32 = () => int(2 ** 32);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => int(256));
const concat = (c: Uint8Array[]) => new Uint8Array(Buffer.concat(c));

/** The byte order, for the codecs that take one after the offset. */
type ByteOrderArg = [littleEndian?: boolean];

interface Codec<T, D> {
  encode: ((o: T, b?: Uint8Array, off?: number, ...rest: ByteOrderArg) => Uint8Array) & { bytes: number };
  decode: ((b: Uint8Array, off?: number, ...rest: ByteOrderArg) => D) & { bytes: number };
  encodingLength: (o: T) => number;
}

/** Encodes into a larger buffer at a random offset, decodes from there, and checks the byte counts. */
function roundTrip<T, D>(codec: Codec<T, D>, obj: T, ...rest: ByteOrderArg): D {
  const len = codec.encodingLength(obj);
  const at = int(16);
  const buf = bytes(at + len + int(16)); // noise around the encoding
  codec.encode(obj, buf, at, ...rest);
  assert.equal(codec.encode.bytes, len);
  const fresh = codec.encode(obj, undefined, 0, ...rest);
  assert.deepEqual(fresh, buf.subarray(at, at + len), 'the same bytes into a fresh buffer');
  const back = codec.decode(buf, at, ...rest);
  assert.equal(codec.decode.bytes, len);
  return back;
}

test('pcap file header: randomised round trip', () => {
  for (let k = 0; k < 500; k++) {
    const h: PcapFileHeader = {
      littleEndian: rnd() < 0.5,
      nanosecond: rnd() < 0.5,
      versionMajor: 2,
      versionMinor: int(65536),
      snaplen: u32(),
      linkType: int(65536),
    };
    assert.deepEqual(roundTrip(fileHeader, h), h);
  }
});

test('pcap record header: randomised round trip in both byte orders', () => {
  for (let k = 0; k < 500; k++) {
    const h: PcapRecordHeader = { sec: u32(), frac: u32(), inclLength: u32(), origLength: u32() };
    const le = rnd() < 0.5;
    assert.deepEqual(roundTrip(recordHeader, h, le), h);
  }
});

test('pcapng section header: randomised round trip', () => {
  for (let k = 0; k < 300; k++) {
    const b = {
      littleEndian: rnd() < 0.5,
      versionMajor: 1,
      versionMinor: int(65536),
      sectionLength: rnd() < 0.3 ? -1 : int(2 ** 40),
    };
    assert.deepEqual(roundTrip(sectionHeader, b), b);
  }
});

test('pcapng interface description: randomised round trip', () => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789-_.éü€';
  for (let k = 0; k < 300; k++) {
    const name = rnd() < 0.2 ? null : Array.from({ length: int(20) }, () => alphabet[int(alphabet.length)]).join('');
    const b = { linkType: int(65536), snaplen: u32(), name, tsresol: int(256) };
    const le = rnd() < 0.5;
    assert.deepEqual(roundTrip(interfaceDescription, b, le), b);
  }
});

test('pcapng enhanced packet: randomised round trip', () => {
  for (let k = 0; k < 300; k++) {
    const data = bytes(int(200));
    const b = {
      interfaceId: u32(),
      timestampHigh: u32(),
      timestampLow: u32(),
      data,
      origLength: data.length + int(1000),
      flags: rnd() < 0.4 ? null : u32(),
    };
    const le = rnd() < 0.5;
    assert.deepEqual(roundTrip(enhancedPacket, b, le), b);
  }
});

test('pcap reader over random files of either byte order and precision', () => {
  for (let round = 0; round < 50; round++) {
    const le = rnd() < 0.5;
    const nano = rnd() < 0.5;
    const recs = Array.from({ length: int(20) }, () => ({
      sec: u32(),
      frac: int(nano ? 1e9 : 1e6),
      data: bytes(int(100)),
    }));
    const file = concat([
      fileHeader.encode({ linkType: 101, littleEndian: le, nanosecond: nano, snaplen: 65535 }),
      ...recs.flatMap((r) => [
        recordHeader.encode(
          { sec: r.sec, frac: r.frac, inclLength: r.data.length, origLength: r.data.length + 7 },
          undefined,
          0,
          le,
        ),
        r.data,
      ]),
    ]);
    const rd = new PcapReader(file);
    assert.deepEqual([rd.header.littleEndian, rd.header.nanosecond, rd.header.linkType], [le, nano, 101]);
    for (const r of recs) {
      assert.equal(rd.next(), true);
      assert.deepEqual(file.subarray(rd.dataOffset, rd.dataOffset + rd.capLength), r.data);
      assert.deepEqual([rd.sec, rd.nsec, rd.origLength], [r.sec, r.frac * (nano ? 1 : 1000), r.data.length + 7]);
    }
    assert.equal(rd.next(), false);
  }
});

test('pcapng reader: sections of either byte order, interfaces, directions, unknown blocks skipped', () => {
  for (let round = 0; round < 30; round++) {
    const parts: Uint8Array[] = [];
    const expect: { name: string | null; linkType: number; data: Uint8Array; direction: number; time: number }[] = [];
    for (let s = 0; s < 1 + int(3); s++) {
      const le = rnd() < 0.5;
      parts.push(sectionHeader.encode({ littleEndian: le }));
      const ifaces = Array.from({ length: 1 + int(3) }, (_, i) => ({
        name: rnd() < 0.3 ? null : `if${s}.${i}`,
        linkType: [1, 101, 113][int(3)]!,
        tsresol: [6, 9, 3][int(3)]!,
      }));
      for (const i of ifaces) parts.push(interfaceDescription.encode(i, undefined, 0, le));
      for (let p = 0; p < int(10); p++) {
        if (rnd() < 0.2) {
          // a name resolution block (type 4): skipped
          const nrb = new Uint8Array(16);
          new DataView(nrb.buffer).setUint32(0, 4, le);
          new DataView(nrb.buffer).setUint32(4, 16, le);
          new DataView(nrb.buffer).setUint32(12, 16, le);
          parts.push(nrb);
        }
        const id = int(ifaces.length);
        const ticks = 1_700_000_000 * 10 ** ifaces[id]!.tsresol + int(10 ** ifaces[id]!.tsresol);
        const data = bytes(int(120));
        const direction = int(3);
        const high = Math.floor(ticks / 2 ** 32);
        parts.push(
          enhancedPacket.encode(
            {
              interfaceId: id,
              timestampHigh: high,
              timestampLow: ticks - high * 2 ** 32,
              data,
              flags: direction === 0 && rnd() < 0.5 ? null : direction,
            },
            undefined,
            0,
            le,
          ),
        );
        expect.push({ ...ifaces[id]!, data, direction, time: ticks / 10 ** ifaces[id]!.tsresol });
      }
    }
    const file = concat(parts);
    const rd = new PcapngReader(file);
    for (const e of expect) {
      assert.equal(rd.next(), true);
      const iface = rd.interfaces[rd.interfaceId]!;
      assert.deepEqual([iface.name, iface.linkType, rd.direction], [e.name, e.linkType, e.direction]);
      assert.deepEqual(file.subarray(rd.dataOffset, rd.dataOffset + rd.capLength), e.data);
      assert.ok(Math.abs(rd.time - e.time) < 1e-6, `${rd.time} vs ${e.time}`);
    }
    assert.equal(rd.next(), false);
  }
});

function throwsAt(fn: () => unknown, message: RegExp, offset: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CaptureFormatError, String(e));
    assert.match(e.message, message);
    assert.equal(e.offset, offset, e.message);
    return true;
  });
}

test('damaged pcap files: the error names the byte', () => {
  const good = concat([
    fileHeader.encode({ linkType: 101, snaplen: 100 }),
    recordHeader.encode({ sec: 1, frac: 0, inclLength: 4, origLength: 4 }),
    bytes(4),
  ]);
  throwsAt(() => new PcapReader(good.subarray(0, 20)), /truncated pcap header/, 20);
  const v3 = good.slice();
  v3[4] = 3;
  throwsAt(() => new PcapReader(v3), /pcap version 3/, 4);
  const huge = good.slice();
  new DataView(huge.buffer).setUint32(24 + 8, 10_000_000, true);
  throwsAt(() => new PcapReader(huge).next(), /record of 10000000 bytes exceeds the snapshot length 100/, 32);
  const r = new PcapReader(good.subarray(0, 30));
  throwsAt(() => r.next(), /truncated record header/, 24);
});

test('damaged pcapng files: the error names the byte', () => {
  const shb = sectionHeader.encode({});
  const idb = interfaceDescription.encode({ linkType: 101, name: 'lan' });
  const epb = enhancedPacket.encode({ interfaceId: 0, timestampHigh: 0, timestampLow: 0, data: bytes(5), flags: 1 });
  const file = concat([shb, idb, epb]);
  const epbAt = shb.length + idb.length;
  const drain = (b: Uint8Array) => () => {
    const rd = new PcapngReader(b);
    while (rd.next());
  };
  throwsAt(drain(file.subarray(0, file.length - 4)), /truncated block \(\d+ bytes announced\)/, epbAt);
  const badOrder = file.slice();
  badOrder[8] = 0;
  throwsAt(drain(badOrder), /bad byte-order magic/, 8);
  const trailer = file.slice();
  trailer[file.length - 1] ^= 0x40;
  throwsAt(drain(trailer), /trailing block length/, file.length - 4);
  throwsAt(drain(concat([shb, epb])), /packet on undeclared interface 0/, shb.length + 8);
  const option = file.slice();
  new DataView(option.buffer).setUint16(epbAt + 28 + 8 + 2, 400, true); // epb_flags claims 400 bytes
  throwsAt(drain(option), /option 2 of 400 bytes overruns its block/, epbAt + 36);
  const overrun = file.slice();
  new DataView(overrun.buffer).setUint32(epbAt + 20, 64, true); // caplen beyond the block
  throwsAt(drain(overrun), /packet data overruns its block/, epbAt + 20);
  throwsAt(() => new PcapngReader(idb), /not a pcapng file/, 0);
});
