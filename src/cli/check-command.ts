// `tunpf check [-v] [-q] FILE`: parse and validate a ruleset like `pfctl -nf`;
// with -v print it as pfctl -nv does (-vv: with rule numbers, as pfctl -nvv). Exit 0 when valid, 1 otherwise.
// With `--ha`, a ruleset that blocks the HA file's CARP or pfsync packets is
// an error (the nodes would both be master, or lose the states at a
// takeover), with the rule that blocks them and the line to add;
// `--ha-warn` makes it a warning for those who mean it.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { InterfaceInfo } from '../rules/ast.js';
import { formatRuleset } from '../rules/canonical.js';
import { errorCount, escapeControls, formatDiagnostics } from '../rules/diagnostic-text.js';
import { loadRulesetFile, RulesetReadError } from '../rules/load-file.js';
import { parseServiceNames, parseServices } from '../rules/services.js';
import { hostInterfaces, interfacesFromFlags } from './host-interfaces.js';
import { formatHaConfig } from '../daemon/ha-config-text.js';
import { HaConfigReadError, loadHaConfigFile, type HaConfig } from '../daemon/ha-config.js';
import { formatHaRuleProblem, haRuleProblems } from '../daemon/ha-rules.js';
import type { CommandIO } from './io.js';

export const checkUsage = `usage: tunpf check [-Pv[v]] [-q] [-D macro=value] [--interface IF=ADDR/LEN,...]
                   [--group GROUP=IF,...] [--services FILE] [--ha HAFILE [--ha-warn]] [[-f] FILE]
  -f, --file    the ruleset (or give FILE alone)
  -v, --verbose print the loaded ruleset as pfctl -nv does (and the HA file, with what ucarp can share);
                -vv also numbers the rules (@N), as pfctl -nvv
  -P, --port-names
                print ports = and != by their service names, as pfctl -P
  --services    the services database for port names (default /etc/services)
  --ha          also check the HA file (carp and pfsync blocks); FILE may then be left out. With FILE, CARP
                or pfsync packets the ruleset blocks on their interfaces are errors, with the line to add
  --ha-warn     report CARP and pfsync packets the ruleset blocks as warnings, not errors
  -q, --quiet   print nothing but errors
  -D, --define  define a macro, as pfctl -D
  --interface   describe an interface instead of reading the host's (repeatable)
  --group       put interfaces in a group such as egress (repeatable)`;

export const checkOptions = {
  file: { type: 'string', short: 'f' },
  verbose: { type: 'boolean', short: 'v', multiple: true },
  'port-names': { type: 'boolean', short: 'P' },
  services: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  define: { type: 'string', short: 'D', multiple: true },
  interface: { type: 'string', multiple: true },
  group: { type: 'string', multiple: true },
  ha: { type: 'string' },
  'ha-warn': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function checkCommand(argv: string[], io: CommandIO): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: checkOptions,
    });
  } catch (e) {
    io.err(`tunpf check: ${(e as Error).message}\n${checkUsage}`);
    return 2;
  }
  if (args.values.help) {
    io.out(checkUsage);
    return 0;
  }
  const verbose = args.values.verbose?.length ?? 0;
  const haFile = args.values.ha;
  // `-f FILE` as tunpf run and pfctl take it, or FILE alone
  const files = [...(args.values.file === undefined ? [] : [args.values.file]), ...args.positionals];
  if (files.length > 1 || (files.length === 0 && !haFile)) {
    io.err(`tunpf check: expected one rule file\n${checkUsage}`);
    return 2;
  }
  let haFailed = false;
  let haConfig: HaConfig | null = null;
  if (haFile) {
    let ha;
    try {
      ha = loadHaConfigFile(haFile);
    } catch (e) {
      if (!(e instanceof HaConfigReadError)) throw e;
      io.err(`tunpf: ${e.message}`);
      return 1;
    }
    const shown = ha.diagnostics.filter((d) => !(d.severity === 'warning' && args.values.quiet));
    for (const line of formatDiagnostics(shown, ha.source)) io.err(line);
    if (!ha.config) {
      const n = errorCount(ha.diagnostics);
      io.err(`${haFile}: ${n} error${n === 1 ? '' : 's'}, HA configuration not loaded`);
      haFailed = true;
    } else if (verbose) io.out(escapeControls(formatHaConfig(ha.config).trimEnd()));
    haConfig = ha.config;
    if (files.length === 0) return haFailed ? 1 : 0;
  }
  const defines: Record<string, string> = {};
  for (const d of args.values.define ?? []) {
    const eq = d.indexOf('=');
    if (eq <= 0) {
      io.err(`tunpf check: -D needs name=value, not '${d}'`);
      return 2;
    }
    defines[d.slice(0, eq)] = d.slice(eq + 1);
  }
  let interfaces: InterfaceInfo[];
  if (args.values.interface?.length || args.values.group?.length) {
    const r = interfacesFromFlags(args.values.interface, args.values.group);
    if (typeof r === 'string') return (io.err(`tunpf check: ${r}`), 2);
    interfaces = r;
  } else interfaces = hostInterfaces();

  let servicesText: string | undefined;
  try {
    servicesText = readFileSync(args.values.services ?? '/etc/services', 'utf8');
  } catch (e) {
    // without a services file, names come from tunpf's built-in table and ports print as numbers
    if (args.values.services !== undefined) {
      io.err(`tunpf check: cannot read ${args.values.services}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      return 2;
    }
  }
  const services = servicesText === undefined ? undefined : parseServices(servicesText);
  const portNames =
    args.values['port-names'] && servicesText !== undefined ? parseServiceNames(servicesText) : undefined;

  const file = files[0]!;
  let result;
  try {
    result = loadRulesetFile(file, { interfaces, defines, services });
  } catch (e) {
    if (e instanceof RulesetReadError) {
      io.err(`tunpf: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const shown = result.diagnostics.filter((d) => !(d.severity === 'warning' && args.values.quiet));
  for (const line of formatDiagnostics(shown, result.sources, result.omitted)) io.err(line);
  if (!result.ruleset) {
    const n = errorCount(result.diagnostics, result.omitted);
    io.err(`${file}: ${n} error${n === 1 ? '' : 's'}, ruleset not loaded`);
    return 1;
  }
  if (verbose) {
    // echoed text from the file (labels, quoted names) is shown escaped, as in the diagnostics
    io.out(escapeControls(formatRuleset(result.ruleset, { numbers: verbose > 1, portNames }).trimEnd()));
  }
  if (haConfig) {
    const severity = args.values['ha-warn'] ? 'warning' : 'error';
    const problems = haRuleProblems(result.ruleset, haConfig, interfaces);
    if (severity === 'error' && problems.length) haFailed = true;
    if (severity === 'error' || !args.values.quiet)
      for (const p of problems) io.err(escapeControls(formatHaRuleProblem(p, severity)));
  }
  return haFailed ? 1 : 0;
}
