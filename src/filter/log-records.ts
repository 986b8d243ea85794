// What a verdict asks to log: pf calls pflog_packet once per rule that logs
// a packet (a `match log` rule, the deciding rule, every rule after a
// `log (matches)`, the state's rule under `log (all)`). The filter fills a
// reusable, fixed-size record list per packet; nothing is allocated, and a
// packet that logs nothing costs one counter reset.

/** pf's log option bits (PF_LOG*), as pfctl compiles them and pfsync carries a state's. */
export const LogFlag = {
  LOG: 0x01,
  ALL: 0x02, // every packet of the states the rule creates
  USER: 0x04, // uid and pid of the local socket
  FORCE: 0x08, // set by pf itself, never by a rule
  MATCHES: 0x10, // every later matching rule logs the packet too
} as const;

/** Records kept per packet; more are counted as lost (a ruleset with this many logging matches is unusual). */
export const MAX_LOG_RECORDS = 16;

export class LogRecords {
  count = 0;
  /** Records of this packet that did not fit. */
  lost = 0;
  /** Rule number of each record; -1 for pf's default rule. */
  readonly rule = new Int32Array(MAX_LOG_RECORDS);
  /** PfAction and PfReason of each record (src/packet/pflog.ts). */
  readonly action = new Uint8Array(MAX_LOG_RECORDS);
  readonly reason = new Uint8Array(MAX_LOG_RECORDS);

  clear(): void {
    this.count = 0;
    this.lost = 0;
  }

  /** Appends a record; returns its index, or -1 when the list is full. */
  push(rule: number, action: number, reason: number): number {
    const k = this.count;
    if (k === MAX_LOG_RECORDS) {
      this.lost++;
      return -1;
    }
    this.rule[k] = rule;
    this.action[k] = action;
    this.reason[k] = reason;
    this.count = k + 1;
    return k;
  }

  copyFrom(o: LogRecords): void {
    this.count = o.count;
    this.lost = o.lost;
    this.rule.set(o.rule);
    this.action.set(o.action);
    this.reason.set(o.reason);
  }
}
