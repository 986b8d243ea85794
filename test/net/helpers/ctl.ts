// Runs `tunpf ctl` / `tunpf top` inside a namespace, as an operator would
// (`ip netns exec R tunpf ctl ...`, no --socket: the namespace's default).

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Netns } from './netns.js';
import { mainPath } from './topology.js';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function tunpfIn(ns: Netns, args: string[], timeoutMs = 20000): Promise<Run> {
  const node = [...(mainPath.endsWith('.ts') ? ['--import', 'tsx'] : []), mainPath, ...args];
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...node], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export const ctl = (ns: Netns, ...args: string[]) => tunpfIn(ns, ['ctl', ...args]);

/** `tunpf ctl --json ...`, which must succeed; T is the command's result shape (src/control/results.ts). */
export async function ctlJson<T>(ns: Netns, ...args: string[]): Promise<T> {
  const r = await ctl(ns, '--json', ...args);
  if (r.code !== 0) throw new Error(`tunpf ctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The control socket a daemon in this namespace listens on by default (keyed by the namespace's inode). */
export function defaultSocketOf(ns: Netns): string {
  const ino = ns.exec('readlink', '/proc/self/ns/net').replace(/\D/g, '');
  return join('/run/tunpf', `net-${ino}`, 'control.sock');
}
