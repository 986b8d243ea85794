// client — router — server in three namespaces, with `tunpf run` on the router.
// client c0 10.1.0.2/24 fd01::2/64 | router lan 10.1.0.1 fd01::1, wan 10.2.0.1 fd02::1
// | server s0 10.2.0.2/24 fd02::2/64

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Netns, runInNetns } from './netns.js';

const compiled = import.meta.url.endsWith('.js');
const nodeArgs = (script: string) => [...(compiled ? [] : ['--import', 'tsx']), script];
const here = (p: string) => fileURLToPath(new URL(`${p}.${compiled ? 'js' : 'ts'}`, import.meta.url));
/** The server the tests talk to: the lab's echo service (TCP and UDP on each port given). */
export const echoServerArgs = (ports: number[]): string[] => [
  ...nodeArgs(here('../../../src/lab/echo-server')),
  ...ports.map(String),
];
export const mainPath = here('../../../src/cli/main');

export function waitForOutput(proc: ChildProcess, text: string | RegExp, ms = 10000, sink?: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${text}' within ${ms} ms; output: ${buf}`));
    }, ms);
    const on = (d: Buffer) => {
      buf += d;
      sink?.push(String(d));
      if (typeof text === 'string' ? buf.includes(text) : text.test(buf)) {
        cleanup();
        resolve(buf);
      }
    };
    const cleanup = () => {
      clearTimeout(t);
      proc.stdout?.off('data', on);
      proc.stderr?.off('data', on);
    };
    proc.stdout?.on('data', on);
    proc.stderr?.on('data', on);
  });
}

export class Topology {
  readonly client = new Netns();
  readonly router = new Netns();
  readonly server = new Netns();
  daemon: ChildProcess | null = null;
  echo: ChildProcess | null = null;
  readonly daemonLog: string[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'tunpf-topo-'));

  static async create(echoPorts: number[] = [7000, 7001, 7002]): Promise<Topology> {
    const t = new Topology();
    try {
      await t.build(echoPorts);
    } catch (e) {
      await t.destroy();
      throw e;
    }
    return t;
  }

  private async build(echoPorts: number[]): Promise<void> {
    const { client, router, server } = this;
    router.exec('ip', 'link', 'add', 'lan', 'type', 'veth', 'peer', 'name', 'c0', 'netns', client.name);
    router.exec('ip', 'link', 'add', 'wan', 'type', 'veth', 'peer', 'name', 's0', 'netns', server.name);
    for (const [ns, dev, v4, v6, gw4, gw6] of [
      [client, 'c0', '10.1.0.2/24', 'fd01::2/64', '10.1.0.1', 'fd01::1'],
      [server, 's0', '10.2.0.2/24', 'fd02::2/64', '10.2.0.1', 'fd02::1'],
    ] as const) {
      ns.exec('ip', 'link', 'set', 'lo', 'up');
      ns.exec('ip', 'addr', 'add', v4, 'dev', dev);
      ns.exec('ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
      ns.exec('ip', 'link', 'set', dev, 'up');
      ns.exec('ip', 'route', 'add', 'default', 'via', gw4);
      ns.exec('ip', '-6', 'route', 'add', 'default', 'via', gw6);
    }
    router.exec('ip', 'link', 'set', 'lo', 'up');
    for (const [dev, v4, v6] of [
      ['lan', '10.1.0.1/24', 'fd01::1/64'],
      ['wan', '10.2.0.1/24', 'fd02::1/64'],
    ] as const) {
      router.exec('ip', 'addr', 'add', v4, 'dev', dev);
      router.exec('ip', '-6', 'addr', 'add', v6, 'dev', dev, 'nodad');
      router.exec('ip', 'link', 'set', dev, 'up');
    }
    // the kernel adds link-local addresses and their routes a moment after link up: let it settle
    for (
      let k = 0;
      k < 50 && (router.exec('ip', '-6', 'route', 'show', 'table', 'local').match(/fe80::/g) ?? []).length < 2;
      k++
    )
      await sleep(100);
    await sleep(300);
    this.echo = spawn('ip', ['netns', 'exec', server.name, process.execPath, ...echoServerArgs(echoPorts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TUNPF_TEST_NETNS: server.name },
    });
    await waitForOutput(this.echo, 'ready');
  }

  /** The router's policy rules and routes, to compare before and after. */
  routerSnapshot(): { rules: string; routes: string; links: string } {
    const r = this.router;
    return {
      rules: r.exec('ip', 'rule', 'show') + r.exec('ip', '-6', 'rule', 'show'),
      routes: r.exec('ip', 'route', 'show', 'table', 'all') + r.exec('ip', '-6', 'route', 'show', 'table', 'all'),
      links: r
        .exec('ip', '-o', 'link', 'show')
        .replace(/^\d+: /gm, '')
        .split('\n')
        .map((l) => l.split(' ')[0])
        .sort()
        .join(' '),
    };
  }

  writeRules(text: string, name = 'rules.conf'): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Starts `tunpf run` on the router (node given `nodeFlags`) and waits until it says it started. */
  async startDaemon(rulesPath: string, extra: string[] = [], nodeFlags: string[] = []): Promise<ChildProcess> {
    this.daemon = await startTunpfRun(
      this.router,
      ['-f', rulesPath, '--interfaces', 'lan,wan', ...extra],
      this.daemonLog,
      nodeFlags,
    );
    return this.daemon;
  }

  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return d?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => d.once('exit', (code) => r(code)));
    d.kill(signal);
    return exited;
  }

  async probe(from: Netns, ...args: string[]): Promise<{ ok: boolean; received?: number; [k: string]: unknown }> {
    const r = await runInNetns(from, 'probe', args);
    return JSON.parse(r.stdout.trim().split('\n').pop() || '{"ok":false}');
  }

  async destroy(): Promise<void> {
    await this.stopDaemon('SIGTERM').catch(() => {});
    this.echo?.kill('SIGKILL');
    for (const ns of [this.client, this.router, this.server]) ns.delete();
  }
}

/** `tunpf run ARGS --json-logs` in a namespace (node given `nodeFlags`), once it says it started; output into `log`. */
export async function startTunpfRun(
  ns: Netns,
  args: string[],
  log: string[],
  nodeFlags: string[] = [],
): Promise<ChildProcess> {
  const d = spawn(
    'ip',
    ['netns', 'exec', ns.name, process.execPath, ...nodeFlags, ...nodeArgs(mainPath), 'run', ...args, '--json-logs'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitForOutput(d, 'tunpf started', 15000, log);
  d.stdout!.on('data', (x) => log.push(String(x)));
  d.stderr!.on('data', (x) => log.push(String(x)));
  return d;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The topology the tests of one file share, with a daemon on `rules`: made before them (unless `skip`) and torn
 * down after them, even when one fails. Call the result inside a test for the topology.
 */
export function topologyWithRules(rules: string, skip: string | null): () => Topology {
  let topo: Topology | undefined;
  before(async () => {
    if (skip) return;
    topo = await Topology.create();
    await topo.startDaemon(topo.writeRules(rules));
  });
  after(async () => {
    await topo?.destroy();
  });
  return () => topo!;
}
