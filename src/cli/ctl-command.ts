// `tunpf ctl ...`: talks to the running daemon over its control socket, as
// pfctl talks to pf. Human output in pfctl's layouts, or --json (the
// result shapes of src/control/results.ts).

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CommandError, ConnectError, requestOnce } from '../control/client.js';
import * as fmt from '../control/format.js';
import { ErrorCode } from '../control/protocol.js';
import { systemClock } from '../os/clock.js';
import { STATE_SORT_KEYS, type ShowStatesArgs, type StateSortKey } from '../control/results.js';
import type { CommandIO } from './io.js';

export const ctlUsage = `usage: tunpf ctl [--socket PATH] [--json] [-v] [--timeout MS] COMMAND
commands:
  show rules                      rules with their counters (pfctl -vsr)
  show states [filters] [-v|-vv]  states (pfctl -ss; -v age, expiry, packets, bytes; -vv ids)
      --address HOST|NET  --port N  --proto NAME  -i|--interface IF  --sort KEY  --reverse  --limit N
      sort keys: ${STATE_SORT_KEYS.join(', ')}
  show info                       status and counters (pfctl -si)
  show timeouts | show limits     (pfctl -st, -sm)
  show tables | show table NAME   tables, a table's addresses (pfctl -sT, -T show)
  reload [-f|--file FILE]         check and load a ruleset atomically; states stay (pfctl -f)
  -a|--anchor NAME load FILE      check and load FILE as anchor NAME's rules; the rest stays (pfctl -a NAME -f)
  -a NAME show rules | flush rules   an anchor's rules, numbered from 0; empty it (pfctl -a NAME -sr, -F rules)
  kill states -k|--kill HOST [-k HOST]   states from a host or network (to another) (pfctl -k)
  kill states -k id -k ID         a state by id;  -k label -k LABEL: the states of labelled rules
  flush states                    every state (pfctl -F states)
  table NAME add|delete|replace ADDR...   table NAME flush | show   (pfctl -t NAME -T ...)
  show carp | carp demote [N] | carp promote [N]
  show pfsync
options:
  --socket PATH   the daemon's control socket (default: this network namespace's)
  --json          print the result as JSON
  -v, --verbose   more detail (twice for more)
  --timeout MS    give up after MS milliseconds (default 10000)`;

interface Plan {
  command: string;
  args: Record<string, unknown>;
  /** `now`: epoch seconds, for "... ago". */
  format(result: unknown, now: number): string;
  /** What to say when the daemon has no such command. */
  notConfigured?: string;
}

type Values = {
  verbose?: boolean[];
  file?: string;
  anchor?: string;
  kill?: string[];
  address?: string;
  port?: string;
  proto?: string;
  interface?: string;
  sort?: string;
  reverse?: boolean;
  limit?: string;
};

