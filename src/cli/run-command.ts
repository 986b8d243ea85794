// `tunpf run -f RULES --interfaces lan,wan`: the daemon. Refuses a bad
// ruleset (with check's messages) and missing interfaces; SIGHUP reloads
// the ruleset atomically (a bad one leaves the running one in place);
// SIGINT and SIGTERM remove everything tunpf added.

import { parseArgs } from 'node:util';
import { Daemon } from '../daemon/daemon.js';
import { WhyName } from '../filter/packet-filter.js';
import { ParseErrorName } from '../packet/meta.js';
import { createLogger } from '../log/logger.js';
import type { PflogFile } from '../log/pflog-writer.js';
import { formatDiagnostics } from '../rules/diagnostic-text.js';
import { loadRulesetFile, RulesetReadError, type LoadResult } from '../rules/load-file.js';
import { forRun } from '../rules/run-support.js';
import { showCarp } from '../control/carp-commands.js';
import type { ControlError } from '../control/server.js';
import { parseListenAddress } from '../control/metrics-http.js';
import { hostInterfaces } from './host-interfaces.js';
import { HaConfigReadError, loadHaConfigFile, type HaConfig } from '../daemon/ha-config.js';
import { openPflogFile, pflogParseOptions, pflogSettings, pflogUsage } from './pflog-options.js';
import type { CommandIO } from './io.js';

export const runUsage = `usage: tunpf run -f RULES --interfaces IF[,IF...] [--log-level LEVEL] [--json-logs] [--batch N]
  -f, --file RULES  the ruleset (pf.conf syntax); reloaded on SIGHUP
  --ha FILE         redundancy: CARP groups and pfsync (the HA file, see README)
  -i, --interfaces  the interfaces to filter (traffic arriving on them goes through tunpf)
  --log-level       trace, debug, info (default), warn, error
  --json-logs       JSON log lines even on a terminal
  --batch N         packets read per batch (default 64)
  --wakeup MODE     poll (default: libuv polls the TUN on the main thread)
                    or thread (a reader thread wakes the main loop)
  --socket PATH     the control socket (default: /run/tunpf/net-<namespace>/control.sock; tunpf ctl finds it)
  --metrics ADDR    serve Prometheus metrics on http://ADDR/metrics (e.g. 127.0.0.1:9180; off by default)
  --metrics-public  allow a non-loopback --metrics address
${pflogUsage}`;

export const runOptions = {
  file: { type: 'string', short: 'f' },
  interfaces: { type: 'string', short: 'i' },
  ha: { type: 'string' },
  'log-level': { type: 'string' },
  'json-logs': { type: 'boolean' },
  batch: { type: 'string' },
  wakeup: { type: 'string' },
  socket: { type: 'string' },
  metrics: { type: 'string' },
  'metrics-public': { type: 'boolean' },
  ...pflogParseOptions,
  help: { type: 'boolean', short: 'h' },
} as const;

