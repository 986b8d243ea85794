// tcpdump in a namespace for a test: started and listening before the
// traffic, its text read once it has seen its packets (or given up).

import { spawn, type ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';
import { waitForOutput } from './topology.js';

/**
 * tcpdump `flags` (e.g. -v, -S) in `ns` on `dev` for `count` packets matching `filter`; resolves once it
 * listens, with a function that returns its text when the packets came, or after `waitMs`.
 */
export async function captureText(
  ns: Netns,
  dev: string,
  filter: string,
  count: number,
  flags: string[],
  waitMs = 5000,
): Promise<() => Promise<string>> {
  const p: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', ns.name, 'tcpdump', '-i', dev, '-n', ...flags, '-l', '-c', `${count}`, filter],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out: string[] = [];
  p.stdout!.on('data', (x) => out.push(String(x)));
  // tcpdump may be gone (its count reached) before anyone asks for the text
  const done = new Promise<void>((r) => p.once('exit', () => r()));
  await waitForOutput(p, 'listening on', 10000);
  return async () => {
    const timer = setTimeout(() => p.kill('SIGTERM'), waitMs);
    await done;
    clearTimeout(timer);
    return out.join('');
  };
}
