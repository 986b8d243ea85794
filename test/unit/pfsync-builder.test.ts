// The packet builder: OpenBSD's section order whatever order records come
// in, length fields right, never beyond the MTU, and `room` telling exactly
// how many more records of an action fit.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketBuilder, bus, decodePacket } from '../../src/pfsync/codec.js';
import { delC, insAck, writeIdMessage } from '../../src/pfsync/state-record.js';
import { readU32, writeU32 } from '../../src/pfsync/wire.js';
import { PfsyncAction, BusStatus, MessageLength, PFSYNC, PfsyncDrop } from '../../src/pfsync/constants.js';
import { randomSource } from './helpers/random.js';

test('capacity at MTU 1500 (spec §6.2): 5 full states, 17 UPD_C, 121 DEL_C', () => {
  const b = new PacketBuilder(1500);
  assert.equal(b.room(PfsyncAction.INS), 5);
  assert.equal(b.room(PfsyncAction.UPD), 5);
  assert.equal(b.room(PfsyncAction.UPD_C), 17);
  assert.equal(b.room(PfsyncAction.DEL_C), 121);
  assert.equal(b.room(PfsyncAction.EOF), 0, 'no layout, no room');
  assert.equal(b.room(PfsyncAction.OINS), 0);
});

test('records added in any order come out in OpenBSD order, each section with its count and len', () => {
  const b = new PacketBuilder(1500);
  const order = [
    PfsyncAction.UPD,
    PfsyncAction.DEL_C,
    PfsyncAction.INS_ACK,
    PfsyncAction.UPD_C,
    PfsyncAction.DEL_C,
    PfsyncAction.INS,
    PfsyncAction.UPD_C,
    PfsyncAction.INS_ACK,
  ];
  order.forEach((a, k) => {
    const off = b.add(a);
    writeU32(b.buf, off, 0xabc00000 + k); // tag each record in its first word
  });
  const p = b.finish();
  assert.equal(p.length, b.length);
  assert.equal((p[2]! << 8) | p[3]!, p.length, 'header len');
  const d = decodePacket(p);
  assert.equal(d.drop, PfsyncDrop.OK);
  assert.deepEqual(
    d.sections.map((s) => [s.action, s.count, s.stride]),
    [
      [PfsyncAction.INS_ACK, 2, 12],
      [PfsyncAction.UPD_C, 2, 84],
      [PfsyncAction.DEL_C, 2, 12],
      [PfsyncAction.INS, 1, 264],
      [PfsyncAction.UPD, 1, 264],
    ],
  );
  const tags = d.sections.flatMap((s) =>
    Array.from({ length: s.count }, (_, k) => readU32(p, s.offset + k * s.stride) - 0xabc00000),
  );
  assert.deepEqual(tags, [2, 7, 3, 6, 1, 4, 5, 0], 'records keep their order within a section');
  assert.equal(p.length, 20 + 5 * 4 + 2 * 12 + 2 * 84 + 2 * 12 + 264 * 2);
});

