// The control socket server: a unix socket speaking protocol.ts, with a
// registry of commands that each subsystem fills (filter commands here;
// CARP and pfsync add theirs). Every command has a schema of its arguments
// (schemas.ts) checked before its handler runs; a handler's failure becomes
// an error response; a client that goes away mid-request costs nothing.

import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { z } from 'zod';
import type { Logger } from '../log/logger.js';
import {
  decodeRequest,
  encode,
  ErrorCode,
  LineFramer,
  MAX_REQUEST_BYTES,
  type ErrorBody,
  type Request,
  type Response,
} from './protocol.js';
import { alive } from '../os/process.js';
import { describeIssues, noArgs } from './schemas.js';
import { defaultSocketPath, socketDirectory, unsafeDirectoryReason } from './socket-path.js';

/** An error a handler throws to answer with a specific code. */
export class ControlError extends Error {
  constructor(
    readonly code: ErrorBody['code'],
    message: string,
    readonly details?: string[],
  ) {
    super(message);
  }
}

/**
 * A result too big to build and encode in one turn of the event loop (a
 * large state table): `head`'s fields, then the list `key` written chunk by
 * chunk as `items` yields them, on one response line as usual.
 */
export class StreamedResult {
  constructor(
    readonly head: Record<string, unknown>,
    readonly key: string,
    readonly items: AsyncIterable<unknown[]>,
  ) {}
}

/** A command's handler: its arguments are what its schema let through. */
export type Handler<A> = (args: A) => unknown | Promise<unknown>;

export interface CommandOptions {
  /** Changes the daemon (reload, kill, table edits): run one at a time, logged. */
  mutating?: boolean;
}

interface Command {
  schema: z.ZodTypeAny;
  handler: Handler<unknown>;
  mutating: boolean;
}

export interface ControlServerOptions {
  /** Socket path; the namespace's default when omitted. */
  path?: string;
  log?: Logger;
  /** Connections idle this long are closed (ms). */
  idleMs?: number;
  maxConnections?: number;
}

export class ControlServer {
  readonly path: string;
  private readonly commands = new Map<string, Command>();
  private server: Server | null = null;
  private readonly clients = new Set<Socket>();
  /** Mutating commands run in order, one at a time. */
  private mutations: Promise<unknown> = Promise.resolve();
  private readonly log: Logger | undefined;

  constructor(private readonly opts: ControlServerOptions = {}) {
    this.path = opts.path ?? defaultSocketPath();
    this.log = opts.log;
    this.register('commands', noArgs, () => ({
      commands: [...this.commands.entries()].map(([name, c]) => ({ name, mutating: c.mutating })),
    }));
  }

  /** Adds a command whose arguments `schema` checks; a name may be registered once. */
  register<S extends z.ZodTypeAny>(
    name: string,
    schema: S,
    handler: Handler<z.output<S>>,
    opts: CommandOptions = {},
  ): void {
    if (this.commands.has(name)) throw new Error(`control command '${name}' is registered twice`);
    this.commands.set(name, { schema, handler: handler as Handler<unknown>, mutating: opts.mutating ?? false });
  }

  has(name: string): boolean {
    return this.commands.has(name);
  }

  private get pidPath(): string {
    return `${this.path}.pid`;
  }

  /**
   * Binds the socket (synchronously: it exists when this returns). Refuses
   * an unsafe folder and a socket another live daemon serves; removes a
   * dead one's leftover.
   */
  listen(): void {
    if (this.server) return;
    const dir = socketDirectory(this.path);
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const unsafe = unsafeDirectoryReason(dir);
    if (unsafe) throw new Error(`control socket not started: ${unsafe}; use a private directory (--socket PATH)`);
    chmodSync(dir, 0o700);
    let owner = 0;
    try {
      owner = Number(readFileSync(this.pidPath, 'utf8').trim());
    } catch {
      // no owner recorded
    }
    if (owner && owner !== process.pid && alive(owner) && existsSync(this.path))
      throw new Error(
        `control socket ${this.path} is served by another tunpf (pid ${owner}); give this one --socket PATH`,
      );
    for (const p of [this.path, this.pidPath]) {
      try {
        unlinkSync(p);
      } catch {
        // not there
      }
    }
    const server = createServer({ allowHalfOpen: false }, (s) => this.accept(s));
    server.maxConnections = this.opts.maxConnections ?? 64;
    server.on('error', (e) => this.log?.error({ err: e.message, socket: this.path }, 'control socket'));
    server.listen(this.path);
    if (!server.listening) {
      server.close();
      throw new Error(`cannot listen on ${this.path}`);
    }
    chmodSync(this.path, 0o600);
    writeFileSync(this.pidPath, `${process.pid}\n`, { mode: 0o600 });
    this.server = server;
    this.log?.info({ socket: this.path }, 'control socket listening');
  }

