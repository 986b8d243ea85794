// The lab's client traffic, run inside the client namespace by `tunpf lab`:
//   transfer  a long TCP upload to the echo service, paced (default 2 MB/s,
//             so that two routers on a 2-core machine keep time for CARP),
//             echoed back, so what returns shows the path is alive
//   stream    a UDP datagram every 20 ms to the echo service
//   session   an interactive TCP session, idle but for a keystroke now and
//             then (every 20 s, and at once on SIGUSR1)
// It never gives up: a connection that breaks (reset, or stuck for 15 s) is
// counted and made again, so the lab always has flows to look at. Every 200
// ms it writes what it saw to the status file (traffic-status.ts).
//
//   node traffic.js --status FILE --server ADDRESS [--echo-port 7] [--session-port 22] [--rate MBPS]

import { connect, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { epochMs, systemClock } from '../os/clock.js';
import { GAP_MS, writeTrafficStatus, type FlowName, type FlowStatus, type TrafficStatus } from './traffic-status.js';

const { values } = parseArgs({
  options: {
    status: { type: 'string' },
    server: { type: 'string' },
    'echo-port': { type: 'string', default: '7' },
    'session-port': { type: 'string', default: '22' },
    rate: { type: 'string', default: '2' },
  },
});
if (!values.status || !values.server) {
  console.error('usage: traffic --status FILE --server ADDRESS [--echo-port N] [--session-port N] [--rate MBPS]');
  process.exit(2);
}
const statusFile = values.status;
const server = values.server;
const echoPort = Number(values['echo-port']);
const sessionPort = Number(values['session-port']);
const rateMBps = Number(values.rate);

/** A connection that moves nothing for this long is given up and made again. */
const STALL_MS = 15_000;
const RECONNECT_MS = 1000;
const KEEP = 20;
const CHUNK = 16 * 1024;
const TICK_MS = Math.max(1, Math.round((CHUNK / (rateMBps * 1_000_000)) * 1000));

const clock = systemClock();
const status: TrafficStatus = { pid: process.pid, startedAt: epochMs(clock), updatedAt: epochMs(clock), flows: [] };

function flow(name: FlowName, proto: 'tcp' | 'udp', port: number): FlowStatus {
  const f: FlowStatus = {
    name,
    proto,
    local: null,
    remote: { address: server, port },
    connected: false,
    connections: 0,
    breaks: [],
    sent: 0,
    received: 0,
    lastReceived: 0,
    gaps: [],
  };
  status.flows.push(f);
  return f;
}

function received(f: FlowStatus, amount: number): void {
  const now = epochMs(clock);
  if (f.lastReceived && now - f.lastReceived > GAP_MS) {
    f.gaps.push({ at: f.lastReceived, ms: now - f.lastReceived });
    if (f.gaps.length > KEEP) f.gaps.shift();
  }
  f.lastReceived = now;
  f.received += amount;
}

function broke(f: FlowStatus, why: string): void {
  f.breaks.push({ at: epochMs(clock), why });
  if (f.breaks.length > KEEP) f.breaks.shift();
  f.connected = false;
  f.local = null;
}

/** A TCP connection that is made again whenever it breaks; `onUp` starts its traffic. */
function tcpFlow(
  f: FlowStatus,
  onUp: (s: Socket, alive: () => boolean) => void,
  stalled: (since: number) => boolean,
): void {
  let current: { end(why: string): void; madeAt: number } | null = null;
  const open = () => {
    const s = connect({ host: server, port: f.remote.port });
    let ended = false;
    const conn = {
      madeAt: epochMs(clock),
      end(why: string) {
        if (ended) return;
        ended = true;
        clearTimeout(connectTimer);
        broke(f, why);
        s.destroy();
        setTimeout(open, RECONNECT_MS);
      },
    };
    current = conn;
    s.setNoDelay(true);
    const connectTimer = setTimeout(() => conn.end('no connection within 10 s'), 10_000);
    s.once('connect', () => {
      clearTimeout(connectTimer);
      f.connected = true;
      f.connections++;
      f.local = { address: s.localAddress ?? '', port: s.localPort ?? 0 };
      onUp(s, () => !ended);
    });
    s.on('error', (e: NodeJS.ErrnoException) => conn.end(e.code ?? e.message));
    s.on('close', () => conn.end('closed by the server'));
  };
  open();
  setInterval(() => {
    if (current && f.connected && stalled(Math.max(current.madeAt, f.lastReceived)))
      current.end(`nothing came back for ${STALL_MS / 1000} s`);
  }, 1000);
}

// transfer: CHUNK every TICK_MS while the socket takes it
const transfer = flow('transfer', 'tcp', echoPort);
tcpFlow(
  transfer,
  (s, alive) => {
    const payload = Buffer.alloc(CHUNK, 0x61);
    let blocked = false;
    s.on('drain', () => (blocked = false));
    s.on('data', (d: Buffer) => received(transfer, d.length));
    const timer = setInterval(() => {
      if (!alive()) return clearInterval(timer);
      if (blocked) return;
      transfer.sent += CHUNK;
      blocked = !s.write(payload);
    }, TICK_MS);
  },
  (since) => epochMs(clock) - since > STALL_MS,
);

// session: a keystroke now and then, echoed by the server's pretend shell
const session = flow('session', 'tcp', sessionPort);
let sessionSocket: Socket | null = null;
const typeKey = () => {
  if (!sessionSocket || !session.connected) return;
  session.key = { sentAt: epochMs(clock), echoedAt: null };
  session.sent += 2;
  sessionSocket.write('k\n');
};
tcpFlow(
  session,
  (s) => {
    sessionSocket = s;
    s.on('data', (d: Buffer) => {
      received(session, d.length);
      if (session.key && session.key.echoedAt === null) session.key.echoedAt = epochMs(clock);
    });
    typeKey();
  },
  () => !!session.key && session.key.echoedAt === null && epochMs(clock) - session.key.sentAt > STALL_MS,
);
setInterval(typeKey, 20_000);
process.on('SIGUSR1', typeKey);

// stream: a numbered datagram every 20 ms
const stream = flow('stream', 'udp', echoPort);
const udp = createSocket(server.includes(':') ? 'udp6' : 'udp4');
udp.on('message', () => received(stream, 1));
udp.on('error', () => {}); // ICMP unreachable while the path is down: keep sending
// connected, so that the socket has the client's own address (and the state's)
udp.connect(echoPort, server, () => {
  stream.connected = true;
  stream.connections = 1;
  const a = udp.address();
  stream.local = { address: a.address, port: a.port };
  setInterval(() => {
    stream.sent++;
    udp.send(Buffer.from(`${stream.sent}\n`));
  }, 20);
});

setInterval(() => {
  status.updatedAt = epochMs(clock);
  try {
    writeTrafficStatus(statusFile, status);
  } catch {
    // the lab directory is gone (lab down): the generator is about to be stopped
  }
}, 200);
process.on('SIGTERM', () => process.exit(0));
