// Every transition of the CARP state machine, with a fake clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CarpMachine, CarpState, type CarpMachineConfig } from '../../src/carp/machine.js';

const cfg = (over: Partial<CarpMachineConfig> = {}): CarpMachineConfig => ({
  vhid: 1,
  advbase: 1,
  advskew: 0,
  preempt: false,
  families: [4],
  ...over,
});
const kinds = (m: CarpMachine) => m.drain().map((a) => a.kind);

function master(over: Partial<CarpMachineConfig> = {}): CarpMachine {
  const m = new CarpMachine(cfg(over));
  m.start(0);
  m.tick(3 * m.interval);
  m.drain();
  return m;
}

test('INIT → BACKUP at start, → MASTER when the master-down time (3 × interval) passes unheard', () => {
  const m = new CarpMachine(cfg({ advskew: 128 })); // interval 1.5 s
  assert.equal(m.state, CarpState.INIT);
  m.start(0);
  assert.equal(m.state, CarpState.BACKUP);
  assert.deepEqual(kinds(m), ['backup']);
  assert.equal(m.nextTimerAt(), 4.5);
  m.tick(4.49);
  assert.equal(m.state, CarpState.BACKUP);
  m.tick(4.5);
  assert.equal(m.state, CarpState.MASTER);
  const acts = m.drain();
  assert.deepEqual(
    acts.map((a) => a.kind),
    ['master', 'advertise'],
    'the first advertisement goes out at once',
  );
  assert.match((acts[0] as { reason: string }).reason, /no advertisement for 4\.500 s/);
});

