// Runs inside a test namespace: sends one TCP SYN through a raw socket and
// nothing after it (a client that never completes the handshake).
//   raw-syn SRC DST SPORT DPORT

import { buildTcp } from '../../../src/packet/build.js';
import { RawSocket } from '../../../src/os/raw-socket.js';

if (process.env.TUNPF_TEST_NETNS === undefined) {
  console.error('raw-syn runs only inside a test network namespace');
  process.exit(2);
}
const [src, dst, sport, dport] = process.argv.slice(2);
const pkt = buildTcp({ src: src!, dst: dst!, sport: Number(sport), dport: Number(dport), flags: 'S', seq: 12345 });
const s = RawSocket.open(4, 6);
// the kernel writes the IPv4 header; the segment's checksum already covers these addresses
s.send(dst!, pkt.subarray((pkt[0]! & 0x0f) * 4));
s.close();
console.log(JSON.stringify({ sent: true }));
