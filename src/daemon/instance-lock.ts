// Two tunpf instances must not fight over one interface: each filtered
// interface gets a lock file naming the owner's pid; a lock whose process is
// gone is stale and taken over.

import { mkdirSync, readdirSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from '../os/process.js';
import { RUN_DIR } from '../os/run-dir.js';

export interface LockHolder {
  ifname: string;
  pid: number;
  /** The lock file. */
  path: string;
}

/** Every interface lock in `dir`, with whether its process still runs. */
export function lockHolders(dir = RUN_DIR): (LockHolder & { alive: boolean })[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.pid'))
      .sort();
  } catch {
    return [];
  }
  return names.map((n) => {
    const path = join(dir, n);
    let pid = 0;
    try {
      pid = Number(readFileSync(path, 'utf8').trim()) || 0;
    } catch {
      // removed meanwhile
    }
    return { ifname: n.slice(0, -'.pid'.length), pid, path, alive: pid > 0 && pid !== process.pid && alive(pid) };
  });
}

export class InstanceLock {
  private readonly held: string[] = [];

  constructor(private readonly dir = RUN_DIR) {}

  /** Locks every interface or none; throws naming the other instance. */
  acquire(ifnames: readonly string[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
    for (const name of ifnames) {
      const path = join(this.dir, `${name}.pid`);
      let owner = 0;
      try {
        owner = Number(readFileSync(path, 'utf8').trim());
      } catch {
        // no lock yet
      }
      if (owner && owner !== process.pid && alive(owner)) {
        this.release();
        throw new Error(`interface ${name} is filtered by another tunpf (pid ${owner})`);
      }
      writeFileSync(path, `${process.pid}\n`);
      this.held.push(path);
    }
  }

  release(): void {
    for (const path of this.held.splice(0)) {
      try {
        if (Number(readFileSync(path, 'utf8').trim()) === process.pid) unlinkSync(path);
      } catch {
        // gone already
      }
    }
    try {
      rmdirSync(this.dir); // only when empty: another instance may still hold locks here
    } catch {
      // not empty, or gone
    }
  }
}
