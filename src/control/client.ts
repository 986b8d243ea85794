// The control socket's client: connect, send requests, match responses by
// id, with a timeout. One connection serves many requests (tunpf top).

import { connect, type Socket } from 'node:net';
import { decodeResponse, encode, LineFramer, MAX_RESPONSE_BYTES, type ErrorBody } from './protocol.js';
import { defaultSocketPath } from './socket-path.js';

/** Why the client could not talk to the daemon (not an error the daemon answered). */
export class ConnectError extends Error {
  constructor(
    message: string,
    readonly code: 'no-daemon' | 'permission' | 'timeout' | 'closed' | 'protocol',
  ) {
    super(message);
  }
}

/** An error response from the daemon. */
export class CommandError extends Error {
  readonly code: string;
  readonly details: string[];
  constructor(readonly body: ErrorBody) {
    super(body.message);
    this.code = body.code;
    this.details = body.details ?? [];
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly framer = new LineFramer(MAX_RESPONSE_BYTES);
  private closed = false;
  /** Why the connection ended, for requests made after that. */
  private failure: Error | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.framer.push(chunk)) {
        if ('oversized' in f) {
          this.fail(new ConnectError(`a response over ${MAX_RESPONSE_BYTES} bytes`, 'protocol'));
          return;
        }
        const d = decodeResponse(f.line);
        if (!d.ok) {
          this.fail(new ConnectError(`the daemon sent a bad response: ${d.error.message}`, 'protocol'));
          return;
        }
        const r = d.value;
        const p = typeof r.id === 'number' ? this.pending.get(r.id) : undefined;
        if (!p) {
          // an answer to no request of ours: the daemon refused the line itself
          if (!r.ok && r.id === null) this.fail(new CommandError(r.error));
          continue;
        }
        this.pending.delete(r.id as number);
        clearTimeout(p.timer);
        if (r.ok) p.resolve(r.result);
        else p.reject(new CommandError(r.error));
      }
    });
    socket.on('error', (e) => this.fail(new ConnectError(`control socket ${path}: ${e.message}`, 'closed')));
    socket.on('close', () => this.fail(new ConnectError('the daemon closed the connection', 'closed')));
  }

  /** Connects to the daemon's socket; a ConnectError says clearly when there is none. */
  static connect(opts: { path?: string; timeoutMs?: number } = {}): Promise<ControlClient> {
    const path = opts.path ?? defaultSocketPath();
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(`no answer from ${path} within ${timeoutMs} ms`, 'timeout'));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ControlClient(socket, path, timeoutMs));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTDIR')
          reject(new ConnectError(`no tunpf daemon is running (nothing listens on ${path})`, 'no-daemon'));
        else if (e.code === 'EACCES' || e.code === 'EPERM')
          reject(new ConnectError(`permission denied on ${path} (the control socket is root's)`, 'permission'));
        else reject(new ConnectError(`cannot connect to ${path}: ${e.message}`, 'closed'));
      });
    });
  }

  /** Sends one command and resolves with its result; rejects with CommandError or ConnectError. */
  request<T = unknown>(command: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.closed) return Promise.reject(this.failure ?? new ConnectError('the connection is closed', 'closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ConnectError(`'${command}' got no answer within ${this.timeoutMs} ms`, 'timeout'));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(encode({ id, command, args }));
    });
  }

  close(): void {
    this.closed = true;
    this.socket.end();
    this.socket.destroy();
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = e;
    this.socket.destroy();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }
}

/** Connects, sends one command, closes. */
export async function requestOnce<T = unknown>(
  command: string,
  args: Record<string, unknown> = {},
  opts: { path?: string; timeoutMs?: number } = {},
): Promise<T> {
  const c = await ControlClient.connect(opts);
  try {
    return await c.request<T>(command, args);
  } finally {
    c.close();
  }
}
