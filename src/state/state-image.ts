// A state as another node describes it (pfsync), in the state table's
// orientation: side 0 is the initiator. The receiver fills one image per
// message and hands it to the state engine (StateEngine.insertImage,
// updateFromImage), which writes the table; images are reused, never kept.

import { ANY_DIRECTION, type DirectionOrAny } from '../packet/meta.js';
import { FLOATING } from './constants.js';

/** One side of a state (pf's state peer). */
export class PeerImage {
  seqlo = 0;
  seqhi = 0;
  /** Sequence modulation offset (modulate state); 0 for none. */
  seqdiff = 0;
  maxWin = 0;
  /** Window shift in the low 4 bits, 0x80 when the option was seen. */
  wscale = 0;
  state = 0;
  /** The side has `scrub (reassemble tcp)` data (pfsync's scrub_flag): the three fields below. */
  scrubValid = false;
  /** pfss_flags as pfsync carries them: PFSS_TIMESTAMP only. */
  scrubFlags = 0;
  scrubTtl = 0;
  scrubTsMod = 0;
}

export class StateImage {
  af = 4;
  proto = 0;
  /** Side 0's and side 1's address as 4 words, and their ports (ICMP: the id in both). */
  readonly addr0 = new Uint32Array(4);
  port0 = 0;
  readonly addr1 = new Uint32Array(4);
  port1 = 0;
  /** Interface id of an if-bound state, else FLOATING. */
  bound: number = FLOATING;
  /** Direction of the packet that made the state (Direction.IN, Direction.OUT). */
  direction: DirectionOrAny = ANY_DIRECTION;
  creator = 0;
  idHi = 0;
  idLo = 0;
  /** Seconds, on the engine's clock. */
  creation = 0;
  lastActive = 0;
  timeoutClass = 0;
  log = 0;
  /** route-to, reply-to, dup-to (state/constants.ts routeOf), 0: none. */
  route = 0;
  /** [in the creating packet's direction, the reverse]. */
  readonly packets = new Float64Array(2);
  readonly bytes = new Float64Array(2);
  /** StateFlag bits. */
  flags = 0;
  /** [src (initiator), dst]. */
  readonly peer: readonly [PeerImage, PeerImage] = [new PeerImage(), new PeerImage()];
  /** A stack key that differs from the wire key (translation): side 0's words then side 1's, and the two ports. */
  hasStackKey = false;
  readonly stackAddr = new Uint32Array(8);
  readonly stackPort = new Uint16Array(2);
}
