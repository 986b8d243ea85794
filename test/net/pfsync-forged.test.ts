// Forged pfsync is rejected and counted: pfsync has no authentication, so
// the transport is what is checked, as OpenBSD checks it (the sync
// interface, TTL 255), plus the source when a syncpeer is configured. A
// packet sent from the sync link with the wrong TTL, from an address that is
// not the peer, or of another protocol version creates no state; the same
// insert sent properly does.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { netTestsUnavailable } from './helpers/netns.js';
import { ctlJson } from './helpers/ctl.js';
import type { ShowPfsyncResult, ShowStatesResult } from '../../src/control/results.js';
import { HaTopology } from './helpers/ha-topology.js';
import { sleep } from './helpers/topology.js';
import { VECTOR_PFSYNC } from '../unit/helpers/pfsync-vector.js';

const skip = netTestsUnavailable();
let t: HaTopology;

before(async () => {
  if (skip) return;
  // r1 takes states only from its syncpeer 10.9.0.2 (r2's end of the link); r2 runs no tunpf here
  t = await HaTopology.create({ pfsync: (i) => `pfsync { syncdev sync syncpeer 10.9.0.${i === 2 ? 2 : 1} }` });
  t.r2.ns.exec('ip', 'addr', 'add', '10.9.0.99/30', 'dev', 'sync');
  await t.start(t.r1);
});

after(async () => {
  await t?.destroy();
});

/** Sends pfsync bytes from r2's namespace to r1 with a chosen TTL and source (python3's raw socket). */
function send(bytes: Uint8Array, ttl: number, src: string): void {
  const py = [
    'import socket,sys',
    's=socket.socket(socket.AF_INET,socket.SOCK_RAW,240)',
    's.setsockopt(socket.IPPROTO_IP,socket.IP_TTL,int(sys.argv[1]))',
    's.bind((sys.argv[2],0))',
    's.sendto(bytes.fromhex(sys.argv[3]),("10.9.0.1",0))',
  ].join('\n');
  execFileSync('ip', [
    'netns',
    'exec',
    t.r2.ns.name,
    'python3',
    '-c',
    py,
    String(ttl),
    src,
    Buffer.from(bytes).toString('hex'),
  ]);
}

const hasVectorState = async () =>
  (await ctlJson<ShowStatesResult>(t.r1.ns, 'show', 'states')).states.some(
    (s) => s.id === '6744d0a100000007' && s.creator === '1d2c3b4a',
  );

test(
  'inserts with the wrong TTL, from a stranger, or of another version are dropped and counted',
  { skip: skip ?? false },
  async () => {
    send(VECTOR_PFSYNC, 64, '10.9.0.2');
    send(VECTOR_PFSYNC, 255, '10.9.0.99');
    const v5 = Uint8Array.from(VECTOR_PFSYNC);
    v5[0] = 5; // FreeBSD's dialect
    send(v5, 255, '10.9.0.2');
    send(VECTOR_PFSYNC.subarray(0, 12), 255, '10.9.0.2'); // shorter than a header
    await sleep(300);
    assert.equal(await hasVectorState(), false, 'none of them made a state');
    const s = await ctlJson<ShowPfsyncResult>(t.r1.ns, 'show', 'pfsync');
    assert.deepEqual(s.dropped, { badttl: 1, badsrc: 1, hdrops: 1, badver: 1 });
  },
);

test('the same insert from the peer with TTL 255 makes the state', { skip: skip ?? false }, async () => {
  send(VECTOR_PFSYNC, 255, '10.9.0.2');
  for (let k = 0; k < 20 && !(await hasVectorState()); k++) await sleep(100);
  assert.equal(await hasVectorState(), true);
  const s = await ctlJson<ShowPfsyncResult>(t.r1.ns, 'show', 'pfsync');
  assert.equal(s.received.messages.INS, 1);
  assert.equal(t.r1.daemon!.exitCode, null, 'and the daemon runs on');
});
