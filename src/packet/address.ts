// IPv4 / IPv6 addresses as text and as four 32-bit words (network order of
// significance, as in PacketMeta): IPv4 uses word 0, words 1..3 are zero.
// Parsing is strict (inet_pton rules); formatting is canonical (RFC 5952).

export type AddressFamily = 4 | 6;

export interface Address {
  af: AddressFamily;
  words: Uint32Array; // length 4
}

export interface ParsedPrefix extends Address {
  bits: number; // 32 / 128 for a host
}

/**
 * Parses 'a.b.c.d' or an IPv6 address (with '::' and a dotted IPv4 tail). Null if invalid.
 * Zone ids ('%eth0') are not accepted.
 */
export function parseAddress(text: string): Address | null {
  const words = new Uint32Array(4);
  if (text.indexOf(':') >= 0) {
    return parseIpv6Into(text, words) ? { af: 6, words } : null;
  }
  const v4 = parseIpv4(text);
  if (v4 < 0) return null;
  words[0] = v4;
  return { af: 4, words };
}

/** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (IPv4-mapped in mixed notation). */
export function formatAddress(af: number, words: ArrayLike<number>): string {
  if (af === 4) return formatIpv4(words[0]! >>> 0);
  return formatIpv6(words);
}

/** Parses 'addr', 'addr/len'. The address is kept as written (host bits are not cleared; see maskAddress). */
export function parsePrefix(text: string): ParsedPrefix | null {
  const slash = text.indexOf('/');
  const addr = parseAddress(slash < 0 ? text : text.slice(0, slash));
  if (addr === null) return null;
  const max = addr.af === 4 ? 32 : 128;
  if (slash < 0) return { af: addr.af, words: addr.words, bits: max };
  const lenText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(lenText)) return null;
  const bits = Number(lenText);
  if (bits > max) return null;
  return { af: addr.af, words: addr.words, bits };
}

export function formatPrefix(af: number, words: ArrayLike<number>, bits: number): string {
  return `${formatAddress(af, words)}/${bits}`;
}

/**
 * The network part of an address: a new array with the bits beyond `bits` cleared
 * (bits counts from word 0's top bit).
 */
export function maskAddress(words: ArrayLike<number>, bits: number): Uint32Array {
  const out = new Uint32Array(4);
  for (let i = 0; i < 4; i++) out[i] = (words[i]! & prefixMaskWord(bits, i)) >>> 0;
  return out;
}

/** Mask word i (0..3) of a prefix of length bits. */
export function prefixMaskWord(bits: number, i: number): number {
  const n = bits - i * 32;
  if (n <= 0) return 0;
  if (n >= 32) return 0xffffffff;
  return (0xffffffff << (32 - n)) >>> 0;
}

export function addressEquals(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/** Reads an address of family af from bytes into out (IPv4 clears words 1..3). */
export function wordsFromBytes(buf: Uint8Array, offset: number, af: number, out: Uint32Array): Uint32Array {
  const n = af === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) {
    const o = offset + i * 4;
    out[i] = (buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!;
  }
  for (let i = n; i < 4; i++) out[i] = 0;
  return out;
}

/** Writes an address of family af (4 or 16 bytes) at offset. */
export function wordsToBytes(words: ArrayLike<number>, af: number, buf: Uint8Array, offset: number): void {
  const n = af === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) {
    const w = words[i]!;
    const o = offset + i * 4;
    buf[o] = w >>> 24;
    buf[o + 1] = w >>> 16;
    buf[o + 2] = w >>> 8;
    buf[o + 3] = w;
  }
}

// -- IPv4 ---------------------------------------------------------------

/** 'a.b.c.d' to an unsigned 32-bit value, or -1. No leading zeros (they read as octal elsewhere). */
function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return -1;
    const n = Number(p);
    if (n > 255) return -1;
    v = v * 256 + n;
  }
  return v;
}

function formatIpv4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

// -- IPv6 ---------------------------------------------------------------

function parseIpv6Into(text: string, words: Uint32Array): boolean {
  const dbl = text.indexOf('::');
  if (dbl >= 0 && text.indexOf('::', dbl + 1) >= 0) return false;
  const headText = dbl >= 0 ? text.slice(0, dbl) : text;
  const tailText = dbl >= 0 ? text.slice(dbl + 2) : '';
  const head = headText === '' ? [] : headText.split(':');
  const tail = tailText === '' ? [] : tailText.split(':');
  // a dotted IPv4 tail stands for the last two groups
  const last = dbl >= 0 ? tail : head;
  let v4 = -1;
  if (last.length > 0 && last[last.length - 1]!.indexOf('.') >= 0) {
    v4 = parseIpv4(last.pop()!);
    if (v4 < 0) return false;
  }
  const h = parseGroups(head);
  const t = parseGroups(tail);
  if (h === null || t === null) return false;
  if (v4 >= 0) (dbl >= 0 ? t : h).push(v4 >>> 16, v4 & 0xffff);
  const explicit = h.length + t.length;
  if (dbl >= 0 ? explicit > 7 : explicit !== 8) return false;
  const groups = h.concat(new Array<number>(8 - explicit).fill(0), t);
  for (let i = 0; i < 4; i++) words[i] = ((groups[2 * i]! << 16) | groups[2 * i + 1]!) >>> 0;
  return true;
}

function parseGroups(list: string[]): number[] | null {
  const out: number[] = [];
  for (const g of list) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

function formatIpv6(words: ArrayLike<number>): string {
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push(words[i]! >>> 16, words[i]! & 0xffff);
  // IPv4-mapped: RFC 5952 section 5 recommends the dotted form
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
    return `::ffff:${formatIpv4(words[3]! >>> 0)}`;
  }
  // longest run of two or more zero groups; the first one on a tie
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number): string =>
    g
      .slice(a, b)
      .map((x) => x.toString(16))
      .join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
