// pino, set up once: JSON lines by default (for journald and log shippers),
// a short human line per event on a terminal.

import { pino, type Logger } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** Formats pino's JSON lines as `12:00:01 INFO  message key=value`. */
function prettyStream(out: NodeJS.WritableStream) {
  return {
    write(line: string) {
      try {
        const { time, level, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const t = new Date(Number(time)).toTimeString().slice(0, 8);
        const extra = Object.entries(rest)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ');
        const levelName = (LEVELS[Number(level)] ?? String(level)).padEnd(5);
        out.write(`${t} ${levelName} ${String(msg ?? '')}${extra ? ' ' + extra : ''}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}

export function createLogger(opts: { level?: string; pretty?: boolean; name?: string } = {}): Logger {
  const pretty = opts.pretty ?? process.stdout.isTTY === true;
  const base = { name: opts.name ?? 'tunpf', level: opts.level ?? 'info' };
  return pretty ? pino(base, prettyStream(process.stdout)) : pino(base);
}

export type { Logger };
