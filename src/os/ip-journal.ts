// `ip` commands that undo what an instance added to the kernel outside its
// own ranges (CARP's macvlans, and the addresses and routes it puts on
// carpdev), written to a file as they become needed: a killed instance
// cannot undo them, and `tunpf cleanup` or the next start runs them from the
// file without knowing the configuration that made them.

import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Kernel } from './kernel.js';

export class IpJournal {
  private readonly undo: string[][] = [];

  constructor(private readonly path?: string) {}

  /** Remembers a command that undoes a change about to be made (once). */
  record(args: readonly string[]): void {
    const line = args.join(' ');
    if (this.undo.some((u) => u.join(' ') === line)) return;
    this.undo.push([...args]);
    if (this.path) writeFileSync(this.path, JSON.stringify(this.undo));
  }

  /** The instance undid everything itself: the file goes. */
  clear(): void {
    this.undo.length = 0;
    if (this.path) removeQuietly(this.path);
  }

  /**
   * Runs the undo commands a dead instance left at `path`, newest first, and
   * removes the file; returns the commands that changed something.
   */
  static recover(kernel: Kernel, path: string): string[] {
    let saved: unknown;
    try {
      saved = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      return []; // no journal: nothing was left
    }
    if (!Array.isArray(saved)) saved = [];
    const commands = (saved as unknown[]).filter(
      (c): c is string[] => Array.isArray(c) && c.every((a) => typeof a === 'string'),
    );
    const done: string[] = [];
    for (const args of commands.reverse()) if (kernel.ipQuiet(...args)) done.push(`ip ${args.join(' ')}`);
    removeQuietly(path);
    return done;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never written
  }
}
