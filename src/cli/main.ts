#!/usr/bin/env node
// The `tunpf` command: one module per subcommand.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkCommand, checkOptions, checkUsage } from './check-command.js';
import { endQuietlyWhenClosed } from './closed-output.js';
import { ctlCommand, ctlOptions, ctlUsage } from './ctl-command.js';
import { cleanupCommand, cleanupOptions, cleanupUsage } from './cleanup-command.js';
import { processIO, type CommandIO } from './io.js';
import { labCommand, labFlags, labUsage } from './lab-command.js';
import { replayCommand, replayOptions, replayUsage } from './replay-command.js';
import { runCommand, runOptions, runUsage } from './run-command.js';
import { topCommand, topOptions, topUsage } from './top-command.js';

export interface Command {
  run: (argv: string[], io: CommandIO) => number | Promise<number>;
  usage: string;
  summary: string;
  /** The flags it accepts (its parseArgs options): its usage lists each of them. */
  flags: Readonly<Record<string, { readonly type: string; readonly short?: string }>>;
}

export const commands: Record<string, Command> = {
  check: {
    run: checkCommand,
    usage: checkUsage,
    summary: 'parse and validate a ruleset (pfctl -n)',
    flags: checkOptions,
  },
  run: {
    run: runCommand,
    usage: runUsage,
    summary: 'filter the traffic the kernel forwards (the daemon)',
    flags: runOptions,
  },
  replay: {
    run: replayCommand,
    usage: replayUsage,
    summary: 'run a capture through the rules and states, offline',
    flags: replayOptions,
  },
  ctl: {
    run: ctlCommand,
    usage: ctlUsage,
    summary: 'ask or tell the running daemon (pfctl): show, reload, kill, table',
    flags: ctlOptions,
  },
  top: { run: topCommand, usage: topUsage, summary: 'live view of states and rules (pftop)', flags: topOptions },
  cleanup: {
    run: cleanupCommand,
    usage: cleanupUsage,
    summary: 'undo what a killed tunpf left behind (rules, sysctls, macvlans)',
    flags: cleanupOptions,
  },
  lab: {
    run: labCommand,
    usage: labUsage,
    summary: 'a two-router HA lab in network namespaces, narrated (start here)',
    flags: labFlags,
  },
};

/** tunpf's version, from the package.json above this module (src/cli in a checkout, dist/src/cli when built). */
export function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tunpf' && pkg.version) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return [
    'usage: tunpf <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    "Run 'tunpf help <command>' (or 'tunpf <command> --help') for a command's options;",
    "'tunpf --version' prints the version.",
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`tunpf ${version()}`);
    return 0;
  }
  if (name === 'help' && rest.length > 0) {
    const about = commands[rest[0]!];
    if (!about || rest.length > 1) {
      io.err(`tunpf help: no command '${rest.join(' ')}'\n${usage()}`);
      return 2;
    }
    io.out(about.usage);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    if (name) io.out(usage());
    else io.err(usage());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    io.err(`tunpf: unknown command '${name}'\n${usage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    // An unexpected failure still gets one clear line, not a stack trace; DEBUG shows it.
    io.err(`tunpf ${name}: internal error: ${(e as Error).message}`);
    if (process.env.TUNPF_DEBUG) io.err(String((e as Error).stack));
    return 1;
  }
}

// Run only as the program, not when a test imports main().
const entry = process.argv[1] ? realpathSync(process.argv[1]) : '';
if (entry === fileURLToPath(import.meta.url)) {
  endQuietlyWhenClosed(process.stdout);
  endQuietlyWhenClosed(process.stderr);
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
