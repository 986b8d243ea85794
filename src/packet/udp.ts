// UDP datagram codec (header + payload) in the dns-packet style; see ipv4.ts
// for the conventions. The checksum needs the IP pseudo-header, so encode
// writes `checksum` as given (default 0: none) and build.ts fills it in.

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  /** Default: 8 + payload length. */
  length?: number;
  checksum?: number; // default 0
  payload?: Uint8Array;
}

export type DecodedUdpDatagram = Required<UdpDatagram>;

const EMPTY = new Uint8Array(0);

export function encodingLength(obj: UdpDatagram): number {
  return 8 + (obj.payload ? obj.payload.length : 0);
}

export function encode(obj: UdpDatagram, buf?: Uint8Array, offset: number = 0): Uint8Array {
  const len = encodingLength(obj);
  const out = buf ?? new Uint8Array(len);
  if (offset + len > out.length) throw new RangeError('udp: buffer too small');
  const o = offset;
  const ulen = obj.length ?? len;
  const c = obj.checksum ?? 0;
  out[o] = obj.srcPort >>> 8;
  out[o + 1] = obj.srcPort & 0xff;
  out[o + 2] = obj.dstPort >>> 8;
  out[o + 3] = obj.dstPort & 0xff;
  out[o + 4] = ulen >>> 8;
  out[o + 5] = ulen & 0xff;
  out[o + 6] = c >>> 8;
  out[o + 7] = c & 0xff;
  out.set(obj.payload ?? EMPTY, o + 8);
  encode.bytes = len;
  return out;
}
encode.bytes = 0;

/**
 * Decodes the datagram at offset; its length field must lie within buf.
 * The payload is what the length field covers.
 */
export function decode(buf: Uint8Array, offset: number = 0): DecodedUdpDatagram {
  const o = offset;
  if (buf.length - o < 8) throw new RangeError('udp: shorter than a header');
  const ulen = (buf[o + 4]! << 8) | buf[o + 5]!;
  if (ulen < 8 || ulen > buf.length - o) throw new RangeError('udp: bad length');
  decode.bytes = ulen;
  return {
    srcPort: (buf[o]! << 8) | buf[o + 1]!,
    dstPort: (buf[o + 2]! << 8) | buf[o + 3]!,
    length: ulen,
    checksum: (buf[o + 6]! << 8) | buf[o + 7]!,
    payload: buf.subarray(o + 8, o + ulen),
  };
}
decode.bytes = 0;
