// The Internet checksum (RFC 1071): full computation, pseudo-headers,
// verification for IPv4 / TCP / UDP / ICMP / ICMPv6, and incremental update
// (RFC 1624). Sums are plain numbers: 64 KiB of 16-bit words stays far below
// 2^53, so folding once at the end is exact.

const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;

/**
 * Unfolded sum of the big-endian 16-bit words of buf[offset, offset+length), added to acc.
 * An odd last byte is padded with zero.
 */
export function sum16(buf: Uint8Array, offset: number, length: number, acc: number = 0): number {
  let s = acc;
  const end = offset + (length & ~1);
  let i = offset;
  // four words per round: fewer loop tests
  for (; i + 8 <= end; i += 8) {
    s +=
      ((buf[i]! << 8) | buf[i + 1]!) +
      ((buf[i + 2]! << 8) | buf[i + 3]!) +
      ((buf[i + 4]! << 8) | buf[i + 5]!) +
      ((buf[i + 6]! << 8) | buf[i + 7]!);
  }
  for (; i < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (length & 1) s += buf[end]! << 8;
  return s;
}

/** End-around carry down to 16 bits (the ones' complement sum, not inverted). */
export function fold16(acc: number): number {
  let s = acc;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum value to store for buf[offset, offset+length) with acc (e.g. a pseudo-header sum) added. */
export function internetChecksum(buf: Uint8Array, offset: number, length: number, acc: number = 0): number {
  return ~fold16(sum16(buf, offset, length, acc)) & 0xffff;
}

/** Pseudo-header sum read from the IP header in buf (af 4 or 6). */
export function pseudoHeaderSum(
  buf: Uint8Array,
  l3Offset: number,
  af: number,
  proto: number,
  l4Length: number,
): number {
  const addrSum = af === 4 ? sum16(buf, l3Offset + 12, 8) : sum16(buf, l3Offset + 8, 32);
  return addrSum + proto + (l4Length >>> 16) + (l4Length & 0xffff);
}

/** Pseudo-header sum from address words (IPv4: word 0 only). */
export function pseudoHeaderSumWords(
  af: number,
  src: ArrayLike<number>,
  dst: ArrayLike<number>,
  proto: number,
  l4Length: number,
): number {
  const n = af === 4 ? 1 : 4;
  let s = proto + (l4Length >>> 16) + (l4Length & 0xffff);
  for (let i = 0; i < n; i++) {
    s += (src[i]! >>> 16) + (src[i]! & 0xffff) + (dst[i]! >>> 16) + (dst[i]! & 0xffff);
  }
  return s;
}

// -- IPv4 header ---------------------------------------------------------------

/** The header checksum the IPv4 header at l3Offset should carry (its current checksum field is ignored). */
export function ipv4HeaderChecksum(buf: Uint8Array, l3Offset: number): number {
  const hl = (buf[l3Offset]! & 0x0f) << 2;
  return ~fold16(sum16(buf, l3Offset + 12, hl - 12, sum16(buf, l3Offset, 10))) & 0xffff;
}

export function verifyIpv4HeaderChecksum(buf: Uint8Array, l3Offset: number): boolean {
  const hl = (buf[l3Offset]! & 0x0f) << 2;
  return fold16(sum16(buf, l3Offset, hl)) === 0xffff;
}

export function writeIpv4HeaderChecksum(buf: Uint8Array, l3Offset: number): void {
  const c = ipv4HeaderChecksum(buf, l3Offset);
  buf[l3Offset + 10] = c >>> 8;
  buf[l3Offset + 11] = c & 0xff;
}

// -- TCP / UDP / ICMP / ICMPv6 ---------------------------------------------------

/** Offset of the checksum field inside the upper-layer header, or -1 for a protocol without one we handle. */
export function l4ChecksumFieldOffset(proto: number): number {
  switch (proto) {
    case TCP:
      return 16;
    case UDP:
      return 6;
    case ICMP:
      return 2;
    case ICMPV6:
      return 2;
    default:
      return -1;
  }
}

/**
 * Bytes the checksum covers: the UDP length when it is sane (trailing bytes are not part of the datagram),
 * else l4Length.
 */
function coveredLength(buf: Uint8Array, proto: number, l4Offset: number, l4Length: number): number {
  if (proto !== UDP || l4Length < 8) return l4Length;
  const ulen = (buf[l4Offset + 4]! << 8) | buf[l4Offset + 5]!;
  return ulen >= 8 && ulen <= l4Length ? ulen : l4Length;
}

/**
 * The checksum the TCP/UDP/ICMP/ICMPv6 message at l4Offset should carry (its current field is ignored);
 * -1 for another protocol or a message too short to hold the field. A computed UDP checksum of 0 is returned
 * as 0xffff (0 means "no checksum" on the wire).
 */
export function l4Checksum(
  buf: Uint8Array,
  l3Offset: number,
  af: number,
  proto: number,
  l4Offset: number,
  l4Length: number,
): number {
  const fo = l4ChecksumFieldOffset(proto);
  if (fo < 0 || l4Length < fo + 2) return -1;
  const len = coveredLength(buf, proto, l4Offset, l4Length);
  // sum around the field, as if it were zero
  const acc = proto === ICMP ? 0 : pseudoHeaderSum(buf, l3Offset, af, proto, len);
  const s = sum16(buf, l4Offset + fo + 2, len - fo - 2, sum16(buf, l4Offset, fo, acc));
  const c = ~fold16(s) & 0xffff;
  return c === 0 && proto === UDP ? 0xffff : c;
}

/** Computes and stores the upper-layer checksum; false if the protocol has none we handle. */
export function writeL4Checksum(
  buf: Uint8Array,
  l3Offset: number,
  af: number,
  proto: number,
  l4Offset: number,
  l4Length: number,
): boolean {
  const c = l4Checksum(buf, l3Offset, af, proto, l4Offset, l4Length);
  if (c < 0) return false;
  const fo = l4Offset + l4ChecksumFieldOffset(proto);
  buf[fo] = c >>> 8;
  buf[fo + 1] = c & 0xff;
  return true;
}

/**
 * True if the upper-layer checksum is right. IPv4 UDP with checksum 0 carries none and passes; IPv6 UDP with 0
 * fails (RFC 8200 8.1). False for a protocol without a checksum we handle.
 */
export function verifyL4Checksum(
  buf: Uint8Array,
  l3Offset: number,
  af: number,
  proto: number,
  l4Offset: number,
  l4Length: number,
): boolean {
  const fo = l4ChecksumFieldOffset(proto);
  if (fo < 0 || l4Length < fo + 2) return false;
  if (proto === UDP && buf[l4Offset + 6] === 0 && buf[l4Offset + 7] === 0) return af === 4;
  const len = coveredLength(buf, proto, l4Offset, l4Length);
  // ICMP for IPv4 has no pseudo-header
  const acc = proto === ICMP ? 0 : pseudoHeaderSum(buf, l3Offset, af, proto, len);
  return fold16(sum16(buf, l4Offset, len, acc)) === 0xffff;
}

// -- incremental update (RFC 1624) ------------------------------------------------

/**
 * New checksum after a 16-bit word of the covered data changes from oldWord to newWord: HC' = ~(~HC + ~m + m')
 * (RFC 1624 eqn. 3, which never yields the -0 that eqn. 1 can). For UDP, the caller keeps a 0 (no checksum) as it
 * is and sends a resulting 0 as 0xffff.
 */
export function checksumAdjust16(oldCsum: number, oldWord: number, newWord: number): number {
  let s = (~oldCsum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** As checksumAdjust16 for a 32-bit field (a TCP sequence number, an IPv4 address). */
export function checksumAdjust32(oldCsum: number, oldValue: number, newValue: number): number {
  let s =
    (~oldCsum & 0xffff) +
    ((~oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    ((newValue >>> 16) & 0xffff) +
    (newValue & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** As checksumAdjust16 for a whole address (af 4: word 0; af 6: words 0..3). */
export function checksumAdjustAddress(
  oldCsum: number,
  af: number,
  oldWords: ArrayLike<number>,
  newWords: ArrayLike<number>,
): number {
  const n = af === 4 ? 1 : 4;
  let c = oldCsum;
  for (let i = 0; i < n; i++) c = checksumAdjust32(c, oldWords[i]!, newWords[i]!);
  return c;
}

/**
 * The RFC 1624 difference term for a 16-bit word of the covered data changing from oldWord to newWord: ~m + m',
 * unfolded. Terms for several changes add up; checksumApplyDelta applies the sum.
 */
export function wordDelta16(oldWord: number, newWord: number): number {
  return (~oldWord & 0xffff) + (newWord & 0xffff);
}

/** As wordDelta16 for a 32-bit field (both of its 16-bit halves). */
export function wordDelta32(oldValue: number, newValue: number): number {
  return ((~oldValue >>> 16) & 0xffff) + (~oldValue & 0xffff) + (newValue >>> 16) + (newValue & 0xffff);
}

/** HC' = ~(~HC + delta), delta a sum of wordDelta terms below 2^31 (RFC 1624 eqn. 3). */
export function checksumApplyDelta(oldCsum: number, delta: number): number {
  let s = (~oldCsum & 0xffff) + delta;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * For a checksum field left for the device to finish (CHECKSUM_PARTIAL: it holds the pseudo-header sum, not
 * inverted): S' = S + delta, folded, as Linux's inet_proto_csum_replace4 does for pseudo-header changes.
 */
export function partialChecksumApplyDelta(sum: number, delta: number): number {
  let s = sum + delta;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s;
}

// -- giving a hop back (DESIGN.md: the kernel decrements twice around the TUN) ------------

/** Adds 1 to the IPv4 TTL and fixes the header checksum incrementally. False (nothing changed) at TTL 255. */
export function incrementIpv4Ttl(buf: Uint8Array, l3Offset: number): boolean {
  const ttl = buf[l3Offset + 8]!;
  if (ttl === 255) return false;
  const proto = buf[l3Offset + 9]!;
  const old = (buf[l3Offset + 10]! << 8) | buf[l3Offset + 11]!;
  const c = checksumAdjust16(old, (ttl << 8) | proto, ((ttl + 1) << 8) | proto);
  buf[l3Offset + 8] = ttl + 1;
  buf[l3Offset + 10] = c >>> 8;
  buf[l3Offset + 11] = c & 0xff;
  return true;
}

/** Adds 1 to the IPv6 hop limit (no header checksum in IPv6). False (nothing changed) at 255. */
export function incrementIpv6HopLimit(buf: Uint8Array, l3Offset: number): boolean {
  const h = buf[l3Offset + 7]!;
  if (h === 255) return false;
  buf[l3Offset + 7] = h + 1;
  return true;
}
