// Runs inside a test namespace: TCP and UDP echo servers on the ports given,
// on all addresses, both families. Prints "ready" when listening.

import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const ports = process.argv.slice(2).map(Number);
let pending = ports.length * 3;
const ready = () => {
  if (--pending === 0) console.log('ready');
};
for (const port of ports) {
  createServer((s) => {
    // a client that resets (destroys a socket with data in flight) must not take the server down
    s.on('error', () => s.destroy());
    s.pipe(s);
  }).listen({ port, host: '::', ipv6Only: false }, ready);
  for (const type of ['udp4', 'udp6'] as const) {
    const u = createSocket({ type, ipv6Only: type === 'udp6' });
    u.on('message', (msg, r) => u.send(msg, r.port, r.address));
    u.on('error', () => {});
    u.bind(port, ready);
  }
}
