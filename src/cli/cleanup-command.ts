// `tunpf cleanup`: undoes what a killed tunpf left in this network namespace
// (routing rules and tables, sysctls and reserved ports, CARP's macvlans and
// addresses, TUNs, run files) without starting one, the same undo `run`
// does first. It refuses while an instance is alive: it would pull the
// ground from under it.

import { parseArgs } from 'node:util';
import { lockHolders } from '../daemon/instance-lock.js';
import { removeLeftovers, removeRunFiles } from '../daemon/leftovers.js';
import { Kernel } from '../os/kernel.js';
import { RUN_DIR } from '../os/run-dir.js';
import type { CommandIO } from './io.js';

export const cleanupOptions = { 'run-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export const cleanupUsage = `usage: tunpf cleanup [--run-dir DIR]
  Undoes what a tunpf that was killed left in this network namespace: its routing
  rules and tables, the sysctls it changed (reserved ports among them), CARP's
  macvlans and addresses, its TUNs and run files. Refused while a tunpf runs here.
  --run-dir DIR     the instance's run folder (default: ${RUN_DIR})`;

export function cleanupCommand(argv: string[], io: CommandIO): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: cleanupOptions,
    });
  } catch (e) {
    io.err(`tunpf cleanup: ${(e as Error).message}\n${cleanupUsage}`);
    return 2;
  }
  if (args.values.help) return (io.out(cleanupUsage), 0);
  const dir = args.values['run-dir'] ?? RUN_DIR;
  // interface locks, and the control socket's owner file (control.sock.pid)
  const live = lockHolders(dir).filter((l) => l.alive);
  if (live.length) {
    const pids = [...new Set(live.map((l) => l.pid))];
    const filtered = (pid: number) =>
      live.filter((l) => l.pid === pid && !l.ifname.endsWith('.sock')).map((l) => l.ifname);
    const who = pids.map((pid) => `pid ${pid} filters ${filtered(pid).join(', ') || 'nothing'}`).join('; ');
    io.err(`tunpf cleanup: a tunpf instance is running here (${who}); stop it instead (SIGTERM undoes everything)`);
    return 1;
  }
  let left;
  try {
    left = removeLeftovers(new Kernel(), dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const needsRoot = err.code === 'EPERM' || err.code === 'EACCES' || /Operation not permitted/.test(err.message);
    io.err(`tunpf cleanup: ${err.message}${needsRoot ? ' (tunpf cleanup needs root, or CAP_NET_ADMIN)' : ''}`);
    return 1;
  }
  const files = removeRunFiles(dir);
  const lines: string[] = [];
  if (left.rules) lines.push(`removed ${left.rules} routing rule${left.rules === 1 ? '' : 's'} and tunpf's tables`);
  if (left.sysctls) lines.push(`put back ${left.sysctls} sysctl${left.sysctls === 1 ? '' : 's'}`);
  for (const c of left.commands) lines.push(`ran ${c}`);
  for (const t of left.tuns) lines.push(`removed TUN ${t}`);
  for (const f of files) lines.push(`removed ${f}`);
  io.out(lines.length ? lines.join('\n') : 'nothing to clean up');
  return 0;
}
