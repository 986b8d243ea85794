// Human output of the control commands, in pfctl's layouts where pf has
// one (-vsr, -ss/-vss, -si, -st, -sm, -sT, -T show) and in ifconfig's
// spirit for CARP and pfsync. Pure functions of the result shapes.

import type {
  AnchorFlushResult,
  AnchorLoadResult,
  CarpDemoteResult,
  FlushStatesResult,
  KillStatesResult,
  LogInterfaceCounters,
  LogInterfaceInfo,
  ReloadResult,
  ShowCarpResult,
  ShowInfoResult,
  ShowLimitsResult,
  ShowPfsyncResult,
  ShowRulesResult,
  ShowStatesResult,
  ShowTableResult,
  ShowTablesResult,
  ShowTimeoutsResult,
  StateInfo,
  TableChangeResult,
} from './results.js';
import { flowText } from './describe-state.js';
import { protocolNumber } from '../rules/names.js';

/** hh:mm:ss, hours unbounded (pf's state ages). */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

/** pfctl -si's "N days hh:mm:ss". */
export function uptimeText(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  return `${days} days ${clock(seconds % 86400)}`;
}

/** 1234567 -> 1.2M (binary prefixes, as pftop prints). */
export function humanCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? String(Math.round(v)) : `${v < 10 ? v.toFixed(1) : Math.round(v)}${units[u]}`;
}

/** The flow as pf prints it: an inbound state responder <- initiator, an outbound one initiator -> responder. */
export function stateFlow(s: StateInfo): string {
  const wire = [s.src, s.dst] as const;
  const stack = s.stack ? ([s.stack.src, s.stack.dst] as const) : wire;
  return flowText({ af: s.af, proto: protocolNumber(s.proto) ?? -1, outbound: s.direction === 'out', wire, stack });
}

/** pfctl -ss's line (the same text `tunpf replay` prints for a state). */
export function stateLine(s: StateInfo): string {
  // pf prints an inbound state's responder first, as its flow
  const [a, b] = s.direction === 'out' ? s.peers : [s.peers[1], s.peers[0]];
  return `${s.interface} ${s.proto} ${stateFlow(s)}`.padEnd(56) + ` ${a}:${b}`;
}

export function formatStates(r: ShowStatesResult, verbose = 0): string {
  const out: string[] = [];
  for (const s of r.states) {
    out.push(stateLine(s));
    if (verbose >= 1) {
      const rule = s.rule >= 0 ? `, rule ${s.rule}${s.anchor ? ` in anchor ${s.anchor}` : ''}` : '';
      const traffic = `${s.packets[0]}:${s.packets[1]} pkts, ${s.bytes[0]}:${s.bytes[1]} bytes`;
      out.push(`   age ${clock(s.age)}, expires in ${clock(s.expires)}, ${traffic}${rule}`);
    }
    if (verbose >= 2) out.push(`   id: ${s.id} creatorid: ${s.creator}`);
  }
  return out.join('\n');
}

export function formatRules(r: ShowRulesResult, verbose = 1): string {
  const out: string[] = [];
  for (const x of r.rules) {
    out.push(`@${x.nr} ${x.text}`);
    if (verbose < 1) continue;
    const cells = [
      `Evaluations: ${String(x.evaluations).padEnd(8)}`,
      `Packets: ${String(x.packets).padEnd(8)}`,
      `Bytes: ${String(x.bytes).padEnd(10)}`,
      `States: ${String(x.states).padEnd(6)}`,
    ];
    out.push(`  [ ${cells.join('  ')}]`);
    out.push(`  [ State Creations: ${String(x.stateCreations).padEnd(6)}]`);
  }
  if (verbose >= 1 && r.default.packets > 0)
    out.push(`no rule matched: ${r.default.packets} packets, ${r.default.bytes} bytes (passed, as pf's default)`);
  return out.join('\n');
}

function rate(total: number, seconds: number): string {
  return `${(seconds > 0 ? total / seconds : 0).toFixed(1)}/s`;
}

