// Capture files as replay reads them: every record of a pcap or pcapng file
// in memory, with its link type, interface name and direction when the file
// says. A thin facade over the codecs in pcap.ts and pcapng.ts, which also
// hold the writers.

import { CaptureFormatError, PcapReader, readU32 } from './pcap.js';
import { BlockType, PcapngReader } from './pcapng.js';

export { CaptureFormatError, PcapWriter } from './pcap.js';
export { PcapngWriter } from './pcapng.js';

export interface CaptureRecord {
  /** Seconds since the epoch (fractional). */
  time: number;
  linkType: number;
  /** The captured bytes (a view into the file's buffer). */
  data: Uint8Array;
  origLength: number;
  /** pcapng: the interface's if_name, when it has one. */
  interfaceName: string | null;
  /** pcapng epb_flags direction bits. */
  direction: 'in' | 'out' | null;
}

function isPcapng(buf: Uint8Array): boolean {
  return buf.length >= 4 && readU32(buf, 0, false) === BlockType.SHB;
}

/** Reads every record of a pcap or pcapng file. Throws CaptureFormatError on a damaged file. */
export function readCapture(buf: Uint8Array): CaptureRecord[] {
  if (buf.length < 4) throw new CaptureFormatError('file too short for a capture header', 0);
  const out: CaptureRecord[] = [];
  if (isPcapng(buf)) {
    const r = new PcapngReader(buf);
    while (r.next()) {
      const iface = r.interfaces[r.interfaceId]!;
      out.push({
        time: r.time,
        linkType: iface.linkType,
        data: buf.subarray(r.dataOffset, r.dataOffset + r.capLength),
        origLength: r.origLength,
        interfaceName: iface.name,
        direction: r.direction === 1 ? 'in' : r.direction === 2 ? 'out' : null,
      });
    }
    return out;
  }
  const r = new PcapReader(buf);
  const linkType = r.header.linkType;
  while (r.next()) {
    out.push({
      time: r.time,
      linkType,
      data: buf.subarray(r.dataOffset, r.dataOffset + r.capLength),
      origLength: r.origLength,
      interfaceName: null,
      direction: null,
    });
  }
  return out;
}
