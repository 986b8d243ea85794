// Timeouts: pf's defaults, `set timeout`, per-rule overrides, and adaptive
// scaling. Resolved once per ruleset load into a flat table indexed by
// (rule number, timeout class), so the packet path reads one number.

import { DEFAULT_TIMEOUTS, type Ruleset } from '../rules/ast.js';
import { NO_RULE, TIMEOUT_CLASSES, TimeoutName } from './constants.js';

export class TimeoutTable {
  /** seconds[(rule + 1) * CLASSES + class]; row 0 serves states without a rule. */
  readonly seconds: Uint32Array;
  readonly rules: number;
  /** tcp.tsdiff by rule row (as `seconds`): how far ahead of its clock a TCP timestamp may run (reassemble tcp). */
  readonly tsDiffSeconds: Uint32Array;
  /** Adaptive scaling thresholds in states; 0 start = off. */
  adaptiveStart = 0;
  adaptiveEnd = 0;
  /** `set timeout interval`: seconds between purge passes over the whole table. */
  interval = 10;

  constructor(ruleset: Ruleset | null, stateLimit: number) {
    const global = { ...DEFAULT_TIMEOUTS, ...(ruleset?.options.timeouts ?? {}) };
    const rules = ruleset?.rules ?? [];
    this.rules = rules.length;
    this.seconds = new Uint32Array((rules.length + 1) * TIMEOUT_CLASSES);
    this.tsDiffSeconds = new Uint32Array(rules.length + 1);
    this.tsDiffSeconds[0] = global['tcp.tsdiff']!;
    for (let c = 0; c < TIMEOUT_CLASSES; c++) this.seconds[c] = global[TimeoutName[c]!]!;
    for (const r of rules) {
      for (let c = 0; c < TIMEOUT_CLASSES; c++) {
        const own = r.stateOptions.timeouts[TimeoutName[c]!];
        this.seconds[(r.nr + 1) * TIMEOUT_CLASSES + c] = own ?? global[TimeoutName[c]!]!;
      }
      this.tsDiffSeconds[r.nr + 1] = r.stateOptions.timeouts['tcp.tsdiff'] ?? global['tcp.tsdiff']!;
    }
    // pf: adaptive.start/end default to 60% / 120% of the state limit.
    const start = global['adaptive.start']!;
    const end = global['adaptive.end']!;
    this.adaptiveStart = start || Math.floor((stateLimit * 6) / 10);
    this.adaptiveEnd = end || Math.floor((stateLimit * 12) / 10);
    if (this.adaptiveEnd <= this.adaptiveStart) this.adaptiveStart = 0;
    this.interval = Math.max(1, global['interval']!);
  }

  /** A rule's tcp.tsdiff (seconds). */
  tsDiff(rule: number): number {
    return this.tsDiffSeconds[rule === NO_RULE || rule >= this.rules ? 0 : rule + 1]!;
  }

  /** The timeout of a state, scaled down as the table fills (pf's adaptive timeouts). */
  timeout(rule: number, cls: number, states: number): number {
    const row = rule === NO_RULE || rule >= this.rules ? 0 : rule + 1;
    const t = this.seconds[row * TIMEOUT_CLASSES + cls]!;
    if (this.adaptiveStart === 0 || states <= this.adaptiveStart) return t;
    if (states >= this.adaptiveEnd) return 0;
    return Math.floor((t * (this.adaptiveEnd - states)) / (this.adaptiveEnd - this.adaptiveStart));
  }
}