test('filling to the MTU: room is exact, add refuses past it, the packet never exceeds mtu - 20', () => {
  const rnd = randomSource('pfsync builder fill');
  const kinds = [
    PfsyncAction.INS_ACK,
    PfsyncAction.UPD_C,
    PfsyncAction.DEL_C,
    PfsyncAction.INS,
    PfsyncAction.UPD,
    PfsyncAction.UPD_REQ,
    PfsyncAction.CLR,
    PfsyncAction.TDB,
  ];
  for (let round = 0; round < 200; round++) {
    const mtu = 308 + ((rnd() * 9000) | 0);
    const b = new PacketBuilder(mtu);
    let expected = 20;
    const counts = new Map<number, number>();
    for (;;) {
      const a = kinds[(rnd() * kinds.length) | 0]!;
      const n = counts.get(a) ?? 0;
      const cost = MessageLength[a]! + (n === 0 ? 4 : 0);
      const fits = expected + cost <= mtu - 20;
      assert.equal(b.room(a) > 0, fits, `room(${a}) at ${expected}/${mtu - 20}`);
      if (b.room(a) > 0)
        assert.equal(b.room(a), Math.floor((mtu - 20 - expected - (n === 0 ? 4 : 0)) / MessageLength[a]!));
      const off = b.add(a);
      if (!fits) {
        assert.equal(off, -1);
        if (kinds.every((k) => b.room(k) === 0)) break;
        continue;
      }
      writeIdMessage(b.buf, off, a, n, 7);
      counts.set(a, n + 1);
      expected += cost;
      assert.equal(b.length, expected);
    }
    const p = b.finish();
    assert.ok(p.length <= mtu - 20);
    const d = decodePacket(p);
    assert.equal(d.drop, PfsyncDrop.OK);
    for (const s of d.sections) {
      assert.equal(s.count, counts.get(s.action));
      for (let k = 0; k < s.count; k++)
        assert.deepEqual([readU32(p, s.offset + k * s.stride), readU32(p, s.offset + k * s.stride + 4)], [s.action, k]);
    }
  }
});

test('a bulk packet: BUS START opens it, BUS END closes it after the UPDs', () => {
  const b = new PacketBuilder(1500);
  b.add(PfsyncAction.UPD);
  bus.encode({ creatorid: 0x11223344, endtime: 0, status: BusStatus.START }, b.buf, b.add(PfsyncAction.BUS));
  b.add(PfsyncAction.UPD);
  assert.deepEqual(
    decodePacket(b.finish()).sections.map((s) => s.action),
    [PfsyncAction.BUS, PfsyncAction.UPD],
  );
  b.reset();
  b.add(PfsyncAction.UPD);
  bus.encode({ creatorid: 0x11223344, endtime: 0, status: BusStatus.END }, b.buf, b.add(PfsyncAction.BUS));
  const d = decodePacket(b.finish());
  assert.deepEqual(
    d.sections.map((s) => s.action),
    [PfsyncAction.UPD, PfsyncAction.BUS],
  );
  assert.deepEqual(d.sections[1]!.messages[0], { creatorid: 0x11223344, endtime: 0, status: BusStatus.END });
});

test('reset empties it; records are zeroed when added; finish into a caller buffer', () => {
  const b = new PacketBuilder();
  assert.ok(b.empty);
  b.buf.fill(0xff);
  const off = b.add(PfsyncAction.DEL_C);
  assert.ok(b.buf.subarray(off, off + 12).every((x) => x === 0));
  delC.encode({ idHi: 1, idLo: 2, creatorid: 3 }, b.buf, off);
  const out = new Uint8Array(100).fill(0xee);
  const view = b.finish(out, 10);
  assert.equal(view.byteOffset, 10);
  assert.deepEqual(decodePacket(out, 10, view.length).sections[0]!.messages, [{ idHi: 1, idLo: 2, creatorid: 3 }]);
  assert.equal(out[9], 0xee);
  assert.equal(out[10 + view.length], 0xee);
  assert.throws(() => b.finish(new Uint8Array(20)), RangeError);
  b.reset();
  assert.ok(b.empty);
  assert.equal(b.count(PfsyncAction.DEL_C), 0);
  assert.equal(b.finish().length, PFSYNC.HEADER_LENGTH);
  insAck.encode({ idHi: 9, idLo: 9, creatorid: 9 }, b.buf, b.add(PfsyncAction.INS_ACK));
  assert.deepEqual(
    decodePacket(b.finish()).sections.map((s) => s.action),
    [PfsyncAction.INS_ACK],
  );
});

test('MTU must hold a full state; actions without a layout cannot be added', () => {
  assert.throws(() => new PacketBuilder(307), RangeError);
  assert.throws(() => new PacketBuilder(70000), RangeError);
  assert.equal(new PacketBuilder(308).room(PfsyncAction.INS), 1);
  assert.throws(() => new PacketBuilder().add(PfsyncAction.EOF), RangeError);
});
