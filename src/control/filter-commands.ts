// The filter's control commands (pfctl's -s, -k, -F, -T, -f): read the
// live filter and its counters through a small context, so the daemon
// passes in what it has and tests pass in a filter of their own.

import type { PfTable, TableStore } from '../filter/table-store.js';
import { AddrKind } from '../filter/compile-rules.js';
import { logCounterIndex, type LogInterfaceStats } from '../filter/log-interface.js';
import { WhyName, type PacketFilter } from '../filter/packet-filter.js';
import { formatAddress, maskAddress, parsePrefix } from '../packet/address.js';
import { ParseErrorName } from '../packet/meta.js';
import { DEFAULT_TIMEOUTS, type Prefix } from '../rules/ast.js';
import { errorCount, escapeControls, formatDiagnostics } from '../rules/diagnostic-text.js';
import { RulesetReadError, type LoadResult } from '../rules/load-file.js';
import { StateReasonName } from '../state/constants.js';
import { registerAnchorCommands } from './anchor-commands.js';
import { ruleRows, rulesById } from './rule-rows.js';
import { ErrorCode } from './protocol.js';
import type {
  FlushStatesResult,
  KillStatesResult,
  LogInterfaceCounters,
  LogInterfaceInfo,
  ReloadResult,
  ShowInfoResult,
  ShowLimitsResult,
  ShowRulesResult,
  ShowTableResult,
  ShowTablesResult,
  ShowTimeoutsResult,
  TableChangeResult,
  TableInfo,
} from './results.js';
import { PF_COUNTERS } from './results.js';
import {
  killStatesArgs,
  tableNameSchema,
  noArgs,
  reloadArgs,
  showStatesArgs,
  tableArgs,
  tableEditArgs,
  type KillStatesArgs,
  type ReloadArgs,
  type TableArgs,
  type TableEditArgs,
} from './schemas.js';
import type { FilterContext } from './filter-context.js';
import { ControlError, type ControlServer } from './server.js';
import { queryStatesStreamed, statesToKill } from './state-query.js';

export type { FilterContext } from './filter-context.js';

/** tunpf's parse errors as pf's counters. */
const MALFORMED_AS_PF: Record<string, string> = {
  short: 'short',
  'bad-total-length': 'short',
  'short-l4': 'short',
  'bad-udp-length': 'short',
  'short-icmp-inner': 'short',
  'bad-header-length': 'bad-offset',
  'bad-tcp-offset': 'bad-offset',
  'bad-options': 'ip-option',
  'bad-version': 'normalize',
  'extension-chain': 'normalize',
  'bad-tcp-options': 'normalize',
};

/** tunpf's verdict reasons as pf's counters (pf counts a rule's `max` as state-limit too). */
const VERDICT_AS_PF: Record<string, string> = {
  rule: 'match',
  'bad-state': 'state-mismatch',
  'state-limit': 'state-limit',
  'rule-limit': 'state-limit',
  'src-limit': 'src-limit',
  'state-insert': 'state-insert',
};

function named(values: ArrayLike<number>, names: readonly string[], skip = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (let k = skip; k < names.length; k++) out[names[k]!] = values[k] ?? 0;
  return out;
}

export function showRules(ctx: FilterContext): ShowRulesResult {
  const rs = ctx.filter().rules;
  return { rules: ruleRows(rs, rs, ctx.states), default: { packets: rs.defaultPackets, bytes: rs.defaultBytes } };
}

function logInterfaceCounters(li: LogInterfaceStats, af: number): LogInterfaceCounters {
  const p = (out: boolean, blocked: boolean) => li.packets[logCounterIndex(af, out, blocked)]!;
  const b = (out: boolean) => li.bytes[logCounterIndex(af, out, false)]! + li.bytes[logCounterIndex(af, out, true)]!;
  return {
    bytesIn: b(false),
    bytesOut: b(true),
    packetsInPassed: p(false, false),
    packetsInBlocked: p(false, true),
    packetsOutPassed: p(true, false),
    packetsOutBlocked: p(true, true),
  };
}

function logInterfaceInfo(li: LogInterfaceStats): LogInterfaceInfo | null {
  if (li.name === null) return null;
  return { name: li.name, ipv4: logInterfaceCounters(li, 4), ipv6: logInterfaceCounters(li, 6) };
}