  /** Stops listening, ends every connection and removes the socket. */
  close(): void {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.close();
    for (const s of this.clients) s.destroy();
    this.clients.clear();
    let ours = false;
    try {
      ours = Number(readFileSync(this.pidPath, 'utf8').trim()) === process.pid;
    } catch {
      // gone already
    }
    if (!ours) return; // another daemon took the path over: leave its socket alone
    for (const p of [this.path, this.pidPath]) {
      try {
        unlinkSync(p); // (libuv may have removed the socket already)
      } catch {
        // gone already
      }
    }
  }

  private accept(socket: Socket): void {
    this.clients.add(socket);
    const framer = new LineFramer(MAX_REQUEST_BYTES);
    socket.setTimeout(this.opts.idleMs ?? 120_000, () => socket.destroy());
    socket.on('error', () => socket.destroy()); // EPIPE, ECONNRESET: the client left
    socket.on('close', () => this.clients.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      for (const f of framer.push(chunk)) {
        if ('oversized' in f) {
          this.reply(socket, {
            id: null,
            ok: false,
            error: { code: ErrorCode.TOO_LARGE, message: `request over ${MAX_REQUEST_BYTES} bytes refused` },
          });
          continue;
        }
        if (f.line.every((b) => b === 0x20 || b === 0x09 || b === 0x0d)) continue; // blank lines
        const d = decodeRequest(f.line);
        if (!d.ok) this.reply(socket, { id: d.id, ok: false, error: d.error });
        else void this.dispatch(d.value).then((r) => this.reply(socket, r));
      }
    });
  }

  /** Runs one request to its response; never throws. */
  async dispatch(req: Request): Promise<Response> {
    const cmd = this.commands.get(req.command);
    if (!cmd)
      return {
        id: req.id,
        ok: false,
        error: { code: ErrorCode.UNKNOWN_COMMAND, message: `unknown command '${req.command}'` },
      };
    const checked = cmd.schema.safeParse(req.args);
    if (!checked.success)
      return {
        id: req.id,
        ok: false,
        error: { code: ErrorCode.BAD_ARGS, message: `${req.command}: ${describeIssues(checked.error)}` },
      };
    const run = async (): Promise<Response> => {
      try {
        const result = await cmd.handler(checked.data);
        return { id: req.id, ok: true, result: result ?? null };
      } catch (e) {
        if (e instanceof ControlError) {
          const error: ErrorBody = { code: e.code, message: e.message };
          if (e.details?.length) error.details = e.details;
          return { id: req.id, ok: false, error };
        }
        this.log?.error({ command: req.command, err: (e as Error).message }, 'control command failed');
        return {
          id: req.id,
          ok: false,
          error: { code: ErrorCode.INTERNAL, message: `${req.command}: ${(e as Error).message}` },
        };
      }
    };
    if (!cmd.mutating) return run();
    const done = this.mutations.then(run);
    this.mutations = done.catch(() => {});
    const r = await done;
    this.log?.info({ command: req.command, args: checked.data, ok: r.ok }, 'control command');
    return r;
  }

  private reply(socket: Socket, r: Response): void {
    if (socket.destroyed || !socket.writable) return;
    if (r.ok && r.result instanceof StreamedResult) {
      void this.stream(socket, r.id, r.result);
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encode(r);
    } catch (e) {
      // a result JSON cannot represent (a cycle, a BigInt): still answer
      bytes = encode({
        id: r.id,
        ok: false,
        error: { code: ErrorCode.INTERNAL, message: `cannot encode the result: ${(e as Error).message}` },
      });
    }
    socket.write(bytes);
  }

  /** Writes a streamed result's line chunk by chunk, waiting for a slow reader; a reader gone stops it. */
  private async stream(socket: Socket, id: Response['id'], result: StreamedResult): Promise<void> {
    const empty = JSON.stringify({ id, ok: true, result: { ...result.head, [result.key]: [] } });
    const open = empty.slice(0, -'[]}}'.length) + '[';
    let first = true;
    try {
      if (!socket.write(open)) await drained(socket);
      for await (const chunk of result.items) {
        if (socket.destroyed) return;
        if (chunk.length === 0) continue;
        const text = JSON.stringify(chunk).slice(1, -1);
        if (!socket.write(first ? text : ',' + text)) await drained(socket);
        first = false;
      }
      if (!socket.destroyed) socket.write(']}}\n');
    } catch (e) {
      // half a line is out: the reader cannot be answered properly any more
      this.log?.error({ err: (e as Error).message }, 'control: streaming a result failed');
      socket.destroy();
    }
  }
}

/** Resolves when the socket can take more, or has closed. */
function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
