// A master answers ARP requests and IPv6 neighbour solicitations for its
// virtual addresses itself; the kernel never does (the macvlan is NOARP), so
// a killed tunpf answers for nothing and hosts stop learning the dead
// router's port as the virtual MAC's. Pure functions over frames: the carp
// service feeds what the neighbour socket receives and sends what comes out.

import { parseAddress, wordsToBytes } from '../packet/address.js';
import { verifyL4Checksum, writeL4Checksum } from '../packet/checksum.js';
import { ARP_FRAME_LENGTH, ETHERNET_HEADER_LENGTH, ETHERTYPE } from './frames.js';

/** What a vhid answers for: its MAC and its addresses as bytes. */
export interface NeighbourOwner {
  mac: Uint8Array;
  v4: readonly Uint8Array[];
  v6: readonly Uint8Array[];
}

const ICMPV6 = 58;
const NS_TYPE = 135;
const NA_TYPE = 136;
const NS_LENGTH = 24;
const NA_LENGTH = 32;
const IPV6_HEADER = 40;
const NA_FLAG_ROUTER = 0x80;
const NA_FLAG_SOLICITED = 0x40;
const NA_FLAG_OVERRIDE = 0x20;
const ALL_NODES = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
const ALL_NODES_MAC = Uint8Array.of(0x33, 0x33, 0, 0, 0, 1);

/** The longest answer: a neighbour advertisement with its target link-layer address option. */
export const ANSWER_MAX_LENGTH = ETHERNET_HEADER_LENGTH + IPV6_HEADER + NA_LENGTH;

export function neighbourOwner(mac: Uint8Array, addresses: readonly { address: string }[]): NeighbourOwner {
  const v4: Uint8Array[] = [];
  const v6: Uint8Array[] = [];
  for (const { address } of addresses) {
    const a = parseAddress(address);
    if (!a) throw new RangeError(`not an address: ${address}`);
    const bytes = new Uint8Array(a.af === 4 ? 4 : 16);
    wordsToBytes(a.words, a.af, bytes, 0);
    (a.af === 4 ? v4 : v6).push(bytes);
  }
  return { mac, v4, v6 };
}

/**
 * The multicast MACs of the owner's solicited-node groups (RFC 4291 §2.7.1,
 * RFC 2464 §7), where solicitations for its IPv6 addresses are sent.
 */
export function solicitedNodeMacs(owner: NeighbourOwner): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const a of owner.v6) {
    const mac = Uint8Array.of(0x33, 0x33, 0xff, a[13]!, a[14]!, a[15]!);
    if (!out.some((m) => equalAt(m, 0, mac))) out.push(mac);
  }
  return out;
}

function equalAt(buf: Uint8Array, at: number, bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (buf[at + i] !== bytes[i]) return false;
  return true;
}

function ownsAt(buf: Uint8Array, at: number, list: readonly Uint8Array[]): boolean {
  for (const a of list) if (equalAt(buf, at, a)) return true;
  return false;
}

function isZero(buf: Uint8Array, at: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[at + i] !== 0) return false;
  return true;
}

/**
 * The answer to `frame` (its first `length` bytes, Ethernet header
 * included), written to `out`: its length, or 0 when there is none. Only a
 * master answers, only for its own addresses, never a gratuitous request.
 */
export function answerNeighbour(
  frame: Uint8Array,
  length: number,
  owner: NeighbourOwner,
  master: boolean,
  router: boolean,
  out: Uint8Array,
): number {
  if (!master || length < ETHERNET_HEADER_LENGTH) return 0;
  const type = (frame[12]! << 8) | frame[13]!;
  if (type === ETHERTYPE.ARP) return answerArp(frame, length, owner, out);
  if (type === ETHERTYPE.IPV6) return answerSolicitation(frame, length, owner, router, out);
  return 0;
}

