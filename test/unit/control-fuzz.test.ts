// The control protocol under junk: a real server on a temporary socket,
// with the filter's commands, fed random frames and random requests by
// fast-check for a bounded time. Whatever arrives, the answer is never
// `internal` and the server keeps answering.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { registerFilterCommands, type FilterContext } from '../../src/control/filter-commands.js';
import { ControlServer } from '../../src/control/server.js';
import { Flow, TcpPair } from './helpers/flow.js';

const RULES = `table <t> persist
pass in on lan proto tcp from 192.168.1.0/24 to any label "web"
pass out on wan all
`;

/** A connection that sends lines and collects the response lines. */
class Line {
  private buf = '';
  private waiting: ((line: string) => void)[] = [];
  private lines: string[] = [];
  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
  }
  next(): Promise<string> {
    const l = this.lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((r) => this.waiting.push(r));
  }
  /** Sends data then a sync request; returns the responses that came before the sync's. */
  async send(
    data: string | Buffer,
  ): Promise<{ id: unknown; ok: boolean; error?: { code: string; message: string } }[]> {
    this.socket.write(data);
    this.socket.write('\n{"id":"sync","command":"commands"}\n');
    const out = [];
    for (;;) {
      const r = JSON.parse(await this.next());
      if (r.id === 'sync' && r.ok) return out;
      out.push(r);
    }
  }
}

function serve(): { server: ControlServer; flow: Flow } {
  const flow = new Flow(RULES);
  flow.outcome(new TcpPair('192.168.1.10', '198.51.100.80', 40000, 443).c('S'));
  const ctx: FilterContext = {
    filter: () => flow.filter,
    states: flow.states,
    forwardCounters: () => null,
    now: () => flow.now,
    startedAt: flow.now,
  };
  const server = new ControlServer({ path: join(mkdtempSync(join(tmpdir(), 'tunpf-fuzz-')), 'control.sock') });
  registerFilterCommands(server, ctx);
  server.listen();
  return { server, flow };
}

async function open(server: ControlServer): Promise<Line> {
  const s = connect(server.path);
  await new Promise((r, j) => s.once('connect', r).once('error', j));
  return new Line(s);
}

test('arguments of the wrong shape answer bad-args naming the field, not internal', async () => {
  const { server } = serve();
  const c = await open(server);
  try {
    const deep = '['.repeat(20_000) + '"10.0.0.1"' + ']'.repeat(20_000);
    const cases: [string, RegExp][] = [
      [`{"id":1,"command":"show states","args":{"address":${deep}}}`, /address: Expected string, received array/],
      [`{"id":2,"command":"show states","args":{"address":{"toString":1}}}`, /address: Expected string/],
      [`{"id":3,"command":"table add","args":{"table":"t","addresses":[{"toString":null}]}}`, /addresses\.0: /],
      [`{"id":4,"command":"show states","args":{"port":"80"}}`, /port: Expected number, received string/],
      [`{"id":5,"command":"show states","args":{"adress":"10.0.0.1"}}`, /Unrecognized key.*'adress'/],
      [`{"id":6,"command":"show table","args":{"table":"../etc"}}`, /table: not a table name/],
      [`{"id":7,"command":"kill states","args":{"hosts":["a","b","c"]}}`, /hosts: Array must contain at most 2/],
      [`{"id":8,"command":"show info","args":{"x":1}}`, /args: Unrecognized key/],
    ];
    for (const [line, message] of cases) {
      const [r] = await c.send(line);
      assert.equal(r?.ok, false, line.slice(0, 80));
      assert.equal(r!.error!.code, 'bad-args', r!.error!.message);
      assert.match(r!.error!.message, message);
    }
  } finally {
    c.socket.destroy();
    server.close();
  }
});

const commandNames = [
  'commands',
  'show rules',
  'show states',
  'show info',
  'show timeouts',
  'show limits',
  'show tables',
  'show table',
  'reload',
  'kill states',
  'flush states',
  'table add',
  'table delete',
  'table replace',
  'table flush',
  'anchor load',
  'anchor flush',
  'anchor show rules',
  'nonesuch',
];

/** A string that toText() turns into arrays nested that deep (JSON.stringify itself would overflow). */
const DEEP = 'deep\u0001';
const toText = (v: unknown) =>
  (JSON.stringify(v) ?? '').replace(/"deep\\u0001(\d+)"/g, (_, d: string) => {
    const n = Number(d);
    return '['.repeat(n) + '0' + ']'.repeat(n);
  });

/** Values near what the commands take, and anything else JSON can say. */
const field = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom('10.0.0.0/8', '!192.168.1.10', 'tcp', 'lan', 'all', 'bytes', 't', 'relay/x', '', '*', '..'),
  fc.integer({ min: -2, max: 70000 }),
  fc.integer({ min: 1, max: 20_000 }).map((d) => `${DEEP}${d}`),
  fc.constant({ toString: 1, valueOf: null }),
);
const args = fc.dictionary(
  fc.constantFrom(
    'address',
    'port',
    'proto',
    'interface',
    'sort',
    'reverse',
    'limit',
    'table',
    'addresses',
  ) as fc.Arbitrary<string>,
  fc.oneof(field, fc.array(field, { maxLength: 4 })),
  { maxKeys: 4 },
);
const request = fc.record(
  {
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 140 }), fc.constant(null), fc.jsonValue()),
    command: fc.oneof(fc.constantFrom(...commandNames), fc.string()),
    args: fc.oneof(args, fc.jsonValue()),
  },
  { requiredKeys: [] },
);
/** Raw frames: bytes of any kind, JSON that is not a request, requests cut or spliced. */
const frame = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.jsonValue().map(toText),
  request.map(toText),
  fc.tuple(request, fc.nat()).map(([r, cut]) => {
    const s = toText(r);
    return s.slice(0, cut % (s.length + 1));
  }),
);

test('fuzzing the control protocol: never internal, never dies', async () => {
  const { server } = serve();
  const c = await open(server);
  let replies = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 4 }), async (frames) => {
        const data = Buffer.concat(frames.map((f) => Buffer.concat([Buffer.from(f), Buffer.from('\n')])));
        for (const r of await c.send(data)) {
          replies++;
          assert.notEqual(r.error?.code, 'internal', r.error?.message);
        }
      }),
      { numRuns: 400, interruptAfterTimeLimit: 15_000, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1e9) },
    );
    assert.ok(replies > 100, `the fuzzer got ${replies} replies`);
    const [r] = await c.send('{"id":1,"command":"show info"}');
    assert.equal(r?.ok, true, 'the server still answers');
  } finally {
    c.socket.destroy();
    server.close();
  }
});
