// Network namespaces for the network tests: unique names, and always torn
// down, whatever happens in the test. Nothing here touches the host's own
// interfaces, addresses or routes.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** Why network tests cannot run here, or null when they can. */
export function netTestsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network tests need root';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) is not installed';
  }
  return null;
}

export class Netns {
  readonly name = `tpft-${process.pid}-${randomBytes(3).toString('hex')}`;
  constructor() {
    execFileSync('ip', ['netns', 'add', this.name]);
  }
  /** Runs a command inside the namespace and returns its stdout. */
  exec(cmd: string, ...args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.name, cmd, ...args], { encoding: 'utf8' });
  }
  delete(): void {
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

/** Runs fn with fresh namespaces and deletes them afterwards, even when fn throws. */
export async function withNetns<T>(count: number, fn: (...ns: Netns[]) => Promise<T>): Promise<T> {
  const all: Netns[] = [];
  try {
    for (let i = 0; i < count; i++) all.push(new Netns());
    return await fn(...all);
  } finally {
    for (const ns of all) ns.delete();
  }
}

/** Runs a helper script from this folder (name without extension) inside a namespace. */
export function runInNetns(
  ns: Netns,
  script: string,
  args: string[] = [],
  timeoutMs = 20000,
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const compiled = import.meta.url.endsWith('.js');
  const path = fileURLToPath(new URL(`./${script}.${compiled ? 'js' : 'ts'}`, import.meta.url));
  const node = [...(compiled ? [] : ['--import', 'tsx']), path, ...args];
  return new Promise((resolve) => {
    const env = { ...process.env, ...extraEnv, TUNPF_TEST_NETNS: ns.name };
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...node], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
