// The lines `tunpf replay --json` prints, as the tests read them.

/** One packet and its verdict. */
export interface ReplayVerdict {
  n: number;
  time: number;
  interface: string | null;
  direction: 'in' | 'out';
  packet: string;
  verdict: 'pass' | 'block';
  why: string;
  rule: number;
  ruleText: string | null;
  label: string | null;
  state: string | null;
  stateCreated: boolean;
  logged: string[];
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
