// Two tunpf instances must not fight over one interface: each filtered
// interface gets a lock file naming the owner's pid; a lock whose process is
// gone is stale and taken over.

import { mkdirSync, readFileSync, readlinkSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alive } from '../os/process.js';

/**
 * One folder per network namespace: interface names (and sysctls) belong to
 * a namespace, and several tunpf routers may share one machine (the lab).
 */
function namespaceId(): string {
  try {
    return readlinkSync('/proc/self/ns/net').replace(/\D/g, '');
  } catch {
    return 'default';
  }
}

export const LOCK_DIR = join('/run/tunpf', `net-${namespaceId()}`);

export class InstanceLock {
  private readonly held: string[] = [];

  constructor(private readonly dir = LOCK_DIR) {}

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
