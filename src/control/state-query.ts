// Reading the state table for operators: which states match a filter
// (address, port, protocol, interface), sorted and limited, as StateInfo
// records; and which states `kill states` means (pfctl -k). The filters
// run over the typed arrays first, so only matching states become objects.

import type { CompiledRuleset } from '../filter/compile-rules.js';
import type { InterfaceRegistry } from '../filter/interface-registry.js';
import { formatAddress, maskAddress, parsePrefix, type ParsedPrefix } from '../packet/address.js';
import { Direction, IPPROTO } from '../packet/meta.js';
import { protocolName, protocolNumber } from '../rules/names.js';
import { FLOATING, NO_RULE, PeerStateName, TcpStateName } from '../state/constants.js';
import type { StateEngine } from '../state/state-engine.js';
import type { StateTable } from '../state/state-table.js';
import { rulesById } from './rule-rows.js';
import { ControlError, StreamedResult } from './server.js';
import { ErrorCode } from './protocol.js';
import {
  STATE_SORT_KEYS,
  type ShowStatesArgs,
  type ShowStatesResult,
  type StateInfo,
  type StateSortKey,
} from './results.js';

const hex = (n: number, digits: number) => (n >>> 0).toString(16).padStart(digits, '0');

export function stateId(t: StateTable, i: number): string {
  return hex(t.idHi[i]!, 8) + hex(t.idLo[i]!, 8);
}

function peerName(proto: number, v: number): string {
  if (proto === IPPROTO.TCP) return TcpStateName[v] ?? String(v);
  if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) return String(v);
  return PeerStateName[v] ?? String(v);
}

/** Names a rule id as its anchor and number there (rule-rows.ts rulesById). */
export type RuleNamer = (id: number) => { anchor: string; nr: number } | undefined;

export function stateInfo(
  engine: StateEngine,
  i: number,
  interfaces: InterfaceRegistry,
  now: number,
  ruleOf?: RuleNamer,
): StateInfo {
  const t = engine.table;
  const id = t.rule[i] === NO_RULE ? -1 : t.rule[i]!;
  const named = ruleOf?.(id);
  const af = t.afOf(i) as 4 | 6;
  const proto = t.protoOf(i);
  const age = Math.max(0, Math.floor(now) - t.creation[i]!);
  const bytes: [number, number] = [t.bytes[i * 2]!, t.bytes[i * 2 + 1]!];
  const stack = t.translated(i)
    ? {
        stack: {
          src: { address: formatAddress(af, t.stackAddressOf(i, 0)), port: t.stackPortOf(i, 0) },
          dst: { address: formatAddress(af, t.stackAddressOf(i, 1)), port: t.stackPortOf(i, 1) },
        },
      }
    : {};
  return {
    id: stateId(t, i),
    creator: hex(t.creator[i]!, 8),
    interface: t.ifId[i] === FLOATING ? 'all' : interfaces.name(t.ifId[i]!),
    af,
    proto: protocolName(proto),
    direction: t.direction[i] === Direction.OUT ? 'out' : 'in',
    src: { address: formatAddress(af, t.addressOf(i, 0)), port: t.portOf(i, 0) },
    dst: { address: formatAddress(af, t.addressOf(i, 1)), port: t.portOf(i, 1) },
    ...stack,
    peers: [peerName(proto, t.peerState[i * 2]!), peerName(proto, t.peerState[i * 2 + 1]!)],
    rule: named ? named.nr : id,
    ...(named?.anchor ? { anchor: named.anchor } : {}),
    age,
    expires: engine.expiresIn(i, now),
    packets: [t.packets[i * 2]!, t.packets[i * 2 + 1]!],
    bytes,
    rate: Math.round((bytes[0] + bytes[1]) / Math.max(1, age)),
  };
}

function parseNet(text: unknown, what: string): ParsedPrefix {
  const p = typeof text === 'string' ? parsePrefix(text) : null;
  if (!p) throw new ControlError(ErrorCode.BAD_ARGS, `${what}: '${String(text)}' is not an address or network`);
  return { af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits };
}

function inNet(t: StateTable, i: number, side: number, net: ParsedPrefix, stack = false): boolean {
  if (t.afOf(i) !== net.af) return false;
  const m = maskAddress(stack ? t.stackAddressOf(i, side) : t.addressOf(i, side), net.bits);
  return m[0] === net.words[0] && m[1] === net.words[1] && m[2] === net.words[2] && m[3] === net.words[3];
}

