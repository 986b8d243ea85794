// CARP's SHA-1 HMAC (shared/spec/carp.md §5). The message is version 2,
// type 1, the vhid, the group's IPv4 addresses sorted ascending, its IPv6
// addresses sorted by their bytes, and the 8 counter bytes; the key is the
// passphrase (at most 19 bytes). OpenBSD sends the digest without link-local
// IPv6 addresses and accepts it with or without them; with one IPv4 address
// and nothing else the bytes are exactly ucarp's.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseAddress, wordsToBytes } from '../packet/address.js';
import { CARP } from './constants.js';

export interface CarpAuthConfig {
  vhid: number;
  /** The virtual addresses of the group, as text (prefix lengths are not hashed). */
  addresses: string[];
  /** The passphrase; empty means 20 zero bytes, as OpenBSD without `pass`. */
  passphrase: string;
}

export class PassphraseError extends Error {}

function keyOf(passphrase: string): Buffer {
  const key = Buffer.from(passphrase, 'utf8');
  if (key.length > CARP.MAX_PASSPHRASE)
    throw new PassphraseError(
      `a CARP passphrase is at most ${CARP.MAX_PASSPHRASE} bytes (OpenBSD would cut it, ucarp refuses it); ` +
        `this one has ${key.length}`,
    );
  return key;
}

const isLinkLocal = (b: Uint8Array) => b[0] === 0xfe && (b[1]! & 0xc0) === 0x80;

/** The address part of the HMAC message, sorted and without duplicates. */
function addressBytes(addresses: readonly string[], withLinkLocal: boolean): Buffer {
  const v4: Buffer[] = [];
  const v6: Buffer[] = [];
  for (const text of addresses) {
    const a = parseAddress(text.split('/')[0]!);
    if (!a) throw new TypeError(`not an address: ${text}`);
    const b = Buffer.alloc(a.af === 4 ? 4 : 16);
    wordsToBytes(a.words, a.af, b, 0);
    if (a.af === 4) v4.push(b);
    else if (withLinkLocal || !isLinkLocal(b)) v6.push(b);
  }
  const uniqueSorted = (xs: Buffer[]) =>
    xs.sort(Buffer.compare).filter((x, i, all) => i === 0 || !x.equals(all[i - 1]!));
  return Buffer.concat([...uniqueSorted(v4), ...uniqueSorted(v6)]);
}

/** The digest for an advertisement with these counter bytes. */
export function carpHmac(cfg: CarpAuthConfig, counter: Uint8Array, withLinkLocal = false): Buffer {
  const h = createHmac('sha1', keyOf(cfg.passphrase));
  h.update(Buffer.from([CARP.VERSION, CARP.TYPE_ADVERTISEMENT, cfg.vhid]));
  h.update(addressBytes(cfg.addresses, withLinkLocal));
  h.update(counter);
  return h.digest();
}

/** Accepts the digest computed with or without link-local addresses, in constant time. */
export function carpHmacValid(cfg: CarpAuthConfig, counter: Uint8Array, digest: Uint8Array): boolean {
  if (digest.length !== 20) return false;
  const d = Buffer.from(digest);
  const a = timingSafeEqual(carpHmac(cfg, counter, false), d);
  const b = timingSafeEqual(carpHmac(cfg, counter, true), d);
  return a || b;
}

/** Checks a passphrase when the configuration is loaded. */
export function checkPassphrase(passphrase: string): string | null {
  try {
    keyOf(passphrase);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
