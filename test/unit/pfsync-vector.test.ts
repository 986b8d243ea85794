// The spec's worked example (shared/spec/pfsync.md §14), byte for byte:
// decoded field by field, and the same fields encoded back to the 288
// pfsync bytes, with the codecs and with the packet builder.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAddress } from '../../src/packet/address.js';
import * as ipv4 from '../../src/packet/ipv4.js';
import { PacketBuilder, decodePacket, header, subheader, walkPacket } from '../../src/pfsync/codec.js';
import { state, type StateRecord } from '../../src/pfsync/state-record.js';
import { PfsyncAction, PFSYNC, PfsyncDrop, WireAf } from '../../src/pfsync/constants.js';
import { Direction } from '../../src/packet/meta.js';
import { VECTOR_FRAME, VECTOR_PFSYNC, VECTOR_RECORD } from './helpers/pfsync-vector.js';
import { peer } from './helpers/state-peer.js';

const addr = (s: string) => parseAddress(s)!.words;

/** The record of §14, written down from the spec's field table. */
function vectorFields(): StateRecord {
  const key = () => ({
    addr: [addr('10.0.0.5'), addr('192.0.2.80')] as [Uint32Array, Uint32Array],
    port: [51234, 443] as [number, number],
    rdomain: 0,
    af: WireAf.INET,
  });
  return {
    idHi: 0x6744d0a1,
    idLo: 0x00000007,
    ifname: 'all',
    key: [key(), key()],
    src: peer({ seqlo: 1000000, seqhi: 1000002, maxWin: 64240, state: 2, wscale: 0x87 }),
    dst: peer({ seqlo: 0, seqhi: 1, maxWin: 1, state: 0 }),
    rtAddr: new Uint32Array(4),
    rule: 3,
    anchor: 0xffffffff,
    natRule: 0xffffffff,
    creation: 0,
    expire: 120,
    packets: [1, 0],
    bytes: [60, 0],
    creatorid: 0x1d2c3b4a,
    rtableid: [-1, -1],
    maxMss: 0,
    af: WireAf.INET,
    proto: 6,
    direction: Direction.IN,
    log: 0,
    rt: 0,
    timeout: 0,
    syncFlags: 0,
    updates: 0,
    minTtl: 0,
    setTos: 0,
    stateFlags: 0,
    setPrio: [0, 0],
  };
}

test('the frame around it: IPv4 with TTL 255, protocol 240, TOS 0x10, to 224.0.0.240, 288 bytes of pfsync', () => {
  const ip = ipv4.decode(VECTOR_FRAME, 14);
  assert.equal(ip.ttl, PFSYNC.TTL);
  assert.equal(ip.protocol, PFSYNC.PROTO);
  assert.equal(ip.tos, PFSYNC.TOS);
  assert.equal(ip.dst, PFSYNC.GROUP_V4);
  assert.equal(ip.src, '192.0.2.2');
  assert.equal(VECTOR_PFSYNC.length, 288);
});

test('§14 decodes: header, one INS section, every field of the record', () => {
  const h = header.decode(VECTOR_PFSYNC, 0);
  assert.equal(h.version, 6);
  assert.equal(h.len, 288);
  assert.deepEqual([...h.pfcksum!], new Array(16).fill(0));
  assert.deepEqual(subheader.decode(VECTOR_PFSYNC, 20), { action: PfsyncAction.INS, len: 66, count: 1 });
  const p = decodePacket(VECTOR_PFSYNC);
  assert.equal(p.drop, PfsyncDrop.OK);
  assert.equal(p.sections.length, 1);
  const s = p.sections[0]!;
  assert.deepEqual([s.action, s.offset, s.stride, s.count, s.skipped], [PfsyncAction.INS, 24, 264, 1, false]);
  assert.deepEqual(s.messages[0], vectorFields());
  assert.deepEqual(state.decode(VECTOR_RECORD), vectorFields());
});

test('§14 encodes back to the same 288 bytes, by the codecs and by the packet builder', () => {
  const out = new Uint8Array(288).fill(0xee); // every byte must be written
  header.encode({ version: 6, len: 288 }, out, 0);
  subheader.encode({ action: PfsyncAction.INS, len: 66, count: 1 }, out, 20);
  state.encode(vectorFields(), out, 24);
  assert.deepEqual(out, Uint8Array.from(VECTOR_PFSYNC));

  const b = new PacketBuilder(1500);
  b.buf.fill(0xee);
  state.encode(vectorFields(), b.buf, b.add(PfsyncAction.INS));
  assert.deepEqual(b.finish(), Uint8Array.from(VECTOR_PFSYNC));
});

test('the walker hands the record over in place', () => {
  const seen: number[][] = [];
  const drop = walkPacket(VECTOR_FRAME, 34, VECTOR_FRAME.length - 34, {
    section: (action, buf, offset, stride, count) => {
      assert.equal(buf, VECTOR_FRAME, 'no copy');
      seen.push([action, offset, stride, count]);
    },
  });
  assert.equal(drop, PfsyncDrop.OK);
  assert.deepEqual(seen, [[PfsyncAction.INS, 34 + 24, 264, 1]]);
});
