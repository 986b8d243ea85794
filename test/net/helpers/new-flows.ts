// Runs inside a test namespace: opens RATE new UDP flows a second for
// SECONDS, one datagram each, to HOST on destination ports from BASE up (a
// new destination port is a new flow, and a new state on the router). Prints
// {flows, sentAt} at the end: sentAt[k] is when flow k's datagram left (ms
// since the epoch), for measuring how long its state took to reach the peer.
//   new-flows HOST BASE RATE SECONDS

import { createSocket } from 'node:dgram';

const [host, baseText, rateText, secondsText] = process.argv.slice(2);
const base = Number(baseText);
const rate = Number(rateText);
const total = Math.min(65535 - base, Math.round(rate * Number(secondsText)));
const u = createSocket('udp4');
const payload = Buffer.alloc(16);
let flows = 0;
const t0 = performance.now();
const sentAt: number[] = [];

u.bind(0, () => {
  const tick = setInterval(() => {
    // as many as the elapsed time allows, so timer jitter does not lower the rate
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    while (flows < due) {
      sentAt.push(performance.timeOrigin + performance.now());
      u.send(payload, base + flows++, host!);
    }
    if (flows >= total) {
      clearInterval(tick);
      setTimeout(() => {
        // a long line: exit once it is written, not before
        process.stdout.write(
          JSON.stringify({ flows, sentAt: sentAt.map((x) => Math.round(x * 1000) / 1000) }) + '\n',
          () => process.exit(0),
        );
      }, 200);
    }
  }, 1);
});
