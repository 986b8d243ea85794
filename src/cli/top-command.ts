// `tunpf top`: a live full-screen view of states and rules over the control
// socket, in the spirit of pftop. Plain ANSI escapes: the alternate screen,
// cursor home, erase to end of line. The terminal is put back however the
// program ends (q, a signal, a lost daemon, an exception).
// `--once` prints one frame to stdout without touching the terminal.

import { parseArgs } from 'node:util';
import { ControlClient, CommandError, ConnectError } from '../control/client.js';
import { ErrorCode } from '../control/protocol.js';
import type {
  ShowCarpResult,
  ShowInfoResult,
  ShowPfsyncResult,
  ShowRulesResult,
  ShowStatesResult,
  StateSortKey,
} from '../control/results.js';
import { STATE_SORT_KEYS } from '../control/results.js';
import { defaultSocketPath } from '../control/socket-path.js';
import { systemClock, type Clock } from '../os/clock.js';
import { applyKey, renderFrame, type TopSample, type TopUi } from '../control/top-view.js';
import type { CommandIO } from './io.js';

export const topUsage =
  'usage: tunpf top [--socket PATH] [--sort KEY] [--rules] [--interval SECONDS] [--once [--width N] [--rows N]]\n' +
  `  --socket PATH   the daemon's control socket (default: this network namespace's)
  --sort KEY      ${STATE_SORT_KEYS.join(', ')} (default: bytes)
  --rules         start in the rules view
  --interval S    seconds between refreshes (default 1)
  --once          print one frame to stdout and exit (no terminal handling)
  --width N, --rows N   the frame's size with --once (default: $COLUMNS or 160 columns, every row)
  --timeout MS    give up on a daemon that does not answer within MS milliseconds (default 5000)
keys: s source, d destination, b bytes, r rate, a age, e expiry, p packets (again: reverse);
      v switch states/rules view; space refresh; q quit`;

/** At most this many states are fetched per refresh (the daemon picks them in the sort's order). */
const FETCH_LIMIT = 5000;

async function optional<T>(c: ControlClient, command: string): Promise<T | null> {
  try {
    return await c.request<T>(command);
  } catch (e) {
    if (e instanceof CommandError && e.code === ErrorCode.UNKNOWN_COMMAND) return null;
    throw e;
  }
}

async function sample(c: ControlClient, ui: TopUi, carp: boolean, pfsync: boolean, clock: Clock): Promise<TopSample> {
  const [info, states, rules, carpR, pfsyncR] = await Promise.all([
    c.request<ShowInfoResult>('show info'),
    // for 'rate' the daemon orders by lifetime rate; top reorders by the rate between refreshes
    c.request<ShowStatesResult>('show states', { sort: ui.sort, reverse: ui.reverse, limit: FETCH_LIMIT }),
    c.request<ShowRulesResult>('show rules'),
    carp ? optional<ShowCarpResult>(c, 'show carp') : Promise.resolve(null),
    pfsync ? optional<ShowPfsyncResult>(c, 'show pfsync') : Promise.resolve(null),
  ]);
  return { at: clock(), info, states, rules, carp: carpR, pfsync: pfsyncR };
}

const ESC = '\x1b[';
const ENTER = `${ESC}?1049h${ESC}?25l`;
const LEAVE = `${ESC}?25h${ESC}?1049l`;

