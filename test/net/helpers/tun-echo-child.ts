// Runs inside a test namespace: opens a TUN, routes a UDP datagram into it,
// reads it back in a batch, answers it by writing a reply into the TUN, and
// prints what happened as JSON.

import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { TunDevice, SLOT_SIZE } from '../../../src/datapath/tun-device.js';
import { systemClock } from '../../../src/os/clock.js';
import { decode as decodeVirtio, VIRTIO_NET_HDR_LEN } from '../../../src/datapath/virtio-net.js';
import { buildUdp } from '../../../src/packet/build.js';
import { formatAddress } from '../../../src/packet/address.js';
import { PacketMeta } from '../../../src/packet/meta.js';
import { parsePacket } from '../../../src/packet/parse.js';

// Only ever inside a namespace a test made: never create devices in the host's.
if (process.env.TUNPF_TEST_NETNS === undefined) {
  console.error('tun-echo-child runs only inside a test network namespace (see netns.ts)');
  process.exit(2);
}

const tun = TunDevice.open('tpf0', { mtu: 1500, clock: systemClock() });
execFileSync('ip', ['addr', 'add', '10.99.0.1/24', 'dev', 'tpf0']);
const sock = createSocket('udp4');
const result: Record<string, unknown> = { name: tun.name, vnetHdrSize: tun.vnetHdrSize, offload: tun.offloadFlags };
const timer = setTimeout(() => finish('timeout'), 5000);

function finish(error?: string) {
  clearTimeout(timer);
  if (error) result.error = error;
  console.log(JSON.stringify(result));
  tun.close();
  sock.close();
}

sock.on('message', (msg, rinfo) => {
  result.reply = { text: msg.toString(), from: `${rinfo.address}:${rinfo.port}` };
  finish();
});

sock.bind(0, '10.99.0.1', () => {
  const port = sock.address().port;
  const meta = new PacketMeta();
  tun.start((rx) => {
    for (let k = 0; k < rx.count; k++) {
      const at = k * SLOT_SIZE;
      const hdr = decodeVirtio(rx.buf, at);
      parsePacket(rx.buf, at + VIRTIO_NET_HDR_LEN, rx.lengths[k]! - VIRTIO_NET_HDR_LEN, meta);
      if (meta.proto !== 17 || meta.dstPort !== 9999) continue; // IPv6 router solicitations and such
      result.read = {
        batch: rx.count,
        length: rx.lengths[k],
        gsoType: hdr.gsoType,
        src: `${formatAddress(4, meta.src)}:${meta.srcPort}`,
        dst: `${formatAddress(4, meta.dst)}:${meta.dstPort}`,
        // l4Offset is absolute in the batch buffer
        payload: Buffer.from(rx.buf.subarray(meta.l4Offset + 8, at + rx.lengths[k]!)).toString(),
      };
      const reply = buildUdp({
        src: '10.99.0.2',
        dst: '10.99.0.1',
        sport: 9999,
        dport: port,
        payload: Buffer.from('pong'),
      });
      const out = Buffer.alloc(VIRTIO_NET_HDR_LEN + reply.length);
      out.set(reply, VIRTIO_NET_HDR_LEN); // a zero header: no offload on this packet
      result.written = tun.write(out, Uint32Array.of(0), Uint32Array.of(out.length), 1);
    }
  });
  sock.send(Buffer.from('ping'), 9999, '10.99.0.2');
});