/** Either side of either key (a translated state is found by its inside and its outside addresses). */
function anyKeyInNet(t: StateTable, i: number, net: ParsedPrefix): boolean {
  if (inNet(t, i, 0, net) || inNet(t, i, 1, net)) return true;
  return t.translated(i) && (inNet(t, i, 0, net, true) || inNet(t, i, 1, net, true));
}

function anyKeyHasPort(t: StateTable, i: number, port: number): boolean {
  if (t.portOf(i, 0) === port || t.portOf(i, 1) === port) return true;
  return t.translated(i) && (t.stackPortOf(i, 0) === port || t.stackPortOf(i, 1) === port);
}

function hasPorts(proto: number): boolean {
  return proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.SCTP;
}

/** The state filter of `show states`, validated; throws ControlError(bad-args). */
export function stateFilter(
  args: ShowStatesArgs,
  interfaces: InterfaceRegistry,
): (t: StateTable, i: number) => boolean {
  const tests: ((t: StateTable, i: number) => boolean)[] = [];
  if (args.address !== undefined) {
    const net = parseNet(args.address, 'address');
    tests.push((t, i) => anyKeyInNet(t, i, net));
  }
  if (args.port !== undefined) {
    const port = Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ControlError(ErrorCode.BAD_ARGS, `port: '${String(args.port)}' is not 0..65535`);
    tests.push((t, i) => hasPorts(t.protoOf(i)) && anyKeyHasPort(t, i, port));
  }
  if (args.proto !== undefined) {
    const nr = protocolNumber(String(args.proto));
    if (nr === undefined) throw new ControlError(ErrorCode.BAD_ARGS, `proto: unknown protocol '${String(args.proto)}'`);
    tests.push((t, i) => t.protoOf(i) === nr);
  }
  if (args.interface !== undefined) {
    const name = String(args.interface);
    if (name === 'all') tests.push((t, i) => t.ifId[i] === FLOATING);
    else {
      const id = interfaces.id(name);
      tests.push((t, i) => t.ifId[i] === id);
    }
  }
  return (t, i) => tests.every((f) => f(t, i));
}

/** A key whose string order is the numeric order of the endpoint (family, address, port). */
function endpointKey(e: StateInfo['src'], af: number): string {
  const w = parsePrefix(e.address)!.words;
  let k = String(af);
  for (let j = 0; j < (af === 4 ? 1 : 4); j++) k += hex(w[j]!, 8);
  return k + hex(e.port, 4);
}