function answerArp(frame: Uint8Array, length: number, owner: NeighbourOwner, out: Uint8Array): number {
  const o = ETHERNET_HEADER_LENGTH;
  if (length < ARP_FRAME_LENGTH) return 0;
  // Ethernet, IPv4, address lengths 6 and 4, request
  if (frame[o] !== 0 || frame[o + 1] !== 1 || frame[o + 2] !== 8 || frame[o + 3] !== 0) return 0;
  if (frame[o + 4] !== 6 || frame[o + 5] !== 4 || frame[o + 6] !== 0 || frame[o + 7] !== 1) return 0;
  const spa = o + 14;
  const tpa = o + 24;
  if (!ownsAt(frame, tpa, owner.v4) || equalAt(frame, spa, frame.subarray(tpa, tpa + 4))) return 0;
  out.set(frame.subarray(o + 8, o + 14), 0); // to the sender's hardware address
  out.set(owner.mac, 6);
  out[12] = ETHERTYPE.ARP >> 8;
  out[13] = ETHERTYPE.ARP & 0xff;
  out.set(frame.subarray(o, o + 6), o);
  out[o + 6] = 0;
  out[o + 7] = 2; // reply
  out.set(owner.mac, o + 8);
  out.set(frame.subarray(tpa, tpa + 4), o + 14);
  out.set(frame.subarray(o + 8, o + 14), o + 18);
  out.set(frame.subarray(spa, spa + 4), o + 24);
  return ARP_FRAME_LENGTH;
}

function answerSolicitation(
  frame: Uint8Array,
  length: number,
  owner: NeighbourOwner,
  router: boolean,
  out: Uint8Array,
): number {
  const ip = ETHERNET_HEADER_LENGTH;
  const icmp = ip + IPV6_HEADER;
  if (length < icmp + NS_LENGTH || frame[ip]! >> 4 !== 6) return 0;
  const payload = (frame[ip + 4]! << 8) | frame[ip + 5]!;
  // RFC 4861 §7.1.1: hop limit 255 (it comes from the link), code 0, at least 24 bytes, a valid checksum
  if (frame[ip + 6] !== ICMPV6 || frame[ip + 7] !== 255 || payload < NS_LENGTH || icmp + payload > length) return 0;
  if (frame[icmp] !== NS_TYPE || frame[icmp + 1] !== 0) return 0;
  if (!verifyL4Checksum(frame, ip, 6, ICMPV6, icmp, payload)) return 0;
  const target = icmp + 8;
  if (!ownsAt(frame, target, owner.v6)) return 0;
  // from the unspecified address (another node's duplicate address detection): to all nodes, not solicited
  const dad = isZero(frame, ip + 8, 16);
  out.set(dad ? ALL_NODES_MAC : frame.subarray(6, 12), 0);
  out.set(owner.mac, 6);
  out[12] = ETHERTYPE.IPV6 >> 8;
  out[13] = ETHERTYPE.IPV6 & 0xff;
  out.fill(0, ip, ip + 4);
  out[ip] = 0x60;
  out[ip + 4] = 0;
  out[ip + 5] = NA_LENGTH;
  out[ip + 6] = ICMPV6;
  out[ip + 7] = 255;
  out.set(frame.subarray(target, target + 16), ip + 8);
  out.set(dad ? ALL_NODES : frame.subarray(ip + 8, ip + 24), ip + 24);
  out.fill(0, icmp, icmp + NA_LENGTH);
  out[icmp] = NA_TYPE;
  out[icmp + 4] = NA_FLAG_OVERRIDE | (dad ? 0 : NA_FLAG_SOLICITED) | (router ? NA_FLAG_ROUTER : 0);
  out.set(frame.subarray(target, target + 16), icmp + 8);
  out[icmp + 24] = 2; // target link-layer address, 8 bytes
  out[icmp + 25] = 1;
  out.set(owner.mac, icmp + 26);
  writeL4Checksum(out, ip, 6, ICMPV6, icmp, NA_LENGTH);
  return ANSWER_MAX_LENGTH;
}
