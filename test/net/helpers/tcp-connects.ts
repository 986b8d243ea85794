// Runs inside a test namespace: as many short TCP connections as it can for
// SECONDS, CONCURRENCY at a time, to an echo server on HOST's PORTS in turn
// (several destination ports: more room for a NAT's source ports). Each
// connects, sends a byte, reads it back and closes. Prints {done, failed, perSecond}.
//   tcp-connects HOST PORT[,PORT...] SECONDS CONCURRENCY

import { connect } from 'node:net';

const [host, portsText, secondsText, concurrencyText] = process.argv.slice(2);
const ports = portsText!.split(',').map(Number);
const seconds = Number(secondsText);
const concurrency = Number(concurrencyText ?? 32);
const byte = Buffer.from('x');
let done = 0;
let failed = 0;
let next = 0;
let running = true;
const t0 = performance.now();

function one(): void {
  if (!running) return;
  const s = connect({ host: host!, port: ports[next++ % ports.length]! });
  let ok = false;
  s.setNoDelay(true);
  s.on('connect', () => s.write(byte));
  s.on('data', () => {
    ok = true;
    s.end();
  });
  s.on('error', () => s.destroy());
  s.on('close', () => {
    if (!running) return;
    if (ok) done++;
    else failed++;
    one();
  });
}

for (let k = 0; k < concurrency; k++) one();
setTimeout(() => {
  running = false;
  const elapsed = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ done, failed, perSecond: done / elapsed }));
  process.exit(0);
}, seconds * 1000);
