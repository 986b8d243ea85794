// What `tunpf top` draws, as pure functions of two samples (this refresh and
// the last): rates are differences between them. The terminal handling
// lives in cli/top-command.ts; this file only makes lines of text.

import { clock, humanCount, stateFlow, uptimeText } from './format.js';
import { stateComparator } from './state-query.js';
import type {
  ShowCarpResult,
  ShowInfoResult,
  ShowPfsyncResult,
  ShowRulesResult,
  ShowStatesResult,
  StateInfo,
  StateSortKey,
} from './results.js';

export interface TopSample {
  /** When it was taken: epoch seconds. */
  at: number;
  info: ShowInfoResult;
  states: ShowStatesResult;
  rules: ShowRulesResult | null;
  /** null when the daemon runs no CARP / pfsync. */
  carp: ShowCarpResult | null;
  pfsync: ShowPfsyncResult | null;
}

export interface TopUi {
  view: 'states' | 'rules';
  sort: StateSortKey;
  reverse: boolean;
  /** Where the socket is, for the title. */
  socket: string;
}

/** Keys that pick a sort, as pftop's. */
export const SORT_KEYS: Record<string, StateSortKey> = {
  s: 'source',
  d: 'destination',
  b: 'bytes',
  r: 'rate',
  a: 'age',
  e: 'expiry',
  p: 'packets',
};

/** Applies a key press; returns whether to quit. */
export function applyKey(ui: TopUi, key: string): 'quit' | 'redraw' | 'ignore' {
  if (key === 'q' || key === '\u0003') return 'quit';
  if (key === 'v' || key === '\t') {
    ui.view = ui.view === 'states' ? 'rules' : 'states';
    return 'redraw';
  }
  if (key === '1' || key === '2') {
    ui.view = key === '1' ? 'states' : 'rules';
    return 'redraw';
  }
  const sort = SORT_KEYS[key];
  if (!sort) return key === ' ' ? 'redraw' : 'ignore';
  if (ui.sort === sort) ui.reverse = !ui.reverse;
  else {
    ui.sort = sort;
    ui.reverse = false;
  }
  return 'redraw';
}

/** Bytes a second of every state between two samples; a state new since the last one gets its lifetime average. */
export function stateRates(now: TopSample, prev: TopSample | null): Map<string, number> {
  const before = new Map<string, number>();
  for (const s of prev?.states.states ?? []) before.set(s.id, s.bytes[0] + s.bytes[1]);
  const dt = prev ? now.at - prev.at : 0;
  const out = new Map<string, number>();
  for (const s of now.states.states) {
    const total = s.bytes[0] + s.bytes[1];
    const old = before.get(s.id);
    out.set(s.id, old !== undefined && dt > 0 ? Math.max(0, (total - old) / dt) : s.rate);
  }
  return out;
}

function perSecond(now: number, before: number | undefined, dt: number): number {
  return before === undefined || dt <= 0 ? 0 : Math.max(0, (now - before) / dt);
}

const rateText = (v: number) => `${humanCount(v)}/s`;

function compare(key: StateSortKey, rates: Map<string, number>): (a: StateInfo, b: StateInfo) => number {
  // the rate between refreshes is top's own; the other orders are the daemon's
  if (key === 'rate') return (a, b) => (rates.get(b.id) ?? 0) - (rates.get(a.id) ?? 0);
  return stateComparator(key);
}

/** Cuts text to width; an ellipsis shows where. */
function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 0 ? '' : text.slice(0, width - 1) + '…';
}

interface Column {
  title: string;
  /** The narrowest it gets; numbers widen it as far as they need, never cut. */
  width: number;
  right?: boolean;
  /** Takes what the others leave of the screen (at least `width`); longer text ends in an ellipsis. */
  flex?: boolean;
}

/** Lays rows out in columns: each fixed column as wide as its widest cell, the flexible one what is left. */
function columns(specs: readonly Column[], rows: readonly string[][], screen: number): string[] {
  const widths = specs.map((c, k) =>
    c.flex ? c.width : Math.max(c.width, c.title.length, ...rows.map((r) => r[k]!.length)),
  );
  const flex = specs.findIndex((c) => c.flex);
  if (flex >= 0) {
    const others = widths.reduce((n, w, k) => (k === flex ? n : n + w + 1), 0);
    widths[flex] = Math.max(specs[flex]!.width, screen - others);
  }
  const line = (cells: readonly string[]) =>
    cells
      .map((t, k) => {
        const cut = fit(t, widths[k]!);
        return specs[k]!.right ? cut.padStart(widths[k]!) : k === cells.length - 1 ? cut : cut.padEnd(widths[k]!);
      })
      .join(' ');
  return [line(specs.map((c) => c.title)), ...rows.map(line)];
}

