// A pfsync_state_peer record for tests: zero but for the fields given.

import type { StatePeer } from '../../../src/pfsync/state-record.js';

export const peer = (p: Partial<StatePeer>): StatePeer => ({
  scrubFlags: 0,
  scrubTtl: 0,
  scrubFlag: 0,
  scrubTsMod: 0,
  seqlo: 0,
  seqhi: 0,
  seqdiff: 0,
  maxWin: 0,
  mss: 0,
  state: 0,
  wscale: 0,
  ...p,
});
