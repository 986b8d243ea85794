// pfsync's `defer` (shared/spec/pfsync.md §6.4), sans I/O: the packet that
// created a state is held back until the peer has acknowledged the state
// (INS_ACK, or an update of it), or 20 ms have passed, or more than 128
// packets are held (the oldest goes first). For active-active set-ups with
// asymmetric routing, where the reply could reach the other firewall before
// that firewall has the state. Holding copies the packet: it happens once
// per new flow, and only with defer on.

export const DEFER = { TIMEOUT: 0.02, MAX_HELD: 128 } as const;

interface Held {
  state: number;
  /** The state's idLo, so a released slot is never confused with a newer state. */
  tag: number;
  deadline: number;
  packet: Uint8Array;
  release: (packet: Uint8Array) => void;
}

export class DeferralCounters {
  held = 0;
  /** Released because the peer acknowledged, because time ran out, because too many were held. */
  acked = 0;
  timedOut = 0;
  overflow = 0;
}

export class Deferral {
  readonly counters = new DeferralCounters();
  private readonly held: Held[] = [];

  get size(): number {
    return this.held.length;
  }

  nextTimerAt(): number {
    return this.held.length ? this.held[0]!.deadline : Infinity;
  }

  /** Holds a copy of `packet` for state i (its idLo `tag`); `release` sends it on. */
  hold(i: number, tag: number, packet: Uint8Array, now: number, release: (packet: Uint8Array) => void): void {
    if (this.held.length >= DEFER.MAX_HELD) {
      this.counters.overflow++;
      this.releaseAt(0);
    }
    this.held.push({ state: i, tag, deadline: now + DEFER.TIMEOUT, packet: Uint8Array.from(packet), release });
    this.counters.held++;
  }

  /** The peer has state i (tag: its idLo now): its packet goes. */
  acknowledged(i: number, tag: number): void {
    for (let k = 0; k < this.held.length; k++) {
      const h = this.held[k]!;
      if (h.state === i && h.tag === tag) {
        this.counters.acked++;
        this.releaseAt(k);
        return;
      }
    }
  }

  tick(now: number): void {
    while (this.held.length && this.held[0]!.deadline <= now) {
      this.counters.timedOut++;
      this.releaseAt(0);
    }
  }

  /** Stopping: everything held goes on. */
  releaseAll(): void {
    while (this.held.length) this.releaseAt(0);
  }

  private releaseAt(k: number): void {
    const [h] = this.held.splice(k, 1);
    h!.release(h!.packet);
  }
}
