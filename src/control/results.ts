// The result shapes of the control commands: what `--json` prints, what
// tunpf top and the lab read. One place, so the daemon's handlers and the
// client's formatters agree.

import { PfReasonName } from '../packet/pflog.js';

export interface RuleInfo {
  nr: number;
  /** The rule in pf's canonical form (tunpf check -v), without `@N`. */
  text: string;
  label: string | null;
  action: 'pass' | 'block' | 'match' | 'anchor';
  evaluations: number;
  packets: number;
  bytes: number;
  /** States the rule holds now. */
  states: number;
  /** States the rule created since the ruleset was loaded. */
  stateCreations: number;
}

export interface ShowRulesResult {
  rules: RuleInfo[];
  /** Packets no rule matched (pf's implicit pass). */
  default: { packets: number; bytes: number };
}

export interface Endpoint {
  address: string;
  /** TCP/UDP port, ICMP echo id, 0 otherwise. */
  port: number;
}

export interface StateInfo {
  /** pf's state id, 16 hex digits, and the creator's host id, 8 (pfctl -vss). */
  id: string;
  creator: string;
  /** 'all' for a floating state, else the interface it is bound to. */
  interface: string;
  af: 4 | 6;
  proto: string;
  /** Direction of the packet that created it. */
  direction: 'in' | 'out';
  /** The initiator and the responder, as the wire key has them (pf's PF_SK_WIRE). */
  src: Endpoint;
  dst: Endpoint;
  /** A translated state's stack key (pf's PF_SK_STACK), oriented as src/dst; absent when untranslated. */
  stack?: { src: Endpoint; dst: Endpoint };
  /** Peer states, initiator's first: TCP state names, NO_TRAFFIC/SINGLE/MULTIPLE, or numbers for ICMP. */
  peers: [string, string];
  /** The rule that made it, -1 for none: its number in its ruleset (the main one, or `anchor`'s). */
  rule: number;
  /** The anchor path of that rule; absent for the main ruleset's rules. */
  anchor?: string;
  /** Seconds since creation, and until expiry. */
  age: number;
  expires: number;
  /** Initiator to responder, then back. */
  packets: [number, number];
  bytes: [number, number];
  /** Bytes per second over the state's life. */
  rate: number;
}

export { STATE_SORT_KEYS, type StateSortKey } from './schemas.js';

/** `show states`' filters: the shape its schema checks (schemas.ts). */
export type { ShowStatesArgs } from './schemas.js';

export interface ShowStatesResult {
  /** States in the table, and how many passed the filters (before the limit). */
  total: number;
  matched: number;
  states: StateInfo[];
}

/** pf's `pfctl -si` counters, in pf's order: its reasons (PFRES_*), as pflog names them. */
export const PF_COUNTERS = PfReasonName;

export interface ForwardInfo {
  batches: number;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  dropped: number;
  noRoute: number;
  replies: number;
}

/** One family's traffic on the log interface (pf_status bcounters and pcounters). */
export interface LogInterfaceCounters {
  bytesIn: number;
  bytesOut: number;
  packetsInPassed: number;
  packetsInBlocked: number;
  packetsOutPassed: number;
  packetsOutBlocked: number;
}

/** `set loginterface`: pfctl -si's "Interface Stats", counted since the option last named this interface. */
export interface LogInterfaceInfo {
  /** The interface (or group: its members summed). */
  name: string;
  ipv4: LogInterfaceCounters;
  ipv6: LogInterfaceCounters;
}

export interface ShowInfoResult {
  since: string;
  /** Seconds. */
  uptime: number;
  hostid: string;
  /** null without `set loginterface`. */
  loginterface: LogInterfaceInfo | null;
  rules: number;
  states: { current: number; limit: number; searches: number; inserts: number; removals: number; expired: number };
  /** pf's counters (PF_COUNTERS), mapped from tunpf's. */
  counters: Record<string, number>;
  filter: {
    /** Checks: a forwarded packet is checked twice, in and out. */
    packets: number;
    bytes: number;
    passed: number;
    blocked: number;
    /** Verdicts by reason: rule, state, malformed, bad-state, state-limit, rule-limit, src-limit, state-insert. */
    verdicts: Record<string, number>;
    /** Malformed packets by parse error. */
    malformed: Record<string, number>;
  };
  /** Packets dropped or states refused by the state engine, by reason. */
  stateDrops: Record<string, number>;
  forward: ForwardInfo | null;
  sourceNodes: number;
  /** The fragment cache (set reassemble); null offline. */
  fragments: FragmentInfo | null;
}

