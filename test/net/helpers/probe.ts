// Runs inside a test namespace: one probe, printed as JSON.
//   probe tcp HOST PORT BYTES   -> {ok, received}   (connect, send, read the echo)
//   probe udp HOST PORT [TTL]   -> {ok}
//   probe stream HOST PORT SECONDS -> {ok, received, stalls}  (keeps a TCP connection busy)
// ok is false when nothing came back within the timeout.

import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

const [kind, host, portText, bytesText] = process.argv.slice(2);
const port = Number(portText);
const timeout = Number(process.env.PROBE_TIMEOUT_MS ?? 1500);
const done = (r: object) => {
  console.log(JSON.stringify(r));
  process.exit(0);
};
const deadline = kind === 'stream' ? Number(bytesText) * 1000 + 3000 : timeout;
setTimeout(() => done({ ok: false, reason: 'timeout' }), deadline);

if (kind === 'stream') {
  // send 1 KB every 20 ms for the given seconds, count the echo, note gaps over 1 s
  const seconds = Number(bytesText);
  let received = 0;
  let sent = 0;
  let last = Date.now();
  let stalls = 0;
  const localPort = process.env.PROBE_LOCAL_PORT ? Number(process.env.PROBE_LOCAL_PORT) : undefined;
  const s = connect({ host: host!, port, localPort });
  s.on('connect', () => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if (Date.now() - t0 > seconds * 1000) {
        clearInterval(tick);
        setTimeout(() => done({ ok: received === sent, received, sent, stalls }), 1000);
        return;
      }
      s.write(Buffer.alloc(1024, 0x62));
      sent += 1024;
    }, 20);
  });
  s.on('data', (d) => {
    received += d.length;
    if (Date.now() - last > 1000) stalls++;
    last = Date.now();
  });
  s.on('error', (e) => done({ ok: false, reason: (e as NodeJS.ErrnoException).code, received, sent }));
} else if (kind === 'tcp') {
  const want = Number(bytesText ?? 1000);
  let received = 0;
  const s = connect({ host: host!, port });
  s.on('connect', () => s.write(Buffer.alloc(want, 0x61)));
  s.on('data', (d) => {
    received += d.length;
    if (received >= want) {
      s.end();
      done({ ok: true, received });
    }
  });
  s.on('error', (e) => done({ ok: false, reason: (e as NodeJS.ErrnoException).code }));
} else {
  const u = createSocket(isIPv6(host!) ? 'udp6' : 'udp4');
  u.on('message', (m) => done({ ok: m.toString() === 'hello' }));
  u.bind(0, () => {
    if (bytesText) u.setTTL(Number(bytesText));
    u.send(Buffer.from('hello'), port, host!);
  });
}
