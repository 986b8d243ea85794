// pfsync's numbers (shared/spec/pfsync.md §1, §3, §4, §5), OpenBSD protocol
// version 6: one table each, no logic.

export const PFSYNC = {
  PROTO: 240,
  GROUP_V4: '224.0.0.240',
  TTL: 255,
  /** IPv4 TOS OpenBSD sends with (IPTOS_LOWDELAY). */
  TOS: 0x10,
  VERSION: 6,
  HEADER_LENGTH: 20,
  SUBHEADER_LENGTH: 4,
  /** Bytes of IPv4 header in front of the pfsync header (the MTU counts them). */
  IP_HEADER_LENGTH: 20,
  DEFAULT_MTU: 1500,
  /** Largest `count` a subheader can carry. */
  MAX_COUNT: 0xffff,
  /** Interface name field (IFNAMSIZ): 15 characters and a NUL. */
  IFNAME_LENGTH: 16,
  /** The interface name of floating states. */
  IFNAME_FLOATING: 'all',
  /** Timeout classes on the wire must be below this (PFTM_MAX). */
  PFTM_MAX: 20,
  /** Peer states above this (PF_TCPS_PROXY_DST) are rejected. */
  MAX_PEER_STATE: 12,
  /** Rule, anchor and nat_rule value meaning "none". */
  NO_RULE: 0xffffffff,
  DEFAULT_MAXUPD: 128,
} as const;

/** pfsync message actions (subheader byte 0); not the filter's Action. */
export const PfsyncAction = {
  CLR: 0,
  OINS: 1,
  INS_ACK: 2,
  OUPD: 3,
  UPD_C: 4,
  UPD_REQ: 5,
  DEL: 6,
  DEL_C: 7,
  INS_F: 8,
  DEL_F: 9,
  BUS: 10,
  OTDB: 11,
  EOF: 12,
  INS: 13,
  UPD: 14,
  TDB: 15,
} as const;
/** Actions are below this (PFSYNC_ACT_MAX). */
export const ACTION_MAX = 16;

export const PfsyncActionName = [
  'CLR',
  'OINS',
  'INS_ACK',
  'OUPD',
  'UPD_C',
  'UPD_REQ',
  'DEL',
  'DEL_C',
  'INS_F',
  'DEL_F',
  'BUS',
  'OTDB',
  'EOF',
  'INS',
  'UPD',
  'TDB',
];

/**
 * Bytes of one message per action, as OpenBSD expects them; 0 for actions
 * without a message layout (obsolete ones, EOF). A subheader whose `len` is
 * shorter than this is skipped.
 */
export const MessageLength = [
  20, // CLR
  0, // OINS (obsolete)
  12, // INS_ACK
  0, // OUPD (obsolete)
  84, // UPD_C
  12, // UPD_REQ
  264, // DEL
  12, // DEL_C
  0, // INS_F (never implemented)
  0, // DEL_F (never implemented)
  12, // BUS
  0, // OTDB (obsolete)
  0, // EOF (deprecated, no message)
  264, // INS
  264, // UPD
  52, // TDB (assumes a 28-byte BSD sockaddr union; spec §5.4)
];

/** Whether OpenBSD has a handler for the action; the others are skipped. */
export const ActionHandled = [
  true,
  false,
  true,
  false,
  true,
  true,
  true,
  true,
  false,
  false,
  true,
  false,
  false,
  true,
  true,
  true,
];

/** Section order in OpenBSD-built packets (pfsync_qs, then TDB); CLR, UPD_REQ and BUS travel on their own. */
export const SECTION_ORDER: readonly number[] = [
  PfsyncAction.INS_ACK,
  PfsyncAction.UPD_C,
  PfsyncAction.DEL_C,
  PfsyncAction.INS,
  PfsyncAction.UPD,
  PfsyncAction.TDB,
];

/** OpenBSD's address family numbers on the wire. */
export const WireAf = { INET: 2, INET6: 24 } as const;

/** BUS status byte. */
export const BusStatus = { START: 1, END: 2 } as const;
export const BusStatusName = ['', 'START', 'END'];

/** pfsync_state_peer scrub_flag: the scrub fields are valid. */
export const SCRUB_FLAG_VALID = 0x01;
/** pfss_flags bit that is exported (modulate TCP timestamps). */
export const PFSS_TIMESTAMP = 0x0001;

/** state_flags on the wire (PFSTATE_*). */
export const WireStateFlag = {
  ALLOWOPTS: 0x0001,
  SLOPPY: 0x0002,
  PFLOW: 0x0004,
  NOSYNC: 0x0008,
  /** The sender deferred the packet that created the state: answer with INS_ACK. */
  ACK: 0x0010,
  NODF: 0x0020,
  SETTOS: 0x0040,
  RANDOMID: 0x0080,
  SCRUB_TCP: 0x0100,
  SETPRIO: 0x0200,
  INP_UNLINKED: 0x0400,
} as const;

/** sync_flags (PFSYNC_FLAG_*). */
export const SyncFlag = { SRCNODE: 0x04, NATSRCNODE: 0x08 } as const;

/**
 * Why received pfsync data was dropped, after OpenBSD's pfsyncstats. The
 * socket service checks BADIF/BADTTL, the walker HDROPS..BADACT, the
 * receiver BADVAL..STALE; BADSRC is tunpf's own (source not a configured
 * peer, spec §11).
 */
