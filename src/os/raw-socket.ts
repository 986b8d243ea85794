// Raw IP sockets for the protocols tunpf speaks itself (CARP, IP protocol
// 112; pfsync, 240): bound to an interface, joined to multicast groups, TTL
// or hop limit 255 on send, and the TTL and ingress interface of every
// received packet, which CARP and pfsync must check.
//
// As the kernel delivers them, IPv4 packets include their IP header and
// IPv6 packets do not (the hop limit and addresses come separately).

import { formatAddress, parseAddress, wordsToBytes } from '../packet/address.js';
import { loadNativeAddon, type NativeAddon } from './native-addon.js';

export interface RawReceived {
  /** TTL (IPv4) or hop limit (IPv6) the packet arrived with. */
  ttl: number;
  ifindex: number;
  source: string;
}

function addressBytes(text: string, af: 4 | 6): Uint8Array {
  const a = parseAddress(text);
  if (!a || a.af !== af) throw new TypeError(`not an IPv${af} address: ${text}`);
  const out = new Uint8Array(af === 4 ? 4 : 16);
  wordsToBytes(a.words, af, out, 0);
  return out;
}

/** A socket of the addon's, watched for reading by libuv until closed. */
abstract class WatchedSocket {
  protected watcher: object | null = null;
  protected closed = false;

  protected constructor(
    protected readonly native: NativeAddon,
    readonly fd: number,
  ) {}

  close(): void {
    if (this.closed) return;
    if (this.watcher) this.native.unwatch(this.watcher);
    this.watcher = null;
    this.native.close(this.fd);
    this.closed = true;
  }
}

export class RawSocket extends WatchedSocket {
  private readonly buf = Buffer.alloc(65536);
  private readonly meta = new Int32Array(3);
  private readonly src = new Uint8Array(16);

  private constructor(
    native: NativeAddon,
    readonly af: 4 | 6,
    readonly protocol: number,
  ) {
    super(native, native.rawOpen(af, protocol));
  }

  static open(af: 4 | 6, protocol: number): RawSocket {
    return new RawSocket(loadNativeAddon(), af, protocol);
  }

  bindDevice(ifname: string): this {
    this.native.rawBindDevice(this.fd, ifname);
    return this;
  }

  bindAddress(address: string): this {
    this.native.rawBindAddress(this.fd, this.af, addressBytes(address, this.af));
    return this;
  }

  join(group: string, ifname: string): this {
    this.native.rawMulticast(this.fd, this.af, addressBytes(group, this.af), this.native.ifIndex(ifname), true);
    return this;
  }

  leave(group: string, ifname: string): this {
    this.native.rawMulticast(this.fd, this.af, addressBytes(group, this.af), this.native.ifIndex(ifname), false);
    return this;
  }

  /** IPv4 TOS / IPv6 traffic class of what this socket sends. */
  tos(value: number): this {
    this.native.rawSetTos(this.fd, this.af, value);
    return this;
  }

  multicastLoop(on: boolean): this {
    this.native.rawMulticastLoop(this.fd, this.af, on);
    return this;
  }

  send(destination: string, data: Uint8Array, ifname?: string): number {
    return this.native.rawSend(
      this.fd,
      this.af,
      addressBytes(destination, this.af),
      data,
      ifname ? this.native.ifIndex(ifname) : 0,
    );
  }

  /** Calls onPacket for every packet received (data is valid only during the call). */
  start(
    onPacket: (data: Uint8Array, info: RawReceived) => void,
    onError: (e: Error) => void = (e) => {
      throw e;
    },
  ): void {
    if (this.watcher) return;
    this.watcher = this.native.watch(this.fd, () => {
      try {
        for (;;) {
          const n = this.native.rawRecv(this.fd, this.buf, this.meta, this.src);
          if (n < 0) break;
          const words = new Uint32Array(4);
          for (let i = 0; i < this.meta[2]! / 4; i++)
            words[i] =
              ((this.src[i * 4]! << 24) |
                (this.src[i * 4 + 1]! << 16) |
                (this.src[i * 4 + 2]! << 8) |
                this.src[i * 4 + 3]!) >>>
              0;
          onPacket(this.buf.subarray(0, n), {
            ttl: this.meta[0]!,
            ifindex: this.meta[1]!,
            source: formatAddress(this.af, words),
          });
        }
      } catch (e) {
        onError(e as Error);
      }
    });
  }
}

/**
 * Sends whole Ethernet frames out of one interface (gratuitous ARP, neighbour
 * advertisements, CARP from the virtual MAC).
 */
export class PacketSocket {
  readonly fd: number;
  private closed = false;

  private constructor(
    private readonly native: NativeAddon,
    readonly ifname: string,
  ) {
    this.fd = native.packetOpen(ifname);
  }

  static open(ifname: string): PacketSocket {
    return new PacketSocket(loadNativeAddon(), ifname);
  }

  send(frame: Uint8Array): number {
    return this.native.packetSend(this.fd, frame);
  }

  close(): void {
    if (this.closed) return;
    this.native.close(this.fd);
    this.closed = true;
  }
}

/**
 * Receives the ARP requests and IPv6 neighbour solicitations that arrive on
 * one interface, as whole Ethernet frames (a filter in the kernel drops the
 * rest), so that CARP can answer them in place of the kernel.
 */
export class NeighbourListener extends WatchedSocket {
  private readonly buf = new Uint8Array(2048);

  private constructor(
    native: NativeAddon,
    readonly ifname: string,
    multicastMacs: readonly Uint8Array[],
  ) {
    const macs = new Uint8Array(multicastMacs.length * 6);
    multicastMacs.forEach((m, k) => macs.set(m, k * 6));
    super(native, native.neighbourListen(ifname, macs));
  }

  /** `multicastMacs`: what the interface must take in besides its own MAC and broadcast (left when closed). */
  static open(ifname: string, multicastMacs: readonly Uint8Array[] = []): NeighbourListener {
    return new NeighbourListener(loadNativeAddon(), ifname, multicastMacs);
  }

  /** Calls onFrame for every frame received (frame is valid only during the call). */
  start(onFrame: (frame: Uint8Array, length: number) => void, onError: (e: Error) => void): void {
    if (this.watcher) return;
    const onReadable = (status?: number) => {
      try {
        for (;;) {
          const n = this.native.packetRecv(this.fd, this.buf);
          if (n < 0) break;
          onFrame(this.buf, Math.min(n, this.buf.length));
        }
      } catch (e) {
        onError(e as Error);
      }
      // The interface going down (a backup's macvlan does) is a socket error, and libuv stops watching on
      // one: the read above cleared it, so watch again.
      if (status !== undefined && status < 0 && !this.closed) {
        this.native.unwatch(this.watcher!);
        this.watcher = this.native.watch(this.fd, onReadable);
      }
    };
    this.watcher = this.native.watch(this.fd, onReadable);
  }
}
