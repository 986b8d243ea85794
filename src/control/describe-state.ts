// pf's one-line state format (pfctl -ss):
//   all tcp 192.0.2.80:443 <- 10.0.0.5:51234       ESTABLISHED:ESTABLISHED
// An inbound state prints responder <- initiator, an outbound one
// initiator -> responder; IPv6 ports print as addr[port].

import { formatAddress } from '../packet/address.js';
import { Direction, IPPROTO } from '../packet/meta.js';
import { protocolName } from '../rules/names.js';
import { FLOATING, PeerStateName, TcpStateName } from '../state/constants.js';
import type { StateTable } from '../state/state-table.js';

function endpoint(af: number, words: Uint32Array, port: number, proto: number): string {
  const a = formatAddress(af, words);
  if (proto !== IPPROTO.TCP && proto !== IPPROTO.UDP && proto !== IPPROTO.SCTP) return a;
  return af === 6 ? `${a}[${port}]` : `${a}:${port}`;
}

export function peerStates(t: StateTable, i: number): string {
  const proto = t.protoOf(i);
  const a = t.peerState[i * 2]!;
  const b = t.peerState[i * 2 + 1]!;
  if (proto === IPPROTO.TCP) return `${TcpStateName[a] ?? a}:${TcpStateName[b] ?? b}`;
  if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) return `${a}:${b}`;
  return `${PeerStateName[a] ?? a}:${PeerStateName[b] ?? b}`;
}

export function describeState(t: StateTable, i: number, ifName: (id: number) => string = () => '?'): string {
  const af = t.afOf(i);
  const proto = t.protoOf(i);
  const init = endpoint(af, t.addressOf(i, 0), t.portOf(i, 0), proto);
  const resp = endpoint(af, t.addressOf(i, 1), t.portOf(i, 1), proto);
  const flow = t.direction[i] === Direction.OUT ? `${init} -> ${resp}` : `${resp} <- ${init}`;
  const ifname = t.ifId[i] === FLOATING ? 'all' : ifName(t.ifId[i]!);
  return `${ifname} ${protocolName(proto)} ${flow}`.padEnd(56) + ` ${peerStates(t, i)}`;
}
