// What a dead tunpf instance leaves behind, and its removal: one path for
// `tunpf run` (before it sets anything up) and `tunpf cleanup` (without
// starting anything). The instance wrote down what it changed as it went
// (the sysctl, local-rule and ip journals in its run folder); its policy
// rules and tables sit in tunpf's own ranges; its TUNs are named tpf-*.

import { readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { SOCKET_NAME } from '../control/socket-path.js';
import { removeStale } from '../datapath/router-setup.js';
import { IpJournal } from '../os/ip-journal.js';
import type { Kernel } from '../os/kernel.js';
import { SysctlJournal } from '../os/sysctl-journal.js';
import { lockHolders } from './instance-lock.js';

export const SYSCTL_JOURNAL = 'sysctl-journal.json';
export const LOCAL_RULE_JOURNAL = 'local-rule-journal.json';
export const IP_JOURNAL = 'ip-journal.json';

export interface Leftovers {
  /** Sysctls put back to the values they had before the dead instance (reserved ports among them). */
  sysctls: number;
  /** Policy rules (and proxy neighbour entries) removed. */
  rules: number;
  /** The ip journal's commands that removed something: macvlans, addresses, routes. */
  commands: string[];
  /** TUN devices removed. */
  tuns: string[];
  /** Run files removed (stale locks, a dead control socket): cleanup only, `run` takes them over. */
  files: string[];
}

/**
 * Undoes what a dead instance left in this namespace, with `dir` its run
 * folder. Leftover TUNs are removed only when no live instance holds a lock
 * in `dir` (a live one's TUNs are named alike).
 */
export function removeLeftovers(kernel: Kernel, dir: string): Leftovers {
  // sysctls first: some are a macvlan's, which the ip journal then removes
  const sysctls = SysctlJournal.recover(kernel, join(dir, SYSCTL_JOURNAL));
  const commands = IpJournal.recover(kernel, join(dir, IP_JOURNAL));
  const rules = removeStale(kernel, undefined, join(dir, LOCAL_RULE_JOURNAL));
  const tuns = lockHolders(dir).some((l) => l.alive) ? [] : removeTuns(kernel);
  return { sysctls, rules, commands, tuns, files: [] };
}

/** TUNs named as tunpf names them (they vanish with their process, unless another one holds them). */
function removeTuns(kernel: Kernel): string[] {
  const list = JSON.parse(kernel.ip('-json', 'link', 'show', 'type', 'tun') || '[]') as { ifname: string }[];
  return list.map((l) => l.ifname).filter((n) => n.startsWith('tpf-') && kernel.ipQuiet('link', 'del', n));
}

/** The run folder's files of a dead instance: its stale locks and control socket; the folder too, once empty. */
export function removeRunFiles(dir: string): string[] {
  const removed: string[] = [];
  const remove = (path: string) => {
    try {
      unlinkSync(path);
      removed.push(path);
    } catch {
      // gone already
    }
  };
  for (const l of lockHolders(dir)) if (!l.alive) remove(l.path);
  let rest: string[];
  try {
    rest = readdirSync(dir);
  } catch {
    return removed;
  }
  if (rest.includes(SOCKET_NAME)) remove(join(dir, SOCKET_NAME));
  for (const journal of [SYSCTL_JOURNAL, LOCAL_RULE_JOURNAL, IP_JOURNAL])
    if (rest.includes(journal)) remove(join(dir, journal)); // only when its undo failed above
  try {
    rmdirSync(dir); // only when empty
    removed.push(dir);
  } catch {
    // not empty, or gone
  }
  return removed;
}
