// The lab's server, run inside the server namespace by `tunpf lab`: echoes
// whatever arrives, over TCP and UDP, on the ports given (both address
// families). Prints "ready" once it listens.
//
//   node echo-server.js PORT...     (TCP and UDP on every one)
//
// The network tests run it too, as their server.

import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
  console.error('usage: echo-server PORT...');
  process.exit(2);
}
let pending = ports.length * 3;
const ready = () => {
  if (--pending === 0) console.log(`ready: echoing on tcp and udp ${ports.join(', ')}`);
};
for (const port of ports) {
  const srv = createServer((s) => {
    s.on('error', () => s.destroy()); // a client reset is its business, not a reason to stop
    s.pipe(s);
  });
  srv.listen({ port, host: '::', ipv6Only: false }, ready);
}
for (const port of ports) {
  for (const type of ['udp4', 'udp6'] as const) {
    const u = createSocket({ type, ipv6Only: type === 'udp6' });
    u.on('message', (msg, from) => u.send(msg, from.port, from.address));
    u.on('error', () => {});
    u.bind(port, ready);
  }
}
process.on('SIGTERM', () => process.exit(0));
