// Runs inside a test namespace: keeps flows through the routers for a while
// and reports how they fared, as one JSON line at the end.
//   flows SECONDS [udp HOST:PORT] [tcp HOST:PORT] [idle HOST:PORT] ...
// udp:  a datagram every 10 ms (FLOWS_UDP_INTERVAL_MS) to an echo server; the longest gap between echoes.
// tcp:  a long transfer to an echo server, 16 KB every 4 ms (4 MB/s, slower
//       when backpressure says so, so that the routers' CPUs stay free for
//       CARP); bytes echoed, the longest gap between echoed data, whether the
//       connection broke.
// idle: a TCP connection that says one line at the start, stays quiet, and
//       one line at the end; both must come back.
// Prints "ready" once every connection is up, then the summary at the end.

import { connect, isIPv6, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';

export interface FlowResult {
  kind: string;
  target: string;
  ok: boolean;
  error?: string;
  sent: number;
  received: number;
  maxGapMs: number;
  /** Gaps over 100 ms, with when they started (ms after the start). */
  gaps: { at: number; ms: number }[];
  /** Nothing came back in the last second (a connection that hangs without an error). */
  stalled?: boolean;
}

const [secondsText, ...specs] = process.argv.slice(2);
const seconds = Number(secondsText);
const t0 = Date.now();
const results: FlowResult[] = [];
const finishers: (() => void)[] = [];
let pending = 0;

function split(target: string): [string, number] {
  const i = target.lastIndexOf(':');
  return [target.slice(0, i).replace(/^\[|\]$/g, ''), Number(target.slice(i + 1))];
}

function gapTracker(r: FlowResult) {
  let last = Date.now();
  return (final = false) => {
    const now = Date.now();
    if (final) r.stalled = now - last > 1000;
    const gap = now - last;
    if (gap > r.maxGapMs) r.maxGapMs = gap;
    if (gap > 100) r.gaps.push({ at: last - t0, ms: gap });
    last = now;
  };
}

function connected(): void {
  if (--pending === 0) console.log('ready');
}

for (let k = 0; k < specs.length; k += 2) {
  const kind = specs[k]!;
  const target = specs[k + 1]!;
  const [host, port] = split(target);
  const r: FlowResult = { kind, target, ok: true, sent: 0, received: 0, maxGapMs: 0, gaps: [] };
  results.push(r);
  pending++;
  const seen = gapTracker(r);
  if (kind === 'udp') {
    const u = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    u.on('message', (m) => {
      r.received++;
      seen();
      void m;
    });
    let timer: NodeJS.Timeout;
    u.bind(0, () => {
      connected();
      timer = setInterval(
        () => {
          r.sent++;
          u.send(Buffer.from(String(r.sent)), port, host);
        },
        Number(process.env.FLOWS_UDP_INTERVAL_MS ?? 10),
      );
    });
    finishers.push(() => {
      clearInterval(timer);
      seen(true);
      r.ok = r.received > 0;
      u.close();
    });
  } else if (kind === 'tcp') {
    const s: Socket = connect({ host, port });
    const chunk = Buffer.alloc(16384, 0x74);
    let writing = true;
    let blocked = false;
    let timer: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      connected();
      timer = setInterval(() => {
        if (!writing || blocked) return;
        r.sent += chunk.length;
        blocked = !s.write(chunk);
      }, 4);
    });
    s.on('drain', () => (blocked = false));
    s.on('data', (d) => {
      r.received += d.length;
      seen();
    });
    s.on('error', (e) => {
      r.ok = false;
      r.error = (e as NodeJS.ErrnoException).code ?? e.message;
    });
    s.on('close', () => {
      if (writing) {
        r.ok = false;
        r.error ??= 'closed early';
      }
    });
    finishers.push(() => {
      writing = false;
      clearInterval(timer);
      seen(true);
      s.destroy();
    });
  } else if (kind === 'idle') {
    const s: Socket = connect({ host, port });
    let echoed = '';
    s.on('connect', () => {
      s.write('hello\n');
      r.sent += 6;
    });
    s.on('data', (d) => {
      echoed += d.toString();
      r.received += d.length;
      if (echoed === 'hello\n') connected();
    });
    s.on('error', (e) => {
      r.ok = false;
      r.error = (e as NodeJS.ErrnoException).code ?? e.message;
    });
    // the closing line goes out a second before the end, and must be echoed
    setTimeout(
      () => {
        s.write('bye\n');
        r.sent += 4;
      },
      Math.max(0, seconds * 1000 - 1500),
    );
    finishers.push(() => {
      if (echoed !== 'hello\nbye\n') {
        r.ok = false;
        r.error ??= `echoed ${JSON.stringify(echoed)}`;
      }
      s.destroy();
    });
  } else {
    console.error(`unknown flow kind ${kind}`);
    process.exit(2);
  }
}

setTimeout(() => {
  for (const f of finishers) f();
  console.log(JSON.stringify(results));
  process.exit(0);
}, seconds * 1000);
