// The one place that reads the time. Everything else takes a Clock and asks
// it, so engines are driven by the time they are given and tests fake it.

import { performance } from 'node:perf_hooks';

/** Seconds since the epoch (fractional). */
export type Clock = () => number;

/**
 * The system's clock: monotonic, so it never steps backwards when the wall
 * clock is set, but anchored to the epoch when it is made, so its readings
 * are epoch seconds that can be shown as dates.
 */
export function systemClock(): Clock {
  const origin = Date.now() / 1000 - performance.now() / 1000;
  return () => origin + performance.now() / 1000;
}

/** A reading in whole ms since the epoch (the lab's files and timings are in ms). */
export function epochMs(clock: Clock): number {
  return Math.round(clock() * 1000);
}
