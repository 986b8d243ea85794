// A TUN device as the datapath uses it: opened with the virtio-net header
// and offload, read in batches into one preallocated buffer when libuv says
// it is readable, written in batches. Buffers are reused for every batch.

import { loadNativeAddon, type NativeAddon } from './native-addon.js';
import { VIRTIO_NET_HDR_LEN } from './virtio-net.js';

/** A slot holds the virtio header and the largest GSO packet (64 KB). */
export const SLOT_SIZE = VIRTIO_NET_HDR_LEN + 65535 + 1;

export interface TunOptions {
  mtu?: number;
  offload?: boolean;
  multiQueue?: boolean;
  /** Packets read per batch at most; keeps the event loop fair under load. */
  batch?: number;
  /**
   * How tunpf learns the device is readable: a reader thread blocked in
   * poll() that wakes the main thread (the default), or a libuv poll on the
   * main thread. Measured here (npm run bench:net): the thread forwards about
   * half again as many small packets (255 vs 166 kpps) for about 50 µs more
   * round trip (170 vs 122 µs), TCP throughput alike.
   */
  wakeup?: 'poll' | 'thread';
}

export interface RxBatch {
  /** The batch buffer: packet k is at k * SLOT_SIZE, virtio header first. */
  buf: Buffer;
  lengths: Uint32Array;
  count: number;
}

export class TunDevice {
  readonly fd: number;
  readonly name: string;
  readonly vnetHdrSize: number;
  readonly offloadFlags: number;
  readonly batchSize: number;
  readonly rx: RxBatch;
  private watcher: object | null = null;
  readonly wakeup: 'poll' | 'thread';
  private closed = false;
  private readonly native: NativeAddon;

  private constructor(native: NativeAddon, name: string, opts: TunOptions) {
    this.native = native;
    const r = native.tunOpen(name, { vnetHdr: true, offload: opts.offload ?? true, multiQueue: opts.multiQueue ?? false });
    this.fd = r.fd;
    this.name = r.name;
    this.vnetHdrSize = r.vnetHdrSize;
    this.offloadFlags = r.offload;
    this.batchSize = opts.batch ?? 64;
    this.wakeup = opts.wakeup ?? 'thread';
    this.rx = { buf: Buffer.alloc(SLOT_SIZE * this.batchSize), lengths: new Uint32Array(this.batchSize), count: 0 };
    try {
      native.ifconfig(this.name, opts.mtu ?? 0, true);
    } catch (e) {
      native.close(this.fd);
      throw e;
    }
  }

  static open(name: string, opts: TunOptions = {}): TunDevice {
    return new TunDevice(loadNativeAddon(), name, opts);
  }

  /** Reads what is ready (up to one batch) into `rx`; returns the count. */
  read(): number {
    this.rx.count = this.native.readBatch(this.fd, this.rx.buf, SLOT_SIZE, this.batchSize, this.rx.lengths);
    return this.rx.count;
  }

  /** Writes packets (virtio header first) from buf at offsets/lengths; returns how many went. */
  write(buf: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number): number {
    return this.native.writeBatch(this.fd, buf, offsets, lengths, count);
  }

  /**
   * Calls onBatch with each batch read while the device is readable. One
   * batch per libuv callback at most, so timers (CARP) keep their schedule.
   */
  start(onBatch: (rx: RxBatch) => void, onError: (e: Error) => void = (e) => { throw e; }): void {
    if (this.watcher) return;
    const onReadable = () => {
      try {
        if (this.read() > 0) onBatch(this.rx);
      } catch (e) {
        onError(e as Error);
      }
    };
    this.watcher = this.wakeup === 'thread' ? this.native.watchThread(this.fd, onReadable) : this.native.watch(this.fd, onReadable);
  }

  stop(): void {
    if (this.watcher) {
      if (this.wakeup === 'thread') this.native.unwatchThread(this.watcher);
      else this.native.unwatch(this.watcher);
    }
    this.watcher = null;
  }

  close(): void {
    if (this.closed) return;
    this.stop();
    this.native.close(this.fd);
    this.closed = true;
  }
}
