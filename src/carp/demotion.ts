// The node's demotion counter (OpenBSD's `carpdemote` of interface group
// carp): a sum over named reasons, capped at 255, shared by every vhid of
// the node so that all its groups move together. Reasons: a carp
// interface's link (+1 while down), the operator (`tunpf ctl carp demote`),
// pfsync (+32 while its bulk update runs, +1 while the sync link is down),
// repeated send errors.

export const DEMOTE_MAX = 255;

export class Demotion {
  private readonly reasons = new Map<string, number>();
  private listener: (total: number) => void = () => {};

  onChange(fn: (total: number) => void): void {
    this.listener = fn;
  }

  get total(): number {
    let t = 0;
    for (const v of this.reasons.values()) t += v;
    return Math.max(0, Math.min(DEMOTE_MAX, t));
  }

  get(reason: string): number {
    return this.reasons.get(reason) ?? 0;
  }

  /** Sets one reason's share (0 removes it). */
  set(reason: string, value: number): void {
    const before = this.total;
    if (value === 0) this.reasons.delete(reason);
    else this.reasons.set(reason, value);
    if (this.total !== before) this.listener(this.total);
  }

  /** Adds to one reason's share; it never goes below 0. */
  adjust(reason: string, delta: number): void {
    this.set(reason, Math.max(0, this.get(reason) + delta));
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.reasons);
  }
}
