// pfsync's bookkeeping per state, beside the state table (struct of arrays
// indexed by state number, sized by the table's capacity): which queue the
// state waits in, how often it changed there, whether its insert must ask
// for an acknowledgement, when the insert was queued, and when the peer last
// changed it. Entries are cleared when a state is inserted or removed.

/** Which queue a state is in. */
export const SyncQueue = { NONE: 0, INS: 1, UPD_C: 2, UPD: 3, IACK: 4 } as const;

export class SyncBook {
  /** SyncQueue of each state. */
  readonly queue: Uint8Array;
  /** Coalesced updates of a queued TCP state (for maxupd). */
  readonly updates: Uint8Array;
  /** 1: its INS must carry the ACK flag (the packet that made it is held). */
  readonly wantsAck: Uint8Array;
  /** Seconds when its INS was queued, for the replication lag. */
  readonly insAt: Float64Array;
  /** Whole seconds when the peer last changed it (0: never); drives the 2-second rule. */
  readonly peerTouched: Uint32Array;

  constructor(capacity: number) {
    this.queue = new Uint8Array(capacity);
    this.updates = new Uint8Array(capacity);
    this.wantsAck = new Uint8Array(capacity);
    this.insAt = new Float64Array(capacity);
    this.peerTouched = new Uint32Array(capacity);
  }

  /** State i is new (or its slot is reused): nothing is known of it. */
  clear(i: number): void {
    this.queue[i] = SyncQueue.NONE;
    this.updates[i] = 0;
    this.wantsAck[i] = 0;
    this.insAt[i] = 0;
    this.peerTouched[i] = 0;
  }
}
