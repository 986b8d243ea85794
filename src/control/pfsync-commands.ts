// pfsync's part of the operator's interface: `show pfsync` on the control
// socket (the shape in control/results.ts, built here from the engine's
// plain status) and its metrics: packets, bytes
// and messages sent and received, what was dropped and why, what is queued,
// the replication lag and the bulk update's progress.

import { noArgs } from './schemas.js';
import type { ControlServer } from './server.js';
import type { MetricFamily } from './metrics.js';
import type { ShowPfsyncResult } from './results.js';
import type { PfsyncStatus } from '../pfsync/pfsync-engine.js';
import type { PfsyncService } from '../pfsync/pfsync-service.js';

const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

/** `show pfsync` from pfsync's status: hostid in hex, the bulk's outcome beside its state, times as ISO dates. */
export function showPfsync(s: PfsyncStatus): ShowPfsyncResult {
  const b = s.bulk;
  return {
    syncdev: s.syncdev,
    syncpeer: s.syncpeer,
    maxupd: s.maxupd,
    defer: s.defer,
    hostid: s.hostid.toString(16).padStart(8, '0'),
    bulk: {
      state: b.state + (b.outcome && b.outcome !== 'complete' ? ` (${b.outcome})` : ''),
      started: iso(b.startedAt),
      ended: iso(b.endedAt),
    },
    queued: s.queued,
    sent: s.sent,
    received: s.received,
    dropped: s.dropped,
    lagMs: s.lagMs,
    blockedOut: s.blockedOut,
  };
}

export function registerPfsyncCommands(control: ControlServer, pfsync: PfsyncService): void {
  control.register('show pfsync', noArgs, () => showPfsync(pfsync.status()));
}

export function pfsyncMetrics(pfsync: PfsyncService): () => MetricFamily[] {
  return () => {
    const s = pfsync.status();
    const byAction = (m: Record<string, number>) =>
      Object.entries(m).map(([action, value]) => ({ labels: { action }, value }));
    const families: MetricFamily[] = [
      {
        name: 'tunpf_pfsync_sent_packets_total',
        help: 'pfsync packets sent',
        type: 'counter',
        samples: [{ value: s.sent.packets }],
      },
      {
        name: 'tunpf_pfsync_sent_bytes_total',
        help: 'pfsync bytes sent (IP header included)',
        type: 'counter',
        samples: [{ value: s.sent.bytes }],
      },
      {
        name: 'tunpf_pfsync_sent_messages_total',
        help: 'pfsync messages sent, by action',
        type: 'counter',
        samples: byAction(s.sent.messages),
      },
      {
        name: 'tunpf_pfsync_received_packets_total',
        help: 'pfsync packets received',
        type: 'counter',
        samples: [{ value: s.received.packets }],
      },
      {
        name: 'tunpf_pfsync_received_bytes_total',
        help: 'pfsync bytes received',
        type: 'counter',
        samples: [{ value: s.received.bytes }],
      },
      {
        name: 'tunpf_pfsync_received_messages_total',
        help: 'pfsync messages received, by action',
        type: 'counter',
        samples: byAction(s.received.messages),
      },
      {
        name: 'tunpf_pfsync_blocked_out_packets_total',
        help: 'pfsync packets the rules kept from leaving (not sent)',
        type: 'counter',
        samples: [{ value: s.blockedOut }],
      },
      {
        name: 'tunpf_pfsync_dropped_total',
        help: 'pfsync packets and messages dropped, by reason (pfsyncstats)',
        type: 'counter',
        samples: Object.entries(s.dropped).map(([reason, value]) => ({ labels: { reason }, value })),
      },
      {
        name: 'tunpf_pfsync_queued',
        help: 'pfsync messages waiting to be sent, by queue',
        type: 'gauge',
        samples: Object.entries(s.queued).map(([queue, value]) => ({ labels: { queue }, value })),
      },
      {
        name: 'tunpf_pfsync_bulk_in_progress',
        help: "1 while this node is fetching the peer's table",
        type: 'gauge',
        samples: [{ value: s.bulk.state === 'start' || s.bulk.state === 'sent' || s.bulk.state === 'bulk' ? 1 : 0 }],
      },
    ];
    if (s.lagMs.p50 !== null) {
      families.push({
        name: 'tunpf_pfsync_lag_seconds',
        help: "Time from a state's creation to its insert leaving for the peer (recent p50, p99)",
        type: 'gauge',
        samples: [
          { labels: { quantile: '0.5' }, value: s.lagMs.p50 / 1000 },
          { labels: { quantile: '0.99' }, value: s.lagMs.p99! / 1000 },
        ],
      });
    }
    return families;
  };
}