export function showInfo(ctx: FilterContext): ShowInfoResult {
  const f = ctx.filter();
  const c = f.counters;
  const s = ctx.states;
  const verdicts = named(c.byWhy, WhyName);
  const malformed = named(c.malformed, ParseErrorName, 1);
  const counters: Record<string, number> = Object.fromEntries(PF_COUNTERS.map((n) => [n, 0]));
  for (const [name, v] of Object.entries(verdicts)) if (VERDICT_AS_PF[name]) counters[VERDICT_AS_PF[name]!]! += v;
  for (const [name, v] of Object.entries(malformed)) if (MALFORMED_AS_PF[name]) counters[MALFORMED_AS_PF[name]!]! += v;
  const fc = ctx.forwardCounters();
  const frags = ctx.fragments?.() ?? null;
  if (frags) {
    const fr = frags.counters;
    counters['fragment']! += fr.badFragments;
    counters['memory']! += fr.memoryDrops;
  }
  return {
    since: new Date(ctx.startedAt * 1000).toISOString(),
    uptime: Math.max(0, Math.floor(ctx.now() - ctx.startedAt)),
    hostid: (s.table.hostid >>> 0).toString(16).padStart(8, '0'),
    loginterface: logInterfaceInfo(f.logInterface),
    rules: f.rules.count,
    states: {
      current: s.table.count,
      limit: s.table.capacity,
      searches: s.counters.searches,
      inserts: s.counters.inserts,
      removals: s.counters.removals,
      expired: s.counters.expired,
    },
    counters,
    filter: { packets: c.packets, bytes: c.bytes, passed: c.passed, blocked: c.blocked, verdicts, malformed },
    stateDrops: named(s.counters.byReason, StateReasonName, 1),
    forward: fc && {
      batches: fc.batches,
      packetsIn: fc.packetsIn,
      packetsOut: fc.packetsOut,
      bytesIn: fc.bytesIn,
      dropped: fc.dropped,
      noRoute: fc.noRoute,
      replies: fc.replies,
    },
    sourceNodes: s.sources.size,
    fragments: frags && {
      held: frags.fragments,
      datagrams: frags.pending,
      bytes: frags.bytes,
      reassembled: frags.counters.reassembled,
      dropped: {
        fragment: frags.counters.badFragments,
        memory: frags.counters.memoryDrops,
        expired: frags.counters.expired,
        flushed: frags.counters.flushed,
        discarded: frags.counters.discarded,
      },
    },
  };
}

export function showTimeouts(ctx: FilterContext): ShowTimeoutsResult {
  const f = ctx.filter();
  const set = { ...DEFAULT_TIMEOUTS, ...f.rules.ruleset.options.timeouts };
  const timeouts: Record<string, number> = {};
  for (const name of Object.keys(DEFAULT_TIMEOUTS)) if (name !== 'src.track') timeouts[name] = set[name]!;
  // the thresholds in force (pf derives them from the state limit when unset)
  timeouts['adaptive.start'] = ctx.states.timeouts.adaptiveStart;
  timeouts['adaptive.end'] = ctx.states.timeouts.adaptiveEnd;
  timeouts['src.track'] = set['src.track']!;
  return { timeouts };
}

export function showLimits(ctx: FilterContext): ShowLimitsResult {
  const f = ctx.filter();
  const l = f.rules.ruleset.options.limits;
  const tables = f.tables.list();
  return {
    limits: {
      // the state table is sized when the daemon starts: that limit holds until a restart
      states: { limit: ctx.states.table.capacity, current: ctx.states.table.count },
      'src-nodes': { limit: l.srcNodes, current: ctx.states.sources.size },
      frags: { limit: l.frags, current: ctx.fragments?.()?.fragments ?? 0 },
      tables: { limit: l.tables, current: tables.length },
      'table-entries': { limit: l.tableEntries, current: tables.reduce((n, t) => n + t.size, 0) },
    },
  };
}

function referencedTables(f: PacketFilter): Set<PfTable> {
  const out = new Set<PfTable>();
  for (const r of f.rules.rules)
    for (const a of [r.src, r.dst]) if (a.kind === AddrKind.SET && a.set) out.add(a.set as PfTable);
  return out;
}

