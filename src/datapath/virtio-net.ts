// The virtio_net_hdr that precedes every packet on a TUN with IFF_VNET_HDR:
// how the kernel describes checksum and segmentation offload (GSO) of the
// packet. A pure codec (decode / encode / encodingLength), little-endian as
// the kernel's virtio layout on x86 and ARM.

export const VIRTIO_NET_HDR_LEN = 10;

export const VirtioFlag = { NEEDS_CSUM: 1, DATA_VALID: 2 } as const;
export const GsoType = { NONE: 0, TCPV4: 1, UDP: 3, TCPV6: 4, UDP_L4: 5, ECN: 0x80 } as const;

export interface VirtioNetHdr {
  flags: number;
  gsoType: number;
  /** Bytes of headers (IP + L4) of each segment. */
  hdrLen: number;
  /** Payload bytes per segment. */
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function encodingLength(_hdr?: VirtioNetHdr): number {
  return VIRTIO_NET_HDR_LEN;
}

export function decode(buf: Uint8Array, offset = 0): VirtioNetHdr {
  if (offset + VIRTIO_NET_HDR_LEN > buf.length) throw new RangeError('virtio_net_hdr: need 10 bytes');
  const u16 = (o: number) => buf[offset + o]! | (buf[offset + o + 1]! << 8);
  return {
    flags: buf[offset]!,
    gsoType: buf[offset + 1]!,
    hdrLen: u16(2),
    gsoSize: u16(4),
    csumStart: u16(6),
    csumOffset: u16(8),
  };
}

export function encode(
  hdr: VirtioNetHdr,
  buf: Uint8Array = new Uint8Array(VIRTIO_NET_HDR_LEN),
  offset = 0,
): Uint8Array {
  if (offset + VIRTIO_NET_HDR_LEN > buf.length) throw new RangeError('virtio_net_hdr: need 10 bytes');
  const put16 = (o: number, v: number) => {
    buf[offset + o] = v & 0xff;
    buf[offset + o + 1] = (v >>> 8) & 0xff;
  };
  buf[offset] = hdr.flags;
  buf[offset + 1] = hdr.gsoType;
  put16(2, hdr.hdrLen);
  put16(4, hdr.gsoSize);
  put16(6, hdr.csumStart);
  put16(8, hdr.csumOffset);
  return buf;
}
