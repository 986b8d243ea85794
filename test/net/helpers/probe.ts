// Runs inside a test namespace: one probe, printed as JSON.
//   probe tcp HOST PORT BYTES   -> {ok, received}   (connect, send, read the echo)
//   probe udp HOST PORT         -> {ok}
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
setTimeout(() => done({ ok: false, reason: 'timeout' }), timeout);

if (kind === 'tcp') {
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
  u.send(Buffer.from('hello'), port, host!);
}
