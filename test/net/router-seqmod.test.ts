// modulate state and synproxy state on the wire: a transfer through
// `modulate state` arrives whole while the server sees another ISN than the
// client sent (tcpdump -S on both sides); one through `synproxy state` too,
// and a client that sends a SYN and nothing more is answered by the router
// while the server never sees its SYN.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { netTestsUnavailable, runInNetns, type Netns } from './helpers/netns.js';
import { captureText } from './helpers/tcpdump.js';
import { sleep, topologyWithRules } from './helpers/topology.js';

const skip = netTestsUnavailable() ?? (spawnSync('tcpdump', ['--version']).error ? 'tcpdump is not installed' : null);

const RULES = `
pass all
pass in on lan proto tcp to port 7000 modulate state
pass in on lan proto tcp to port 7001 synproxy state
`;

const topo = topologyWithRules(RULES, skip ?? null);

const capture = (ns: Netns, dev: string, filter: string, count: number) =>
  captureText(ns, dev, filter, count, ['-S'], 3000);

const isnOf = (text: string): number => Number(/Flags \[S\], seq (\d+)/.exec(text)?.[1]);

test(
  'modulate state: 200000 bytes echoed whole, the server sees another ISN than the client sent',
  { skip: skip ?? false },
  async () => {
    const atClient = await capture(topo().client, 'c0', 'tcp[tcpflags] == tcp-syn and dst port 7000', 1);
    const atServer = await capture(topo().server, 's0', 'tcp[tcpflags] == tcp-syn and dst port 7000', 1);
    const r = await runInNetns(topo().client, 'probe', ['tcp', '10.2.0.2', '7000', '200000'], 20000, {
      PROBE_TIMEOUT_MS: '10000',
    });
    const result = JSON.parse(r.stdout.trim().split('\n').pop() || '{"ok":false}');
    assert.deepEqual(result, { ok: true, received: 200000 }, r.stdout + r.stderr);
    const sent = isnOf(await atClient());
    const seen = isnOf(await atServer());
    assert.ok(Number.isFinite(sent) && Number.isFinite(seen), `ISNs ${sent} ${seen}`);
    assert.notEqual(seen, sent, 'the router replaced the ISN');
  },
);

test(
  'synproxy state: a completed handshake carries 100000 bytes; a bare SYN never reaches the server',
  { skip: skip ?? false },
  async () => {
    const r = await runInNetns(topo().client, 'probe', ['tcp', '10.2.0.2', '7001', '100000'], 20000, {
      PROBE_TIMEOUT_MS: '10000',
    });
    const result = JSON.parse(r.stdout.trim().split('\n').pop() || '{"ok":false}');
    assert.deepEqual(result, { ok: true, received: 100000 }, r.stdout + r.stderr + topo().daemonLog.join(''));

    const answered = await capture(topo().client, 'c0', 'src port 7001 and dst port 45678', 1);
    const atServer = await capture(topo().server, 's0', 'port 45678', 1);
    const syn = await runInNetns(topo().client, 'raw-syn', ['10.1.0.2', '10.2.0.2', '45678', '7001']);
    assert.match(syn.stdout, /"sent":true/, syn.stderr);
    const answer = await answered();
    assert.match(answer, /10\.2\.0\.2\.7001 > 10\.1\.0\.2\.45678: Flags \[S\.\], seq \d+, ack 12346/, answer);
    await sleep(1000);
    const server = await atServer();
    assert.doesNotMatch(server, /45678/, 'the server saw nothing of the half-open connection');
  },
);