function tableInfo(t: PfTable, referenced: Set<PfTable>): TableInfo {
  return {
    name: t.name,
    count: t.size,
    persist: t.persist,
    const: t.isConst,
    referenced: referenced.has(t),
    matches: t.matches,
    misses: t.misses,
  };
}

export function showTables(ctx: FilterContext): ShowTablesResult {
  const f = ctx.filter();
  const refs = referencedTables(f);
  return {
    tables: f.tables
      .list()
      .map((t) => tableInfo(t, refs))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

function tableName(args: TableArgs): string {
  const name = args.table;
  // the schema checks this too; direct callers (tests, the lab) get the same answer
  if (!tableNameSchema.safeParse(name).success)
    throw new ControlError(ErrorCode.BAD_ARGS, `table: '${name}' is not a table name`);
  return name;
}

function existingTable(ctx: FilterContext, args: TableArgs): PfTable {
  const name = tableName(args);
  const t = ctx.filter().tables.get(name);
  if (!t) throw new ControlError(ErrorCode.NOT_FOUND, `table <${name}> does not exist`);
  return t;
}

export function showTable(ctx: FilterContext, args: TableArgs): ShowTableResult {
  const t = existingTable(ctx, args);
  const addresses = [...t.entries.values()].map(({ prefix: p, neg }) => {
    const host = p.bits === (p.af === 4 ? 32 : 128);
    return (neg ? '!' : '') + formatAddress(p.af, p.words) + (host ? '' : `/${p.bits}`);
  });
  return { ...tableInfo(t, referencedTables(ctx.filter())), addresses };
}

/** Parses table entries ('10.0.0.0/8', '!10.1.0.0/16', '2001:db8::1'); every one or none. */
function parseEntries(list: readonly string[]): { prefix: Prefix; neg: boolean }[] {
  const bad: string[] = [];
  const out: { prefix: Prefix; neg: boolean }[] = [];
  for (const text of list) {
    const neg = text.startsWith('!');
    const p = parsePrefix(neg ? text.slice(1) : text);
    if (!p) bad.push(text);
    else out.push({ prefix: { af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits }, neg });
  }
  if (bad.length)
    throw new ControlError(ErrorCode.BAD_ARGS, `not an address or network: ${bad.join(', ')}; the table is unchanged`);
  return out;
}

function editable(t: PfTable): PfTable {
  if (t.isConst) throw new ControlError(ErrorCode.REFUSED, `table <${t.name}> is const`);
  return t;
}

/** The table, made if need be; refused when a new one would go over `set limit tables`. */
function ensureWithinLimit(tables: TableStore, name: string): PfTable {
  if (!tables.get(name) && tables.full())
    throw new ControlError(
      ErrorCode.REFUSED,
      `table <${name}> not created: ${tables.list().length} tables, set limit tables is ${tables.limits.tables}`,
    );
  return tables.ensure(name);
}

/** Refuses a change that would go over `set limit table-entries`; a table made for it goes again. */
function overEntryLimit(tables: TableStore, name: string, created: boolean): never {
  if (created) tables.delete(name);
  throw new ControlError(
    ErrorCode.REFUSED,
    `table <${name}>: the entries would go over set limit table-entries ${tables.limits.tableEntries} ` +
      `(${tables.entryCount()} held); the table is unchanged`,
  );
}

export function tableAdd(ctx: FilterContext, args: TableEditArgs): TableChangeResult {
  const name = tableName(args);
  const entries = parseEntries(args.addresses);
  const tables = ctx.filter().tables;
  const created = !tables.get(name);
  const t = editable(ensureWithinLimit(tables, name));
  const added = t.add(entries);
  if (added < 0) overEntryLimit(tables, name, created);
  return { table: name, created, added, deleted: 0, count: t.size };
}

export function tableDelete(ctx: FilterContext, args: TableEditArgs): TableChangeResult {
  const t = editable(existingTable(ctx, args));
  const deleted = t.delete(parseEntries(args.addresses).map((e) => e.prefix));
  return { table: t.name, created: false, added: 0, deleted, count: t.size };
}

export function tableReplace(ctx: FilterContext, args: TableEditArgs): TableChangeResult {
  const name = tableName(args);
  const entries = parseEntries(args.addresses);
  const tables = ctx.filter().tables;
  const created = !tables.get(name);
  const t = editable(ensureWithinLimit(tables, name));
  const before = new Set(t.entries.keys());
  if (!t.replace(entries)) overEntryLimit(tables, name, created);
  const after = new Set(t.entries.keys());
  let added = 0;
  let deleted = 0;
  for (const k of after) if (!before.has(k)) added++;
  for (const k of before) if (!after.has(k)) deleted++;
  return { table: name, created, added, deleted, count: t.size };
}

export function tableFlush(ctx: FilterContext, args: TableArgs): TableChangeResult {
  const t = editable(existingTable(ctx, args));
  return { table: t.name, created: false, added: 0, deleted: t.flush(), count: 0 };
}

export function killStates(ctx: FilterContext, args: KillStatesArgs): KillStatesResult {
  const f = ctx.filter();
  const rule = rulesById(f.rules);
  const victims = statesToKill(ctx.states, args, (id) => rule(id)?.rule.label ?? null);
  for (const i of victims) if (ctx.states.table.live(i)) ctx.states.remove(i);
  return { killed: victims.length };
}

export function flushStates(ctx: FilterContext): FlushStatesResult {
  return { flushed: ctx.flushStates ? ctx.flushStates() : ctx.states.flush() };
}

export function reload(ctx: FilterContext, args: ReloadArgs): ReloadResult {
  if (!ctx.loadRuleset || !ctx.applyRuleset) throw new ControlError(ErrorCode.REFUSED, 'this daemon cannot reload');
  const file = args.file ?? ctx.rulesFile;
  if (!file) throw new ControlError(ErrorCode.BAD_ARGS, 'reload needs a file (-f FILE)');
  let r: LoadResult;
  try {
    r = ctx.loadRuleset(file);
  } catch (e) {
    // whatever went wrong reading it, a reload never takes the running ruleset (or the daemon) down
    const why = e instanceof RulesetReadError ? e.message : `cannot load ${file}: ${(e as Error).message}`;
    throw new ControlError(ErrorCode.REFUSED, `${escapeControls(why)}; the running ruleset stays`);
  }
  const texts = formatDiagnostics(r.diagnostics, r.sources, r.omitted);
  if (!r.ruleset) {
    const n = errorCount(r.diagnostics, r.omitted);
    throw new ControlError(
      ErrorCode.REFUSED,
      `${file}: ${n} error${n === 1 ? '' : 's'}, ruleset not loaded; the running ruleset stays`,
      texts,
    );
  }
  try {
    ctx.applyRuleset(r.ruleset);
  } catch (e) {
    const why = escapeControls((e as Error).message);
    throw new ControlError(ErrorCode.REFUSED, `${file}: cannot apply: ${why}; the running ruleset stays`, texts);
  }
  return { file, rules: r.ruleset.rules.length, states: ctx.states.table.count, warnings: texts };
}

/** Registers the filter's commands on a control server. */
export function registerFilterCommands(server: ControlServer, ctx: FilterContext): void {
  server.register('show rules', noArgs, () => showRules(ctx));
  registerAnchorCommands(server, ctx);
  server.register('show states', showStatesArgs, (a) =>
    queryStatesStreamed(ctx.states, ctx.filter().interfaces, a, () => ctx.now(), ctx.filter().rules),
  );
  server.register('show info', noArgs, () => showInfo(ctx));
  server.register('show timeouts', noArgs, () => showTimeouts(ctx));
  server.register('show limits', noArgs, () => showLimits(ctx));
  server.register('show tables', noArgs, () => showTables(ctx));
  server.register('show table', tableArgs, (a) => showTable(ctx, a));
  server.register('reload', reloadArgs, (a) => reload(ctx, a), { mutating: true });
  server.register('kill states', killStatesArgs, (a) => killStates(ctx, a), { mutating: true });
  server.register('flush states', noArgs, () => flushStates(ctx), { mutating: true });
  server.register('table add', tableEditArgs, (a) => tableAdd(ctx, a), { mutating: true });
  server.register('table delete', tableEditArgs, (a) => tableDelete(ctx, a), { mutating: true });
  server.register('table replace', tableEditArgs, (a) => tableReplace(ctx, a), { mutating: true });
  server.register('table flush', tableArgs, (a) => tableFlush(ctx, a), { mutating: true });
}
