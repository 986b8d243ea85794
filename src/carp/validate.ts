// The checks a received advertisement must pass before the state machine sees
// it, in OpenBSD's order (shared/spec/carp.md §3): TTL, length, checksum,
// vhid, version, HMAC, and our own replay cookie (a looped packet). type and
// authlen are not checked, as OpenBSD does not. Each drop has a counter.

import { decode, checksumValid, type CarpAdvertisement } from './advertisement.js';
import { CARP, CarpDrop, CarpDropName } from './constants.js';
import { carpHmacValid, type CarpAuthConfig } from './hmac.js';

export class CarpCounters {
  received = 0;
  accepted = 0;
  /** By CarpDrop code. */
  readonly dropped = new Float64Array(CarpDropName.length);
}

/** A vhid configured on the receiving interface: its HMAC inputs and our own replay cookie. */
export interface ValidatingGroup extends CarpAuthConfig {
  /** The counter we send; a packet carrying it is our own, looped back. */
  cookie: bigint | null;
}

export interface ValidateResult {
  drop: number; // 0 when accepted
  ad: CarpAdvertisement | null;
}

/**
 * Validates the CARP payload (after the IP header) of a packet that arrived
 * with `ttl`. `groups` are the vhids configured on the receiving interface.
 */
export function validateAdvertisement(
  payload: Uint8Array,
  ttl: number,
  groups: ReadonlyMap<number, ValidatingGroup>,
  counters: CarpCounters,
): ValidateResult {
  counters.received++;
  const drop = (code: number): ValidateResult => {
    counters.dropped[code]!++;
    return { drop: code, ad: null };
  };
  if (ttl !== CARP.TTL) return drop(CarpDrop.BAD_TTL);
  if (payload.length < CARP.HEADER_LENGTH) return drop(CarpDrop.BAD_LENGTH);
  if (!checksumValid(payload, 0)) return drop(CarpDrop.BAD_CHECKSUM);
  const ad = decode(payload, 0);
  const cfg = groups.get(ad.vhid);
  if (!cfg) return drop(CarpDrop.BAD_VHID);
  if (ad.version !== CARP.VERSION) return drop(CarpDrop.BAD_VERSION);
  if (!carpHmacValid(cfg, payload.subarray(8, 16), ad.hmac)) return drop(CarpDrop.BAD_AUTH);
  if (cfg.cookie !== null && ad.counter === cfg.cookie) return drop(CarpDrop.OWN_COUNTER);
  counters.accepted++;
  return { drop: 0, ad };
}
