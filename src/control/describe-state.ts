// pf's one-line state format (pfctl -ss, pf_print_state.c print_state):
//   all tcp 192.0.2.80:443 <- 10.0.0.5:51234       ESTABLISHED:ESTABLISHED
//   all tcp 198.51.100.2:53124 (192.168.1.10:40000) -> 203.0.113.5:443       SYN_SENT:CLOSED
// An outbound state prints its local side first from the wire key, with the
// stack key's value in parentheses where it differs; an inbound one prints
// its local side first from the stack key, with the wire key's in
// parentheses. IPv6 ports print as addr[port].

import { formatAddress } from '../packet/address.js';
import { Direction, IPPROTO } from '../packet/meta.js';
import { protocolName } from '../rules/names.js';
import { FLOATING, PeerStateName, TcpStateName } from '../state/constants.js';
import type { StateTable } from '../state/state-table.js';

/** One side of a key: address text and port (ICMP id). */
export interface FlowEnd {
  address: string;
  port: number;
}

/** A state's keys, each initiator first: the wire key and the stack key (the same when untranslated). */
export interface FlowKeys {
  af: number;
  proto: number;
  outbound: boolean;
  wire: readonly [FlowEnd, FlowEnd];
  stack: readonly [FlowEnd, FlowEnd];
}

/** An endpoint as pfctl prints it: addr:port, addr[port] for IPv6, the address alone without ports. */
export function endpointText(af: number, proto: number, e: FlowEnd): string {
  if (proto !== IPPROTO.TCP && proto !== IPPROTO.UDP && proto !== IPPROTO.SCTP) return e.address;
  return af === 6 ? `${e.address}[${e.port}]` : `${e.address}:${e.port}`;
}

/** pfctl -ss's flow: `left (other key's left) -> right (other key's right)`, with `<-` for inbound states. */
export function flowText(k: FlowKeys): string {
  // pf prints the key the packets of the state's own direction leave with, the other in parentheses
  const shown = k.outbound ? k.wire : k.stack;
  const other = k.outbound ? k.stack : k.wire;
  const side = (s: 0 | 1) => {
    const text = endpointText(k.af, k.proto, shown[s]);
    const a = shown[s];
    const b = other[s];
    return a.address === b.address && a.port === b.port ? text : `${text} (${endpointText(k.af, k.proto, b)})`;
  };
  // the local side first: the initiator of an outbound state, the responder of an inbound one
  return k.outbound ? `${side(0)} -> ${side(1)}` : `${side(1)} <- ${side(0)}`;
}

/** The peers' states as pfctl -ss prints them: an outbound state's initiator first, an inbound one's responder. */
export function peerStates(t: StateTable, i: number): string {
  const proto = t.protoOf(i);
  const out = t.direction[i] === Direction.OUT;
  const a = t.peerState[i * 2 + (out ? 0 : 1)]!;
  const b = t.peerState[i * 2 + (out ? 1 : 0)]!;
  if (proto === IPPROTO.TCP) return `${TcpStateName[a] ?? a}:${TcpStateName[b] ?? b}`;
  if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) return `${a}:${b}`;
  return `${PeerStateName[a] ?? a}:${PeerStateName[b] ?? b}`;
}

/** State i's keys as text. */
export function flowKeys(t: StateTable, i: number): FlowKeys {
  const af = t.afOf(i);
  const end = (stack: boolean, s: number): FlowEnd =>
    stack
      ? { address: formatAddress(af, t.stackAddressOf(i, s)), port: t.stackPortOf(i, s) }
      : { address: formatAddress(af, t.addressOf(i, s)), port: t.portOf(i, s) };
  const wire = [end(false, 0), end(false, 1)] as const;
  return {
    af,
    proto: t.protoOf(i),
    outbound: t.direction[i] === Direction.OUT,
    wire,
    stack: t.translated(i) ? [end(true, 0), end(true, 1)] : wire,
  };
}

export function describeState(t: StateTable, i: number, ifName: (id: number) => string = () => '?'): string {
  const ifname = t.ifId[i] === FLOATING ? 'all' : ifName(t.ifId[i]!);
  return `${ifname} ${protocolName(t.protoOf(i))} ${flowText(flowKeys(t, i))}`.padEnd(56) + ` ${peerStates(t, i)}`;
}
