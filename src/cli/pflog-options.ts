// `--pflog FILE [--pflog-size BYTES] [--pflog-keep N]` for `tunpf run`.
// (What a verdict logs reaches the sink in the packet pipeline, src/datapath/pipeline.ts.)

import { PflogFile } from '../log/pflog-writer.js';

/** OpenBSD rotates /var/log/pflog keeping 3 old files; 10 MiB a file suits a router better than its 250 KB. */
export const PFLOG_DEFAULT_SIZE = 10 * 1024 * 1024;
export const PFLOG_DEFAULT_KEEP = 3;

export const pflogUsage = `  --pflog FILE      write the packets that rules log to FILE (pcap, pflog headers;
                    read with tcpdump -n -e -r)
  --pflog-size N    rotate FILE when it would grow beyond N bytes (K, M, G suffixes; default 10M)
  --pflog-keep N    rotated files kept, FILE.1 … FILE.N (default 3)`;

export const pflogParseOptions = {
  pflog: { type: 'string' },
  'pflog-size': { type: 'string' },
  'pflog-keep': { type: 'string' },
} as const;

/** Bytes from "1048576", "512K", "10M", "1G"; null when not a size. */
export function parseByteSize(text: string): number | null {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) return null;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

export interface PflogSettings {
  file: string;
  maxFileBytes: number;
  keep: number;
}

/** The settings from parsed options; null without --pflog; a message when they are wrong. */
export function pflogSettings(values: {
  pflog?: string;
  'pflog-size'?: string;
  'pflog-keep'?: string;
}): PflogSettings | null | string {
  if (values.pflog === undefined) {
    if (values['pflog-size'] !== undefined || values['pflog-keep'] !== undefined)
      return '--pflog-size and --pflog-keep need --pflog FILE';
    return null;
  }
  if (values.pflog === '') return '--pflog needs a file name';
  const size = values['pflog-size'] === undefined ? PFLOG_DEFAULT_SIZE : parseByteSize(values['pflog-size']);
  if (size === null || size < 1024) return '--pflog-size must be a size of at least 1K (bytes, or with K, M, G)';
  const keep = values['pflog-keep'] === undefined ? PFLOG_DEFAULT_KEEP : Number(values['pflog-keep']);
  if (!Number.isInteger(keep) || keep < 0 || keep > 1000) return '--pflog-keep must be 0..1000';
  return { file: values.pflog, maxFileBytes: size, keep };
}

export function openPflogFile(s: PflogSettings, onError: (e: Error) => void): Promise<PflogFile> {
  return PflogFile.open(s.file, { maxFileBytes: s.maxFileBytes, keep: s.keep, onError });
}
