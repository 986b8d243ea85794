// The lab counts its CARP groups as settled only once the roles will last:
// one master per group, no router demoted, and no backup that would preempt.
// A fixed bug: `lab up` returned while r2 was still demoted (its pfsync bulk
// update not yet in), and the roles changed under the caller's feet.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ShowCarpResult } from '../../src/control/results.js';
import { settledMaster } from '../../src/lab/carp-settled.js';

const GROUPS = ['carp-lan', 'carp-wan'];

function node(state: string | [string, string], advskew: number, demote = 0, preempt = true): ShowCarpResult {
  const [lan, wan] = Array.isArray(state) ? state : [state, state];
  const g = (name: string, s: string) =>
    ({
      name,
      carpdev: name.slice(5),
      vhid: name === 'carp-lan' ? 1 : 2,
      state: s,
      advbase: 0,
      advskew,
      preempt,
      lladdr: 'virtual',
      addresses: [],
      since: '',
      reason: '',
      counters: { received: 0, accepted: 0, sent: 0, dropped: {} },
    }) as ShowCarpResult['groups'][number];
  return {
    demote,
    demoteReasons: demote ? { 'pfsync bulk': demote } : {},
    groups: [g('carp-lan', lan), g('carp-wan', wan)],
  };
}

test('the preferred router master of both groups, the other backup, nobody demoted: settled', () => {
  assert.equal(settledMaster({ r1: node('MASTER', 50), r2: node('BACKUP', 100) }, GROUPS), 'r1');
});

test('one master per group while the backup is still demoted: not yet', () => {
  assert.equal(settledMaster({ r1: node('MASTER', 50), r2: node('BACKUP', 100, 32) }, GROUPS), null);
  assert.equal(settledMaster({ r1: node('MASTER', 50, 1), r2: node('BACKUP', 100) }, GROUPS), null);
});

test('the slower router is master and the faster one preempts: not yet; without preempt it stays', () => {
  assert.equal(settledMaster({ r1: node('BACKUP', 50), r2: node('MASTER', 100) }, GROUPS), null);
  assert.equal(settledMaster({ r1: node('BACKUP', 50, 0, false), r2: node('MASTER', 100) }, GROUPS), 'r2');
});

test('both backup, both master, or a router that does not answer: not settled', () => {
  assert.equal(settledMaster({ r1: node('BACKUP', 50), r2: node('BACKUP', 100) }, GROUPS), null);
  assert.equal(settledMaster({ r1: node('MASTER', 50), r2: node('MASTER', 100) }, GROUPS), null);
  assert.equal(settledMaster({ r1: node('MASTER', 50), r2: null }, GROUPS), null);
  assert.equal(settledMaster({ r1: node(['MASTER', 'BACKUP'], 50), r2: node(['BACKUP', 'INIT'], 100) }, GROUPS), null);
});

test('equal intervals: whoever holds the group keeps it; groups may have different masters', () => {
  assert.equal(settledMaster({ r1: node('BACKUP', 100), r2: node('MASTER', 100) }, GROUPS), 'r2');
  assert.equal(
    settledMaster({ r1: node(['MASTER', 'BACKUP'], 100), r2: node(['BACKUP', 'MASTER'], 100) }, GROUPS),
    'r1',
  );
});
