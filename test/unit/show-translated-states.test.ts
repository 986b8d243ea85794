// `tunpf ctl show states` of translated states: the line pfctl -ss prints
// (pf-nat.md §11, pf_print_state.c), both keys in the JSON record, and the
// filters matching either key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeState, flowText } from '../../src/control/describe-state.js';
import { stateFlow, stateLine } from '../../src/control/format.js';
import type { StateInfo } from '../../src/control/results.js';
import { queryStates } from '../../src/control/state-query.js';
import { buildTcp } from '../../src/packet/build.js';
import { IPPROTO } from '../../src/packet/meta.js';
import { Gateway } from './helpers/gateway.js';

const RULES =
  'block all\npass in on lan\npass out on lan\npass out on wan\n' +
  'match out on wan inet from 192.168.1.0/24 nat-to 198.51.100.2\n' +
  'pass in on wan proto tcp to 198.51.100.2 port 2222 rdr-to 192.168.1.20 port 22\n' +
  'pass in on wan inet6 proto tcp to 2001:db8:ff::2 port 2222 rdr-to 2001:db8:1::20 port 22\n';

/** A gateway with a NAT'd connection (source port 53124 picked) and two redirected ones. */
function gateway(): Gateway {
  // the port search starts at 50001 + 3123
  const g = new Gateway(RULES, { random: (n) => (n === 65535 - 50001 + 1 ? 3123 : 0) });
  const pass = (pkt: Uint8Array, ifname: string) => assert.equal(g.forward(pkt, ifname).pass, true);
  pass(buildTcp({ src: '192.168.1.10', dst: '203.0.113.5', sport: 40000, dport: 443, flags: 'S' }), 'lan');
  pass(buildTcp({ src: '203.0.113.9', dst: '198.51.100.2', sport: 40000, dport: 2222, flags: 'S' }), 'wan');
  pass(buildTcp({ src: '2001:db8:9::9', dst: '2001:db8:ff::2', sport: 40000, dport: 2222, flags: 'S' }), 'wan');
  return g;
}

const lines = (g: Gateway) => {
  const out: string[] = [];
  g.states.table.forEach((i) => out.push(describeState(g.states.table, i, (id) => g.filter.interfaces.name(id))));
  return out.map((l) => l.replace(/ +/g, ' ')).sort();
};

test('pfctl -ss lines: translated side with the other key in parentheses, IPv6 as addr[port]', () => {
  assert.deepEqual(
    lines(gateway()),
    [
      // out on wan: the wire (translated) source first, its stack value in parentheses
      'all tcp 198.51.100.2:53124 (192.168.1.10:40000) -> 203.0.113.5:443 SYN_SENT:CLOSED',
      'all tcp 203.0.113.5:443 <- 192.168.1.10:40000 CLOSED:SYN_SENT',
      // in on wan: the stack (redirected) destination first, the wire value in parentheses
      'all tcp 192.168.1.20:22 (198.51.100.2:2222) <- 203.0.113.9:40000 CLOSED:SYN_SENT',
      'all tcp 203.0.113.9:40000 -> 192.168.1.20:22 SYN_SENT:CLOSED',
      'all tcp 2001:db8:1::20[22] (2001:db8:ff::2[2222]) <- 2001:db8:9::9[40000] CLOSED:SYN_SENT',
      'all tcp 2001:db8:9::9[40000] -> 2001:db8:1::20[22] SYN_SENT:CLOSED',
    ].sort(),
  );
});

test("the spec's examples (pf-nat.md §13.1, §13.4) from state records, as show states prints them", () => {
  const base: StateInfo = {
    id: '0000000000000001',
    creator: '00000001',
    interface: 'all',
    af: 4,
    proto: 'tcp',
    direction: 'out',
    src: { address: '192.0.2.1', port: 54321 },
    dst: { address: '198.51.100.7', port: 443 },
    stack: { src: { address: '10.0.0.5', port: 51234 }, dst: { address: '198.51.100.7', port: 443 } },
    peers: ['ESTABLISHED', 'ESTABLISHED'],
    rule: 1,
    age: 0,
    expires: 0,
    packets: [0, 0],
    bytes: [0, 0],
    rate: 0,
  };
  assert.equal(stateFlow(base), '192.0.2.1:54321 (10.0.0.5:51234) -> 198.51.100.7:443');
  assert.equal(
    stateLine(base).replace(/ +/g, ' '),
    'all tcp 192.0.2.1:54321 (10.0.0.5:51234) -> 198.51.100.7:443 ESTABLISHED:ESTABLISHED',
  );
  const rdr: StateInfo = {
    ...base,
    direction: 'in',
    src: { address: '203.0.113.9', port: 40000 },
    dst: { address: '192.0.2.1', port: 80 },
    stack: { src: { address: '203.0.113.9', port: 40000 }, dst: { address: '10.0.0.10', port: 8080 } },
    peers: ['SYN_SENT', 'CLOSED'],
  };
  assert.equal(
    stateLine(rdr).replace(/ +/g, ' '),
    'all tcp 10.0.0.10:8080 (192.0.2.1:80) <- 203.0.113.9:40000 CLOSED:SYN_SENT',
  );
  // an inbound nat-to (the source translated on the way in): the initiator's stack side, its wire side in parentheses
  assert.equal(
    flowText({
      af: 4,
      proto: IPPROTO.TCP,
      outbound: false,
      wire: [
        { address: '203.0.113.9', port: 40000 },
        { address: '192.168.1.20', port: 22 },
      ],
      stack: [
        { address: '192.168.1.1', port: 60000 },
        { address: '192.168.1.20', port: 22 },
      ],
    }),
    '192.168.1.20:22 <- 192.168.1.1:60000 (203.0.113.9:40000)',
  );
});

test('show states: JSON records carry both keys; the address and port filters match either key', () => {
  const g = gateway();
  const q = (args: object) => queryStates(g.states, g.filter.interfaces, args, g.now).states;
  const nat = q({ address: '198.51.100.2', port: 443 });
  assert.equal(nat.length, 1);
  assert.deepEqual(
    [nat[0]!.src, nat[0]!.dst, nat[0]!.stack],
    [
      { address: '198.51.100.2', port: 53124 },
      { address: '203.0.113.5', port: 443 },
      { src: { address: '192.168.1.10', port: 40000 }, dst: { address: '203.0.113.5', port: 443 } },
    ],
  );
  assert.equal(JSON.parse(JSON.stringify(nat[0])).stack.src.address, '192.168.1.10');
  // the inside host finds both of its states, the NAT one by its stack key
  assert.equal(q({ address: '192.168.1.10' }).length, 2);
  // the redirected server: its lan state, and the wan state by its stack key; port 22 likewise
  assert.equal(q({ address: '192.168.1.20' }).length, 2);
  assert.equal(q({ address: '192.168.1.20', port: 22 }).length, 2);
  assert.equal(q({ port: 2222 }).length, 2, 'the wire port of both redirections');
  const plain = q({ address: '203.0.113.5' }).find((s) => s.stack === undefined);
  assert.ok(plain, 'an untranslated state has no stack key of its own');
});
