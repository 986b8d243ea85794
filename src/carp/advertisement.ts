// The 36-byte CARP advertisement (shared/spec/carp.md §3, §4), as a
// dns-packet-style codec: decode(buf, offset) / encode(ad, buf, offset) /
// encodingLength(). The checksum covers exactly the 36 bytes, no pseudo-header.

import { internetChecksum } from '../packet/checksum.js';
import { CARP } from './constants.js';

export interface CarpAdvertisement {
  version: number;
  type: number;
  vhid: number;
  advskew: number;
  authlen: number;
  /** OpenBSD's demotion counter; FreeBSD and ucarp send 0 and ignore it. */
  demote: number;
  advbase: number;
  checksum: number;
  /** The 8 counter bytes as a big-endian number (a replay cookie in OpenBSD). */
  counter: bigint;
  hmac: Uint8Array; // 20 bytes
}

export function encodingLength(_ad?: CarpAdvertisement): number {
  return CARP.HEADER_LENGTH;
}

export function decode(buf: Uint8Array, offset = 0): CarpAdvertisement {
  if (offset + CARP.HEADER_LENGTH > buf.length) throw new RangeError(`a CARP header needs ${CARP.HEADER_LENGTH} bytes`);
  const v = new DataView(buf.buffer, buf.byteOffset + offset, CARP.HEADER_LENGTH);
  return {
    version: buf[offset]! >> 4,
    type: buf[offset]! & 0x0f,
    vhid: buf[offset + 1]!,
    advskew: buf[offset + 2]!,
    authlen: buf[offset + 3]!,
    demote: buf[offset + 4]!,
    advbase: buf[offset + 5]!,
    checksum: v.getUint16(6),
    counter: v.getBigUint64(8),
    hmac: buf.slice(offset + 16, offset + 36),
  };
}

/** Writes the header; the checksum is computed over the result unless `keepChecksum`. */
export function encode(
  ad: Omit<CarpAdvertisement, 'checksum'> & { checksum?: number },
  buf: Uint8Array = new Uint8Array(CARP.HEADER_LENGTH),
  offset = 0,
  keepChecksum = false,
): Uint8Array {
  if (offset + CARP.HEADER_LENGTH > buf.length) throw new RangeError(`a CARP header needs ${CARP.HEADER_LENGTH} bytes`);
  if (ad.hmac.length !== 20) throw new RangeError('the CARP HMAC is 20 bytes');
  const v = new DataView(buf.buffer, buf.byteOffset + offset, CARP.HEADER_LENGTH);
  buf[offset] = ((ad.version & 0x0f) << 4) | (ad.type & 0x0f);
  buf[offset + 1] = ad.vhid;
  buf[offset + 2] = ad.advskew;
  buf[offset + 3] = ad.authlen;
  buf[offset + 4] = ad.demote;
  buf[offset + 5] = ad.advbase;
  v.setUint16(6, 0);
  v.setBigUint64(8, BigInt.asUintN(64, ad.counter));
  buf.set(ad.hmac, offset + 16);
  v.setUint16(
    6,
    keepChecksum && ad.checksum !== undefined ? ad.checksum : internetChecksum(buf, offset, CARP.HEADER_LENGTH),
  );
  return buf;
}

/** Whether the 36 bytes at offset carry a valid checksum. */
export function checksumValid(buf: Uint8Array, offset = 0): boolean {
  return internetChecksum(buf, offset, CARP.HEADER_LENGTH) === 0;
}
