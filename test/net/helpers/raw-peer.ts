// Runs inside a test namespace: `raw-peer recv IFNAME` joins the CARP groups
// on IFNAME and prints each packet it gets as JSON; `raw-peer send IFNAME`
// sends one protocol-112 packet to 224.0.0.18 and one to ff02::12.

import { RawSocket } from '../../../src/os/raw-socket.js';

if (process.env.TUNPF_TEST_NETNS === undefined) {
  console.error('raw-peer runs only inside a test network namespace');
  process.exit(2);
}
const [mode, ifname] = process.argv.slice(2);
const v4 = RawSocket.open(4, 112).bindDevice(ifname!);
const v6 = RawSocket.open(6, 112).bindDevice(ifname!);
if (mode === 'recv') {
  v4.join('224.0.0.18', ifname!);
  v6.join('ff02::12', ifname!);
  let got = 0;
  const report = (af: number) => (data: Uint8Array, info: { ttl: number; ifindex: number; source: string }) => {
    const payload = af === 4 ? data.subarray((data[0]! & 0x0f) * 4) : data;
    console.log(JSON.stringify({ af, ...info, payload: Buffer.from(payload).toString() }));
    if (++got === 2) {
      v4.close();
      v6.close();
    }
  };
  v4.start(report(4));
  v6.start(report(6));
  console.log(JSON.stringify({ ready: true }));
  setTimeout(() => process.exit(3), 8000).unref();
} else {
  v4.multicastLoop(false).join('224.0.0.18', ifname!);
  v6.multicastLoop(false).join('ff02::12', ifname!);
  v4.send('224.0.0.18', Buffer.from('carp over ipv4'));
  v6.send('ff02::12', Buffer.from('carp over ipv6'), ifname);
  v4.close();
  v6.close();
}
