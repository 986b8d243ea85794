// Whether a process still runs, for the lock files, the control socket's
// owner and the lab's processes.

import { readFileSync } from 'node:fs';

/**
 * Whether a process runs: it exists (EPERM: it does, as another user's) and
 * is no zombie (in a container, nobody may reap one for a while).
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT'; // gone since, or /proc hides it
  }
}
