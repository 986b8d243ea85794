// A rule as the parsers write it, before expand-rule.ts expands its lists: the
// types every rule parser fills in, apart from the code that reads or expands them.

import type {
  AddressSpec,
  BlockMode,
  IcmpMatch,
  LogOptions,
  OwnerMatch,
  PoolHost,
  PoolType,
  PortSpec,
  Prefix,
  RouteKind,
  RuleAction,
  RuleExtras,
  SourceLocation,
  StateMode,
  StateOptions,
} from './ast.js';

export type TranslationKeyword = 'nat-to' | 'rdr-to' | 'binat-to';

/** One pool member as written, with its family (0 for tables and interfaces followed at run time). */
export interface PoolItem {
  host: PoolHost;
  af: 0 | 4 | 6;
  loc: SourceLocation;
}

/** A translation option before expansion. */
export interface TranslationSpec {
  keyword: TranslationKeyword;
  loc: SourceLocation;
  items: PoolItem[];
  port: { low: number; high: number; star: boolean; loc: SourceLocation } | null;
  type: PoolType;
  hashKey: Uint32Array | null;
  sticky: boolean;
  staticPort: boolean;
  staticPortLoc: SourceLocation | null;
}

export interface HostItem {
  addr: AddressSpec;
  af: 0 | 4 | 6;
  loc: SourceLocation;
  /** `fe80::1%lan`: the interface the address's scope names; the rule applies on it only. */
  scope?: string;
}

/** A rule as written: lists not yet expanded. Empty lists mean "any". */
export interface RuleSpec {
  action: RuleAction;
  block: BlockMode;
  returnTtl: number | null;
  direction: 'in' | 'out' | 'both';
  log: LogOptions | null;
  quick: boolean;
  ifaces: { name: string; neg: boolean }[];
  af: 0 | 4 | 6;
  protos: number[];
  protoLoc?: SourceLocation;
  all: boolean;
  fromHosts: HostItem[];
  fromPorts: PortSpec[];
  toHosts: HostItem[];
  toPorts: PortSpec[];
  portLoc?: SourceLocation;
  flags: { set: number; mask: number } | null;
  flagsLoc?: SourceLocation;
  icmp: IcmpMatch[];
  icmpLoc?: SourceLocation;
  state: StateMode;
  stateExplicit: boolean;
  hasStateOptions: boolean;
  stateOptions: StateOptions;
  allowOpts: boolean;
  label: string | null;
  tag: string | null;
  tagged: { name: string; neg: boolean } | null;
  nat: TranslationSpec | null;
  rdr: TranslationSpec | null;
  route: RouteSpec | null;
  extra: RuleExtras;
  /** `user { ... }` / `group { ... }` lists: one rule per item (the first item is in `extra`). */
  owners?: { user?: OwnerMatch[]; group?: OwnerMatch[] };
  loc: SourceLocation;
}

/** One route target as written; `af` 0 for an interface without a next hop. */
export interface RouteTargetItem {
  ifname: string | null;
  nexthop: Prefix | null;
  af: 0 | 4 | 6;
  loc: SourceLocation;
}

/** A routing option before expansion. */
export interface RouteSpec {
  kind: RouteKind;
  loc: SourceLocation;
  items: RouteTargetItem[];
  type: PoolType;
  hashKey: Uint32Array | null;
  sticky: boolean;
}
