// CARP's plain status becomes `show carp` (ISO dates, the shape in results.ts) in the control layer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CarpStatus } from '../../src/carp/carp-service.js';
import { showCarp } from '../../src/control/carp-commands.js';

test('show carp: the group keeps its fields, in order, with since as an ISO date', () => {
  const status: CarpStatus = {
    demote: 1,
    demoteReasons: { admin: 1 },
    groups: [
      {
        name: 'carp-lan',
        carpdev: 'lan',
        vhid: 1,
        state: 'MASTER',
        advbase: 1,
        advskew: 0,
        preempt: true,
        lladdr: 'virtual',
        addresses: ['10.1.0.1/24'],
        since: 1704067500.25,
        reason: 'preempt',
        counters: { received: 3, accepted: 2, sent: 9, blockedOut: 0, dropped: {} },
      },
    ],
  };
  const r = showCarp(status);
  assert.equal(r.groups[0]!.since, '2024-01-01T00:05:00.250Z');
  assert.deepEqual(Object.keys(r.groups[0]!), Object.keys(status.groups[0]!));
  assert.deepEqual(
    { ...r, groups: [{ ...r.groups[0], since: 0 }] },
    { ...status, groups: [{ ...status.groups[0], since: 0 }] },
  );
});
