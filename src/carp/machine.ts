// The CARP state machine of one virtual host id, as OpenBSD runs it
// (shared/spec/carp.md §7–§9), sans I/O: events and the time come in, actions
// go out into a list the caller drains. Times are seconds. Timers are kept as
// absolute deadlines computed from the previous deadline, not from when the
// caller got round to calling tick(), so a late tick never pushes the
// advertisement schedule back.
//
//   INIT ──start──► BACKUP ──master-down timer / better claim──► MASTER
//     ▲                ▲                                           │
//     └─link down──────┴──────── hears a better master ────────────┘

import { CARP } from './constants.js';

export const CarpState = { INIT: 0, BACKUP: 1, MASTER: 2 } as const;
export const CarpStateName = ['INIT', 'BACKUP', 'MASTER'] as const;
export type CarpStateLabel = (typeof CarpStateName)[number];

export interface CarpMachineConfig {
  vhid: number;
  advbase: number; // seconds, 0..255
  advskew: number; // 1/256 s, 0..254
  preempt: boolean;
  /** Families that have addresses: each gets its own advertisements and master-down timer. */
  families: readonly (4 | 6)[];
  /**
   * While demoted, also advertise advskew 240, so FreeBSD and ucarp peers
   * (which ignore the demote byte) prefer the other node.
   */
  skewDemotion?: boolean;
}

export type CarpAction =
  | { kind: 'advertise'; family: 4 | 6; advbase: number; advskew: number; demote: number }
  | { kind: 'master'; reason: string } // install the addresses, announce them (gratuitous ARP / NA)
  | { kind: 'backup'; reason: string } // remove the addresses
  | { kind: 'init'; reason: string }
  | { kind: 'announce-again' }; // the delayed second round of gratuitous ARP

export interface ReceivedAd {
  advbase: number;
  advskew: number;
  demote: number;
}

const SKEW_DEMOTED = 240;

export class CarpMachine {
  state: number = CarpState.INIT;
  readonly actions: CarpAction[] = [];
  /** The node's demotion counter (carpdemote), shared by the group. */
  demote = 0;
  private adAt = Infinity;
  private readonly masterDownAt = new Map<4 | 6, number>();
  private adsUntilDelayedArp = -1;
  private linkUp = true;

  constructor(readonly cfg: CarpMachineConfig) {
    if (cfg.vhid < 1 || cfg.vhid > 255) throw new RangeError('vhid must be 1..255');
    if (cfg.advbase < 0 || cfg.advbase > 255) throw new RangeError('advbase must be 0..255');
    if (cfg.advskew < 0 || cfg.advskew > 254) throw new RangeError('advskew must be 0..254');
    if (cfg.families.length === 0) throw new RangeError('a vhid needs an address');
  }

  /** The advertised skew: raised while demoted when skew demotion is on. */
  get effectiveSkew(): number {
    return this.cfg.skewDemotion && this.demote > 0 ? Math.max(this.cfg.advskew, SKEW_DEMOTED) : this.cfg.advskew;
  }

  /** advbase + advskew/256 seconds; 1/256 s when both are 0. */
  get interval(): number {
    const t = this.cfg.advbase + this.effectiveSkew / 256;
    return t === 0 ? 1 / 256 : t;
  }

  /** The earliest deadline the caller must call tick() at (Infinity: none). */
  nextTimerAt(): number {
    let t = this.adAt;
    for (const d of this.masterDownAt.values()) t = Math.min(t, d);
    return t;
  }

  start(now: number): void {
    if (this.state !== CarpState.INIT || !this.linkUp) return;
    this.toBackup(now, 'started');
  }

  /** A validated advertisement of our vhid arrived (validate.ts ran first). */
  receive(ad: ReceivedAd, family: 4 | 6, now: number): void {
    if (this.state === CarpState.INIT) return;
    const mine = this.interval;
    const theirs = ad.advbase + ad.advskew / 256;
    if (this.state === CarpState.BACKUP) {
      if (this.cfg.preempt && mine < theirs && ad.demote >= this.demote)
        return this.toMaster(now, `preempting a slower master (${theirs.toFixed(3)} s > ${mine.toFixed(3)} s)`);
      if (ad.demote > this.demote)
        return this.toMaster(now, `the master is more demoted (${ad.demote} > ${this.demote})`);
      if (this.cfg.advbase !== 0 && 3 * this.cfg.advbase < theirs)
        return this.toMaster(now, `the master will time out (${theirs.toFixed(3)} s > 3 × ${this.cfg.advbase} s)`);
      this.masterDownAt.set(family, now + 3 * mine);
      return;
    }
    // MASTER
    if ((mine >= theirs && ad.demote <= this.demote) || ad.demote < this.demote) {
      const why =
        ad.demote < this.demote
          ? `this node is more demoted (${this.demote} > ${ad.demote})`
          : mine > theirs
            ? 'heard a faster master'
            : 'heard an equally preferred master';
      this.toBackup(now, why);
    }
  }

