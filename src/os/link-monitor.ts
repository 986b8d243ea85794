// Follows the link state (administratively up and carrier) of a few
// interfaces: `ip monitor link` says when something changed, the state is
// then read from /sys; a slow poll covers a monitor that died. CARP demotes
// the node and drops a vhid to INIT when its interface loses its link.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Kernel } from './kernel.js';

export class LinkMonitor {
  private readonly state = new Map<string, boolean>();
  private monitor: ChildProcess | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;

  constructor(
    private readonly kernel: Kernel,
    names: Iterable<string>,
    private readonly onChange: (name: string, up: boolean) => void,
    private readonly pollMs = 1000,
  ) {
    for (const n of names) this.state.set(n, kernel.linkUp(n));
  }

  isUp(name: string): boolean {
    return this.state.get(name) ?? false;
  }

  start(): void {
    this.monitor = spawn('ip', ['monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor.stdout!.on('data', () => {
      if (this.debounce) return;
      this.debounce = setTimeout(() => {
        this.debounce = null;
        this.check();
      }, 10);
    });
    this.monitor.on('error', () => {});
    this.poll = setInterval(() => this.check(), this.pollMs);
    this.poll.unref();
  }

  /** Re-reads every watched link and reports the ones that changed. */
  check(): void {
    for (const [name, was] of this.state) {
      const up = this.kernel.linkUp(name);
      if (up === was) continue;
      this.state.set(name, up);
      this.onChange(name, up);
    }
  }

  stop(): void {
    this.monitor?.kill();
    this.monitor = null;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.poll) clearInterval(this.poll);
    this.debounce = this.poll = null;
  }
}
