// The Ethernet frames a CARP master sends (shared/spec/carp.md §2, §10),
// built as bytes with no I/O: advertisements from the virtual MAC to the
// group's multicast MAC (IPv4: TOS 0x10, DF, TTL 255; IPv6: hop limit 255),
// gratuitous ARP requests, and unsolicited neighbour advertisements. Sending
// whole frames lets the advertisement carry the virtual MAC as OpenBSD's do,
// which also keeps switches pointing the virtual MAC at the current master.

import { parseAddress, wordsToBytes } from '../packet/address.js';
import { writeL4Checksum } from '../packet/checksum.js';
import * as ipv4 from '../packet/ipv4.js';
import * as ipv6 from '../packet/ipv6.js';
import { CARP } from './constants.js';

export const ETHERTYPE = { IPV4: 0x0800, ARP: 0x0806, IPV6: 0x86dd } as const;
export const ETHERNET_HEADER_LENGTH = 14;
export const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

/** 00:00:5e:00:01:<vhid>, the IANA range OpenBSD and FreeBSD use for CARP. */
export function virtualMac(vhid: number): Uint8Array {
  return Uint8Array.of(0x00, 0x00, 0x5e, 0x00, 0x01, vhid & 0xff);
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(text: string): Uint8Array {
  const parts = text.trim().split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p)))
    throw new RangeError(`not a MAC address: ${text}`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

function addressBytes(text: string): Uint8Array {
  const a = parseAddress(text);
  if (!a) throw new RangeError(`not an address: ${text}`);
  const out = new Uint8Array(a.af === 4 ? 4 : 16);
  wordsToBytes(a.words, a.af, out, 0);
  return out;
}

/** The Ethernet address an IP multicast group maps to (RFC 1112, RFC 2464). */
export function multicastMac(group: string): Uint8Array {
  const b = addressBytes(group);
  if (b.length === 4) {
    if (b[0]! < 224 || b[0]! > 239) throw new RangeError(`not an IPv4 multicast group: ${group}`);
    return Uint8Array.of(0x01, 0x00, 0x5e, b[1]! & 0x7f, b[2]!, b[3]!);
  }
  if (b[0] !== 0xff) throw new RangeError(`not an IPv6 multicast group: ${group}`);
  return Uint8Array.of(0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!);
}

function writeEthernet(buf: Uint8Array, o: number, dst: Uint8Array, src: Uint8Array, type: number): void {
  buf.set(dst, o);
  buf.set(src, o + 6);
  buf[o + 12] = type >> 8;
  buf[o + 13] = type & 0xff;
}

export interface AdvertisementFrame {
  /** The sender's MAC: the virtual MAC, or the interface's own when addresses live on it. */
  srcMac: Uint8Array;
  /** An address of the parent interface, never the virtual one. */
  src: string;
  /** 224.0.0.18 or ff02::12. */
  dst: string;
  /** IPv4 identification (random per packet in OpenBSD). */
  ipId: number;
  /** The 36-byte CARP header (advertisement.encode). */
  carp: Uint8Array;
}

export const advertisementFrame = {
  encodingLength(f: Pick<AdvertisementFrame, 'dst'>): number {
    return ETHERNET_HEADER_LENGTH + (f.dst.includes(':') ? 40 : 20) + CARP.HEADER_LENGTH;
  },

  encode(f: AdvertisementFrame, buf?: Uint8Array, offset = 0): Uint8Array {
    if (f.carp.length !== CARP.HEADER_LENGTH) throw new RangeError('a CARP header is 36 bytes');
    const len = advertisementFrame.encodingLength(f);
    const out = buf ?? new Uint8Array(len);
    if (offset + len > out.length) throw new RangeError('buffer too small for a CARP frame');
    const v6 = f.dst.includes(':');
    writeEthernet(out, offset, multicastMac(f.dst), f.srcMac, v6 ? ETHERTYPE.IPV6 : ETHERTYPE.IPV4);
    const ip = offset + ETHERNET_HEADER_LENGTH;
    if (v6)
      ipv6.encode(
        { src: f.src, dst: f.dst, protocol: CARP.PROTO, hopLimit: CARP.TTL, trafficClass: CARP.TOS, payload: f.carp },
        out,
        ip,
      );
    else
      ipv4.encode(
        {
          src: f.src,
          dst: f.dst,
          protocol: CARP.PROTO,
          ttl: CARP.TTL,
          tos: CARP.TOS,
          id: f.ipId & 0xffff,
          flags: ipv4.IPV4_FLAG_DF,
          payload: f.carp,
        },
        out,
        ip,
      );
    return out;
  },
};

export const ARP_FRAME_LENGTH = ETHERNET_HEADER_LENGTH + 28;

/**
 * A gratuitous ARP request for `ip`: broadcast, sender and target IP both
 * the address, target MAC zero, as OpenBSD announces a new master.
 */
export function encodeGratuitousArp(
  mac: Uint8Array,
  ip: string,
  buf: Uint8Array = new Uint8Array(ARP_FRAME_LENGTH),
  offset = 0,
): Uint8Array {
  const a = addressBytes(ip);
  if (a.length !== 4) throw new RangeError(`ARP is for IPv4 addresses: ${ip}`);
  writeEthernet(buf, offset, BROADCAST_MAC, mac, ETHERTYPE.ARP);
  const o = offset + ETHERNET_HEADER_LENGTH;
  buf.set([0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01], o); // Ethernet, IPv4, lengths, request
  buf.set(mac, o + 8);
  buf.set(a, o + 14);
  buf.fill(0, o + 18, o + 24);
  buf.set(a, o + 24);
  return buf;
}

export const NA_FRAME_LENGTH = ETHERNET_HEADER_LENGTH + 40 + 32;
const NA_FLAG_ROUTER = 0x80;
const NA_FLAG_OVERRIDE = 0x20;

/**
 * An unsolicited neighbour advertisement for `target` to all nodes
 * (ff02::1), with the Override flag and, on a router, the Router flag, and
 * the target link-layer address option (RFC 4861 §7.2.6).
 */
export function encodeUnsolicitedNa(
  mac: Uint8Array,
  target: string,
  router: boolean,
  buf: Uint8Array = new Uint8Array(NA_FRAME_LENGTH),
  offset = 0,
): Uint8Array {
  const t = addressBytes(target);
  if (t.length !== 16) throw new RangeError(`neighbour advertisements are for IPv6 addresses: ${target}`);
  const icmp = new Uint8Array(32);
  icmp[0] = 136;
  icmp[4] = NA_FLAG_OVERRIDE | (router ? NA_FLAG_ROUTER : 0);
  icmp.set(t, 8);
  icmp[24] = 2; // target link-layer address
  icmp[25] = 1; // in units of 8 bytes
  icmp.set(mac, 26);
  writeEthernet(buf, offset, multicastMac('ff02::1'), mac, ETHERTYPE.IPV6);
  const ip = offset + ETHERNET_HEADER_LENGTH;
  ipv6.encode({ src: target, dst: 'ff02::1', protocol: 58, hopLimit: 255, payload: icmp }, buf, ip);
  writeL4Checksum(buf, ip, 6, 58, ip + 40, icmp.length);
  return buf;
}
