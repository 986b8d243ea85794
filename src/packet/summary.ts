// A one-line, tcpdump-like description of a parsed packet, for `tunpf
// replay`, logs and test failure messages. Allocates; not per-packet code.
//   10.0.0.1.1234 > 10.0.0.2.80: tcp S seq 1000 win 64240 options [mss 1460] len 0
//   10.0.0.1 > 10.0.0.2: icmp echo request id 7
//   10.0.0.1 > 10.0.0.2: udp [frag id 9 off 1480]

import { formatAddress } from './address.js';
import { ParseErrorName, TCPFlag, type PacketMeta } from './meta.js';
import { tcpFlagsToString } from './tcp.js';

const PROTO_NAMES: Record<number, string> = {
  1: 'icmp',
  2: 'igmp',
  4: 'ipencap',
  6: 'tcp',
  17: 'udp',
  41: 'ipv6',
  47: 'gre',
  50: 'esp',
  51: 'ah',
  58: 'icmp6',
  59: 'ipv6-nonxt',
  103: 'pim',
  112: 'carp',
  132: 'sctp',
  240: 'pfsync',
};

const ICMP4_TYPES: Record<number, string> = {
  0: 'echo reply',
  3: 'unreachable',
  4: 'source quench',
  5: 'redirect',
  8: 'echo request',
  9: 'router advertisement',
  10: 'router solicitation',
  11: 'time exceeded',
  12: 'parameter problem',
  13: 'timestamp request',
  14: 'timestamp reply',
  15: 'info request',
  16: 'info reply',
  17: 'mask request',
  18: 'mask reply',
};

// pf's names for the codes (pfctl icmpcode)
const ICMP4_UNREACH_CODES: Record<number, string> = {
  0: 'net-unr',
  1: 'host-unr',
  2: 'proto-unr',
  3: 'port-unr',
  4: 'needfrag',
  5: 'srcfail',
  6: 'net-unk',
  7: 'host-unk',
  8: 'isolate',
  9: 'net-prohib',
  10: 'host-prohib',
  11: 'net-tos',
  12: 'host-tos',
  13: 'filter-prohib',
  14: 'host-preced',
  15: 'cutoff-preced',
};

const ICMP6_TYPES: Record<number, string> = {
  1: 'unreachable',
  2: 'packet too big',
  3: 'time exceeded',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  130: 'listener query',
  131: 'listener report',
  132: 'listener done',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
  143: 'listener report v2',
};

const ICMP6_UNREACH_CODES: Record<number, string> = {
  0: 'noroute-unr',
  1: 'admin-unr',
  2: 'beyond-unr',
  3: 'addr-unr',
  4: 'port-unr',
};

export function protoName(proto: number): string {
  return PROTO_NAMES[proto] ?? `proto ${proto}`;
}

function endpoint(af: number, words: Uint32Array, port: number, withPort: boolean): string {
  const a = formatAddress(af, words);
  return withPort ? `${a}.${port}` : a;
}

function icmpTypeText(af: number, type: number, code: number): string {
  const name = (af === 4 ? ICMP4_TYPES : ICMP6_TYPES)[type];
  if (name === undefined) return `type ${type} code ${code}`;
  const isUnreach = (af === 4 && type === 3) || (af === 6 && type === 1);
  if (isUnreach) return `${name} ${(af === 4 ? ICMP4_UNREACH_CODES : ICMP6_UNREACH_CODES)[code] ?? `code ${code}`}`;
  return code === 0 ? name : `${name} code ${code}`;
}

function fragText(m: PacketMeta): string {
  return `[frag id ${m.fragmentId} off ${m.fragmentOffset}${m.moreFragments ? '+' : ''}]`;
}

function tcpText(m: PacketMeta): string {
  const parts = [`tcp ${tcpFlagsToString(m.tcpFlags) || 'none'} seq ${m.seq}`];
  if (m.tcpFlags & TCPFlag.ACK) parts.push(`ack ${m.ack}`);
  parts.push(`win ${m.window}`);
  const opts: string[] = [];
  if (m.mss !== 0) opts.push(`mss ${m.mss}`);
  if (m.sackPermitted) opts.push('sackOK');
  if (m.hasTimestamp) opts.push(`TS val ${m.tsVal} ecr ${m.tsEcr}`);
  if (m.wscaleRaw >= 0) opts.push(`wscale ${m.wscaleRaw}`);
  if (opts.length > 0) parts.push(`options [${opts.join(',')}]`);
  parts.push(`len ${m.payloadLength}`);
  return parts.join(' ');
}

function innerText(m: PacketMeta): string {
  const proto = m.innerProto;
  const ports = proto === 6 || proto === 17;
  const s = endpoint(m.af, m.innerSrc, m.innerSrcPort, ports && m.innerValid);
  const d = endpoint(m.af, m.innerDst, m.innerDstPort, ports && m.innerValid);
  let t = `for ${protoName(proto)} ${s} > ${d}`;
  if (m.innerIcmpType >= 0) {
    t += ` ${(m.af === 4 ? ICMP4_TYPES : ICMP6_TYPES)[m.innerIcmpType] ?? `type ${m.innerIcmpType}`}`;
    if (m.innerIcmpId !== 0) t += ` id ${m.innerIcmpId}`;
  }
  if (!m.innerValid) t += ' (truncated)';
  return t;
}

function icmpText(m: PacketMeta): string {
  let t = `${m.af === 4 ? 'icmp' : 'icmp6'} ${icmpTypeText(m.af, m.icmpType, m.icmpCode)}`;
  if (m.icmpIsError) t += ` ${innerText(m)}`;
  else if (m.srcPort !== 0 || m.icmpId !== 0) t += ` id ${m.icmpId}`;
  return t;
}

/** One line describing the packet meta was filled from (see parsePacket). */
export function summarize(m: PacketMeta): string {
  if (m.af !== 4 && m.af !== 6) return `malformed (${ParseErrorName[m.error] ?? m.error})`;
  const isIcmp = (m.proto === 1 && m.af === 4) || (m.proto === 58 && m.af === 6);
  const ports = m.error === 0 && !m.isLaterFragment && (m.proto === 6 || m.proto === 17);
  const head = `${endpoint(m.af, m.src, m.srcPort, ports)} > ${endpoint(m.af, m.dst, m.dstPort, ports)}: `;
  if (m.error !== 0) return `${head}${protoName(m.proto)} malformed (${ParseErrorName[m.error] ?? m.error})`;
  if (m.isLaterFragment) return `${head}${protoName(m.proto)} ${fragText(m)}`;
  let body: string;
  if (m.proto === 6) body = tcpText(m);
  else if (m.proto === 17) body = `udp len ${m.payloadLength}`;
  else if (isIcmp && m.icmpType >= 0) body = icmpText(m);
  else body = `${protoName(m.proto)} len ${m.l4Length}`;
  if (m.isFragment) body += ` ${fragText(m)}`;
  return head + body;
}
