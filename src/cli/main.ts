#!/usr/bin/env node
// The `tunpf` command: one module per subcommand.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkCommand, checkUsage } from './check-command.js';
import { cleanupCommand, cleanupUsage } from './cleanup-command.js';
import { ctlCommand, ctlUsage } from './ctl-command.js';
import { processIO, type CommandIO } from './io.js';
import { labCommand, labUsage } from './lab-command.js';
import { replayCommand, replayUsage } from './replay-command.js';
import { runCommand, runUsage } from './run-command.js';
import { topCommand, topUsage } from './top-command.js';

type Command = { run: (argv: string[], io: CommandIO) => number | Promise<number>; usage: string; summary: string };

const commands: Record<string, Command> = {
  check: { run: checkCommand, usage: checkUsage, summary: 'parse and validate a ruleset (pfctl -n)' },
  run: { run: runCommand, usage: runUsage, summary: 'filter the traffic the kernel forwards (the daemon)' },
  replay: { run: replayCommand, usage: replayUsage, summary: 'run a capture through the rules and states, offline' },
  ctl: {
    run: ctlCommand,
    usage: ctlUsage,
    summary: 'ask or tell the running daemon (pfctl): show, reload, kill, table',
  },
  top: { run: topCommand, usage: topUsage, summary: 'live view of states and rules (pftop)' },
  cleanup: {
    run: cleanupCommand,
    usage: cleanupUsage,
    summary: 'undo what a killed tunpf left behind (rules, sysctls, macvlans)',
  },
  lab: {
    run: labCommand,
    usage: labUsage,
    summary: 'a two-router HA lab in network namespaces, narrated (start here)',
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return [
    'usage: tunpf <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    "Run 'tunpf <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
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
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
