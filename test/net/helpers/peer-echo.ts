// Runs inside a test namespace. A server that tells each client the address
// and port it sees the client at, and the client that asks; one JSON line.
//   peer-echo serve PORT...        TCP and UDP on each port, both families; prints "ready"
//   peer-echo ask tcp|udp HOST PORT
//     -> {ok, local, seen, from}: the client's own address and port, the ones the
//        server saw, and where the answer came from (the address the TCP socket
//        is connected to; the sender of the UDP reply)

import { connect, createServer, isIPv6 } from 'node:net';
import { createSocket, type RemoteInfo } from 'node:dgram';

interface Endpoint {
  address: string;
  port: number;
}
// a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
const plain = (address: string | undefined, port: number | undefined): Endpoint => ({
  address: (address ?? '').replace(/^::ffff:/, ''),
  port: port ?? 0,
});

const [mode, ...rest] = process.argv.slice(2);
if (mode === 'serve') {
  const ports = rest.map(Number);
  let pending = ports.length * 3;
  const ready = () => {
    if (--pending === 0) console.log('ready');
  };
  for (const port of ports) {
    createServer((s) => {
      s.on('error', () => s.destroy());
      s.end(JSON.stringify(plain(s.remoteAddress, s.remotePort)) + '\n');
    }).listen({ port, host: '::', ipv6Only: false }, ready);
    for (const type of ['udp4', 'udp6'] as const) {
      const u = createSocket({ type, ipv6Only: type === 'udp6' });
      u.on('message', (_m, from: RemoteInfo) =>
        u.send(JSON.stringify(plain(from.address, from.port)), from.port, from.address),
      );
      u.bind(port, ready);
    }
  }
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'ask') {
  const [proto, host, portText] = rest;
  const port = Number(portText);
  const done = (r: object) => {
    console.log(JSON.stringify(r));
    process.exit(0);
  };
  setTimeout(() => done({ ok: false, reason: 'timeout' }), Number(process.env.PROBE_TIMEOUT_MS ?? 2000));
  if (proto === 'tcp') {
    let text = '';
    const s = connect({ host: host!, port });
    s.on('data', (d) => (text += d));
    s.on('end', () =>
      done({
        ok: true,
        local: plain(s.localAddress, s.localPort),
        seen: JSON.parse(text) as Endpoint,
        from: plain(s.remoteAddress, s.remotePort),
      }),
    );
    s.on('error', (e) => done({ ok: false, reason: (e as NodeJS.ErrnoException).code }));
  } else {
    const u = createSocket(isIPv6(host!) ? 'udp6' : 'udp4');
    u.on('message', (m, from) => {
      const a = u.address();
      done({
        ok: true,
        local: plain(a.address, a.port),
        seen: JSON.parse(String(m)),
        from: plain(from.address, from.port),
      });
    });
    // bound to the wildcard: local reports the port only, which is what the states are checked against
    u.bind(0, () => u.send('who am I', port, host!));
  }
} else {
  console.error('usage: peer-echo serve PORT... | peer-echo ask tcp|udp HOST PORT');
  process.exit(2);
}
