// Runs inside a test namespace: sends one UDP datagram of BYTES bytes (a
// known pattern, larger than the MTU so the sender fragments it) to
// HOST PORT and waits for the echo; prints {ok, received, same} as JSON,
// `same` when the echo is the datagram byte for byte.

import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

const [host, portText, bytesText] = process.argv.slice(2);
const size = Number(bytesText);
const sent = Buffer.from(Array.from({ length: size }, (_, k) => (k * 31 + 7) & 0xff));
const done = (r: object) => {
  console.log(JSON.stringify(r));
  process.exit(0);
};
setTimeout(() => done({ ok: false, reason: 'timeout' }), Number(process.env.PROBE_TIMEOUT_MS ?? 2000));
const u = createSocket(isIPv6(host!) ? 'udp6' : 'udp4');
u.on('message', (m) => done({ ok: true, received: m.length, same: m.equals(sent) }));
u.bind(0, () => u.send(sent, Number(portText), host!));
