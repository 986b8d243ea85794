// CARP's numbers (shared/spec/carp.md §1, §3): one table, no logic.

export const CARP = {
  PROTO: 112,
  GROUP_V4: '224.0.0.18',
  GROUP_V6: 'ff02::12',
  TTL: 255,
  HEADER_LENGTH: 36,
  VERSION: 2,
  TYPE_ADVERTISEMENT: 1,
  AUTHLEN: 7,
  KEY_LENGTH: 20,
  /** Longest passphrase: OpenBSD copies at most 19 bytes, ucarp refuses 20 or more. */
  MAX_PASSPHRASE: 19,
  /** IPv4 TOS of advertisements, as OpenBSD and ucarp send them. */
  TOS: 0x10,
  /** advbase/advskew of the one "bow-out" advertisement a master sends when it goes down. */
  BOW_OUT: 255,
} as const;

/** Why a received advertisement was dropped, in OpenBSD's check order (carpstats). */
export const CarpDrop = {
  BAD_TTL: 1,
  BAD_LENGTH: 2,
  BAD_CHECKSUM: 3,
  BAD_VHID: 4,
  BAD_VERSION: 5,
  BAD_AUTH: 6,
  OWN_COUNTER: 7, // our own replay cookie: a looped packet
  BLOCKED: 8, // tunpf: the rules did not let it in (pf's check comes before CARP's)
} as const;

export const CarpDropName = [
  'ok',
  'bad-ttl',
  'bad-length',
  'bad-checksum',
  'bad-vhid',
  'bad-version',
  'bad-auth',
  'own-counter',
  'blocked',
];
