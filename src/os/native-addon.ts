// Loads the Node-API addon (native/tunpf.c, built by node-gyp at install)
// and describes its functions. The only place that knows where it lives.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface TunOpenResult {
  fd: number;
  name: string;
  /** Bytes of virtio_net_hdr in front of every packet (0 without IFF_VNET_HDR). */
  vnetHdrSize: number;
  /** TUN_F_* offload flags the kernel accepted. */
  offload: number;
}

export interface NativeAddon {
  tunOpen(name: string, opts?: { vnetHdr?: boolean; multiQueue?: boolean; offload?: boolean }): TunOpenResult;
  ifconfig(name: string, mtu: number, up: boolean): void;
  readBatch(fd: number, buf: Buffer, slotSize: number, maxPackets: number, lengths: Uint32Array): number;
  writeBatch(fd: number, buf: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  watch(fd: number, onReadable: (status?: number) => void): object;
  unwatch(handle: object): void;
  /** The reader-thread alternative to watch(), for measurement (tunpf run --wakeup thread). */
  /** onReadable returns false to acknowledge later with ackThread (after the event loop has had a turn). */
  watchThread(fd: number, onReadable: () => boolean | void): object;
  ackThread(handle: object): void;
  unwatchThread(handle: object): void;
  close(fd: number): void;
  rawOpen(af: 4 | 6, protocol: number): number;
  rawBindDevice(fd: number, ifname: string): void;
  rawBindAddress(fd: number, af: 4 | 6, address: Uint8Array): void;
  rawMulticast(fd: number, af: 4 | 6, group: Uint8Array, ifindex: number, join: boolean): void;
  rawMulticastLoop(fd: number, af: 4 | 6, on: boolean): void;
  rawSend(fd: number, af: 4 | 6, destination: Uint8Array, data: Uint8Array, ifindex?: number): number;
  /** Length, or -1 when nothing waits; meta = [ttl/hop limit, ifindex, source length]. */
  rawRecv(fd: number, buf: Uint8Array, meta: Int32Array, src: Uint8Array): number;
  rawSetTos(fd: number, af: 4 | 6, tos: number): void;
  /** An AF_PACKET socket bound to the interface, for sending whole Ethernet frames. */
  packetOpen(ifname: string): number;
  packetSend(fd: number, frame: Uint8Array): number;
  /**
   * An AF_PACKET socket on the interface that receives only ARP and IPv6 neighbour solicitations; the
   * interface takes in the multicast MACs given (6 bytes each) while it is open.
   */
  neighbourListen(ifname: string, multicastMacs: Uint8Array): number;
  /** The next frame received (none this host sent) into buf: its length, or -1 when none waits. */
  packetRecv(fd: number, buf: Uint8Array): number;
  ifIndex(name: string): number;
  /** The owner of a TCP/UDP socket by tuple (datapath/socket-owners.ts SocketQueries says how). */
  sockOwner(query: Uint32Array): boolean;
  /** A socket inode's group (its creator's fsgid), -1 when no process holds it. */
  socketGid(inode: number): number;
}

export const TUN_F = { CSUM: 0x01, TSO4: 0x02, TSO6: 0x04, TSO_ECN: 0x08, UFO: 0x10, USO4: 0x20, USO6: 0x40 } as const;

let cached: NativeAddon | null = null;

export function loadNativeAddon(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  // src/os (tsx) or dist/src/os (compiled): the build folder is at the package root
  const candidates = ['../../build/Release/tunpf.node', '../../../build/Release/tunpf.node'].map((p) =>
    fileURLToPath(new URL(p, import.meta.url)),
  );
  const path = candidates.find((p) => existsSync(p));
  if (!path)
    throw new Error(
      `the native addon is not built (looked for ${candidates.join(', ')}); run 'npm ci' or 'npm rebuild'`,
    );
  cached = require(path) as NativeAddon;
  return cached;
}
