// What the filter commands (and the anchor commands, and the filter's
// metrics) need from the daemon: the live filter, its states and counters.

import type { ForwardCounters } from '../datapath/forwarder.js';
import type { PacketFilter } from '../filter/packet-filter.js';
import type { Ruleset } from '../rules/ast.js';
import type { LoadResult } from '../rules/load-file.js';
import type { FragmentCache } from '../state/fragment-cache.js';
import type { StateEngine } from '../state/state-engine.js';

/** What the filter commands need from the daemon. */
export interface FilterContext {
  /** The live filter (reloads change its rules and tables in place). */
  filter(): PacketFilter;
  /** The state engine the filter tracks connections in. */
  states: StateEngine;
  /** The datapath's counters; null before it runs (or offline). */
  forwardCounters(): ForwardCounters | null;
  /** The datapath's fragment cache (set reassemble); null before it runs (or offline). */
  fragments?(): FragmentCache | null;
  /** The daemon's clock: epoch seconds (the states' clock). */
  now(): number;
  /** When the daemon started, on that clock. */
  startedAt: number;
  /** The file `tunpf run -f` loaded: the default for reload. */
  rulesFile?: string;
  /** Loads and checks a ruleset the way `tunpf run` does; with `anchor`, as that anchor's rules. */
  loadRuleset?(file: string, anchor?: string): LoadResult;
  /** Installs a checked ruleset; states stay. */
  applyRuleset?(ruleset: Ruleset): void;
  /** Removes every state (the daemon tells its pfsync peer); the filter's own flush without it. */
  flushStates?(): number;
}
