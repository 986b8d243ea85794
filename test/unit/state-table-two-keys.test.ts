// A translated state has a wire key and a stack key, both indexed, as pf
// keeps them: inbound packets match the wire key, outbound ones the stack
// key. The keys of pf-nat.md §13.1 (nat-to) and §13.4 (rdr-to).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Direction } from '../../src/packet/meta.js';
import { FLOATING } from '../../src/state/constants.js';
import { KeyUse, StateTable } from '../../src/state/state-table.js';
import { randomSource } from './helpers/random.js';

const START = 0x6744d0a1;
const v4 = (s: string) => Uint32Array.of(s.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0, 0, 0, 0);
const H = v4('10.0.0.5');
const P = v4('192.0.2.1');
const S = v4('198.51.100.7');
const C = v4('203.0.113.9');
const I = v4('10.0.0.10');
const TCP = 6;

function natState(t: StateTable): number {
  // made by the outbound SYN H:51234 -> S:443, translated to P:54321
  const i = t.insert(4, TCP, P, 54321, S, 443, FLOATING, Direction.OUT, KeyUse.WIRE);
  assert.ok(i >= 0);
  assert.ok(t.setStackKey(i, H, 51234, S, 443));
  return i;
}

test("nat-to: the inside host's outbound packets match the stack key, the replies the wire key", () => {
  const t = new StateTable({ capacity: 16, startSeconds: START });
  const i = natState(t);
  assert.equal(t.translated(i), true);
  assert.equal(t.find(4, TCP, H, 51234, S, 443, FLOATING, Direction.OUT), i);
  assert.deepEqual([t.forward, t.matchedStack], [true, true]);
  assert.equal(t.find(4, TCP, S, 443, P, 54321, FLOATING, Direction.IN), i);
  assert.deepEqual([t.forward, t.matchedStack], [false, false]);
  // each key serves one direction only
  assert.equal(t.find(4, TCP, P, 54321, S, 443, FLOATING, Direction.OUT), -1, 'the wire key is not for outbound');
  assert.equal(t.find(4, TCP, S, 443, H, 51234, FLOATING, Direction.IN), -1, 'the stack key is not for inbound');
  assert.deepEqual([...t.stackAddressOf(i, 0)], [...H]);
  assert.deepEqual([t.stackPortOf(i, 0), t.stackPortOf(i, 1)], [51234, 443]);
  assert.deepEqual([...t.addressOf(i, 0)], [...P]);
});

test("rdr-to: the client's inbound packets match the wire key, the server's replies the stack key", () => {
  const t = new StateTable({ capacity: 16, startSeconds: START });
  const i = t.insert(4, TCP, C, 40000, P, 80, FLOATING, Direction.IN, KeyUse.WIRE);
  assert.ok(t.setStackKey(i, C, 40000, I, 8080));
  assert.equal(t.find(4, TCP, C, 40000, P, 80, FLOATING, Direction.IN), i);
  assert.deepEqual([t.forward, t.matchedStack], [true, false]);
  assert.equal(t.find(4, TCP, I, 8080, C, 40000, FLOATING, Direction.OUT), i);
  assert.deepEqual([t.forward, t.matchedStack], [false, true]);
});

test("the forwarded flow's inbound state and the nat state share a tuple in different directions", () => {
  const t = new StateTable({ capacity: 16, startSeconds: START });
  const inLan = t.insert(4, TCP, H, 51234, S, 443, FLOATING, Direction.IN);
  assert.ok(inLan >= 0);
  const nat = natState(t);
  assert.notEqual(inLan, nat);
  // the reply, after translation back, goes out on lan: the inbound state's
  assert.equal(t.find(4, TCP, S, 443, H, 51234, FLOATING, Direction.OUT), inLan);
});

test('keyFree sees a translated key only for the packets it serves; a taken stack key refuses the state', () => {
  const t = new StateTable({ capacity: 16, startSeconds: START });
  natState(t);
  // another connection may not take P:54321 -> S:443 on the wire
  assert.equal(t.keyFree(4, TCP, P, 54321, S, 443, FLOATING, Direction.OUT, KeyUse.WIRE), false);
  assert.equal(t.keyFree(4, TCP, P, 54322, S, 443, FLOATING, Direction.OUT, KeyUse.WIRE), true);
  assert.equal(t.keyFree(4, TCP, P, 54321, v4('198.51.100.8'), 443, FLOATING, Direction.OUT, KeyUse.WIRE), true);
  // a second nat state with the same inside tuple (its stack key) is refused
  const j = t.insert(4, TCP, P, 50000, S, 443, FLOATING, Direction.OUT, KeyUse.WIRE);
  assert.ok(j >= 0);
  assert.equal(t.setStackKey(j, H, 51234, S, 443), false);
  assert.equal(t.translated(j), false);
});

test('randomised: translated and plain states inserted and removed, every key found until removed', () => {
  const rnd = randomSource('two-keys');
  const t = new StateTable({ capacity: 4000, startSeconds: START, seeds: Uint32Array.of(5, 6, 7) });
  const live = new Map<number, { nat: boolean; port: number; inside: number }>();
  let nextPort = 1;
  for (let step = 0; step < 40000; step++) {
    if (rnd() < 0.55 && live.size < 3500) {
      const port = nextPort++ & 0xffff || nextPort++;
      const inside = 0x0a000000 + Math.floor(rnd() * 4096);
      const nat = rnd() < 0.6;
      const i = nat
        ? t.insert(4, TCP, P, port, S, 443, FLOATING, Direction.OUT, KeyUse.WIRE)
        : t.insert(4, TCP, v4('10.9.0.1'), port, S, 443, FLOATING, Direction.OUT);
      if (i < 0) continue;
      if (nat && !t.setStackKey(i, Uint32Array.of(inside, 0, 0, 0), port, S, 443)) {
        t.remove(i);
        continue;
      }
      live.set(i, { nat, port, inside });
    } else if (live.size > 0) {
      const keys = [...live.keys()];
      const i = keys[Math.floor(rnd() * keys.length)]!;
      t.remove(i);
      live.delete(i);
    }
  }
  for (const [i, s] of live) {
    const inside = s.nat ? Uint32Array.of(s.inside, 0, 0, 0) : v4('10.9.0.1');
    assert.equal(t.find(4, TCP, inside, s.port, S, 443, FLOATING, Direction.OUT), i);
    const outside = s.nat ? P : v4('10.9.0.1');
    assert.equal(t.find(4, TCP, S, 443, outside, s.port, FLOATING, Direction.IN), i);
  }
  assert.equal(t.count, live.size);
});
