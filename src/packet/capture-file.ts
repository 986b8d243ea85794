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
  const { records, damage } = readCaptureUntilDamage(buf);
  if (damage) throw damage;
  return records;
}

/**
 * Reads the complete records of a capture up to its first damage (a file
 * cut short while it was written), as tcpdump does, and that damage. A
 * file that is no capture at all (its header) still throws.
 */
export function readCaptureUntilDamage(buf: Uint8Array): {
  records: CaptureRecord[];
  damage: CaptureFormatError | null;
} {
  const out: CaptureRecord[] = [];
  try {
    readRecords(buf, out);
  } catch (e) {
    if (e instanceof CaptureFormatError && out.length > 0) return { records: out, damage: e };
    if (e instanceof CaptureFormatError && e.offset > 0 && !/header/.test(e.message)) return { records: out, damage: e };
    throw e;
  }
  return { records: out, damage: null };
}

function readRecords(buf: Uint8Array, out: CaptureRecord[]): void {
  if (buf.length < 4) throw new CaptureFormatError('file too short for a capture header', 0);
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
    return;
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
}