function byEndpoint(side: 'src' | 'dst'): (a: StateInfo, b: StateInfo) => number {
  const keys = new WeakMap<StateInfo, string>();
  const key = (s: StateInfo) => {
    let k = keys.get(s);
    if (k === undefined) keys.set(s, (k = endpointKey(s[side], s.af)));
    return k;
  };
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

/** Orders states: the natural order of each key (oldest, soonest to expire, largest, lowest address first). */
export function stateComparator(key: StateSortKey): (a: StateInfo, b: StateInfo) => number {
  switch (key) {
    case 'age':
      return (a, b) => b.age - a.age;
    case 'expiry':
      return (a, b) => a.expires - b.expires;
    case 'bytes':
      return (a, b) => b.bytes[0] + b.bytes[1] - (a.bytes[0] + a.bytes[1]);
    case 'packets':
      return (a, b) => b.packets[0] + b.packets[1] - (a.packets[0] + a.packets[1]);
    case 'rate':
      return (a, b) => b.rate - a.rate;
    case 'source':
      return byEndpoint('src');
    case 'destination':
      return byEndpoint('dst');
  }
}

/** States filtered, keyed or merged per step of a chunked query: a few ms of work between turns of the event loop. */
const SCAN_STEP = 32768;
const SORT_RUN = 8192;
const MERGE_STEP = 65536;
/** States made into records and serialized per chunk of a streamed answer. */
const INFO_CHUNK = 1024;

/** Sort keys of the states (larger first but expiry, soonest first), read from the table in steps. */
function* sortKeys(engine: StateEngine, key: StateSortKey, now: number): Generator<void, Float64Array> {
  const t = engine.table;
  const keys = new Float64Array(t.extent);
  const sec = Math.floor(now);
  for (let base = 0; base < keys.length; base += SCAN_STEP) {
    const end = Math.min(keys.length, base + SCAN_STEP);
    for (let i = base; i < end; i++) {
      if (!t.live(i)) continue;
      const bytes = t.bytes[i * 2]! + t.bytes[i * 2 + 1]!;
      const age = Math.max(0, sec - t.creation[i]!);
      keys[i] =
        key === 'age'
          ? age
          : key === 'expiry'
            ? -engine.expiresIn(i, now)
            : key === 'bytes'
              ? bytes
              : key === 'packets'
                ? t.packets[i * 2]! + t.packets[i * 2 + 1]!
                : Math.round(bytes / Math.max(1, age));
    }
    yield;
  }
  return keys;
}

/** How states order by a key, read from the table without making objects (a big table sorts in a few ms). */
function* indexComparator(
  engine: StateEngine,
  key: StateSortKey,
  now: number,
): Generator<void, (a: number, b: number) => number> {
  const t = engine.table;
  if (key === 'source' || key === 'destination') {
    const side = key === 'source' ? 0 : 1;
    return (a, b) => {
      const d = t.afOf(a) - t.afOf(b);
      if (d !== 0) return d;
      const x = t.addressOf(a, side);
      const y = t.addressOf(b, side);
      for (let k = 0; k < 4; k++) if (x[k] !== y[k]) return x[k]! < y[k]! ? -1 : 1;
      return t.portOf(a, side) - t.portOf(b, side);
    };
  }
  const keys = yield* sortKeys(engine, key, now);
  return (a, b) => keys[b]! - keys[a]!;
}

/** A stable merge sort that yields after every run sorted and every MERGE_STEP elements merged. */
function* sortInSteps(a: number[], cmp: (x: number, y: number) => number): Generator<void, number[]> {
  const n = a.length;
  for (let lo = 0; lo < n; lo += SORT_RUN) {
    const run = a.slice(lo, lo + SORT_RUN).sort(cmp);
    for (let k = 0; k < run.length; k++) a[lo + k] = run[k]!;
    yield;
  }
  let src = a;
  let dst = new Array<number>(n);
  let moved = 0;
  for (let width = SORT_RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      for (let k = lo; k < hi; k++) {
        dst[k] = i < mid && (j >= hi || cmp(src[i]!, src[j]!) <= 0) ? src[i++]! : src[j++]!;
        if (++moved % MERGE_STEP === 0) yield;
      }
    }
    [src, dst] = [dst, src];
  }
  return src;
}

/** The states a query returns, chosen in steps, with the ids they had when chosen. */
interface Selection {
  total: number;
  matched: number;
  chosen: number[];
  idHi: Uint32Array;
  idLo: Uint32Array;
}

/**
 * Filters and sorts over the table's arrays in steps (a yield between
 * steps), so only the states returned become records and a query on a big
 * table can give the event loop back between steps.
 */
function* selectStates(
  engine: StateEngine,
  interfaces: InterfaceRegistry,
  args: ShowStatesArgs,
  now: number,
): Generator<void, Selection> {
  const sort = args.sort;
  if (sort !== undefined && !STATE_SORT_KEYS.includes(sort))
    throw new ControlError(ErrorCode.BAD_ARGS, `sort: '${String(sort)}' is not one of ${STATE_SORT_KEYS.join(', ')}`);
  let limit = Infinity;
  if (args.limit !== undefined) {
    limit = Number(args.limit);
    if (!Number.isInteger(limit) || limit < 0)
      throw new ControlError(ErrorCode.BAD_ARGS, `limit: '${String(args.limit)}' is not a count`);
  }
  const match = stateFilter(args, interfaces);
  const t = engine.table;
  let found: number[] = [];
  for (let base = 0; base < t.extent; base += SCAN_STEP) {
    const end = Math.min(t.extent, base + SCAN_STEP);
    for (let i = base; i < end; i++) if (t.live(i) && match(t, i)) found.push(i);
    yield;
  }
  if (sort) {
    const cmp = yield* indexComparator(engine, sort, now);
    found = yield* sortInSteps(found, args.reverse ? (a, b) => cmp(b, a) : cmp);
  } else if (args.reverse) found.reverse();
  const chosen = found.length > limit ? found.slice(0, limit) : found;
  // a state removed while the query yields may leave its slot to another: the ids tell them apart
  const idHi = new Uint32Array(chosen.length);
  const idLo = new Uint32Array(chosen.length);
  for (let k = 0; k < chosen.length; k++) {
    idHi[k] = t.idHi[chosen[k]!]!;
    idLo[k] = t.idLo[chosen[k]!]!;
  }
  return { total: t.count, matched: found.length, chosen, idHi, idLo };
}