export interface FragmentInfo {
  /** Fragments held, the datagrams they belong to, their bytes. */
  held: number;
  datagrams: number;
  bytes: number;
  /** Datagrams joined whole. */
  reassembled: number;
  /**
   * Fragments dropped: as they came, bad or overlapping (pf's `fragment`) or over the limit (`memory`); held
   * ones with their datagram: expired (timeout frag), flushed (limit frags), discarded (overlaps, pf's bounds).
   */
  dropped: { fragment: number; memory: number; expired: number; flushed: number; discarded: number };
}

export interface ShowTimeoutsResult {
  /** Seconds, except adaptive.start and adaptive.end (states), in pf's order. */
  timeouts: Record<string, number>;
}

export interface ShowLimitsResult {
  limits: Record<'states' | 'src-nodes' | 'frags' | 'tables' | 'table-entries', { limit: number; current: number }>;
}

export interface TableInfo {
  name: string;
  count: number;
  persist: boolean;
  const: boolean;
  /** A rule of the running ruleset refers to it. */
  referenced: boolean;
  /** Lookups that matched and missed since it was made. */
  matches: number;
  misses: number;
}

export interface ShowTablesResult {
  tables: TableInfo[];
}

export interface ShowTableResult extends TableInfo {
  /** Hosts without /32 or /128, negated entries with '!'. */
  addresses: string[];
}

export interface AnchorLoadResult {
  anchor: string;
  file: string;
  rules: number;
  /** Warnings in `tunpf check` form. */
  warnings: string[];
}

export interface AnchorFlushResult {
  anchor: string;
  /** Rules the anchor had. */
  flushed: number;
}

export interface ReloadResult {
  file: string;
  rules: number;
  states: number;
  /** Warnings in `tunpf check` form. */
  warnings: string[];
}

export interface KillStatesArgs {
  /** One or two hosts or networks: states from the first (to the second). */
  hosts?: string[];
  /** A state id (16 hex digits, optionally /creator). */
  id?: string;
  label?: string;
}

export interface KillStatesResult {
  killed: number;
}

export interface FlushStatesResult {
  flushed: number;
}

export interface TableChangeResult {
  table: string;
  /** The table did not exist and was made (pfctl -T add does that). */
  created: boolean;
  added: number;
  deleted: number;
  /** Entries after the change. */
  count: number;
}

// Shapes the CARP and pfsync handlers return (implemented beside those subsystems).

export interface CarpGroupInfo {
  name: string;
  carpdev: string;
  vhid: number;
  state: 'INIT' | 'BACKUP' | 'MASTER';
  advbase: number;
  advskew: number;
  preempt: boolean;
  /** 'virtual': the addresses live on a macvlan with the virtual MAC; 'real': on carpdev. */
  lladdr?: 'virtual' | 'real';
  addresses: string[];
  since: string;
  reason: string;
  /** `blockedOut`: advertisements the rules kept from leaving; those kept out are dropped as `blocked`. */
  counters: { received: number; accepted: number; sent: number; blockedOut?: number; dropped: Record<string, number> };
}

export interface ShowCarpResult {
  demote: number;
  demoteReasons: Record<string, number>;
  groups: CarpGroupInfo[];
}

export interface PfsyncMessages {
  packets: number;
  bytes: number;
  messages: Record<string, number>;
  /** Sent only: the local state changes those messages carried (inserts, updates, deletes). */
  changes?: number;
}

export interface ShowPfsyncResult {
  syncdev: string;
  syncpeer: string | null;
  maxupd: number;
  defer: boolean;
  hostid: string;
  bulk: { state: string; started: string | null; ended: string | null };
  queued: { ins: number; upd: number; updc: number; del: number; iack: number };
  sent: PfsyncMessages;
  received: PfsyncMessages;
  dropped: Record<string, number>;
  lagMs: { last: number | null; p50: number | null; p99: number | null };
  /** pfsync packets the rules kept from leaving (counted in `sent` too: the engine made them). */
  blockedOut?: number;
}

/** What `carp demote` / `carp promote` are expected to answer. */
export interface CarpDemoteResult {
  demote: number;
}
