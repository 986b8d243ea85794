// The control protocol: requests and responses survive encoding and any cut
// of the byte stream; malformed and oversized requests get clear errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequest,
  decodeResponse,
  encode,
  encodingLength,
  LineFramer,
  MAX_REQUEST_BYTES,
  type Request,
  type Response,
} from '../../src/control/protocol.js';
import { randomSource } from './helpers/random.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function randomString(rnd: () => number, max = 20): string {
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', '\n', '\t', 'é', '€', '😀', '{', '}', ':', '\u0000', '\u2028'];
  let s = '';
  const n = Math.floor(rnd() * max);
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
  return s;
}

function randomValue(rnd: () => number, depth = 0): unknown {
  const k = Math.floor(rnd() * (depth > 2 ? 4 : 6));
  switch (k) {
    case 0:
      return randomString(rnd);
    case 1:
      return Math.floor(rnd() * 2 ** 40) * (rnd() < 0.5 ? -1 : 1);
    case 2:
      return rnd() < 0.5;
    case 3:
      return null;
    case 4:
      return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(rnd, depth + 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(rnd() * 4) }, () => [randomString(rnd, 8), randomValue(rnd, depth + 1)]),
      );
  }
}

function randomMessage(rnd: () => number): Request | Response {
  const id = rnd() < 0.5 ? Math.floor(rnd() * 1e9) : randomString(rnd, 10);
  const r = rnd();
  if (r < 0.4)
    return {
      id,
      command: randomString(rnd, 12) || 'show info',
      args: (randomValue(rnd, 5) as Record<string, unknown>) ?? {},
    };
  if (r < 0.7) return { id, ok: true, result: randomValue(rnd) };
  return {
    id,
    ok: false,
    error: { code: 'bad-args', message: randomString(rnd), details: [randomString(rnd), randomString(rnd)] },
  };
}

test('messages round-trip through encode, any cut of the stream, and decode', () => {
  const rnd = randomSource('control-protocol');
  for (let round = 0; round < 200; round++) {
    const msgs = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => {
      const m = randomMessage(rnd);
      if ('command' in m && (typeof m.args !== 'object' || m.args === null || Array.isArray(m.args))) m.args = {};
      return m;
    });
    const stream = Buffer.concat(msgs.map((m) => encode(m)));
    assert.equal(
      stream.length,
      msgs.reduce((n, m) => n + encodingLength(m), 0),
    );
    const framer = new LineFramer(1 << 20);
    const lines: Uint8Array[] = [];
    for (let at = 0; at < stream.length;) {
      const n = 1 + Math.floor(rnd() * 40);
      for (const f of framer.push(stream.subarray(at, at + n))) {
        assert.ok('line' in f);
        lines.push(Uint8Array.from(f.line));
      }
      at += n;
    }
    assert.equal(lines.length, msgs.length);
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const d = 'command' in m ? decodeRequest(lines[i]!) : decodeResponse(lines[i]!);
      assert.ok(d.ok, JSON.stringify(d));
      assert.deepEqual(d.value, JSON.parse(JSON.stringify(m)));
    }
  }
});

test('encode writes at an offset and refuses a buffer too small', () => {
  const m: Request = { id: 7, command: 'show rules', args: {} };
  const len = encodingLength(m);
  const buf = new Uint8Array(len + 3);
  encode(m, buf, 3);
  assert.equal(buf[len + 2], 0x0a);
  assert.deepEqual(decodeRequest(buf, 3, len - 1), { ok: true, value: m });
  assert.throws(() => encode(m, new Uint8Array(len - 1)), RangeError);
});

test('malformed requests: each gets a clear message, and the id when there is one', () => {
  const cases: [string, RegExp, string | number | null][] = [
    ['not json', /not valid JSON/, null],
    ['[1,2]', /must be a JSON object/, null],
    ['"show"', /must be a JSON object/, null],
    ['{"command":"show info"}', /needs an "id"/, null],
    ['{"id":{},"command":"show info"}', /needs an "id"/, null],
    ['{"id":3}', /needs a "command"/, 3],
    ['{"id":"a","command":""}', /needs a "command"/, 'a'],
    ['{"id":4,"command":"x","args":[1]}', /"args" must be an object/, 4],
    ['{"id":5,"command":"x","args":"y"}', /"args" must be an object/, 5],
  ];
  for (const [text, message, id] of cases) {
    const d = decodeRequest(bytes(text));
    assert.equal(d.ok, false, text);
    if (d.ok) continue;
    assert.equal(d.error.code, 'malformed', text);
    assert.match(d.error.message, message, text);
    assert.equal(d.id, id, text);
  }
  const bad = decodeRequest(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d));
  assert.ok(!bad.ok && /UTF-8/.test(bad.error.message));
  const ok = decodeRequest(bytes('{"id":1,"command":"show info"}'));
  assert.deepEqual(ok, { ok: true, value: { id: 1, command: 'show info', args: {} } });
});

test('an oversized request: too-large, reported once, its bytes dropped, the next line still read', () => {
  const framer = new LineFramer(MAX_REQUEST_BYTES);
  const big = Buffer.alloc(MAX_REQUEST_BYTES + 10, 0x61);
  const frames = [...framer.push(big.subarray(0, 40000)), ...framer.push(big.subarray(40000))];
  assert.deepEqual(
    frames.map((f) => 'oversized' in f),
    [true],
  );
  assert.ok(framer.pending > MAX_REQUEST_BYTES, 'counts what it dropped');
  const next = framer.push(bytes('more of it\n{"id":2,"command":"show info"}\n'));
  assert.equal(next.length, 1);
  assert.ok('line' in next[0]! && decodeRequest(next[0].line).ok);
  assert.equal(framer.pending, 0);
  const d = decodeRequest(Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20));
  assert.ok(!d.ok && d.error.code === 'too-large' && /limit is 65536/.test(d.error.message));
  // exactly at the limit is fine
  const edge = new LineFramer(10);
  assert.deepEqual(
    edge.push(bytes('0123456789\n')).map((f) => 'line' in f),
    [true],
  );
  assert.deepEqual(
    edge.push(bytes('0123456789A\n')).map((f) => 'oversized' in f),
    [true],
  );
});

test('responses: error bodies are checked, unknown codes read as internal', () => {
  const d = decodeResponse(bytes('{"id":1,"ok":false,"error":{"code":"weird","message":"m","details":["a",2]}}'));
  assert.deepEqual(d, {
    ok: true,
    value: { id: 1, ok: false, error: { code: 'internal', message: 'm', details: ['a', '2'] } },
  });
  assert.equal(decodeResponse(bytes('{"id":1,"ok":false}')).ok, false);
  assert.equal(decodeResponse(bytes('{"id":1}')).ok, false);
  assert.deepEqual(decodeResponse(bytes('{"id":null,"ok":true}')), {
    ok: true,
    value: { id: null, ok: true, result: null },
  });
});
