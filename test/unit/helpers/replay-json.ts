// The lines `tunpf replay --json` prints, as the tests read them.

import type { CheckView } from '../../../src/cli/replay-command.js';

/** One packet and its verdict: where and how it was checked, as replay prints one check. */
export interface ReplayVerdict extends CheckView {
  n: number;
  time: number;
  packet: string;
}

/** The closing line. */
export interface ReplaySummary {
  summary: {
    packets: number;
    passed: number;
    blocked: number;
    blockedBy: Record<string, number>;
    skipped: number;
    statesCreated: number;
    statesAtEnd: number;
  };
}

/** A record replay could not read as IP (only n, time and this). */
export interface ReplaySkipped {
  skipped: string;
}

/** Any line: a test indexes them and reads the fields of the kind it expects there. */
export type ReplayLine = Partial<ReplayVerdict & ReplaySummary & ReplaySkipped>;