  /** Runs the timers that are due. */
  tick(now: number): void {
    if (this.state === CarpState.BACKUP) {
      for (const [family, at] of this.masterDownAt) {
        if (at <= now) {
          this.toMaster(now, `no advertisement for ${(3 * this.interval).toFixed(3)} s (IPv${family})`);
          return;
        }
      }
    } else if (this.state === CarpState.MASTER) {
      let sent = 0;
      while (this.adAt <= now && sent < 3) {
        this.advertise();
        this.adAt += this.interval;
        sent++;
      }
      if (this.adAt <= now) this.adAt = now + this.interval; // far behind (a suspended process): do not burst
    }
  }

  /** The group's demotion changed. A master that becomes demoted advertises at once so peers react. */
  setDemote(demote: number, now: number): void {
    const was = this.demote;
    this.demote = Math.max(0, Math.min(255, demote));
    if (this.state === CarpState.MASTER && was === 0 && this.demote > 0) {
      this.advertise();
      this.adAt = now + this.interval;
    }
  }

  linkDown(now: number): void {
    this.linkUp = false;
    if (this.state !== CarpState.INIT) this.toInit(now, 'the interface lost its link');
  }

  linkChanged(up: boolean, now: number): void {
    if (up) {
      this.linkUp = true;
      this.start(now);
    } else this.linkDown(now);
  }

  /** Going down: a master sends one bow-out advertisement (255/255) so a backup takes over at once. */
  shutdown(now: number): void {
    if (this.state === CarpState.MASTER) {
      for (const family of this.cfg.families)
        this.actions.push({
          kind: 'advertise',
          family,
          advbase: CARP.BOW_OUT,
          advskew: CARP.BOW_OUT,
          demote: this.demote,
        });
    }
    this.toInit(now, 'shut down');
  }

  /** `ifconfig carpN state master|backup`. */
  force(state: 1 | 2, now: number): void {
    if (state === CarpState.MASTER) this.toMaster(now, 'forced by the operator');
    else this.toBackup(now, 'forced by the operator');
  }

  private advertise(): void {
    for (const family of this.cfg.families)
      this.actions.push({
        kind: 'advertise',
        family,
        advbase: this.cfg.advbase,
        advskew: this.effectiveSkew,
        demote: this.demote,
      });
    if (this.adsUntilDelayedArp > 0 && --this.adsUntilDelayedArp === 0) this.actions.push({ kind: 'announce-again' });
  }

  private toMaster(now: number, reason: string): void {
    const was = this.state;
    this.state = CarpState.MASTER;
    this.masterDownAt.clear();
    if (was !== CarpState.MASTER) this.actions.push({ kind: 'master', reason });
    this.adsUntilDelayedArp = 3; // this one, then the second following
    this.advertise(); // the first advertisement goes out at once
    this.adAt = now + this.interval;
  }

  private toBackup(now: number, reason: string): void {
    const was = this.state;
    this.state = CarpState.BACKUP;
    this.adAt = Infinity;
    this.adsUntilDelayedArp = -1;
    for (const family of this.cfg.families) this.masterDownAt.set(family, now + 3 * this.interval);
    if (was !== CarpState.BACKUP) this.actions.push({ kind: 'backup', reason });
  }

  private toInit(_now: number, reason: string): void {
    const was = this.state;
    this.state = CarpState.INIT;
    this.adAt = Infinity;
    this.masterDownAt.clear();
    if (was === CarpState.MASTER) this.actions.push({ kind: 'backup', reason }); // give the addresses up
    if (was !== CarpState.INIT) this.actions.push({ kind: 'init', reason });
  }

  /** Takes the actions queued so far. */
  drain(): CarpAction[] {
    return this.actions.splice(0);
  }
}
