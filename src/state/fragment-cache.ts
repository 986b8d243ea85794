// pf's fragment reassembly (pf_norm.c: pf_reassemble, pf_reassemble6,
// pf_fillup_fragment): fragments are held, per datagram keyed by (af,
// direction, src, dst, IPv4 protocol, id), until the datagram is whole; then
// it is joined into one buffer and goes through the filter as one packet.
// As pf does:
// - `set limit frags` bounds the fragments held: at the limit the oldest
//   datagrams are flushed down to 90% (pf_flush_fragments) before a new one
//   is taken; a datagram is dropped whole `timeout frag` seconds after its
//   first fragment came (pf_purge_expired_fragments);
// - IPv4 overlaps are cut (the new fragment's head by its predecessor, the
//   following fragments' heads by the new one; one wholly covered is
//   dropped); any IPv6 overlap drops the whole datagram (RFC 5722);
// - fragments that contradict the datagram's end, are empty, are not a
//   multiple of 8 with more to come, or pass 65535 bytes are dropped, and a
//   datagram of more than 64 fragments per 4096-byte span is dropped whole.
// tunpf also bounds the bytes held (FRAGMENT_BYTES_LIMIT) the same way: pf
// holds fragments in mbufs, which the kernel bounds.
// Fragments cost allocations (their data is copied out of the batch buffer);
// unfragmented packets never reach this cache. Engine only: the clock comes
// in as `now` (seconds).

import { findIpv6FragmentHeader, finishIpv4Datagram, finishIpv6Datagram } from '../packet/fragment.js';
import type { PacketMeta } from '../packet/meta.js';
import { PfReason } from '../packet/pflog.js';

/** What add() made of a fragment. */
export const FragStep = {
  /** Held: its datagram is not whole yet. */
  HELD: 0,
  /** Its datagram is whole: it is in `out`, see the `whole*` fields. */
  COMPLETE: 1,
  /** Dropped (`reason` says why, pf's PFRES_*). */
  DROP: 2,
  /** Not taken (reassembly is off): the fragment goes on as it is. */
  PASS: 3,
} as const;

/** At most this many bytes of fragment data are held (flushed as `set limit frags` is). */
export const FRAGMENT_BYTES_LIMIT = 32 * 1024 * 1024;
/** pf's PF_FRAG_ENTRY_POINTS and PF_FRAG_ENTRY_LIMIT: 64 fragments per 4096 bytes of a datagram. */
const ENTRY_POINTS = 16;
const ENTRY_LIMIT = 64;
const MAX_PACKET = 65535;
const IPV6_HEADER = 40;

export class FragmentCounters {
  /** Fragments taken into the cache. */
  fragments = 0;
  /** Datagrams joined whole. */
  reassembled = 0;
  /** Fragments dropped as they came: bad or overlapping (PFRES_FRAG), over the limit (PFRES_MEMORY). */
  badFragments = 0;
  memoryDrops = 0;
  /** Held fragments dropped with their datagram: expired (timeout frag), flushed (limit), or overlapped (IPv6). */
  expired = 0;
  flushed = 0;
  discarded = 0;
}

class Fragment {
  constructor(
    public off: number,
    public data: Uint8Array,
    public readonly more: boolean,
  ) {}
  get end(): number {
    return this.off + this.data.length;
  }
}

class Datagram {
  /** Sorted by offset, never overlapping. */
  readonly frags: Fragment[] = [];
  readonly entries = new Uint8Array(ENTRY_POINTS);
  /** The offset-0 fragment's headers: IPv4 header; IPv6 headers before the fragment header. */
  header: Uint8Array | null = null;
  /** IPv6: offset of the next-header byte that named the fragment header, and the protocol it named. */
  nxtAt = 0;
  proto = 0;
  /** Largest fragment data length seen (pf_refragment6 cuts back to it). */
  maxlen = 0;
  bytes = 0;
  constructor(
    readonly key: string,
    readonly af: number,
    readonly id: number,
    readonly created: number,
  ) {}
}

function indexOf(off: number): number {
  return (off / (0x10000 / ENTRY_POINTS)) | 0;
}

export class FragmentCache {
  readonly counters = new FragmentCounters();
  /** The joined datagram of the last COMPLETE: out[wholeStart, wholeEnd). */
  readonly out: Uint8Array;
  readonly wholeStart: number;
  wholeEnd = 0;
  /** For a joined IPv6 datagram (pf's fragment tag): its unfragmentable part, the byte naming the payload, etc. */
  wholeHdrlen = 0;
  wholeNxtAt = 0;
  wholeMaxlen = 0;
  wholeId = 0;
  /** For a DROP: pf's reason. */
  reason: number = PfReason.FRAG;
  /** Least recently touched first (pf's fragment queue, read from its tail). */
  private readonly datagrams = new Map<string, Datagram>();
  private held = 0;
  private heldBytes = 0;
  private readonly fragAt = new Int32Array(2);