function plan(words: string[], v: Values): Plan | string {
  const verbose = v.verbose?.length ?? 0;
  const [a, b, ...rest] = words;
  const phrase = [a, b].filter(Boolean).join(' ');
  const none = (n: number) => (words.length > n ? `'${phrase}' takes no further arguments` : null);
  if (v.anchor !== undefined) return anchorPlan(words, v.anchor);
  switch (phrase) {
    case 'show rules':
      return none(2) ?? { command: 'show rules', args: {}, format: (r) => fmt.formatRules(r as never) };
    case 'show states': {
      if (none(2)) return none(2)!;
      const args: ShowStatesArgs = {};
      if (v.address !== undefined) args.address = v.address;
      if (v.port !== undefined) {
        const p = Number(v.port);
        if (!Number.isInteger(p) || p < 0 || p > 65535) return `--port: '${v.port}' is not 0..65535`;
        args.port = p;
      }
      if (v.proto !== undefined) args.proto = v.proto;
      if (v.interface !== undefined) args.interface = v.interface;
      if (v.sort !== undefined) {
        if (!(STATE_SORT_KEYS as readonly string[]).includes(v.sort))
          return `--sort: '${v.sort}' is not one of ${STATE_SORT_KEYS.join(', ')}`;
        args.sort = v.sort as StateSortKey;
      }
      if (v.reverse) args.reverse = true;
      if (v.limit !== undefined) {
        const n = Number(v.limit);
        if (!Number.isInteger(n) || n < 0) return `--limit: '${v.limit}' is not a count`;
        args.limit = n;
      }
      return {
        command: 'show states',
        args: args as Record<string, unknown>,
        format: (r) => fmt.formatStates(r as never, verbose),
      };
    }
    case 'show info':
      return none(2) ?? { command: 'show info', args: {}, format: (r) => fmt.formatInfo(r as never) };
    case 'show timeouts':
      return none(2) ?? { command: 'show timeouts', args: {}, format: (r) => fmt.formatTimeouts(r as never) };
    case 'show limits':
    case 'show memory':
      return none(2) ?? { command: 'show limits', args: {}, format: (r) => fmt.formatLimits(r as never, verbose) };
    case 'show tables':
      return none(2) ?? { command: 'show tables', args: {}, format: (r) => fmt.formatTables(r as never, verbose) };
    case 'show carp':
      return (
        none(2) ?? {
          command: 'show carp',
          args: {},
          format: (r, now) => fmt.formatCarp(r as never, now),
          notConfigured: 'CARP is not configured',
        }
      );
    case 'show pfsync':
      return (
        none(2) ?? {
          command: 'show pfsync',
          args: {},
          format: (r, now) => fmt.formatPfsync(r as never, now),
          notConfigured: 'pfsync is not configured',
        }
      );
    case 'flush states':
      return none(2) ?? { command: 'flush states', args: {}, format: (r) => fmt.formatFlush(r as never) };
    case 'kill states': {
      if (none(2)) return none(2)!;
      const k = v.kill ?? [];
      if (k[0] === 'id' || k[0] === 'label') {
        if (k.length !== 2)
          return `kill states -k ${k[0]} needs one ${k[0]}: -k ${k[0]} -k ${k[0] === 'id' ? 'ID' : 'LABEL'}`;
        return { command: 'kill states', args: { [k[0]]: k[1] }, format: (r) => fmt.formatKill(r as never) };
      }
      if (k.length < 1 || k.length > 2) return 'kill states needs -k HOST [-k HOST], -k id -k ID or -k label -k LABEL';
      return { command: 'kill states', args: { hosts: k }, format: (r) => fmt.formatKill(r as never) };
    }
    case 'carp demote':
    case 'carp promote': {
      if (rest.length > 1) return `'${phrase}' takes at most one number`;
      const by = rest.length ? Number(rest[0]) : 1;
      if (!Number.isInteger(by) || by < 1 || by > 255) return `${phrase}: '${rest[0]}' is not 1..255`;
      return {
        command: phrase,
        args: { by },
        format: (r) => fmt.formatDemote(r as never),
        notConfigured: 'CARP is not configured',
      };
    }
    case 'reload':
      if (words.length > 1) return "reload takes its file with -f: 'reload -f FILE'";
      return {
        command: 'reload',
        args: v.file === undefined ? {} : { file: resolve(v.file) },
        format: (r) => fmt.formatReload(r as never),
      };
  }
  if (a === 'show' && b === 'table') {
    if (rest.length !== 1) return 'show table needs one table name';
    return { command: 'show table', args: { table: rest[0] }, format: (r) => fmt.formatTable(r as never, verbose) };
  }
  if (a === 'table') {
    const [op, ...addrs] = rest;
    if (!b || !op) return 'usage: table NAME add|delete|replace ADDR... | table NAME flush | table NAME show';
    switch (op) {
      case 'add':
      case 'delete':
      case 'replace':
        if (addrs.length === 0 && op !== 'replace') return `table ${b} ${op} needs addresses`;
        return {
          command: `table ${op}`,
          args: { table: b, addresses: addrs },
          format: (r) => fmt.formatTableChange(op, r as never, addrs.length),
        };
      case 'flush':
        if (addrs.length) return 'table NAME flush takes no addresses';
        return {
          command: 'table flush',
          args: { table: b },
          format: (r) => fmt.formatTableChange('flush', r as never, 0),
        };
      case 'show':
        if (addrs.length) return 'table NAME show takes no addresses';
        return { command: 'show table', args: { table: b }, format: (r) => fmt.formatTable(r as never, verbose) };
    }
    return `table: unknown operation '${op}' (add, delete, replace, flush, show)`;
  }
  return words.length ? `unknown command '${words.join(' ')}'` : 'no command given';
}

/** Commands on one anchor (pfctl -a NAME ...). */
function anchorPlan(words: string[], anchor: string): Plan | string {
  const phrase = words.join(' ');
  if (words[0] === 'load') {
    if (words.length !== 2) return 'usage: ctl -a NAME load FILE';
    return {
      command: 'anchor load',
      args: { anchor, file: resolve(words[1]!) },
      format: (r) => fmt.formatAnchorLoad(r as never),
    };
  }
  if (phrase === 'show rules')
    return { command: 'anchor show rules', args: { anchor }, format: (r) => fmt.formatRules(r as never) };
  if (phrase === 'flush rules')
    return { command: 'anchor flush', args: { anchor }, format: (r) => fmt.formatAnchorFlush(r as never) };
  return `-a ${anchor}: unknown command '${phrase}' (load FILE, show rules, flush rules)`;
}

export const ctlOptions = {
  socket: { type: 'string' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v', multiple: true },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  file: { type: 'string', short: 'f' },
  anchor: { type: 'string', short: 'a' },
  kill: { type: 'string', short: 'k', multiple: true },
  address: { type: 'string' },
  port: { type: 'string' },
  proto: { type: 'string' },
  interface: { type: 'string', short: 'i' },
  sort: { type: 'string' },
  reverse: { type: 'boolean' },
  limit: { type: 'string' },
} as const;

export async function ctlCommand(argv: string[], io: CommandIO): Promise<number> {
  const clock = systemClock();
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: ctlOptions,
    });
  } catch (e) {
    io.err(`tunpf ctl: ${(e as Error).message}\n${ctlUsage}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) return (io.out(ctlUsage), 0);
  const timeoutMs = Number(v.timeout ?? 10000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    return (io.err('tunpf ctl: --timeout must be a positive number of milliseconds'), 2);
  const p = plan(parsed.positionals, v);
  if (typeof p === 'string') return (io.err(`tunpf ctl: ${p}\n${ctlUsage}`), 2);
  try {
    const result = await requestOnce(p.command, p.args, { path: v.socket, timeoutMs });
    io.out(v.json ? JSON.stringify(result, null, 2) : p.format(result, clock()));
    return 0;
  } catch (e) {
    if (e instanceof CommandError) {
      const message = e.code === ErrorCode.UNKNOWN_COMMAND && p.notConfigured ? p.notConfigured : e.message;
      if (v.json) io.out(JSON.stringify({ error: { code: e.code, message, details: e.details } }, null, 2));
      for (const d of e.details) io.err(d);
      io.err(`tunpf ctl: ${message}`);
      return 1;
    }
    if (e instanceof ConnectError) {
      io.err(`tunpf ctl: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
