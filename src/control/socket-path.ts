// Where the control socket lives: in the daemon's per-network-namespace
// folder (src/os/run-dir.ts), so two daemons in two namespaces of one
// machine never meet, and `ip netns exec R tunpf ctl` finds R's daemon with
// no flag. `--socket PATH` overrides it on both sides.

import { lstatSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { RUN_DIR } from '../os/run-dir.js';

export const SOCKET_NAME = 'control.sock';

export function defaultSocketPath(): string {
  return join(RUN_DIR, SOCKET_NAME);
}

/**
 * Why the folder may not hold a root-only socket, or null when it may: it
 * must be a real folder (not a symlink), owned by this user, and writable
 * by nobody else, or another user could swap the socket under the daemon.
 */
export function unsafeDirectoryReason(dir: string, uid = process.getuid?.() ?? 0): string | null {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (e) {
    return `cannot inspect ${dir}: ${(e as NodeJS.ErrnoException).code}`;
  }
  if (!st.isDirectory()) return `${dir} is not a directory`;
  if (st.uid !== uid) return `${dir} is owned by uid ${st.uid}, not by this user (uid ${uid})`;
  if (st.mode & 0o022)
    return `${dir} is ${st.mode & 0o002 ? 'world' : 'group'}-writable (mode ${(st.mode & 0o777).toString(8)})`;
  return null;
}

export function socketDirectory(path: string): string {
  return dirname(path);
}
