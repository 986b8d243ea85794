// Link-layer headers of capture files, down to the IP packet: raw IP, IPv4,
// IPv6, Ethernet (with 802.1Q/QinQ tags), Linux cooked SLL and SLL2, BSD
// loopback (NULL/LOOP), pflog. Pure functions over bytes.

import * as pflog from './pflog.js';

/** pcap link types (LINKTYPE_*). */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_OLD: 12, // DLT_RAW on some BSDs
  RAW_OPENBSD: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  PFLOG: 117,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export interface LinkInfo {
  /** Offset of the IP header in the frame, or -1 when the frame carries no IP packet. */
  ipOffset: number;
  /** 'in' / 'out' when the link header says so (SLL packet types), else null. */
  direction: 'in' | 'out' | null;
  /** Interface index from SLL2, else -1. */
  ifindex: number;
  /** Interface name from a pflog header, else null. */
  ifname: string | null;
  /** Why there is no IP packet, when ipOffset is -1. */
  reason: string;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = [0x8100, 0x88a8, 0x9100];

function none(reason: string): LinkInfo {
  return { ipOffset: -1, direction: null, ifindex: -1, ifname: null, reason };
}

function ipAt(
  buf: Uint8Array,
  off: number,
  len: number,
  ethertype: number,
  direction: 'in' | 'out' | null,
  ifindex: number,
): LinkInfo {
  if (ethertype !== ETH_IPV4 && ethertype !== ETH_IPV6)
    return none(`not IP (ethertype 0x${ethertype.toString(16).padStart(4, '0')})`);
  if (off >= len) return none('frame ends before the IP header');
  void buf;
  return { ipOffset: off, direction, ifindex, ifname: null, reason: '' };
}

/** AF_INET, and AF_INET6 as the BSDs, macOS and Linux number it. */
function isInetFamily(fam: number): boolean {
  return fam === 2 || fam === 24 || fam === 28 || fam === 30 || fam === 10;
}

/** SLL packet types 0-3 arrived at the host; 4 was sent by it. */
function sllDirection(type: number): 'in' | 'out' {
  return type === 4 ? 'out' : 'in';
}

export function decodeLinkLayer(linkType: number, buf: Uint8Array, offset: number, length: number): LinkInfo {
  const end = offset + length;
  const u16 = (o: number) => (buf[o]! << 8) | buf[o + 1]!;
  switch (linkType) {
    case LinkType.RAW:
    case LinkType.RAW_OLD:
    case LinkType.RAW_OPENBSD:
    case LinkType.IPV4:
    case LinkType.IPV6:
      return length > 0
        ? { ipOffset: offset, direction: null, ifindex: -1, ifname: null, reason: '' }
        : none('empty frame');
    case LinkType.ETHERNET: {
      if (length < 14) return none('short Ethernet header');
      let o = offset + 12;
      let type = u16(o);
      o += 2;
      for (let tags = 0; ETH_VLAN.includes(type) && tags < 2; tags++) {
        if (o + 4 > end) return none('short VLAN tag');
        type = u16(o + 2);
        o += 4;
      }
      return ipAt(buf, o, end, type, null, -1);
    }
    case LinkType.LINUX_SLL: {
      if (length < 16) return none('short SLL header');
      return ipAt(buf, offset + 16, end, u16(offset + 14), sllDirection(u16(offset)), -1);
    }
    case LinkType.LINUX_SLL2: {
      if (length < 20) return none('short SLL2 header');
      const ifindex =
        ((buf[offset + 4]! << 24) | (buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!) >>> 0;
      return ipAt(buf, offset + 20, end, u16(offset), sllDirection(buf[offset + 10]!), ifindex);
    }
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (length < 4) return none('short loopback header');
      // the family word is in the capturing host's byte order (NULL) or big-endian (LOOP)
      const le = buf[offset]! | (buf[offset + 1]! << 8);
      const be = u16(offset + 2);
      const fam = linkType === LinkType.LOOP ? be : le !== 0 ? le : be;
      if (isInetFamily(fam)) return { ipOffset: offset + 4, direction: null, ifindex: -1, ifname: null, reason: '' };
      return none(`not IP (address family ${fam})`);
    }
    case LinkType.PFLOG: {
      let h;
      try {
        h = pflog.decode(buf.subarray(offset, end));
      } catch (e) {
        return none((e as Error).message);
      }
      if (!isInetFamily(h.af)) return none(`not IP (address family ${h.af})`);
      const at = offset + pflog.decode.bytes;
      if (at >= end) return none('frame ends before the IP header');
      return {
        ipOffset: at,
        direction: h.dir === pflog.PfDirection.IN ? 'in' : h.dir === pflog.PfDirection.OUT ? 'out' : null,
        ifindex: -1,
        ifname: h.ifname || null,
        reason: '',
      };
    }
    default:
      return none(`unsupported link type ${linkType}`);
  }
}