  /** `headroom` bytes are left free in `out` before every joined datagram. */
  constructor(headroom = 0) {
    this.wholeStart = headroom;
    this.out = new Uint8Array(headroom + MAX_PACKET + IPV6_HEADER);
  }

  /** Fragments held. */
  get fragments(): number {
    return this.held;
  }

  /** Datagrams being reassembled. */
  get pending(): number {
    return this.datagrams.size;
  }

  /** Bytes of fragment data held. */
  get bytes(): number {
    return this.heldBytes;
  }

  /**
   * Takes the fragment `m` describes (parsed, m.isFragment) from buf[start, end), seen in `direction`, at
   * `now`, with `limit` fragments at most (set limit frags) held for `timeout` seconds (timeout frag).
   */
  add(
    m: PacketMeta,
    buf: Uint8Array,
    start: number,
    direction: number,
    now: number,
    limit: number,
    timeout: number,
  ): number {
    this.expire(now, timeout);
    let dataAt: number;
    let dataEnd: number;
    if (m.af === 4) {
      dataAt = start + m.l3HeaderLength;
      dataEnd = start + m.totalLength;
    } else {
      if (!findIpv6FragmentHeader(buf, start, start + m.totalLength, this.fragAt)) return this.bad();
      dataAt = this.fragAt[0]! + 8;
      dataEnd = start + m.totalLength;
    }
    const off = m.fragmentOffset;
    const len = dataEnd - dataAt;
    const more = m.moreFragments;
    if (len === 0 || (more && (len & 7) !== 0) || off + len > MAX_PACKET) return this.bad();

    // pf_create_fragment: room first, the oldest datagrams go
    if (this.held >= limit || this.heldBytes + len > FRAGMENT_BYTES_LIMIT) {
      this.flush();
      if (this.held >= limit || this.heldBytes + len > FRAGMENT_BYTES_LIMIT) {
        this.counters.memoryDrops++;
        this.reason = PfReason.MEMORY;
        return FragStep.DROP;
      }
    }

    const key = datagramKey(m, direction);
    let d = this.datagrams.get(key);
    if (d === undefined) {
      d = new Datagram(key, m.af, m.fragmentId, now);
      d.maxlen = len;
      this.datagrams.set(key, d);
      this.insert(d, new Fragment(off, buf.slice(dataAt, dataEnd), more), 0);
    } else {
      this.datagrams.delete(key);
      this.datagrams.set(key, d); // touched: to the head of the queue
      if (len > d.maxlen) d.maxlen = len;
      const step = this.fill(d, off, len, more, buf, dataAt);
      if (step !== FragStep.HELD) return step;
    }
    if (off === 0 && d.header === null) this.keepHeader(d, m, buf, start, dataAt);
    this.counters.fragments++;
    return this.complete(d) ? this.join(d) : FragStep.HELD;
  }

  /** Drops the datagrams whose first fragment came `timeout` seconds ago or more (pf_purge_expired_fragments). */
  expire(now: number, timeout: number): void {
    const limit = now - timeout;
    for (const d of this.datagrams.values()) {
      if (d.created > limit) break;
      this.counters.expired += d.frags.length;
      this.free(d);
    }
  }

  /** Drops everything held. */
  clear(): void {
    for (const d of this.datagrams.values()) this.free(d);
  }

  /** pf_fillup_fragment for a datagram already held: HELD when the fragment went in. */
  private fill(d: Datagram, off: number, len: number, more: boolean, buf: Uint8Array, at: number): number {
    const frags = d.frags;
    const last = frags[frags.length - 1]!;
    const total = last.end;
    const end = off + len;
    // a fragment that contradicts where the datagram ends
    if (
      (end < total && !more) ||
      (!last.more && (end > total || (end === total && more))) ||
      (last.more && end === total && !more)
    )
      return this.contradicts(d);
    let prev = -1; // index of the last fragment starting at or before `off`
    for (let k = frags.length - 1; k >= 0; k--)
      if (frags[k]!.off <= off) {
        prev = k;
        break;
      }
    let from = off;
    if (prev >= 0 && frags[prev]!.end > off) {
      if (d.af === 6) return this.contradicts(d);
      const precut = frags[prev]!.end - off;
      if (precut >= len) return this.bad(); // wholly covered: this one goes, the datagram stays
      from += precut;
    }
    const frag = new Fragment(from, buf.slice(at + (from - off), at + len), more);
    const next = prev + 1;
    while (next < frags.length && frag.end > frags[next]!.off) {
      if (d.af === 6) return this.contradicts(d);
      const after = frags[next]!;
      const aftercut = frag.end - after.off;
      this.removeAt(d, next);
      if (aftercut < after.data.length) {
        after.data = after.data.subarray(aftercut);
        after.off += aftercut;
        if (!this.insert(d, after, next)) return this.tooMany(d);
        break;
      }
      this.counters.discarded++; // wholly covered by the new one
    }
    if (!this.insert(d, frag, next)) return this.tooMany(d);
    return FragStep.HELD;
  }