function header(now: TopSample, prev: TopSample | null, ui: TopUi): string[] {
  const i = now.info;
  const p = prev?.info;
  const dt = prev ? now.at - prev.at : 0;
  const time = new Date(now.at * 1000).toTimeString().slice(0, 8);
  const lines = [`tunpf top   ${ui.socket}   up ${uptimeText(i.uptime)}   ${time}`];
  const parts = [
    `states ${i.states.current}/${i.states.limit}`,
    `inserts ${perSecond(i.states.inserts, p?.states.inserts, dt).toFixed(1)}/s`,
    `removals ${perSecond(i.states.removals, p?.states.removals, dt).toFixed(1)}/s`,
    `searches ${perSecond(i.states.searches, p?.states.searches, dt).toFixed(0)}/s`,
  ];
  if (i.forward) {
    parts.push(`packets in ${perSecond(i.forward.packetsIn, p?.forward?.packetsIn, dt).toFixed(0)}/s`);
    parts.push(`out ${perSecond(i.forward.packetsOut, p?.forward?.packetsOut, dt).toFixed(0)}/s`);
    parts.push(`${rateText(perSecond(i.forward.bytesIn, p?.forward?.bytesIn, dt))}`);
  }
  parts.push(`blocked ${perSecond(i.filter.blocked, p?.filter.blocked, dt).toFixed(0)}/s`);
  lines.push(parts.join('  '));
  if (now.carp) {
    const groups = now.carp.groups.map((g) => `${g.name} ${g.state} (${g.carpdev} vhid ${g.vhid})`);
    lines.push(`carp: ${groups.join('  ') || 'no groups'}  demote ${now.carp.demote}`);
  }
  if (now.pfsync) {
    const q = now.pfsync.queued;
    const lag = now.pfsync.lagMs;
    const ms = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${Number(v).toFixed(1)}`);
    lines.push(
      `pfsync: ${now.pfsync.syncdev}  ` +
        `queued ins ${q.ins} upd ${q.upd} updc ${q.updc} del ${q.del} iack ${q.iack}  ` +
        `lag ms last ${ms(lag.last)} p50 ${ms(lag.p50)} p99 ${ms(lag.p99)}  ` +
        `bulk ${now.pfsync.bulk.state}`,
    );
  }
  const sortName = `${ui.sort}${ui.reverse ? ' (reversed)' : ''}`;
  lines.push(
    ui.view === 'states'
      ? `view: states (${now.states.matched} shown of ${now.states.total})  sort: ${sortName}   ` +
          'keys: s d b r a e p sort, v rules, q quit'
      : `view: rules   keys: v states, q quit`,
  );
  return lines;
}

const STATE_COLUMNS: readonly Column[] = [
  { title: 'PR', width: 5 },
  { title: 'IF', width: 6 },
  { title: 'DIR', width: 3 },
  { title: 'FLOW', width: 24, flex: true },
  { title: 'STATE', width: 23 },
  { title: 'AGE', width: 8, right: true },
  { title: 'EXP', width: 8, right: true },
  { title: 'PKTS', width: 6, right: true },
  { title: 'BYTES', width: 6, right: true },
  { title: 'RATE', width: 8, right: true },
];

function statesView(now: TopSample, prev: TopSample | null, ui: TopUi, width: number): string[] {
  const rates = stateRates(now, prev);
  const cmp = compare(ui.sort, rates);
  const list = [...now.states.states].sort(ui.reverse ? (a, b) => cmp(b, a) : cmp);
  const rows = list.map((s) => [
    s.proto,
    s.interface,
    s.direction,
    stateFlow(s),
    `${s.peers[0]}:${s.peers[1]}`,
    clock(s.age),
    clock(s.expires),
    humanCount(s.packets[0] + s.packets[1]),
    humanCount(s.bytes[0] + s.bytes[1]),
    rateText(rates.get(s.id) ?? 0),
  ]);
  return columns(STATE_COLUMNS, rows, width);
}

const RULE_COLUMNS: readonly Column[] = [
  { title: 'RULE', width: 5 },
  { title: 'EVALS', width: 7, right: true },
  { title: 'PKTS', width: 7, right: true },
  { title: 'BYTES', width: 7, right: true },
  { title: 'PKT/S', width: 7, right: true },
  { title: 'STATES', width: 6, right: true },
  { title: 'TEXT', width: 4 },
];

function rulesView(now: TopSample, prev: TopSample | null, width: number): string[] {
  const before = new Map((prev?.rules?.rules ?? []).map((r) => [r.nr, r.packets]));
  const dt = prev ? now.at - prev.at : 0;
  const rows = (now.rules?.rules ?? []).map((r) => [
    `@${r.nr}`,
    humanCount(r.evaluations),
    humanCount(r.packets),
    humanCount(r.bytes),
    perSecond(r.packets, before.get(r.nr), dt).toFixed(0),
    String(r.states),
    r.text,
  ]);
  return columns(RULE_COLUMNS, rows, width);
}

/** One frame: header, column titles and as many rows as fit in `height` lines. */
export function renderFrame(
  now: TopSample,
  prev: TopSample | null,
  ui: TopUi,
  width: number,
  height = Infinity,
): string[] {
  const lines = [...header(now, prev, ui), ''];
  lines.push(...(ui.view === 'states' ? statesView(now, prev, ui, width) : rulesView(now, prev, width)));
  return lines.slice(0, height).map((l) => fit(l, width));
}
