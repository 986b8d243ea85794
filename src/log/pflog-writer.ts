// pflog capture files, as pflogd writes them: a pcap file (LINKTYPE_PFLOG,
// microseconds) whose records are a pflog header and the IP packet, so that
// `tcpdump -n -e -r FILE` shows rule, action, direction and interface.
//
// PflogQueue is the pure part: it encodes records into large chunks, decides
// when the file rotates, and bounds the memory held for the disk (a record
// that does not fit is dropped and counted, so a slow disk never blocks or
// bloats the datapath). PflogFile is the edge: it writes the chunks
// asynchronously and rotates by size like newsyslog (FILE, FILE.1 …
// FILE.N). PflogSyncFile writes synchronously, for `tunpf replay`.

import { closeSync, openSync, writeSync } from 'node:fs';
import { open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import {
  fileHeader,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_RECORD_HEADER_LENGTH,
  PcapReader,
  splitMicros,
  writeRecordHeader,
} from '../packet/pcap.js';
import * as pflog from '../packet/pflog.js';
import {
  LINKTYPE_PFLOG,
  PFLOG_HEADER_LENGTH_OPENBSD,
  PFLOG_IFNAMSIZ,
  PFLOG_NO_RULE,
  PFLOG_RULESET_NAME_SIZE,
  pflogAf,
  type AnchorLogPlace,
  type PflogHeader,
} from '../packet/pflog.js';

export type { AnchorLogPlace } from '../packet/pflog.js';

/** Where the datapath and replay hand the packets their rules log. */
export interface PacketLogSink {
  /**
   * One record: `packet` is the IP packet (valid during the call only),
   * `direction` 1 in / 2 out, `rule` -1 for pf's default rule (for a rule in an
   * anchor: the number of the anchor rule that called it, with `anchor`), `action` and
   * `reason` pf's numbers (PfAction, PfReason), `time` seconds since the epoch.
   */
  logPacket(
    time: number,
    packet: Uint8Array,
    ipVersion: number,
    direction: number,
    ifname: string,
    rule: number,
    action: number,
    reason: number,
    anchor?: AnchorLogPlace,
  ): void;
}

export interface PflogQueueOptions {
  /** A file is rotated before it grows beyond this many bytes (default: never). */
  maxFileBytes?: number;
  /** Memory held for the disk at most (default 8 MiB); records beyond it are dropped and counted. */
  maxBufferedBytes?: number;
  /** IP packet bytes kept per record (default: all). */
  snaplen?: number;
  /** Bytes per buffer handed to the disk (default 64 KiB). */
  chunkBytes?: number;
}

export class PflogCounters {
  /** Records accepted into the buffer. */
  logged = 0;
  /** Records on disk. */
  written = 0;
  /** Records refused: the buffer was full, the file had failed, or the writer was closed. */
  dropped = 0;
  bytesWritten = 0;
  rotations = 0;
  errors = 0;
}

/** A piece of work for the disk: write these bytes, or start the next file. */
export type PflogOp = { rotate: false; bytes: Uint8Array; records: number; capacity: number } | { rotate: true };

const ROTATE: PflogOp = { rotate: true };
const DEFAULT_CHUNK = 64 * 1024;
const RECORD_OVERHEAD = PCAP_RECORD_HEADER_LENGTH + PFLOG_HEADER_LENGTH_OPENBSD;
const SNAPLEN = 262144;

export class PflogQueue {
  readonly counters = new PflogCounters();
  private readonly maxFileBytes: number;
  private readonly maxBuffered: number;
  private readonly snaplen: number;
  private readonly chunkBytes: number;
  private readonly ops: PflogOp[] = [];
  private readonly free: Uint8Array[] = [];
  private chunk: Uint8Array | null = null;
  private fill = 0;
  private chunkRecords = 0;
  /** Capacity of the chunks not yet released: the memory this queue holds. */
  private held = 0;
  private fileBytes = 0;
  private started = false;
  private readonly time = { sec: 0, frac: 0 };
  private readonly header: PflogHeader = { af: 0, action: 0, reason: 0, ifname: '', rulenr: 0, dir: 0, naf: 0 };

  constructor(opts: PflogQueueOptions = {}) {
    this.maxFileBytes = opts.maxFileBytes ?? Infinity;
    this.maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
    this.snaplen = Math.min(opts.snaplen ?? SNAPLEN, SNAPLEN - RECORD_OVERHEAD);
    this.chunkBytes = opts.chunkBytes ?? DEFAULT_CHUNK;
    if (!(this.maxFileBytes > PCAP_FILE_HEADER_LENGTH + RECORD_OVERHEAD))
      throw new RangeError(`pflog: a file must hold more than ${PCAP_FILE_HEADER_LENGTH + RECORD_OVERHEAD} bytes`);
  }

  /** Bytes of memory held for the disk. */
  get buffered(): number {
    return this.held;
  }

  /** The file the records go to: `existingBytes` are in it already (0: a new file, its header goes first). */
  beginFile(existingBytes: number = 0): void {
    this.started = true;
    if (existingBytes === 0) {
      this.ensureRoom(PCAP_FILE_HEADER_LENGTH, true);
      this.writeFileHeader();
    } else this.fileBytes = existingBytes;
  }

  /** Starts the next file now (the current one is full already). */
  rotate(): void {
    this.seal();
    this.startNextFile();
  }

  private startNextFile(): void {
    this.ops.push(ROTATE);
    this.counters.rotations++;
    this.writeFileHeader();
  }

  /** Encodes one record; false when it was dropped (the buffer is full). No allocation unless a new chunk is needed. */
  add(
    time: number,
    packet: Uint8Array,
    ipVersion: number,
    direction: number,
    ifname: string,
    rule: number,
    action: number,
    reason: number,
    anchor?: AnchorLogPlace,
  ): boolean {
    if (!this.started) throw new Error('pflog: beginFile() first');
    const caplen = Math.min(packet.length, this.snaplen);
    const len = RECORD_OVERHEAD + caplen;
    const rotate = this.fileBytes > PCAP_FILE_HEADER_LENGTH && this.fileBytes + len > this.maxFileBytes;
    if (rotate) this.seal(); // the next file starts in a chunk of its own
    if (!this.ensureRoom(len + (rotate ? PCAP_FILE_HEADER_LENGTH : 0), false)) {
      this.counters.dropped++;
      return false;
    }
    if (rotate) this.startNextFile();
    const h = this.header;
    h.af = pflogAf(ipVersion);
    h.naf = h.af;
    h.action = action;
    h.reason = reason;
    h.ifname = Buffer.byteLength(ifname) < PFLOG_IFNAMSIZ ? ifname : fitName(ifname, PFLOG_IFNAMSIZ);
    h.rulenr = rule < 0 ? PFLOG_NO_RULE : rule;
    h.subrulenr = anchor ? anchor.subrulenr : PFLOG_NO_RULE;
    h.ruleset = anchor ? fitName(anchor.ruleset, PFLOG_RULESET_NAME_SIZE) : '';
    h.dir = direction;
    const buf = this.chunk!;
    const o = this.fill;
    splitMicros(time, this.time);
    writeRecordHeader(
      buf,
      o,
      this.time.sec,
      this.time.frac,
      PFLOG_HEADER_LENGTH_OPENBSD + caplen,
      PFLOG_HEADER_LENGTH_OPENBSD + packet.length,
      true,
    );
    pflog.encode(h, buf, o + PCAP_RECORD_HEADER_LENGTH);
    buf.set(caplen === packet.length ? packet : packet.subarray(0, caplen), o + RECORD_OVERHEAD);
    this.fill = o + len;
    this.fileBytes += len;
    this.chunkRecords++;
    this.counters.logged++;
    return true;
  }

  /** Hands the partly filled chunk to the disk (a flush). */
  seal(): void {
    const c = this.chunk;
    if (c === null || this.fill === 0) return;
    this.ops.push({ rotate: false, bytes: c.subarray(0, this.fill), records: this.chunkRecords, capacity: c.length });
    this.chunk = null;
    this.fill = 0;
    this.chunkRecords = 0;
  }

  /** The next piece of work, or null (call seal() first to flush a partial chunk). */
  take(): PflogOp | null {
    return this.ops.shift() ?? null;
  }

  /** A write is done (or abandoned: `written` false): its memory is free again. */
  release(op: PflogOp, written: boolean = true): void {
    if (op.rotate) return;
    this.held -= op.capacity;
    if (written) {
      this.counters.written += op.records;
      this.counters.bytesWritten += op.bytes.length;
    } else this.counters.dropped += op.records;
    if (op.capacity === this.chunkBytes && this.free.length < 4)
      this.free.push(new Uint8Array(op.bytes.buffer, op.bytes.byteOffset, op.capacity));
  }

  /** Abandons everything not yet written (the file failed); the records count as dropped. */
  discard(): void {
    this.seal();
    for (let op = this.take(); op !== null; op = this.take()) this.release(op, false);
  }

  /** Makes room for `len` more bytes in the current chunk; false when the memory bound forbids a new chunk. */
  private ensureRoom(len: number, force: boolean): boolean {
    if (this.chunk !== null && this.chunk.length - this.fill >= len) return true;
    const size = Math.max(this.chunkBytes, len);
    if (!force && this.held + size > this.maxBuffered) return false;
    this.seal();
    this.chunk = size === this.chunkBytes ? (this.free.pop() ?? new Uint8Array(size)) : new Uint8Array(size);
    this.held += size;
    return true;
  }

  private writeFileHeader(): void {
    this.ensureRoom(PCAP_FILE_HEADER_LENGTH, true);
    fileHeader.encode({ linkType: LINKTYPE_PFLOG, snaplen: SNAPLEN }, this.chunk!, this.fill);
    this.fill += PCAP_FILE_HEADER_LENGTH;
    this.fileBytes = PCAP_FILE_HEADER_LENGTH;
  }
}

/** A name cut to what the header holds (15 bytes), as pf copies IFNAMSIZ bytes; capture files may carry longer ones. */
/** s cut to fit a NUL-terminated field of `size` bytes, as pf's strlcpy does. */
function fitName(s: string, size: number): string {
  let t = s;
  while (Buffer.byteLength(t) >= size) t = t.slice(0, -1);
  return t;
}

export interface PflogFileOptions extends PflogQueueOptions {
  /** Rotated files kept: FILE.1 (the newest) … FILE.keep (default 5; 0 keeps none). */
  keep?: number;
  /** Called once when the file cannot be written; later records are dropped and counted. */
  onError?: (e: Error) => void;
}

/** Whether `buf` starts with the header PflogQueue writes (so records may be appended). */
function isOurHeader(buf: Uint8Array): boolean {
  try {
    const h = fileHeader.decode(buf, 0);
    return h.littleEndian && !h.nanosecond && h.linkType === LINKTYPE_PFLOG;
  } catch {
    return false;
  }
}

/**
 * The asynchronous file edge. logPacket() only encodes into memory; the
 * writes run on the event loop, at most one at a time, each taking all that
 * has accumulated. An existing pflog file is appended to (a record torn by
 * a crash is cut off first); any other existing file is refused.
 */
export class PflogFile implements PacketLogSink {
  readonly queue: PflogQueue;
  private draining: Promise<void> | null = null;
  private scheduled = false;
  private failed = false;
  private closed = false;

  private constructor(
    readonly path: string,
    private fh: FileHandle,
    private readonly opts: PflogFileOptions,
  ) {
    this.queue = new PflogQueue(opts);
  }

  static async open(path: string, opts: PflogFileOptions = {}): Promise<PflogFile> {
    const keep = opts.keep ?? 5;
    if (!(Number.isInteger(keep) && keep >= 0)) throw new RangeError('pflog: keep must be a whole number');
    let size = 0;
    try {
      size = (await stat(path)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (size > 0) {
      const old = new Uint8Array(await readFile(path));
      if (!isOurHeader(old))
        throw new Error(`${path} exists and is not a pflog capture tunpf can append to; not touching it`);
      size = completeLength(old);
    }
    const fh = await open(path, 'a', 0o600);
    try {
      if (size > 0) await fh.truncate(size);
      const f = new PflogFile(path, fh, { ...opts, keep });
      f.queue.beginFile(size);
      if (size > 0 && size >= (opts.maxFileBytes ?? Infinity)) f.queue.rotate();
      f.schedule();
      return f;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get counters(): PflogCounters {
    return this.queue.counters;
  }

  logPacket(
    time: number,
    packet: Uint8Array,
    ipVersion: number,
    direction: number,
    ifname: string,
    rule: number,
    action: number,
    reason: number,
    anchor?: AnchorLogPlace,
  ): void {
    if (this.failed || this.closed) {
      this.queue.counters.dropped++;
      return;
    }
    this.queue.add(time, packet, ipVersion, direction, ifname, rule, action, reason, anchor);
    this.schedule();
  }

  /** Writes what is buffered and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.run(); // a drain already running takes everything too: it seals before each write
    await this.fh.close().catch(() => {});
  }

  /** One drain per turn of the event loop at most, and never two at once. */
  private schedule(): void {
    if (this.scheduled || this.draining) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private run(): Promise<void> {
    if (!this.draining) this.draining = this.drain().finally(() => (this.draining = null));
    return this.draining;
  }

  private async drain(): Promise<void> {
    const q = this.queue;
    try {
      for (;;) {
        q.seal();
        const op = q.take();
        if (op === null) break;
        if (op.rotate) await this.rotateFiles();
        else {
          for (let off = 0; off < op.bytes.length;) off += (await this.fh.write(op.bytes, off)).bytesWritten;
          q.release(op);
        }
      }
    } catch (e) {
      this.fail(e as Error);
    }
  }

  /** newsyslog's order: FILE.(N-1) → FILE.N … FILE → FILE.1, then a new FILE. */
  private async rotateFiles(): Promise<void> {
    const keep = this.opts.keep!;
    await this.fh.close();
    if (keep === 0) await unlink(this.path);
    else {
      for (let i = keep - 1; i >= 1; i--) {
        await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'ENOENT') throw e;
        });
      }
      await rename(this.path, `${this.path}.1`);
    }
    this.fh = await open(this.path, 'w', 0o600);
  }

  private fail(e: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.queue.counters.errors++;
    this.queue.discard();
    this.opts.onError?.(e);
  }
}

/** Bytes of `buf` up to the end of its last whole record (a capture cut short by a crash loses only that record). */
function completeLength(buf: Uint8Array): number {
  const r = new PcapReader(buf);
  let end = PCAP_FILE_HEADER_LENGTH;
  try {
    while (r.next()) end = r.offset;
  } catch {
    // the torn record and anything after it
  }
  return end;
}

/** A synchronous pflog file for offline use (`tunpf replay --pflog`): truncated at open, no rotation. */
export class PflogSyncFile implements PacketLogSink {
  private readonly queue = new PflogQueue({ maxBufferedBytes: Infinity });
  private fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w', 0o600);
    this.queue.beginFile(0);
  }

  get counters(): PflogCounters {
    return this.queue.counters;
  }

  logPacket(
    time: number,
    packet: Uint8Array,
    ipVersion: number,
    direction: number,
    ifname: string,
    rule: number,
    action: number,
    reason: number,
    anchor?: AnchorLogPlace,
  ): void {
    this.queue.add(time, packet, ipVersion, direction, ifname, rule, action, reason, anchor);
    this.writeOut();
  }

  close(): void {
    if (this.fd < 0) return;
    this.queue.seal();
    this.writeOut();
    closeSync(this.fd);
    this.fd = -1;
  }

  private writeOut(): void {
    for (let op = this.queue.take(); op !== null; op = this.queue.take()) {
      if (op.rotate) continue; // never: no size limit
      for (let off = 0; off < op.bytes.length;) off += writeSync(this.fd, op.bytes, off);
      this.queue.release(op);
    }
  }
}
