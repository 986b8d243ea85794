// `show states` on a million states must not stop the event loop: CARP's
// advertisement timer and the datapath share it. A 1 ms timer runs while the
// query is answered through a real server; its worst lateness must stay far
// below what the same query costs when done in one go (measured in the same
// run, so a slow machine moves both).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { showStatesArgs, type ShowStatesArgs } from '../../src/control/schemas.js';
import { ControlServer } from '../../src/control/server.js';
import { queryStates, queryStatesStreamed } from '../../src/control/state-query.js';
import { StateEngine } from '../../src/state/state-engine.js';

const STATES = 1_000_000;

function bigTable(): StateEngine {
  const engine = new StateEngine({ limit: STATES, startSeconds: 0 });
  const a = new Uint32Array(4);
  const b = new Uint32Array(4);
  for (let k = 0; k < STATES; k++) {
    a[0] = 0x0a000000 + k;
    b[0] = 0xc6336400 + (k % 251);
    const i = engine.table.insert(4, 6, a, 1024 + (k % 60000), b, k % 10 === 0 ? 443 : 80);
    assert.ok(i >= 0);
    engine.table.bytes[i * 2] = (k * 7919) % 100003;
  }
  return engine;
}

/** Asks over a real socket; resolves with the parsed answer and the timer's worst lateness meanwhile (ms). */
async function askTimed(path: string, args: ShowStatesArgs): Promise<{ result: unknown; stall: number }> {
  let stall = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const t = performance.now();
    stall = Math.max(stall, t - last);
    last = t;
  }, 1);
  try {
    const socket = connect(path);
    const parts: Buffer[] = [];
    const line = await new Promise<string>((resolve, reject) => {
      socket.on('data', (d: Buffer) => {
        parts.push(d);
        if (d[d.length - 1] === 0x0a) resolve(Buffer.concat(parts).toString());
      });
      socket.on('error', reject);
      socket.write(JSON.stringify({ id: 1, command: 'show states', args }) + '\n');
    });
    socket.destroy();
    return { result: JSON.parse(line).result, stall };
  } finally {
    clearInterval(tick);
  }
}

test('show states on a million states answers in chunks: the event loop keeps its schedule', async () => {
  const engine = bigTable();
  const interfaces = new InterfaceRegistry();
  const server = new ControlServer({ path: join(mkdtempSync(join(tmpdir(), 'tunpf-stall-')), 'control.sock') });
  server.register('show states', showStatesArgs, (a) => queryStatesStreamed(engine, interfaces, a, () => 100));
  server.listen();
  try {
    const queries: ShowStatesArgs[] = [
      { sort: 'bytes', limit: 1000 }, // tunpf top's question: every state keyed and sorted
      { port: 443 }, // 100,000 states streamed back
    ];
    for (const args of queries) {
      // the baseline: the same answer made and encoded in one go
      const t0 = performance.now();
      const whole = queryStates(engine, interfaces, args, 100);
      JSON.stringify(whole);
      const blocking = performance.now() - t0;

      const { result, stall } = await askTimed(server.path, args);
      assert.deepEqual(result, whole, 'the streamed answer is the one-go answer');
      assert.ok(
        stall < blocking / 4,
        `${JSON.stringify(args)}: the loop stalled ${stall.toFixed(1)} ms; in one go the query takes ` +
          `${blocking.toFixed(1)} ms`,
      );
    }
  } finally {
    server.close();
  }
});
