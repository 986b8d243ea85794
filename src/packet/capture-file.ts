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
 * file whose header is damaged is no capture: that still throws.
 */
export function readCaptureUntilDamage(buf: Uint8Array): {
  records: CaptureRecord[];
  damage: CaptureFormatError | null;
} {
  if (buf.length < 4) throw new CaptureFormatError('file too short for a capture header', 0);
  const out: CaptureRecord[] = [];
  const pcapng = isPcapng(buf) ? new PcapngReader(buf) : null;
  const pcap = pcapng ? null : new PcapReader(buf);
  try {
    if (pcapng) {
      while (pcapng.next()) {
        const iface = pcapng.interfaces[pcapng.interfaceId]!;
        out.push({
          time: pcapng.time,
          linkType: iface.linkType,
          data: buf.subarray(pcapng.dataOffset, pcapng.dataOffset + pcapng.capLength),
          origLength: pcapng.origLength,
          interfaceName: iface.name,
          direction: pcapng.direction === 1 ? 'in' : pcapng.direction === 2 ? 'out' : null,
        });
      }
    } else {
      const linkType = pcap!.header.linkType;
      while (pcap!.next()) {
        out.push({
          time: pcap!.time,
          linkType,
          data: buf.subarray(pcap!.dataOffset, pcap!.dataOffset + pcap!.capLength),
          origLength: pcap!.origLength,
          interfaceName: null,
          direction: null,
        });
      }
    }
  } catch (e) {
    if (e instanceof CaptureFormatError) return { records: out, damage: e };
    throw e;
  }
  return { records: out, damage: null };
}