function stillThere(t: StateTable, sel: Selection, k: number): boolean {
  const i = sel.chosen[k]!;
  return t.live(i) && t.idHi[i] === sel.idHi[k] && t.idLo[i] === sel.idLo[k];
}

/** `show states` in one go: for tests, the lab and small tables. */
export function queryStates(
  engine: StateEngine,
  interfaces: InterfaceRegistry,
  args: ShowStatesArgs,
  now: number,
  rules?: CompiledRuleset,
): ShowStatesResult {
  const steps = selectStates(engine, interfaces, args, now);
  let step = steps.next();
  while (!step.done) step = steps.next();
  const sel = step.value;
  const ruleOf = rules && rulesById(rules);
  const states = sel.chosen.map((i) => stateInfo(engine, i, interfaces, now, ruleOf));
  return { total: sel.total, matched: sel.matched, states };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * `show states` for the daemon: the same answer as queryStates, but chosen
 * in steps and streamed in chunks, giving the event loop back between them
 * so CARP's timers and the datapath keep their schedule on a big table.
 * A state gone by the time its chunk is written is left out.
 */
export async function queryStatesStreamed(
  engine: StateEngine,
  interfaces: InterfaceRegistry,
  args: ShowStatesArgs,
  now: () => number,
  rules?: CompiledRuleset,
): Promise<StreamedResult> {
  const ruleOf = rules && rulesById(rules);
  const at = now();
  const steps = selectStates(engine, interfaces, args, at);
  let step = steps.next();
  while (!step.done) {
    await turn();
    step = steps.next();
  }
  const sel = step.value;
  async function* chunks(): AsyncGenerator<StateInfo[]> {
    for (let base = 0; base < sel.chosen.length; base += INFO_CHUNK) {
      const out: StateInfo[] = [];
      const end = Math.min(sel.chosen.length, base + INFO_CHUNK);
      for (let k = base; k < end; k++)
        if (stillThere(engine.table, sel, k)) out.push(stateInfo(engine, sel.chosen[k]!, interfaces, at, ruleOf));
      yield out;
      await turn();
    }
  }
  return new StreamedResult({ total: sel.total, matched: sel.matched }, 'states', chunks());
}

/** The states `kill states` removes: pfctl -k host [-k host], -k id ID, -k label L. */
export function statesToKill(
  engine: StateEngine,
  args: { hosts?: unknown; id?: unknown; label?: unknown },
  ruleLabel: (nr: number) => string | null,
): number[] {
  const t = engine.table;
  const victims: number[] = [];
  if (args.id !== undefined) {
    const m = /^([0-9a-f]{1,16})(?:\/([0-9a-f]{1,8}))?$/i.exec(String(args.id));
    if (!m)
      throw new ControlError(
        ErrorCode.BAD_ARGS,
        `id: '${String(args.id)}' is not a state id (16 hex digits, optionally /creatorid)`,
      );
    const full = m[1]!.padStart(16, '0');
    const hi = parseInt(full.slice(0, 8), 16);
    const lo = parseInt(full.slice(8), 16);
    const creator = m[2] === undefined ? null : parseInt(m[2], 16);
    t.forEach((i) => {
      if (t.idHi[i] === hi && t.idLo[i] === lo && (creator === null || t.creator[i] === creator)) victims.push(i);
    });
    return victims;
  }
  if (args.label !== undefined) {
    const label = String(args.label);
    t.forEach((i) => {
      if (t.rule[i] !== NO_RULE && ruleLabel(t.rule[i]!) === label) victims.push(i);
    });
    return victims;
  }
  const hosts = Array.isArray(args.hosts) ? args.hosts : [];
  if (hosts.length < 1 || hosts.length > 2)
    throw new ControlError(
      ErrorCode.BAD_ARGS,
      'kill states needs one or two hosts (-k HOST [-k HOST]), an id (-k id -k ID) or a label (-k label -k LABEL)',
    );
  const from = parseNet(hosts[0], 'host');
  const to = hosts.length === 2 ? parseNet(hosts[1], 'host') : null;
  t.forEach((i) => {
    if (inNet(t, i, 0, from) && (to === null || inNet(t, i, 1, to))) victims.push(i);
  });
  return victims;
}