export const PfsyncDrop = {
  OK: 0,
  BADIF: 1, // not the sync interface
  BADTTL: 2, // IP TTL is not 255
  HDROPS: 3, // shorter than the pfsync header
  BADVER: 4, // version is not 6
  BADLEN: 5, // a length field points beyond the bytes present
  BADACT: 6, // a section that cannot be skipped (count or len 0)
  BADVAL: 7, // a record with values out of range
  BADSTATE: 8, // insert or lookup failed
  STALE: 9, // an update older than our copy
  BADSRC: 10, // tunpf: the source is not a configured peer
  BLOCKED: 11, // tunpf: the rules did not let it in (pf's check comes before pfsync's)
} as const;

export const PfsyncDropName = [
  'ok',
  'badif',
  'badttl',
  'hdrops',
  'badver',
  'badlen',
  'badact',
  'badval',
  'badstate',
  'stale',
  'badsrc',
  'blocked',
];
export const PFSYNC_DROP_CODES = PfsyncDropName.length;

/**
 * Why a received state record was not imported (spec §7, §7.2). The first
 * five are OpenBSD's range checks; ImportErrorCounter gives the
 * pfsyncstats counter each belongs to.
 */
export const ImportError = {
  /** timeout class outside tunpf's 14 (OpenBSD only refuses >= 20; 14-19 are not state timeouts). */
  BAD_TIMEOUT: 1,
  BAD_PEER_STATE: 2, // src or dst state > 12
  BAD_DIRECTION: 3, // > PF_OUT
  BAD_AF: 4, // af or a key's af neither 2 nor 24
  NO_CREATOR: 5, // creatorid 0
  AF_TRANSLATION: 6, // wire and stack keys of different families (af-to): tunpf cannot hold it
  TABLE_FULL: 7,
  FLOW_EXISTS: 8, // a state of the same flow exists (under another identity)
  ID_EXISTS: 9, // a state of this identity exists
} as const;

export const ImportErrorName = [
  'ok',
  'bad-timeout',
  'bad-peer-state',
  'bad-direction',
  'bad-af',
  'no-creator',
  'af-translation',
  'table-full',
  'flow-exists',
  'id-exists',
];

export const ImportErrorCounter = [
  PfsyncDrop.OK,
  PfsyncDrop.BADVAL,
  PfsyncDrop.BADVAL,
  PfsyncDrop.BADVAL,
  PfsyncDrop.BADVAL,
  PfsyncDrop.BADSTATE,
  PfsyncDrop.BADSTATE,
  PfsyncDrop.BADSTATE,
  PfsyncDrop.BADSTATE,
  PfsyncDrop.BADSTATE,
];

// -- message layouts: the byte offsets every reader and writer uses --------

export const HeaderOffset = { VERSION: 0, LEN: 2, PFCKSUM: 4 } as const;
export const SubheaderOffset = { ACTION: 0, LEN: 1, COUNT: 2 } as const;

export const PEER_LENGTH = 32;
export const PeerOffset = {
  SCRUB_FLAGS: 0,
  SCRUB_TTL: 2,
  SCRUB_FLAG: 3,
  SCRUB_TS_MOD: 4,
  SEQLO: 8,
  SEQHI: 12,
  SEQDIFF: 16,
  MAX_WIN: 20,
  MSS: 22,
  STATE: 24,
  WSCALE: 25,
} as const;

export const KEY_LENGTH = 40;
export const KeyOffset = { ADDR0: 0, ADDR1: 16, PORT0: 32, PORT1: 34, RDOMAIN: 36, AF: 38 } as const;

export const STATE_LENGTH = 264;
export const StateOffset = {
  ID: 0,
  IFNAME: 8,
  /** key[0], the wire key. */
  KEY_WIRE: 24,
  /** key[1], the stack key. */
  KEY_STACK: 64,
  SRC: 104,
  DST: 136,
  RT_ADDR: 168,
  RULE: 184,
  ANCHOR: 188,
  NAT_RULE: 192,
  CREATION: 196,
  EXPIRE: 200,
  PACKETS: 204,
  BYTES: 220,
  CREATORID: 236,
  RTABLEID: 240,
  MAX_MSS: 248,
  AF: 250,
  PROTO: 251,
  DIRECTION: 252,
  LOG: 253,
  RT: 254,
  TIMEOUT: 255,
  SYNC_FLAGS: 256,
  UPDATES: 257,
  MIN_TTL: 258,
  SET_TOS: 259,
  STATE_FLAGS: 260,
  SET_PRIO: 262,
} as const;

export const UpdCOffset = { ID: 0, SRC: 8, DST: 40, CREATORID: 72, EXPIRE: 76, TIMEOUT: 80, STATE_FLAGS: 81 } as const;
/** INS_ACK, UPD_REQ and DEL_C: an id and a creator. */
export const IdMessageOffset = { ID: 0, CREATORID: 8 } as const;
export const ClrOffset = { IFNAME: 0, CREATORID: 16 } as const;
export const BusOffset = { CREATORID: 0, ENDTIME: 4, STATUS: 8 } as const;
export const TdbOffset = { SPI: 0, DST: 4, RPL: 32, CUR_BYTES: 40, SPROTO: 48, UPDATES: 49, RDOMAIN: 50 } as const;
export const TDB_SOCKADDR_LENGTH = 28;

/** Offset of the creatorid in a message of each action, -1 when it has none. The id is at 0 where there is one. */
export const CreatorOffset = [
  ClrOffset.CREATORID,
  -1,
  IdMessageOffset.CREATORID,
  -1,
  UpdCOffset.CREATORID,
  IdMessageOffset.CREATORID,
  StateOffset.CREATORID,
  IdMessageOffset.CREATORID,
  -1,
  -1,
  BusOffset.CREATORID,
  -1,
  -1,
  StateOffset.CREATORID,
  StateOffset.CREATORID,
  -1,
];
