// User and group names as pfctl's getpwnam()/getgrnam() find them: the host's
// /etc/passwd and /etc/group (name:x:id:...). The ids are what rules keep and
// print, as pfctl does.

import { readFileSync } from 'node:fs';

/** Names to ids from passwd or group text (the third field). */
export function parseIdFile(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || f[0] === '' || !/^[0-9]+$/.test(f[2]!)) continue;
    if (!out.has(f[0]!)) out.set(f[0]!, Number(f[2]));
  }
  return out;
}

/** The host's user and group names; an unreadable file gives no names. */
export function readHostIds(
  passwd = '/etc/passwd',
  group = '/etc/group',
): { users: Map<string, number>; groups: Map<string, number> } {
  const read = (path: string) => {
    try {
      return parseIdFile(readFileSync(path, 'utf8'));
    } catch {
      return new Map<string, number>();
    }
  };
  return { users: read(passwd), groups: read(group) };
}
