// Byte helpers of pfsync's codecs (big-endian, no DataView, no allocation)
// and the shape of a dns-packet style message codec.

import { PFSYNC } from './constants.js';

export function readU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

export function readU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** A big-endian 64-bit counter as a number (exact below 2^53). */
export function readU64(buf: Uint8Array, off: number): number {
  return readU32(buf, off) * 4294967296 + readU32(buf, off + 4);
}

export function writeU16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 8;
  buf[off + 1] = v;
}

export function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/** A non-negative counter as two big-endian words (values beyond 2^64 - 1 saturate). */
export function writeU64(buf: Uint8Array, off: number, v: number): void {
  if (!(v > 0)) v = 0;
  const hi = Math.floor(v / 4294967296);
  if (hi > 0xffffffff) {
    writeU32(buf, off, 0xffffffff);
    writeU32(buf, off + 4, 0xffffffff);
    return;
  }
  writeU32(buf, off, hi);
  writeU32(buf, off + 4, v - hi * 4294967296);
}

/** Four big-endian words from 16 bytes (an IPv4 address lands in word 0, as tunpf keeps it). */
export function readAddress(buf: Uint8Array, off: number, out: Uint32Array): Uint32Array {
  for (let k = 0; k < 4; k++) out[k] = readU32(buf, off + 4 * k);
  return out;
}

export function writeAddress(buf: Uint8Array, off: number, words: ArrayLike<number>): void {
  for (let k = 0; k < 4; k++) writeU32(buf, off + 4 * k, words[k]! >>> 0);
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** A NUL-padded name field as a string (up to the first NUL). */
export function readName(buf: Uint8Array, off: number, size: number = PFSYNC.IFNAME_LENGTH): string {
  let end = off;
  while (end < off + size && buf[end] !== 0) end++;
  return textDecoder.decode(buf.subarray(off, end));
}

/** Writes a name NUL-padded to `size` bytes (at most size - 1 of it, so it stays terminated). */
export function writeName(
  buf: Uint8Array,
  off: number,
  name: string | Uint8Array,
  size: number = PFSYNC.IFNAME_LENGTH,
): void {
  const bytes = typeof name === 'string' ? textEncoder.encode(name) : name;
  const n = Math.min(bytes.length, size - 1);
  for (let k = 0; k < n; k++) buf[off + k] = bytes[k]!;
  buf.fill(0, off + n, off + size);
}

export function need(buf: Uint8Array, offset: number, len: number, what: string): void {
  if (!(offset >= 0) || offset + len > buf.length)
    throw new RangeError(`a pfsync ${what} needs ${len} bytes at offset ${offset}`);
}

export interface Codec<T> {
  decode(buf: Uint8Array, offset?: number): T;
  encode(obj: T, buf?: Uint8Array, offset?: number): Uint8Array;
  encodingLength(obj?: T): number;
}

/** A codec of a fixed-size message, with bounds checks. */
export function fixed<T>(
  size: number,
  what: string,
  dec: (buf: Uint8Array, o: number) => T,
  enc: (obj: T, buf: Uint8Array, o: number) => void,
): Codec<T> {
  return {
    decode(buf: Uint8Array, offset = 0): T {
      need(buf, offset, size, what);
      return dec(buf, offset);
    },
    encode(obj: T, buf: Uint8Array = new Uint8Array(size), offset = 0): Uint8Array {
      need(buf, offset, size, what);
      enc(obj, buf, offset);
      return buf;
    },
    encodingLength: () => size,
  };
}