  private insert(d: Datagram, f: Fragment, at: number): boolean {
    const i = indexOf(f.off);
    if (d.entries[i]! >= ENTRY_LIMIT) return false;
    d.entries[i]!++;
    d.frags.splice(at, 0, f);
    d.bytes += f.data.length;
    this.held++;
    this.heldBytes += f.data.length;
    return true;
  }

  private removeAt(d: Datagram, at: number): void {
    const f = d.frags[at]!;
    d.frags.splice(at, 1);
    d.entries[indexOf(f.off)]!--;
    d.bytes -= f.data.length;
    this.held--;
    this.heldBytes -= f.data.length;
  }

  private keepHeader(d: Datagram, m: PacketMeta, buf: Uint8Array, start: number, dataAt: number): void {
    if (m.af === 4) {
      d.header = buf.slice(start, dataAt);
      return;
    }
    const fh = this.fragAt[0]!;
    d.header = buf.slice(start, fh);
    d.nxtAt = this.fragAt[1]! - start;
    d.proto = buf[fh]!;
  }

  /** No holes: from 0 to a fragment without MF, contiguous, and the first fragment's headers kept. */
  private complete(d: Datagram): boolean {
    const frags = d.frags;
    if (d.header === null || frags[0]!.off !== 0 || frags[frags.length - 1]!.more) return false;
    for (let k = 1; k < frags.length; k++) if (frags[k]!.off !== frags[k - 1]!.end) return false;
    return true;
  }

  private join(d: Datagram): number {
    const out = this.out;
    const at = this.wholeStart;
    const header = d.header!;
    const hdrlen = header.length;
    const total = d.frags[d.frags.length - 1]!.end;
    const tooBig = d.af === 4 ? hdrlen + total > MAX_PACKET : hdrlen - IPV6_HEADER + total > MAX_PACKET;
    if (tooBig) {
      this.counters.discarded += d.frags.length;
      this.free(d);
      this.reason = PfReason.SHORT;
      return FragStep.DROP;
    }
    out.set(header, at);
    for (const f of d.frags) out.set(f.data, at + hdrlen + f.off);
    if (d.af === 4) finishIpv4Datagram(out, at, hdrlen, total);
    else finishIpv6Datagram(out, at, hdrlen, d.nxtAt, d.proto, total);
    this.wholeEnd = at + hdrlen + total;
    this.wholeHdrlen = hdrlen;
    this.wholeNxtAt = d.nxtAt;
    this.wholeMaxlen = d.maxlen;
    this.wholeId = d.id;
    this.counters.reassembled++;
    this.free(d);
    return FragStep.COMPLETE;
  }

  /** A fragment at odds with its datagram: IPv4 drops the fragment, IPv6 the whole datagram (RFC 5722). */
  private contradicts(d: Datagram): number {
    if (d.af === 6) {
      this.counters.discarded += d.frags.length;
      this.free(d);
    }
    return this.bad();
  }

  /** More fragments than pf takes for one span of the datagram: no way to recover, the datagram goes. */
  private tooMany(d: Datagram): number {
    this.counters.discarded += d.frags.length;
    this.free(d);
    return this.bad();
  }

  private bad(): number {
    this.counters.badFragments++;
    this.reason = PfReason.FRAG;
    return FragStep.DROP;
  }

  /** pf_flush_fragments: the least recently touched datagrams go until 90% of the fragments (and bytes) are left. */
  private flush(): void {
    const goal = Math.floor((this.held * 9) / 10);
    const goalBytes = Math.floor((FRAGMENT_BYTES_LIMIT * 9) / 10);
    for (const d of this.datagrams.values()) {
      if (this.held <= goal && this.heldBytes <= goalBytes) break;
      this.counters.flushed += d.frags.length;
      this.free(d);
    }
  }

  private free(d: Datagram): void {
    this.datagrams.delete(d.key);
    this.held -= d.frags.length;
    this.heldBytes -= d.bytes;
  }
}

/** pf_frnode and the id: af, direction, addresses, the IPv4 protocol (pf keys IPv6 fragments without it). */
function datagramKey(m: PacketMeta, direction: number): string {
  const s = m.src;
  const t = m.dst;
  if (m.af === 4) return `4 ${direction} ${s[0]} ${t[0]} ${m.proto} ${m.fragmentId}`;
  return `6 ${direction} ${s[0]} ${s[1]} ${s[2]} ${s[3]} ${t[0]} ${t[1]} ${t[2]} ${t[3]} ${m.fragmentId}`;
}
