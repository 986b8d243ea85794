// What the lab's traffic generator reports about its flows, in a small JSON
// file the narrator (and `tunpf lab status`) reads: the generator measures
// with its own clock, where the packets are, so the gaps it reports are the
// ones the client saw.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export type FlowName = 'transfer' | 'stream' | 'session';

export interface FlowEndpoint {
  address: string;
  port: number;
}

export interface FlowGap {
  /** When the last data before the pause arrived (epoch ms), and how long nothing came. */
  at: number;
  ms: number;
}

export interface FlowStatus {
  name: FlowName;
  proto: 'tcp' | 'udp';
  /** The client's end of the current connection (UDP: its socket), null while not connected. */
  local: FlowEndpoint | null;
  remote: FlowEndpoint;
  connected: boolean;
  /** Connections made so far: 1 while the first one lives. */
  connections: number;
  /** Why connections ended (the last few). */
  breaks: { at: number; why: string }[];
  /** Bytes (TCP) or datagrams (UDP) sent, and echoed back. */
  sent: number;
  received: number;
  /** When something last came back (epoch ms), 0 for never. */
  lastReceived: number;
  /** Pauses in what came back longer than GAP_MS (the last few). */
  gaps: FlowGap[];
  /** The session's last keystroke: when it was typed and when its echo came back. */
  key?: { sentAt: number; echoedAt: number | null };
}

export interface TrafficStatus {
  pid: number;
  startedAt: number;
  updatedAt: number;
  flows: FlowStatus[];
}

/** Pauses shorter than this are normal pacing, not worth reporting. */
export const GAP_MS = 100;

export function writeTrafficStatus(path: string, s: TrafficStatus): void {
  // written whole and renamed, so a reader never sees half a file
  writeFileSync(`${path}.tmp`, JSON.stringify(s));
  renameSync(`${path}.tmp`, path);
}

export function readTrafficStatus(path: string): TrafficStatus | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as TrafficStatus;
  } catch {
    return null;
  }
}

/**
 * The pause a flow went through around `t` (epoch ms): the recorded gap that
 * spans it, or the one still going on (nothing has come back since before
 * `t`). Null when data kept arriving.
 */
export function pauseAround(f: FlowStatus, t: number, now: number): { ms: number; ongoing: boolean } | null {
  if (f.lastReceived && f.lastReceived <= t) return { ms: now - f.lastReceived, ongoing: true };
  // the gaps that began within a moment of t (the flow may have been quiet just before)
  const spans = f.gaps.filter((g) => g.at <= t + GAP_MS && g.at + g.ms >= t);
  if (spans.length === 0) return null;
  return { ms: Math.max(...spans.map((g) => g.ms)), ongoing: false };
}

/** The longest pause that began or ended within [from, to]. */
export function longestPause(f: FlowStatus, from: number, to: number): number {
  let ms = 0;
  for (const g of f.gaps) if (g.at <= to && g.at + g.ms >= from) ms = Math.max(ms, g.ms);
  if (f.lastReceived && f.lastReceived < to) ms = Math.max(ms, to - f.lastReceived);
  return ms;
}