export const topOptions = {
  socket: { type: 'string' },
  sort: { type: 'string' },
  rules: { type: 'boolean' },
  interval: { type: 'string' },
  once: { type: 'boolean' },
  width: { type: 'string' },
  rows: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function topCommand(argv: string[], io: CommandIO): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: topOptions,
    });
  } catch (e) {
    io.err(`tunpf top: ${(e as Error).message}\n${topUsage}`);
    return 2;
  }
  const v = args.values;
  if (v.help) return (io.out(topUsage), 0);
  const sort = (v.sort ?? 'bytes') as StateSortKey;
  if (!STATE_SORT_KEYS.includes(sort))
    return (io.err(`tunpf top: --sort must be one of ${STATE_SORT_KEYS.join(', ')}`), 2);
  const interval = Number(v.interval ?? 1);
  // the daemon closes connections idle for two minutes
  if (!(interval >= 0.1 && interval <= 60)) return (io.err('tunpf top: --interval must be 0.1..60 seconds'), 2);
  const path = v.socket ?? defaultSocketPath();
  const ui: TopUi = { view: v.rules ? 'rules' : 'states', sort, reverse: false, socket: path };
  const clock = systemClock();

  let client: ControlClient;
  try {
    client = await ControlClient.connect({ path, timeoutMs: Number(v.timeout ?? 5000) });
  } catch (e) {
    if (e instanceof ConnectError) return (io.err(`tunpf top: ${e.message}`), 1);
    throw e;
  }

  if (v.once) {
    try {
      const s = await sample(client, ui, true, true, clock);
      const width = Number(v.width ?? process.env.COLUMNS ?? 160);
      const rows = v.rows === undefined ? Infinity : Number(v.rows);
      io.out(renderFrame(s, null, ui, width > 20 ? width : 160, rows > 0 ? rows : Infinity).join('\n'));
      return 0;
    } catch (e) {
      return (io.err(`tunpf top: ${(e as Error).message}`), 1);
    } finally {
      client.close();
    }
  }

  const stdin = process.stdin;
  const stdout = process.stdout;
  if (!stdin.isTTY || !stdout.isTTY) {
    client.close();
    return (io.err('tunpf top: needs a terminal (use --once for a single frame)'), 2);
  }
  return runInteractive(client, ui, interval, clock, io);
}

function runInteractive(
  client: ControlClient,
  ui: TopUi,
  interval: number,
  clock: Clock,
  io: CommandIO,
): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  return new Promise<number>((resolve) => {
    let prev: TopSample | null = null;
    let last: TopSample | null = null;
    let timer: NodeJS.Timeout | null = null;
    let busy = false;
    let done = false;
    let carp = true;
    let pfsync = true;

    const restore = () => {
      if (stdin.isTTY) stdin.setRawMode(false);
      stdout.write(LEAVE);
    };
    const finish = (code: number, message?: string) => {
      if (done) return;
      done = true;
      if (timer) clearInterval(timer);
      stdin.off('data', onKey);
      stdin.pause();
      stdout.off('resize', draw);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('uncaughtException', onCrash);
      process.off('exit', restore);
      restore();
      client.close();
      if (message) io.err(message);
      resolve(code);
    };
    const onSignal = () => finish(0);
    const onCrash = (e: Error) => finish(1, `tunpf top: ${e.message}`);

    function draw(): void {
      if (!last || done) return;
      const lines = renderFrame(last, prev, ui, stdout.columns || 80, stdout.rows || 24);
      stdout.write(`${ESC}H${lines.map((l) => `${l}${ESC}K`).join('\r\n')}${ESC}J`);
    }
    async function refresh(): Promise<void> {
      if (busy || done) return;
      busy = true;
      try {
        const s = await sample(client, ui, carp, pfsync, clock);
        carp = s.carp !== null;
        pfsync = s.pfsync !== null;
        prev = last;
        last = s;
        draw();
      } catch (e) {
        finish(1, `tunpf top: ${(e as Error).message}`);
      } finally {
        busy = false;
      }
    }
    function onKey(data: Buffer): void {
      for (const ch of data.toString('utf8')) {
        const r = applyKey(ui, ch);
        if (r === 'quit') return finish(0);
        if (r === 'redraw') {
          draw();
          // the daemon picks states in the new order
          if (ch !== 'v' && ch !== '\t' && ch !== '1' && ch !== '2') void refresh();
        }
      }
    }

    process.once('exit', restore); // even process.exit() elsewhere leaves a usable terminal
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('uncaughtException', onCrash);
    stdout.write(ENTER);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onKey);
    stdout.on('resize', draw);
    timer = setInterval(() => void refresh(), interval * 1000);
    void refresh();
  });
}