test('advertisements keep their schedule even when ticks come late', () => {
  const m = master();
  const t0 = 3;
  const sent: number[] = [];
  for (let k = 1; k <= 10; k++) {
    const late = t0 + k + 0.3; // every tick 300 ms late
    m.tick(late);
    if (m.drain().some((a) => a.kind === 'advertise')) sent.push(k);
  }
  assert.deepEqual(sent, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(m.nextTimerAt(), t0 + 11, 'the next deadline is still on the 1 s grid');
});

test('a backup restarts its master-down timer on each advertisement of a better or equal master', () => {
  const m = new CarpMachine(cfg({ advskew: 100 }));
  m.start(0);
  m.drain();
  for (let t = 1; t < 20; t++) {
    m.receive({ advbase: 1, advskew: 0, demote: 0 }, 4, t);
    m.tick(t + 0.5);
  }
  assert.equal(m.state, CarpState.BACKUP);
  assert.equal(m.nextTimerAt(), 19 + 3 * m.interval);
});

test('preempt: a backup takes over from a slower master only when preempting', () => {
  const slow = { advbase: 1, advskew: 200, demote: 0 };
  const noPre = new CarpMachine(cfg({ preempt: false }));
  noPre.start(0);
  noPre.receive(slow, 4, 1);
  assert.equal(noPre.state, CarpState.BACKUP);
  const pre = new CarpMachine(cfg({ preempt: true }));
  pre.start(0);
  pre.drain();
  pre.receive(slow, 4, 1);
  assert.equal(pre.state, CarpState.MASTER);
  assert.match((pre.drain()[0] as { reason: string }).reason, /preempting a slower master/);
});

test('a backup never preempts an equally preferred master', () => {
  const m = new CarpMachine(cfg({ preempt: true }));
  m.start(0);
  m.receive({ advbase: 1, advskew: 0, demote: 0 }, 4, 1);
  assert.equal(m.state, CarpState.BACKUP);
});

test('a more demoted master is taken over regardless of preempt', () => {
  const m = new CarpMachine(cfg({ preempt: false }));
  m.start(0);
  m.receive({ advbase: 1, advskew: 0, demote: 32 }, 4, 1);
  assert.equal(m.state, CarpState.MASTER);
});

test('"the master will time out": 3 × my advbase < its interval', () => {
  const m = new CarpMachine(cfg({ advbase: 1 }));
  m.start(0);
  m.receive({ advbase: 4, advskew: 0, demote: 0 }, 4, 1);
  assert.equal(m.state, CarpState.MASTER);
  const zero = new CarpMachine(cfg({ advbase: 0, advskew: 10 }));
  zero.start(0);
  zero.receive({ advbase: 4, advskew: 0, demote: 0 }, 4, 0.01);
  assert.equal(zero.state, CarpState.BACKUP, 'skipped when my advbase is 0');
});

test('a master steps down on hearing a better or equal master, and stays on a worse one', () => {
  const better = master({ advskew: 100 });
  better.receive({ advbase: 1, advskew: 0, demote: 0 }, 4, 4);
  assert.equal(better.state, CarpState.BACKUP);
  assert.deepEqual(kinds(better), ['backup']);
  const equal = master();
  equal.receive({ advbase: 1, advskew: 0, demote: 0 }, 4, 4);
  assert.equal(equal.state, CarpState.BACKUP, 'no tie-break: an equal master steps down');
  const worse = master();
  worse.receive({ advbase: 1, advskew: 50, demote: 0 }, 4, 4);
  assert.equal(worse.state, CarpState.MASTER);
  const moreDemotedPeer = master({ advskew: 100 });
  moreDemotedPeer.receive({ advbase: 1, advskew: 0, demote: 1 }, 4, 4);
  assert.equal(moreDemotedPeer.state, CarpState.MASTER, 'a faster but demoted peer does not win');
});

test('a demoted master steps down before a less demoted peer; demotion advertises at once', () => {
  const m = master();
  m.setDemote(1, 3.2);
  const acts = m.drain();
  assert.deepEqual(
    acts.map((a) => a.kind),
    ['advertise'],
  );
  assert.equal((acts[0] as { demote: number }).demote, 1);
  m.receive({ advbase: 1, advskew: 200, demote: 0 }, 4, 3.5);
  assert.equal(m.state, CarpState.BACKUP);
});

test('skew demotion: while demoted the advertised advskew is at least 240', () => {
  const m = master({ skewDemotion: true });
  m.setDemote(32, 3.1);
  const ad = m.drain()[0] as { advskew: number; demote: number };
  assert.deepEqual([ad.advskew, ad.demote], [240, 32]);
  m.setDemote(0, 4);
  assert.equal(m.effectiveSkew, 0);
});

test('bow-out: a master going down sends 255/255 once and gives its addresses up', () => {
  const m = master({ families: [4, 6] });
  m.shutdown(5);
  const acts = m.drain();
  assert.deepEqual(
    acts.map((a) => a.kind),
    ['advertise', 'advertise', 'backup', 'init'],
  );
  assert.deepEqual(
    acts.slice(0, 2).map((a) => (a as { advbase: number; advskew: number; family: number }).family),
    [4, 6],
  );
  assert.ok(
    acts
      .slice(0, 2)
      .every((a) => (a as { advbase: number }).advbase === 255 && (a as { advskew: number }).advskew === 255),
  );
  assert.equal(m.nextTimerAt(), Infinity);
  // and a backup hearing it takes over at once ("will time out")
  const b = new CarpMachine(cfg());
  b.start(0);
  b.receive({ advbase: 255, advskew: 255, demote: 0 }, 4, 1);
  assert.equal(b.state, CarpState.MASTER);
});

test('link down → INIT (addresses given up); link up → BACKUP', () => {
  const m = master();
  m.linkDown(4);
  assert.equal(m.state, CarpState.INIT);
  assert.deepEqual(kinds(m), ['backup', 'init']);
  m.receive({ advbase: 1, advskew: 0, demote: 0 }, 4, 5);
  assert.equal(m.state, CarpState.INIT, 'INIT ignores advertisements');
  m.linkChanged(true, 6);
  assert.equal(m.state, CarpState.BACKUP);
});

test('the delayed second round of announcements comes after the second following advertisement', () => {
  const m = new CarpMachine(cfg());
  m.start(0);
  m.tick(3);
  assert.deepEqual(kinds(m), ['backup', 'master', 'advertise']);
  m.tick(4);
  assert.deepEqual(kinds(m), ['advertise']);
  m.tick(5);
  assert.deepEqual(kinds(m), ['advertise', 'announce-again']);
  m.tick(6);
  assert.deepEqual(kinds(m), ['advertise']);
});

test('IPv4 and IPv6: an advertisement per family, a master-down timer per family', () => {
  const m = new CarpMachine(cfg({ families: [4, 6] }));
  m.start(0);
  m.receive({ advbase: 1, advskew: 0, demote: 0 }, 4, 2); // only IPv4 is heard
  m.tick(3);
  assert.equal(m.state, CarpState.MASTER, 'the IPv6 master-down timer ran out');
  const ads = m.drain().filter((a) => a.kind === 'advertise');
  assert.deepEqual(
    ads.map((a) => (a as { family: number }).family),
    [4, 6],
  );
});

test('forced transitions and configuration checks', () => {
  const m = new CarpMachine(cfg());
  m.start(0);
  m.force(2, 1);
  assert.equal(m.state, CarpState.MASTER);
  m.force(1, 2);
  assert.equal(m.state, CarpState.BACKUP);
  assert.throws(() => new CarpMachine(cfg({ advskew: 255 })), /advskew/);
  assert.throws(() => new CarpMachine(cfg({ vhid: 0 })), /vhid/);
  assert.equal(new CarpMachine(cfg({ advbase: 0, advskew: 0 })).interval, 1 / 256);
});