export async function runCommand(argv: string[], io: CommandIO): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: runOptions,
    });
  } catch (e) {
    io.err(`tunpf run: ${(e as Error).message}\n${runUsage}`);
    return 2;
  }
  if (args.values.help) return (io.out(runUsage), 0);
  const file = args.values.file;
  const ifnames = (args.values.interfaces ?? '').split(',').filter(Boolean);
  if (!file || ifnames.length === 0) return (io.err(`tunpf run: need -f RULES and --interfaces\n${runUsage}`), 2);
  const batch = Number(args.values.batch ?? 64);
  if (!Number.isInteger(batch) || batch < 1 || batch > 1024) return (io.err('tunpf run: --batch must be 1..1024'), 2);
  const wakeup = args.values.wakeup ?? 'poll';
  if (wakeup !== 'poll' && wakeup !== 'thread') return (io.err('tunpf run: --wakeup must be poll or thread'), 2);
  const metrics =
    args.values.metrics === undefined
      ? undefined
      : parseListenAddress(args.values.metrics, args.values['metrics-public']);
  if (typeof metrics === 'string') return (io.err(`tunpf run: --metrics: ${metrics}`), 2);
  const loadRuleset = (path: string, anchor?: string) =>
    forRun(loadRulesetFile(path, { interfaces: hostInterfaces(), anchorPath: anchor }));
  const pflogOpts = pflogSettings(args.values);
  if (typeof pflogOpts === 'string') return (io.err(`tunpf run: ${pflogOpts}`), 2);

  const load = (): LoadResult | null => {
    let r: LoadResult;
    try {
      r = loadRuleset(file);
    } catch (e) {
      if (e instanceof RulesetReadError) {
        io.err(`tunpf: ${e.message}`);
        return null;
      }
      throw e;
    }
    for (const line of formatDiagnostics(r.diagnostics, r.sources, r.omitted)) io.err(line);
    return r;
  };
  const first = load();
  if (!first?.ruleset) return (io.err(`${file}: ruleset not loaded; tunpf not started`), 1);

  let ha: HaConfig | null = null;
  if (args.values.ha) {
    try {
      const r = loadHaConfigFile(args.values.ha);
      for (const line of formatDiagnostics(r.diagnostics, r.source)) io.err(line);
      if (!r.config) return (io.err(`${args.values.ha}: HA configuration not loaded; tunpf not started`), 1);
      ha = r.config;
    } catch (e) {
      if (e instanceof HaConfigReadError) return (io.err(`tunpf: ${e.message}`), 1);
      throw e;
    }
  }

  const log = createLogger({
    level: args.values['log-level'] ?? 'info',
    pretty: args.values['json-logs'] ? false : undefined,
  });
  let pflog: PflogFile | null = null;
  try {
    pflog =
      pflogOpts &&
      (await openPflogFile(pflogOpts, (e) =>
        log.error({ err: e.message, file: pflogOpts.file }, 'pflog file failed; logged packets are dropped'),
      ));
  } catch (e) {
    return (io.err(`tunpf run: --pflog ${pflogOpts!.file}: ${(e as Error).message}`), 1);
  }
  const daemon = new Daemon({
    ruleset: first.ruleset,
    interfaces: ifnames,
    hostInterfaces: hostInterfaces(),
    log,
    batch,
    wakeup,
    ha,
    pflog,
    socket: args.values.socket,
    metrics,
    rulesFile: file,
    loadRuleset,
  });
  try {
    daemon.start();
  } catch (e) {
    await pflog?.close();
    const err = e as NodeJS.ErrnoException;
    const needsRoot = err.code === 'EPERM' || err.code === 'EACCES';
    io.err(`tunpf run: ${err.message}${needsRoot ? ' (tunpf run needs root, or CAP_NET_ADMIN)' : ''}`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      daemon.stop();
      if (!pflog) return resolve(0);
      void pflog.close().then(() => {
        log.info({ file: pflog.path, ...pflog.counters }, 'pflog file closed');
        resolve(0);
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // SIGUSR1: the counters as one log line (until the control socket exists)
    process.on('SIGUSR1', () => {
      const c = daemon.counters;
      const f = c.filter;
      const byWhy = Object.fromEntries(WhyName.map((n, i) => [n, f.byWhy[i]]).filter(([, v]) => v));
      const malformed = Object.fromEntries(ParseErrorName.map((n, i) => [n, f.malformed[i]]).filter(([, v]) => v));
      log.info(
        {
          packets: f.packets,
          passed: f.passed,
          blocked: f.blocked,
          byWhy,
          malformed,
          states: c.states,
          forward: c.forward,
          carp: daemon.carp ? showCarp(daemon.carp.status()) : undefined,
          pflog: pflog?.counters,
        },
        'counters',
      );
    });
    process.on('SIGHUP', () => {
      try {
        for (const w of daemon.reloadRulesFile().warnings) io.err(w);
      } catch (e) {
        // a refused reload (or any failure) is reported; the daemon goes on with the running ruleset
        for (const d of (e as ControlError).details ?? []) io.err(d);
        log.error({ file, err: (e as Error).message }, 'reload refused; the running ruleset stays');
      }
    });
  });
}
