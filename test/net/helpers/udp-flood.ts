// Runs inside a test namespace: sends small UDP datagrams as fast as it can
// for SECONDS to HOST:PORT, to load a router. Prints {sent} at the end.
//   udp-flood HOST PORT SECONDS

import { createSocket } from 'node:dgram';

const [host, portText, secondsText] = process.argv.slice(2);
const port = Number(portText);
const end = Date.now() + Number(secondsText) * 1000;
const u = createSocket('udp4');
const payload = Buffer.alloc(18);
let sent = 0;
let inFlight = 0;

function burst(): void {
  if (Date.now() >= end) {
    console.log(JSON.stringify({ sent }));
    process.exit(0);
  }
  // keep a bounded number of sends queued, so the loop never runs away with memory
  while (inFlight < 256) {
    inFlight++;
    // vary the source port a little: several flows, as real load has
    u.send(payload, port, host!, () => {
      inFlight--;
      sent++;
    });
  }
  setImmediate(burst);
}
u.bind(0, burst);
