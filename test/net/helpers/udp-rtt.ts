// Runs inside a test namespace: round-trip times of small UDP datagrams to an
// echo server, one at a time. Prints {median, p99, lost} in microseconds.

import { createSocket } from 'node:dgram';

const [host, portText, countText] = process.argv.slice(2);
const count = Number(countText ?? 1000);
const u = createSocket('udp4');
const rtts: number[] = [];
let lost = 0;
let sentAt = 0n;
let timer: NodeJS.Timeout | null = null;

function next() {
  if (rtts.length + lost >= count) {
    rtts.sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        median: rtts[Math.floor(rtts.length / 2)] ?? null,
        p99: rtts[Math.floor(rtts.length * 0.99)] ?? null,
        lost,
      }),
    );
    process.exit(0);
  }
  sentAt = process.hrtime.bigint();
  u.send(Buffer.alloc(32), Number(portText), host!);
  timer = setTimeout(() => {
    lost++;
    next();
  }, 200);
}
u.on('message', () => {
  if (timer) clearTimeout(timer);
  rtts.push(Number(process.hrtime.bigint() - sentAt) / 1000);
  setImmediate(next);
});
u.bind(0, next);
