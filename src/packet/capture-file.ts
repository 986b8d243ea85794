// pcap and pcapng: a reader over a whole file in memory (both byte orders,
// micro- and nanosecond pcap, pcapng with several interfaces, names and
// packet directions) and writers that hand their bytes to a sink, so no file
// I/O lives here.

export interface CaptureRecord {
  /** Seconds since the epoch (fractional). */
  time: number;
  linkType: number;
  data: Uint8Array;
  origLength: number;
  /** pcapng: the interface's if_name, when it has one. */
  interfaceName: string | null;
  /** pcapng epb_flags direction bits. */
  direction: 'in' | 'out' | null;
}

export class CaptureFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at byte ${offset}`);
  }
}

const PCAP_MICRO = 0xa1b2c3d4;
const PCAP_NANO = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export function isCapture(buf: Uint8Array): boolean {
  if (buf.length < 4) return false;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const be = v.getUint32(0, false);
  const le = v.getUint32(0, true);
  return [PCAP_MICRO, PCAP_NANO, PCAPNG_SHB].includes(be) || [PCAP_MICRO, PCAP_NANO].includes(le);
}

/** Reads every record of a pcap or pcapng file. Throws CaptureFormatError on a damaged file. */
export function readCapture(buf: Uint8Array): CaptureRecord[] {
  if (buf.length < 4) throw new CaptureFormatError('file too short for a capture header', 0);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (v.getUint32(0, false) === PCAPNG_SHB) return readPcapng(buf, v);
  return readPcap(buf, v);
}

function readPcap(buf: Uint8Array, v: DataView): CaptureRecord[] {
  const magicBe = v.getUint32(0, false);
  const magicLe = v.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (magicBe === PCAP_MICRO || magicBe === PCAP_NANO) {
    le = false;
    nano = magicBe === PCAP_NANO;
  } else if (magicLe === PCAP_MICRO || magicLe === PCAP_NANO) {
    le = true;
    nano = magicLe === PCAP_NANO;
  } else throw new CaptureFormatError('not a pcap or pcapng file (bad magic)', 0);
  if (buf.length < 24) throw new CaptureFormatError('truncated pcap header', buf.length);
  const linkType = v.getUint32(20, le) & 0x0fffffff;
  const out: CaptureRecord[] = [];
  let o = 24;
  while (o < buf.length) {
    if (o + 16 > buf.length) throw new CaptureFormatError('truncated record header', o);
    const sec = v.getUint32(o, le);
    const frac = v.getUint32(o + 4, le);
    const incl = v.getUint32(o + 8, le);
    const orig = v.getUint32(o + 12, le);
    if (o + 16 + incl > buf.length) throw new CaptureFormatError(`truncated record (${incl} bytes announced)`, o);
    out.push({
      time: sec + frac / (nano ? 1e9 : 1e6),
      linkType,
      data: buf.subarray(o + 16, o + 16 + incl),
      origLength: orig,
      interfaceName: null,
      direction: null,
    });
    o += 16 + incl;
  }
  return out;
}

interface PcapngInterface {
  linkType: number;
  name: string | null;
  tsUnit: number; // seconds per tick
}

function readPcapng(buf: Uint8Array, v: DataView): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  let le = true;
  let ifaces: PcapngInterface[] = [];
  let o = 0;
  while (o < buf.length) {
    if (o + 12 > buf.length) throw new CaptureFormatError('truncated block header', o);
    let type = v.getUint32(o, le);
    if (v.getUint32(o, false) === PCAPNG_SHB) {
      // a section header: its byte-order magic decides how to read the section
      if (o + 28 > buf.length) throw new CaptureFormatError('truncated section header', o);
      if (v.getUint32(o + 8, true) === BYTE_ORDER_MAGIC) le = true;
      else if (v.getUint32(o + 8, false) === BYTE_ORDER_MAGIC) le = false;
      else throw new CaptureFormatError('bad byte-order magic', o + 8);
      type = PCAPNG_SHB;
      ifaces = [];
    }
    const len = v.getUint32(o + 4, le);
    if (len < 12 || len % 4 !== 0 || o + len > buf.length) throw new CaptureFormatError(`bad block length ${len}`, o + 4);
    const body = o + 8;
    const bodyEnd = o + len - 4;
    if (type === 1) {
      // interface description
      const linkType = v.getUint16(body, le);
      const iface: PcapngInterface = { linkType, name: null, tsUnit: 1e-6 };
      forEachOption(buf, v, le, body + 8, bodyEnd, (code, at, olen) => {
        if (code === 2) iface.name = new TextDecoder().decode(buf.subarray(at, at + olen)).replace(/\0+$/, '');
        if (code === 9 && olen >= 1) {
          const r = buf[at]!;
          iface.tsUnit = r & 0x80 ? 2 ** -(r & 0x7f) : 10 ** -(r & 0x7f);
        }
      });
      ifaces.push(iface);
    } else if (type === 6) {
      // enhanced packet
      const id = v.getUint32(body, le);
      const iface = ifaces[id];
      if (!iface) throw new CaptureFormatError(`packet on undeclared interface ${id}`, body);
      const ts = v.getUint32(body + 4, le) * 2 ** 32 + v.getUint32(body + 8, le);
      const caplen = v.getUint32(body + 12, le);
      const orig = v.getUint32(body + 16, le);
      const dataAt = body + 20;
      if (dataAt + caplen > bodyEnd) throw new CaptureFormatError('packet data overruns its block', body + 12);
      let direction: 'in' | 'out' | null = null;
      forEachOption(buf, v, le, dataAt + ((caplen + 3) & ~3), bodyEnd, (code, at, olen) => {
        if (code === 2 && olen >= 4) {
          const d = v.getUint32(at, le) & 3;
          direction = d === 1 ? 'in' : d === 2 ? 'out' : null;
        }
      });
      out.push({ time: ts * iface.tsUnit, linkType: iface.linkType, data: buf.subarray(dataAt, dataAt + caplen), origLength: orig, interfaceName: iface.name, direction });
    } else if (type === 3) {
      // simple packet: on interface 0, no timestamp
      const iface = ifaces[0];
      if (!iface) throw new CaptureFormatError('simple packet without an interface', body);
      const orig = v.getUint32(body, le);
      const caplen = Math.min(orig, bodyEnd - body - 4);
      out.push({ time: 0, linkType: iface.linkType, data: buf.subarray(body + 4, body + 4 + caplen), origLength: orig, interfaceName: iface.name, direction: null });
    }
    o += len;
  }
  return out;
}

function forEachOption(buf: Uint8Array, v: DataView, le: boolean, start: number, end: number, fn: (code: number, at: number, len: number) => void): void {
  let o = start;
  while (o + 4 <= end) {
    const code = v.getUint16(o, le);
    const len = v.getUint16(o + 2, le);
    if (code === 0) return;
    if (o + 4 + len > end) throw new CaptureFormatError('option overruns its block', o);
    fn(code, o + 4, len);
    o += 4 + ((len + 3) & ~3);
  }
  void buf;
}

/** Classic pcap writer (little-endian, microseconds). */
export class PcapWriter {
  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    readonly linkType: number,
    readonly snaplen = 262144,
  ) {
    const h = new DataView(new ArrayBuffer(24));
    h.setUint32(0, PCAP_MICRO, true);
    h.setUint16(4, 2, true);
    h.setUint16(6, 4, true);
    h.setUint32(16, snaplen, true);
    h.setUint32(20, linkType, true);
    sink(new Uint8Array(h.buffer));
  }

  write(time: number, data: Uint8Array, origLength = data.length): void {
    const h = new DataView(new ArrayBuffer(16));
    const sec = Math.floor(time);
    h.setUint32(0, sec, true);
    h.setUint32(4, Math.round((time - sec) * 1e6), true);
    h.setUint32(8, data.length, true);
    h.setUint32(12, origLength, true);
    this.sink(new Uint8Array(h.buffer));
    this.sink(data);
  }
}

/** pcapng writer: one section, interfaces with names, packets with directions. */
export class PcapngWriter {
  private readonly ifaces = new Map<string, number>();

  constructor(private readonly sink: (bytes: Uint8Array) => void) {
    const b = block(0x0a0d0d0a, 16, (v) => {
      v.setUint32(0, BYTE_ORDER_MAGIC, true);
      v.setUint16(4, 1, true);
      v.setUint16(6, 0, true);
      v.setInt32(8, -1, true);
      v.setInt32(12, -1, true);
    });
    sink(b);
  }

  /** Declares an interface; returns its id. */
  addInterface(name: string, linkType: number): number {
    const nameBytes = new TextEncoder().encode(name);
    const optLen = 4 + ((nameBytes.length + 3) & ~3) + 4 + 4 + 4; // if_name, if_tsresol(6: µs), end
    const b = block(1, 8 + optLen, (v, u8) => {
      v.setUint16(0, linkType, true);
      v.setUint32(4, 262144, true);
      let o = 8;
      v.setUint16(o, 2, true);
      v.setUint16(o + 2, nameBytes.length, true);
      u8.set(nameBytes, o + 4);
      o += 4 + ((nameBytes.length + 3) & ~3);
      v.setUint16(o, 9, true);
      v.setUint16(o + 2, 1, true);
      u8[o + 4] = 6;
      o += 8;
      v.setUint16(o, 0, true);
      v.setUint16(o + 2, 0, true);
    });
    this.sink(b);
    const id = this.ifaces.size;
    this.ifaces.set(name, id);
    return id;
  }

  write(ifaceId: number, time: number, data: Uint8Array, direction: 'in' | 'out' | null = null): void {
    const padded = (data.length + 3) & ~3;
    const optLen = direction ? 12 : 0;
    const micros = Math.round(time * 1e6);
    const b = block(6, 20 + padded + optLen, (v, u8) => {
      v.setUint32(0, ifaceId, true);
      v.setUint32(4, Math.floor(micros / 2 ** 32), true);
      v.setUint32(8, micros >>> 0, true);
      v.setUint32(12, data.length, true);
      v.setUint32(16, data.length, true);
      u8.set(data, 20);
      if (direction) {
        const o = 20 + padded;
        v.setUint16(o, 2, true);
        v.setUint16(o + 2, 4, true);
        v.setUint32(o + 4, direction === 'in' ? 1 : 2, true);
      }
    });
    this.sink(b);
  }
}

function block(type: number, bodyLen: number, fill: (v: DataView, u8: Uint8Array) => void): Uint8Array {
  const total = 12 + bodyLen;
  const u8 = new Uint8Array(total);
  const v = new DataView(u8.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, total, true);
  fill(new DataView(u8.buffer, 8, bodyLen), u8.subarray(8, 8 + bodyLen));
  v.setUint32(total - 4, total, true);
  return u8;
}
