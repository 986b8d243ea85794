// Sysctl changes that must be undone: each one's old value is written to a
// journal file before the change, so a clean stop puts them back and a
// start after a crash puts back what the dead instance changed. One journal
// per daemon, shared by the router set-up and CARP's address owner.

import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Kernel } from './kernel.js';

export class SysctlJournal {
  /** Sysctls changed, with their old values, oldest first. */
  private readonly changed: [string, string][] = [];

  constructor(
    private readonly kernel: Kernel,
    private readonly path?: string,
  ) {}

  /** Sets a sysctl, remembering its old value (once per name). */
  set(name: string, value: string): void {
    const old = this.kernel.sysctlGet(name);
    if (old === value) return;
    if (old !== null && !this.changed.some(([n]) => n === name)) {
      this.changed.push([name, old]);
      if (this.path) writeFileSync(this.path, JSON.stringify(this.changed));
    }
    this.kernel.sysctlSet(name, value);
  }

  /** Puts every changed sysctl back, newest first, and forgets the journal. */
  restore(): void {
    while (this.changed.length) {
      const [name, old] = this.changed.pop()!;
      try {
        this.kernel.sysctlSet(name, old);
      } catch {
        // the interface is gone
      }
    }
    if (this.path) {
      try {
        unlinkSync(this.path);
      } catch {
        // never written
      }
    }
  }

  /** Restores what a dead instance's journal at `path` recorded; returns how many values went back. */
  static recover(kernel: Kernel, path: string): number {
    let saved: [string, string][];
    try {
      saved = JSON.parse(readFileSync(path, 'utf8')) as [string, string][];
    } catch {
      return 0; // no journal: nothing was left
    }
    let n = 0;
    for (const [name, value] of saved.reverse()) {
      try {
        kernel.sysctlSet(name, value);
        n++;
      } catch {
        // the interface is gone
      }
    }
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    return n;
  }
}