/** pfctl -si's "Interface Stats for IF" block (print_status). */
function logInterfaceLines(li: LogInterfaceInfo): string[] {
  const pair = (label: string, pick: (c: LogInterfaceCounters) => number) =>
    `${label} ${String(pick(li.ipv4)).padStart(14)} ${String(pick(li.ipv6)).padStart(16)}`;
  return [
    `Interface Stats for ${li.name.padEnd(16)} ${'IPv4'.padStart(5)} ${'IPv6'.padStart(16)}`,
    pair(`  ${'Bytes In'.padEnd(25)}`, (c) => c.bytesIn),
    pair(`  ${'Bytes Out'.padEnd(25)}`, (c) => c.bytesOut),
    '  Packets In',
    pair(`    ${'Passed'.padEnd(23)}`, (c) => c.packetsInPassed),
    pair(`    ${'Blocked'.padEnd(23)}`, (c) => c.packetsInBlocked),
    '  Packets Out',
    pair(`    ${'Passed'.padEnd(23)}`, (c) => c.packetsOutPassed),
    pair(`    ${'Blocked'.padEnd(23)}`, (c) => c.packetsOutBlocked),
  ];
}

export function formatInfo(r: ShowInfoResult): string {
  const t = r.uptime;
  const row = (name: string, total: number, withRate = true) =>
    `  ${name.padEnd(25)} ${String(total).padStart(14)} ${withRate ? rate(total, t).padStart(16) : ''}`.trimEnd();
  const head = (name: string) => `${name.padEnd(27)} ${'Total'.padStart(14)} ${'Rate'.padStart(16)}`;
  const out = [`Status: Enabled for ${uptimeText(t)}`.padEnd(48) + `Hostid: 0x${r.hostid}`, ''];
  if (r.loginterface) out.push(...logInterfaceLines(r.loginterface), '');
  out.push(head('State Table'));
  out.push(row('current entries', r.states.current, false));
  out.push(
    row('searches', r.states.searches),
    row('inserts', r.states.inserts),
    row('removals', r.states.removals),
    row('expired', r.states.expired),
  );
  out.push('Counters');
  for (const [name, v] of Object.entries(r.counters)) out.push(row(name, v));
  out.push('', head('Filter checks (in and out)'));
  out.push(
    row('checks', r.filter.packets),
    row('passed', r.filter.passed),
    row('blocked', r.filter.blocked),
    row('bytes', r.filter.bytes),
  );
  out.push('Verdicts by reason');
  for (const [name, v] of Object.entries(r.filter.verdicts)) out.push(row(name, v));
  const malformed = Object.entries(r.filter.malformed).filter(([, v]) => v > 0);
  if (malformed.length) {
    out.push('Malformed packets');
    for (const [name, v] of malformed) out.push(row(name, v));
  }
  const drops = Object.entries(r.stateDrops).filter(([, v]) => v > 0);
  if (drops.length) {
    out.push('State engine drops');
    for (const [name, v] of drops) out.push(row(name, v));
  }
  if (r.forward) {
    const f = r.forward;
    out.push('Forwarding');
    out.push(
      row('packets in', f.packetsIn),
      row('packets out', f.packetsOut),
      row('bytes in', f.bytesIn),
      row('dropped', f.dropped),
      row('no route', f.noRoute),
      row('block replies sent', f.replies),
      row('batches', f.batches),
    );
  }
  if (r.fragments) {
    const f = r.fragments;
    out.push('Fragments (set reassemble)');
    out.push(
      row('held', f.held, false),
      row('datagrams pending', f.datagrams, false),
      row('reassembled', f.reassembled),
    );
    for (const [name, v] of Object.entries(f.dropped)) if (v > 0) out.push(row(`dropped: ${name}`, v));
  }
  out.push(`Source nodes: ${r.sourceNodes}    Rules: ${r.rules}    State limit: ${r.states.limit}`);
  return out.join('\n');
}

export function formatTimeouts(r: ShowTimeoutsResult): string {
  return Object.entries(r.timeouts)
    .map(([name, v]) => `${name.padEnd(20)} ${String(v).padStart(10)}${name.startsWith('adaptive.') ? ' states' : 's'}`)
    .join('\n');
}

export function formatLimits(r: ShowLimitsResult, verbose = 0): string {
  return Object.entries(r.limits)
    .map(
      ([name, l]) =>
        `${name.padEnd(13)} hard limit ${String(l.limit).padStart(8)}${verbose ? `  in use ${l.current}` : ''}`,
    )
    .join('\n');
}

function tableFlags(t: { const: boolean; persist: boolean; referenced: boolean }): string {
  return `${t.const ? 'c' : '-'}${t.persist ? 'p' : '-'}a-${t.referenced ? 'r' : '-'}--`;
}

export function formatTables(r: ShowTablesResult, verbose = 0): string {
  return r.tables.map((t) => (verbose ? `${tableFlags(t)}\t${t.name}\t${t.count} addresses` : t.name)).join('\n');
}

