// The loaded ruleset, after macro substitution and list expansion: what
// `pfctl -nv` prints and what the filter compiles. One object shape per
// concept so the printer and the compiler read the same thing.

export interface SourceLocation {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

/** A parsed IPv4 or IPv6 prefix. Words in network order of significance (IPv4: word 0 only). */
export interface Prefix {
  af: 4 | 6;
  words: Uint32Array; // length 4
  bits: number; // prefix length: 32 / 128 for a host
}

/** What may stand in `from` / `to`. `neg` is the `!` in front of it. */
export type AddressSpec =
  | { kind: 'any' }
  | { kind: 'prefix'; prefix: Prefix; neg: boolean } // host or network, e.g. 10.0.0.0/8
  | { kind: 'range'; from: Prefix; to: Prefix; neg: boolean } // 10.0.0.1 - 10.0.0.9
  | { kind: 'table'; name: string; neg: boolean } // <name>
  | { kind: 'self'; neg: boolean } // the router's own addresses (kept dynamic)
  | {
      kind: 'dynamic';
      ifname: string;
      mode: 'address' | 'network' | 'broadcast' | 'peer';
      noAlias: boolean;
      /** `(em0)/24`: each address masked to this length at run time (IPv4 at most 32); null: none given. */
      bits: number | null;
      neg: boolean;
    } // (em0), (em0:network), (em0)/24
  | { kind: 'urpf-failed'; neg: boolean }
  | { kind: 'no-route'; neg: boolean };

/** pf's port operators (PF_OP_*). `a:b` is RRG, `a >< b` IRG, `a <> b` XRG. */
export type PortOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | '><' | '<>' | ':';

export interface PortSpec {
  op: PortOp;
  low: number;
  high: number; // equals low for unary operators
}

export interface Endpoint {
  addr: AddressSpec;
  port: PortSpec | null;
}

export type RuleAction = 'pass' | 'block' | 'match' | 'anchor';

/** How a block rule answers; 'policy' means "as `set block-policy` says". */
export type BlockMode = 'policy' | 'drop' | 'return' | 'return-rst' | 'return-icmp' | 'return-icmp6';

export type StateMode = 'keep' | 'modulate' | 'synproxy' | 'none';

export interface StateOptions {
  max: number | null;
  maxSrcStates: number | null;
  maxSrcNodes: number | null;
  maxSrcConn: number | null;
  maxSrcConnRate: { count: number; seconds: number } | null;
  overload: { table: string; flush: boolean; global: boolean } | null;
  /** Per-rule timeouts by pf name, e.g. { 'tcp.established': 3600 }. */
  timeouts: Record<string, number>;
  sloppy: boolean;
  noSync: boolean;
  pflow: boolean;
  ifBound: boolean | null; // null: as `set state-policy`
  sourceTrack: 'none' | 'rule' | 'global';
}

export interface IcmpMatch {
  family: 4 | 6; // icmp-type vs icmp6-type
  type: number;
  code: number | null;
}

export interface LogOptions {
  all: boolean;
  matches: boolean;
  user: boolean;
  to: string | null; // pflogN
}

/** One rule after list expansion: every field holds a single value. */
export interface Rule {
  nr: number; // @N, 0-based in load order
  action: RuleAction;
  block: BlockMode;
  returnTtl: number | null;
  direction: 'in' | 'out' | 'both';
  log: LogOptions | null;
  quick: boolean;
  iface: { name: string; neg: boolean } | null; // `on em0`, `on ! em0`; names may be groups (egress)
  af: 0 | 4 | 6; // 0: both
  proto: number | null; // IP protocol number, null: any
  from: Endpoint;
  to: Endpoint;
  all: boolean; // written `all` (from any to any): the printer keeps it
  /** TCP flags check: `flags set/mask`; null = no check; mask 0 means `flags any`. */
  flags: { set: number; mask: number } | null;
  icmp: IcmpMatch | null;
  state: StateMode;
  stateOptions: StateOptions;
  allowOpts: boolean;
  label: string | null; // with pf's $-macros already expanded for this rule
  tag: string | null;
  tagged: { name: string; neg: boolean } | null;
  /** `nat-to`: the source is rewritten (binat-to is expanded into a nat-to and an rdr-to rule, as pfctl does). */
  nat: Translation | null;
  /** `rdr-to`: the destination is rewritten. */
  rdr: Translation | null;
  /** `route-to`, `reply-to`, `dup-to`: where the state's packets leave. */
  route: RouteOption | null;
  /** tos, prio, set, probability, once, rtable, user, group, divert, scrub (src/rules/parse-scrub.ts). */
  extra: RuleExtras;
  /** Where the rule was written. */
  loc: SourceLocation;
  /** Set on `anchor` rules: the ruleset evaluated in place when the rule's criteria match. */
  anchor?: AnchorCall;
}

/** What an `anchor` rule calls. */
export interface AnchorCall {
  /** The name as written (printed back); '' for an unnamed inline anchor. */
  written: string;
  /** Full path from the main ruleset, without a leading '/': 'relayd/web'. */
  path: string;
  /** `name/*`: the children of `path`, in name order. */
  wildcard: boolean;
}

/** A named ruleset (pf's anchor): from an inline body, `load anchor`, or loaded at run time. */
export interface AnchorDef {
  path: string;
  /** Numbered from 0 within the anchor, as pf numbers them. */
  rules: Rule[];
  loc: SourceLocation;
}

/** `scrub (...)`: 0 for an absent number. */
export interface ScrubOptions {
  noDf: boolean;
  randomId: boolean;
  minTtl: number;
  maxMss: number;
  reassembleTcp: boolean;
}

/** `user` / `group`: an id compared with a port operator; low -1 is pf's `unknown` (no owner). */
export interface OwnerMatch {
  op: PortOp;
  low: number;
  high: number;
}

export type Divert = { kind: 'to'; addr: Prefix; port: number } | { kind: 'reply' };

/** The rule options of issue 12 beyond addresses and state: one object so rules stay one shape. */
export interface RuleExtras {
  /** `tos`: the TOS / traffic class to match, ECN bits aside. */
  tos: number | null;
  /** `prio`: the packet priority to match (0-7). */
  prio: number | null;
  /** `set tos`. */
  setTos: number | null;
  /** `set prio N` or `set prio (N, M)`: [default, for lowdelay TOS and empty ACKs]. */
  setPrio: [number, number] | null;
  /** `probability`: pf's 32-bit fraction of UINT_MAX, 0 for none. */
  probability: number;
  once: boolean;
  rtable: number | null;
  user: OwnerMatch | null;
  group: OwnerMatch | null;
  divert: Divert | null;
  scrub: ScrubOptions | null;
  /** Block rules: the ICMP unreachable codes `return-icmp` / `return` send (pfctl's defaults: port unreachable). */
  returnIcmp: number;
  returnIcmp6: number;
}

/** pf's default answer codes: ICMP port unreachable (3/3), ICMPv6 port unreachable (1/4). */
export const RETURN_ICMP_DEFAULT = 3;
export const RETURN_ICMP6_DEFAULT = 4;

export function defaultRuleExtras(): RuleExtras {
  return {
    tos: null,
    prio: null,
    setTos: null,
    setPrio: null,
    probability: 0,
    once: false,
    rtable: null,
    user: null,
    group: null,
    divert: null,
    scrub: null,
    returnIcmp: RETURN_ICMP_DEFAULT,
    returnIcmp6: RETURN_ICMP6_DEFAULT,
  };
}

/** pf's pool types (PF_POOL_*); 'none' uses the address as written. */
export type PoolType = 'none' | 'bitmask' | 'random' | 'source-hash' | 'round-robin';

/** One member of a translation pool. */
export type PoolHost =
  | { kind: 'prefix'; prefix: Prefix } // an address or network
  | { kind: 'dynamic'; ifname: string; noAlias: boolean } // (em0), (em0:0): follows the interface's addresses
  | { kind: 'table'; name: string }; // <name>

/** A translation target: `nat-to`/`rdr-to` with its pool, ports and pool options. */
export interface Translation {
  af: 4 | 6;
  hosts: PoolHost[];
  type: PoolType;
  /** source-hash key as four 32-bit words; null: a random key chosen when the ruleset loads (pfctl's default). */
  hashKey: Uint32Array | null;
  sticky: boolean;
  /**
   * Ports: nat-to, the range source ports are chosen from (the parser writes pf's proxy range
   * 50001-65535 when the rule gives none, as pfctl does; 0/0 means that range too, and is what
   * static-port stores);
   * rdr-to, the first and last port a destination port maps to (0/0: unchanged; `port N:*` is
   * stored with the width of the rule's destination port range, as pfctl stores it).
   */
  portLow: number;
  portHigh: number;
  /** nat-to `static-port`: the source port is kept. */
  staticPort: boolean;
}

/** pf's routing options (PF_ROUTETO, PF_REPLYTO, PF_DUPTO). */
export type RouteKind = 'route-to' | 'reply-to' | 'dup-to';

/**
 * Where a routed packet goes: out of `ifname` to `nexthop`; without a next hop, to the packet's
 * destination; without an interface, out of the one the routing table reaches the next hop by.
 */
export interface RouteTarget {
  ifname: string | null;
  nexthop: Prefix | null; // a host prefix
}

export interface RouteOption {
  kind: RouteKind;
  targets: RouteTarget[];
  type: PoolType;
  /** source-hash key; null: a random key chosen when the ruleset loads. */
  hashKey: Uint32Array | null;
  sticky: boolean;
}

/** pf's default range for nat-to source ports (pfctl's PF_NAT_PROXY_PORT_LOW/HIGH). */
export const NAT_PROXY_PORT_LOW = 50001;
export const NAT_PROXY_PORT_HIGH = 65535;

export interface TableDef {
  name: string;
  persist: boolean;
  const: boolean;
  counters: boolean;
  /** Entries; `neg` entries exclude (longest prefix match decides). `fromFile`: read from a `file` clause. */
  entries: { prefix: Prefix; neg: boolean; fromFile?: true }[];
  files: string[];
  /** Created because a rule names it and no `table` line defines it: pfctl prints no line for it. */
  implicit?: boolean;
  loc: SourceLocation;
}

/**
 * pf's timeouts in the order of its PFTM_* numbers: the order print_rule lists
 * a rule's timeouts in; the first 14 are the state timeout classes.
 */
export const PF_TIMEOUT_ORDER: readonly string[] = [
  'tcp.first',
  'tcp.opening',
  'tcp.established',
  'tcp.closing',
  'tcp.finwait',
  'tcp.closed',
  'udp.first',
  'udp.single',
  'udp.multiple',
  'icmp.first',
  'icmp.error',
  'other.first',
  'other.single',
  'other.multiple',
  'frag',
  'interval',
  'adaptive.start',
  'adaptive.end',
  'src.track',
  'tcp.tsdiff',
];

/** `set timeout` names and their pf defaults (seconds). */
export const DEFAULT_TIMEOUTS: Readonly<Record<string, number>> = {
  'tcp.first': 120,
  'tcp.opening': 30,
  'tcp.established': 86400,
  'tcp.closing': 900,
  'tcp.finwait': 45,
  'tcp.closed': 90,
  'tcp.tsdiff': 30,
  'udp.first': 60,
  'udp.single': 30,
  'udp.multiple': 60,
  'icmp.first': 20,
  'icmp.error': 10,
  'other.first': 60,
  'other.single': 30,
  'other.multiple': 60,
  frag: 60,
  interval: 10,
  'src.track': 0,
  'adaptive.start': 0, // 0: derived from the state limit (60%), as pf does
  'adaptive.end': 0, // 0: derived from the state limit (120%)
};

export interface Options {
  skip: string[]; // set skip on
  blockPolicy: 'drop' | 'return';
  statePolicy: 'floating' | 'if-bound';
  timeouts: Record<string, number>; // only those set explicitly
  limits: { states: number; srcNodes: number; frags: number; tables: number; tableEntries: number };
  loginterface: string | null;
  hostid: number | null;
  debug: string | null;
  optimization: string | null;
  ruleset: string | null;
  /** `set reassemble yes|no [no-df]`; null: not set (pf reassembles). */
  reassemble: { on: boolean; noDf: boolean; loc: SourceLocation } | null;
}

/** The most states a table can hold: state numbers live in 24 bits of its index (src/state/state-table.ts). */
export const MAX_STATE_LIMIT = (1 << 24) - 1;

/** Rules of the main ruleset and every anchor together: a state names its rule in 16 bits (0xffff: none). */
export const MAX_RULES = 0xffff;

export const DEFAULT_LIMITS = { states: 100000, srcNodes: 10000, frags: 65536, tables: 1000, tableEntries: 200000 };

export function defaultOptions(): Options {
  return {
    skip: [],
    blockPolicy: 'drop',
    statePolicy: 'floating',
    timeouts: {},
    limits: { ...DEFAULT_LIMITS },
    loginterface: null,
    hostid: null,
    debug: null,
    optimization: null,
    ruleset: null,
    reassemble: null,
  };
}

export function defaultStateOptions(): StateOptions {
  return {
    max: null,
    maxSrcStates: null,
    maxSrcNodes: null,
    maxSrcConn: null,
    maxSrcConnRate: null,
    overload: null,
    timeouts: {},
    sloppy: false,
    noSync: false,
    pflow: false,
    ifBound: null,
    sourceTrack: 'none',
  };
}

/**
 * What pfctl -nv prints while it reads the file, before the rules: each macro definition,
 * table definition and `set` line, in file order (a `set` line as pfctl words it).
 */
export type EchoItem =
  { kind: 'macro'; name: string; value: string } | { kind: 'table'; name: string } | { kind: 'set'; text: string };

export interface Ruleset {
  /** The macros, tables and options as pfctl -nv echoes them, in file order. */
  echo: EchoItem[];
  options: Options;
  /** Option names set explicitly, in file order ('block-policy', 'timeout', ...): the printer shows these. */
  optionsSet: string[];
  macros: Record<string, string>;
  tables: TableDef[];
  rules: Rule[];
  /** Every anchor the file fills (inline bodies and `load anchor`), nested ones by full path. */
  anchors: AnchorDef[];
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  loc: SourceLocation;
  message: string;
}

/** What the parser knows of the router's interfaces (for `em0:network`, `antispoof`, groups). */
export interface InterfaceInfo {
  name: string;
  addresses: { af: 4 | 6; words: Uint32Array; bits: number }[];
  groups: string[];
}
