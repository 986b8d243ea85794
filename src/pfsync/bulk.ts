// The bulk update, sans I/O (shared/spec/pfsync.md §8, §9). A node that
// starts asks its peer for the whole table and holds a CARP demotion of 32
// until the table has arrived, so it never takes the gateway with an empty
// table; the peer answers with every state, paced so that its datapath
// keeps running. Times are seconds.
//
//   NONE ──start──► START ──link up: UPD_REQ──► SENT ──BUS START──► BULK ──BUS END──► DONE
//                     │ 30 s                     │ 2 s: again, 12 tries     │ 4 × t
//                     └──────────────► DONE ◄────┴──────────────────────────┘ (given up)

export const BulkState = { NONE: 0, START: 1, SENT: 2, BULK: 3, DONE: 4 } as const;
export const BulkStateName = ['none', 'start', 'sent', 'bulk', 'done'];

/** OpenBSD's numbers. */
export const BULK = {
  DEMOTE: 32,
  LINK_WAIT: 30,
  RETRY: 2,
  TRIES: 12,
  /** Packets a second OpenBSD's responder sends (one every 20 ms); the requester's patience is computed from it. */
  OPENBSD_RATE: 50,
} as const;

export interface BulkRequesterOptions {
  /** Raises (+) or lowers (-) the node's CARP demotion. */
  demote(delta: number): void;
  /** Sends UPD_REQ (0, 0). */
  request(): void;
  /** For the patience while the bulk runs: the state limit and how many states a packet holds. */
  stateLimit: number;
  statesPerPacket: number;
  log?(event: string, detail: Record<string, unknown>): void;
}

export class BulkRequester {
  state: number = BulkState.NONE;
  private deadline = Infinity;
  private tries = 0;
  private demoted = false;
  startedAt: number | null = null;
  endedAt: number | null = null;
  /** How it ended: 'complete', or why it was given up. */
  outcome: string | null = null;

  constructor(private readonly o: BulkRequesterOptions) {}

  nextTimerAt(): number {
    return this.deadline;
  }

  /** pfsync comes up: demote until the table is here; ask at once if the sync link is up. */
  start(now: number, linkUp: boolean): void {
    if (this.state !== BulkState.NONE) return;
    this.startedAt = now;
    this.demoted = true;
    this.o.demote(BULK.DEMOTE);
    this.state = BulkState.START;
    this.deadline = now + BULK.LINK_WAIT;
    if (linkUp) this.linkUp(now);
  }

  linkUp(now: number): void {
    if (this.state !== BulkState.START) return;
    this.send(now);
  }

  private send(now: number): void {
    this.tries++;
    this.o.request();
    this.state = BulkState.SENT;
    this.deadline = now + BULK.RETRY;
  }

  /** BUS from the peer: START opens the bulk, END (after a START) completes it. */
  status(status: number, now: number): void {
    if (
      status === 1 &&
      (this.state === BulkState.START || this.state === BulkState.SENT || this.state === BulkState.BULK)
    ) {
      this.state = BulkState.BULK;
      const t = Math.max(1, Math.ceil(this.o.stateLimit / this.o.statesPerPacket / BULK.OPENBSD_RATE));
      this.deadline = now + 4 * t;
      this.o.log?.('bulk update started', {});
    } else if (status === 2 && this.state === BulkState.BULK) this.finish(now, 'complete');
  }

  tick(now: number): void {
    if (now < this.deadline) return;
    if (this.state === BulkState.START) this.finish(now, 'no sync link');
    else if (this.state === BulkState.SENT) {
      if (this.tries >= BULK.TRIES) this.finish(now, `no answer to ${this.tries} requests`);
      else this.send(now);
    } else if (this.state === BulkState.BULK) this.finish(now, 'the bulk update did not end in time');
  }

  /** pfsync goes down: the demotion goes with it. */
  stop(): void {
    this.deadline = Infinity;
    if (this.demoted) this.o.demote(-BULK.DEMOTE);
    this.demoted = false;
    this.state = BulkState.NONE;
  }

  private finish(now: number, outcome: string): void {
    this.state = BulkState.DONE;
    this.deadline = Infinity;
    this.endedAt = now;
    this.outcome = outcome;
    if (this.demoted) this.o.demote(-BULK.DEMOTE);
    this.demoted = false;
    this.o.log?.(outcome === 'complete' ? 'bulk update received' : 'bulk update given up', {
      outcome,
      seconds: Math.round((now - (this.startedAt ?? now)) * 1000) / 1000,
    });
  }
}

/**
 * The answering side: a walk over the state table's slots from the first to
 * the last one in use when the request came (states made later reach the
 * peer as ordinary inserts). `next()` gives the next live, syncable state.
 * A second request restarts the walk.
 */
export class BulkResponder {
  active = false;
  private cursor = 0;
  private end = 0;
  /** Whether BUS START has gone out for this walk. */
  started = false;
  sentStates = 0;

  constructor(
    private readonly extent: () => number,
    private readonly eligible: (i: number) => boolean,
  ) {}

  begin(): void {
    this.active = true;
    this.started = false;
    this.cursor = 0;
    this.end = this.extent();
    this.sentStates = 0;
  }

  next(): number {
    if (!this.hasMore()) return -1;
    this.sentStates++;
    return this.cursor++;
  }

  /** Whether a state is left to send (stops the cursor at it). */
  hasMore(): boolean {
    while (this.cursor < this.end && !this.eligible(this.cursor)) this.cursor++;
    return this.cursor < this.end;
  }

  done(): void {
    this.active = false;
  }
}
