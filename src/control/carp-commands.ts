// CARP's part of the operator's interface: `show carp`, `carp demote N` and
// `carp promote N` on the control socket (the shapes in control/results.ts),
// and its metrics: the role of each group, advertisements sent, received and
// dropped by reason, the demotion counter. The passphrase is never included.

import { carpStepArgs, noArgs, type CarpStepArgs } from './schemas.js';
import { ControlError, type ControlServer } from './server.js';
import type { CarpDemoteResult, ShowCarpResult } from './results.js';
import type { MetricFamily } from './metrics.js';
import type { CarpService, CarpStatus } from '../carp/carp-service.js';
import { CarpStateName } from '../carp/machine.js';

function amount(args: CarpStepArgs): number {
  const by = args.by ?? 1;
  if (typeof by !== 'number' || !Number.isInteger(by) || by < 1 || by > 255)
    throw new ControlError('bad-args', 'the demotion step must be 1..255');
  return by;
}

/** The service's status as `show carp` answers it: times as ISO dates. */
export function showCarp(s: CarpStatus): ShowCarpResult {
  return { ...s, groups: s.groups.map((g) => ({ ...g, since: new Date(g.since * 1000).toISOString() })) };
}

export function registerCarpCommands(control: ControlServer, carp: CarpService): void {
  control.register('show carp', noArgs, (): ShowCarpResult => showCarp(carp.status()));
  control.register(
    'carp demote',
    carpStepArgs,
    (args): CarpDemoteResult => ({ demote: carp.adminDemote(amount(args)) }),
    {
      mutating: true,
    },
  );
  control.register(
    'carp promote',
    carpStepArgs,
    (args): CarpDemoteResult => ({ demote: carp.adminDemote(-amount(args)) }),
    {
      mutating: true,
    },
  );
}

export function carpMetrics(carp: CarpService): () => MetricFamily[] {
  return () => {
    const s = carp.status();
    const group = (g: (typeof s.groups)[number]) => ({ group: g.name, vhid: String(g.vhid), carpdev: g.carpdev });
    return [
      {
        name: 'tunpf_carp_state',
        help: 'CARP state of each group: 1 for the state it is in (INIT, BACKUP, MASTER), 0 for the others',
        type: 'gauge',
        samples: s.groups.flatMap((g) =>
          CarpStateName.map((st) => ({ labels: { ...group(g), state: st }, value: g.state === st ? 1 : 0 })),
        ),
      },
      { name: 'tunpf_carp_demote', help: "The node's demotion counter", type: 'gauge', samples: [{ value: s.demote }] },
      {
        name: 'tunpf_carp_advertisements_sent_total',
        help: 'Advertisements sent',
        type: 'counter',
        samples: s.groups.map((g) => ({ labels: group(g), value: g.counters.sent })),
      },
      {
        name: 'tunpf_carp_advertisements_received_total',
        help: 'Advertisements received (before the checks)',
        type: 'counter',
        samples: s.groups.map((g) => ({ labels: group(g), value: g.counters.received })),
      },
      {
        name: 'tunpf_carp_advertisements_accepted_total',
        help: 'Advertisements that passed every check',
        type: 'counter',
        samples: s.groups.map((g) => ({ labels: group(g), value: g.counters.accepted })),
      },
      {
        name: 'tunpf_carp_advertisements_blocked_out_total',
        help: 'Advertisements the rules kept from leaving (not sent)',
        type: 'counter',
        samples: s.groups.map((g) => ({ labels: group(g), value: g.counters.blockedOut })),
      },
      {
        name: 'tunpf_carp_advertisements_dropped_total',
        help:
          'Advertisements dropped, by reason ' +
          '(bad-ttl, bad-length, bad-checksum, bad-vhid, bad-version, bad-auth, own-counter, ' +
          'blocked: by the rules)',
        type: 'counter',
        samples: s.groups.flatMap((g) =>
          Object.entries(g.counters.dropped).map(([reason, n]) => ({ labels: { ...group(g), reason }, value: n })),
        ),
      },
    ];
  };
}