export function formatTable(r: ShowTableResult, verbose = 0): string {
  const lines = r.addresses.map((a) => (a.startsWith('!') ? `  ${a}` : `   ${a}`));
  if (verbose)
    lines.unshift(
      `${tableFlags(r)}\t${r.name}\t${r.count} addresses, ${r.matches} lookups matched, ${r.misses} missed`,
    );
  return lines.join('\n');
}

export function formatReload(r: ReloadResult): string {
  return `reloaded ${r.file}: ${r.rules} rules, ${r.states} states kept`;
}

export function formatAnchorLoad(r: AnchorLoadResult): string {
  return `loaded ${r.file} into anchor ${r.anchor}: ${r.rules} rules`;
}

export function formatAnchorFlush(r: AnchorFlushResult): string {
  return `anchor ${r.anchor}: ${r.flushed} rules cleared`;
}

export function formatKill(r: KillStatesResult): string {
  return `killed ${r.killed} state${r.killed === 1 ? '' : 's'}`;
}

export function formatFlush(r: FlushStatesResult): string {
  return `${r.flushed} states cleared`;
}

export function formatTableChange(
  op: 'add' | 'delete' | 'replace' | 'flush',
  r: TableChangeResult,
  asked: number,
): string {
  const lines: string[] = [];
  if (r.created) lines.push('1 table created.');
  if (op === 'add') lines.push(`${r.added}/${asked} addresses added.`);
  else if (op === 'delete') lines.push(`${r.deleted}/${asked} addresses deleted.`);
  else if (op === 'replace') lines.push(`${r.added} addresses added.`, `${r.deleted} addresses deleted.`);
  else lines.push(`${r.deleted} addresses deleted.`);
  return lines.join('\n');
}

function counts(m: Record<string, number> | undefined): string {
  const e = Object.entries(m ?? {}).filter(([, v]) => v);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

/** `now`: epoch seconds. */
function since(iso: string | null | undefined, now: number): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${iso} (${clock(now - t / 1000)} ago)`;
}

/** `now` (epoch seconds) dates the transitions: "since ... (00:05:00 ago)". */
export function formatCarp(r: ShowCarpResult, now: number): string {
  const out = [
    `demotion ${r.demote}${Object.keys(r.demoteReasons ?? {}).length ? ` (${counts(r.demoteReasons)})` : ''}`,
  ];
  for (const g of r.groups ?? []) {
    const timing = `advbase ${g.advbase} advskew ${g.advskew} preempt ${g.preempt ? 'yes' : 'no'}`;
    out.push(`${g.name}: ${g.state} carpdev ${g.carpdev} vhid ${g.vhid} ${timing}`);
    out.push(`\taddresses ${g.addresses.join(' ') || '-'}`);
    out.push(`\tsince ${since(g.since, now)}, reason: ${g.reason || '-'}`);
    const c = g.counters;
    const blocked = c?.blockedOut ? ` (${c.blockedOut} more blocked out by the rules)` : '';
    if (c)
      out.push(
        `\treceived ${c.received}, accepted ${c.accepted}, sent ${c.sent}${blocked}, dropped: ${counts(c.dropped)}`,
      );
  }
  return out.join('\n');
}

function ms(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${Number(v).toFixed(1)}`;
}

/** `now` (epoch seconds) dates the bulk update. */
export function formatPfsync(r: ShowPfsyncResult, now: number): string {
  const q = r.queued;
  return [
    `pfsync: syncdev ${r.syncdev} syncpeer ${r.syncpeer ?? '-'} maxupd ${r.maxupd} ` +
      `defer ${r.defer ? 'on' : 'off'} hostid 0x${r.hostid}`,
    `\tbulk update: ${r.bulk?.state ?? '-'}, ` +
      `started ${since(r.bulk?.started, now)}, ended ${since(r.bulk?.ended, now)}`,
    `\tqueued: ins ${q.ins} upd ${q.upd} updc ${q.updc} del ${q.del} iack ${q.iack}`,
    `\tsent: ${r.sent.packets} packets, ${r.sent.bytes} bytes; messages: ${counts(r.sent.messages)}` +
      (r.blockedOut ? `; ${r.blockedOut} of the packets blocked out by the rules` : ''),
    `\treceived: ${r.received.packets} packets, ${r.received.bytes} bytes; messages: ${counts(r.received.messages)}`,
    `\tdropped: ${counts(r.dropped)}`,
    `\tlag ms: last ${ms(r.lagMs?.last)} p50 ${ms(r.lagMs?.p50)} p99 ${ms(r.lagMs?.p99)}`,
  ].join('\n');
}

export function formatDemote(r: CarpDemoteResult): string {
  return `demotion counter now ${r.demote}`;
}
