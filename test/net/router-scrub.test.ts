// Scrub and answers on the wire: a match rule's max-mss clamps the SYN that
// leaves on wan (tcpdump on the server's side reads the MSS option) and,
// through the state, the SYN-ACK that comes back (read on the client's side);
// `block return-icmp (host-unr)` answers with that code; `reassemble tcp`
// modulates the TCP timestamps each way (tcpdump on both sides compares them)
// and the connection works.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { netTestsUnavailable, type Netns } from './helpers/netns.js';
import { captureText } from './helpers/tcpdump.js';
import { sleep, topologyWithRules } from './helpers/topology.js';

const skip = netTestsUnavailable() ?? (spawnSync('tcpdump', ['--version']).error ? 'tcpdump is not installed' : null);

const RULES = `
match out on wan proto tcp scrub (max-mss 1300)
match in on lan proto tcp to port 7002 scrub (reassemble tcp)
pass all
block return-icmp (host-unr) in on lan proto udp to port 7001
`;

const topo = topologyWithRules(RULES, skip ?? null);

const capture = (ns: Netns, dev: string, filter: string, count: number) => captureText(ns, dev, filter, count, ['-v']);

test(
  'max-mss: the SYN leaves with MSS 1300, the SYN-ACK of its state arrives with at most 1300',
  { skip: skip ?? false },
  async () => {
    const syn = await capture(topo().server, 's0', 'tcp[tcpflags] == tcp-syn and dst port 7000', 1);
    const synAck = await capture(topo().client, 'c0', 'tcp[tcpflags] == (tcp-syn|tcp-ack) and src port 7000', 1);
    const r = await topo().probe(topo().client, 'tcp', '10.2.0.2', '7000', '3000');
    assert.equal(r.ok, true, JSON.stringify(r));
    const synText = await syn();
    assert.match(synText, /mss 1300\b/, synText);
    const ackText = await synAck();
    const mss = Number(/mss (\d+)/.exec(ackText)?.[1]);
    assert.ok(mss > 0 && mss <= 1300, ackText);
  },
);

test(
  'return-icmp (host-unr): the blocked datagram is answered with ICMP host unreachable',
  { skip: skip ?? false },
  async () => {
    const icmp = await capture(topo().client, 'c0', 'icmp', 1);
    const r = await topo().probe(topo().client, 'udp', '10.2.0.2', '7001');
    assert.equal(r.ok, false);
    await sleep(100);
    const text = await icmp();
    // pf answers from the address the datagram was sent to
    assert.match(text, /10\.2\.0\.2 > 10\.1\.0\.2: ICMP host 10\.2\.0\.2 unreachable/, text);
  },
);

/** The TS val and ecr of each line of tcpdump -v text that has them. */
function timestamps(text: string): Array<[number, number]> {
  return [...text.matchAll(/TS val (\d+) ecr (\d+)/g)].map((x) => [Number(x[1]), Number(x[2])]);
}

test(
  'reassemble tcp: the far side sees modulated timestamps, each end its own echoed back, and the echo works',
  { skip: skip ?? false },
  async () => {
    // the handshake's first two segments, on each side of the router
    const flt = 'port 7002 and tcp[tcpflags] & tcp-syn != 0';
    const atServer = await capture(topo().server, 's0', flt, 2);
    const atClient = await capture(topo().client, 'c0', flt, 2);
    const r = await topo().probe(topo().client, 'tcp', '10.2.0.2', '7002', '3000');
    assert.equal(r.ok, true, JSON.stringify(r));
    const serverText = await atServer();
    const clientText = await atClient();
    const [synS, synAckS] = timestamps(serverText);
    const [synC, synAckC] = timestamps(clientText);
    assert.ok(synS && synAckS && synC && synAckC, `${clientText}\n${serverText}`);
    assert.notEqual(synS[0], synC[0], "the server sees the client's timestamp shifted");
    assert.notEqual(synAckC[0], synAckS[0], "the client sees the server's timestamp shifted");
    assert.equal(synAckS[1], synS[0], 'the server echoes what it saw');
    assert.equal(synAckC[1], synC[0], 'the client gets its own timestamp back: the echo shifted back');
  },
);
