// The HA file: carp and pfsync blocks with ifconfig's options, every error
// with FILE:LINE:COL, passphrases never printed, ucarp's narrow window.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ucarpCompatibility } from '../../src/carp/carp-config.js';
import { parseHaConfig } from '../../src/daemon/ha-config.js';

const GOOD = `
# router A
carp carp-lan {
  carpdev lan vhid 1 advbase 1 advskew 100 pass "lan-secret" preempt
  address 10.1.0.1/24
  address fd01::1/64
}
carp carp-wan { carpdev wan vhid 2 advbase 0 advskew 20 pass wan-secret lladdr real address 10.2.0.1/24 }
pfsync {
  syncdev sync0 syncpeer 10.9.0.2
  maxupd 64 defer
}
`;

test('a complete file: groups with their options and defaults, the pfsync block', () => {
  const r = parseHaConfig(GOOD, 'ha.conf');
  assert.deepEqual(r.diagnostics, []);
  const [lan, wan] = r.config!.carp;
  assert.deepEqual(
    {
      name: lan!.name,
      carpdev: lan!.carpdev,
      vhid: lan!.vhid,
      advbase: lan!.advbase,
      advskew: lan!.advskew,
      preempt: lan!.preempt,
      lladdr: lan!.lladdr,
      addresses: lan!.addresses,
    },
    {
      name: 'carp-lan',
      carpdev: 'lan',
      vhid: 1,
      advbase: 1,
      advskew: 100,
      preempt: true,
      lladdr: 'virtual',
      addresses: [
        { af: 4, address: '10.1.0.1', bits: 24 },
        { af: 6, address: 'fd01::1', bits: 64 },
      ],
    },
  );
  assert.equal(lan!.pass.reveal(), 'lan-secret');
  assert.deepEqual(
    {
      advbase: wan!.advbase,
      advskew: wan!.advskew,
      preempt: wan!.preempt,
      lladdr: wan!.lladdr,
      pass: wan!.pass.reveal(),
    },
    { advbase: 0, advskew: 20, preempt: false, lladdr: 'real', pass: 'wan-secret' },
  );
  const { loc: _loc, ...pfsync } = r.config!.pfsync!;
  assert.deepEqual(pfsync, { syncdev: 'sync0', syncpeer: '10.9.0.2', maxupd: 64, defer: true });
});

test('passphrases never show in JSON or inspect output', () => {
  const r = parseHaConfig(GOOD, 'ha.conf');
  const text = JSON.stringify(r.config) + inspect(r.config, { depth: 10 });
  assert.equal(text.includes('lan-secret'), false);
  assert.equal(text.includes('wan-secret'), false);
  assert.match(text, /<redacted>/);
});

test('errors name file:line:col, every one is reported, later blocks are still read', () => {
  const text = [
    'carp a { carpdev lan vhid 300 address 10.0.0.1/24 }', // 1: vhid out of range
    'carp b { carpdev lan vhid 2 pass "this-passphrase-is-far-too-long" address 10.0.0.2/24 }', // 2
    'carp c { carpdev lan vhid 3 address 10.0.0.3 }', // 3: no prefix length
    'carp d { carpdev lan vhid 4 colour blue address 10.0.0.4/24 }', // 4: unknown option
    'carp e { carpdev lan vhid 5 address 10.0.0.5/24 }', // 5: fine
    'carp f { carpdev lan vhid 5 address 10.0.0.6/24 }', // 6: vhid 5 again on lan
    'pfsync { syncpeer fd00::2 syncdev s }', // 7: IPv6 peer
    'bogus', // 8
  ].join('\n');
  const r = parseHaConfig(text, 'x.conf');
  assert.equal(r.config, null);
  const got = r.diagnostics.map((d) => `${d.loc.file}:${d.loc.line}:${d.loc.col}: ${d.message}`);
  assert.equal(got.length, 7, got.join('\n'));
  assert.match(got[0]!, /^x\.conf:1:27: vhid must be 1\.\.255, not '300'/);
  assert.match(got[1]!, /^x\.conf:2:34: a CARP passphrase is at most 19 bytes/);
  assert.match(got[2]!, /^x\.conf:3:37: invalid address '10\.0\.0\.3' \(ADDRESS\/LENGTH\)/);
  assert.match(got[3]!, /^x\.conf:4:29: unknown carp option 'colour'/);
  assert.match(got[4]!, /^x\.conf:6:6: carp f: vhid 5 on lan is already used by carp e/);
  assert.match(got[5]!, /^x\.conf:7:19: pfsync travels over IPv4/);
  assert.match(got[6]!, /^x\.conf:8:1: expected 'carp' or 'pfsync', found 'bogus'/);
});

test('missing pieces: carpdev, vhid, addresses, a closing brace', () => {
  const cases: [string, RegExp][] = [
    ['carp a { vhid 1 address 10.0.0.1/24 }', /carpdev is missing/],
    ['carp a { carpdev lan address 10.0.0.1/24 }', /vhid is missing/],
    ['carp a { carpdev lan vhid 1 }', /no address/],
    ['carp a { carpdev lan vhid 1 address 10.0.0.1/24', /missing '}'/],
    ['carp lan { carpdev lan vhid 1 address 10.0.0.1/24 }', /needs a name of its own/],
    [
      'carp a { carpdev lan vhid 1 peer fd00::9 address 10.0.0.1/24 }',
      /peer fd00::9 is IPv6, but the group has no IPv6 address/,
    ],
    ['pfsync { maxupd 12 }', /syncdev is missing/],
    ['pfsync { syncdev s maxupd 256 }', /maxupd must be 0\.\.255/],
  ];
  for (const [text, re] of cases) {
    const r = parseHaConfig(text, 'f');
    assert.equal(r.config, null, text);
    assert.match(r.diagnostics.map((d) => d.message).join('\n'), re, text);
  }
});

test('ucarp: one IPv4 address, no IPv6, a passphrase; the ucarp option makes a mismatch an error', () => {
  const ok = parseHaConfig('carp a { carpdev lan vhid 1 pass p ucarp address 10.0.0.1/24 }', 'f');
  assert.deepEqual(ok.diagnostics, []);
  assert.deepEqual(ucarpCompatibility(ok.config!.carp[0]!), []);
  const dual = parseHaConfig(
    'carp a { carpdev lan vhid 1 pass p address 10.0.0.1/24 address fd00::1/64 address 10.0.0.9/24 }',
    'f',
  );
  const why = ucarpCompatibility(dual.config!.carp[0]!);
  assert.equal(why.length, 2);
  assert.match(why[0]!, /exactly one IPv4 address; this group has 2/);
  assert.match(why[1]!, /no IPv6/);
  assert.match(
    ucarpCompatibility(parseHaConfig('carp a { carpdev lan vhid 1 address 10.0.0.1/24 }', 'f').config!.carp[0]!)[0]!,
    /no passphrase/,
  );
  const strict = parseHaConfig('carp a { carpdev lan vhid 1 ucarp address 10.0.0.1/24 }', 'f');
  assert.equal(strict.config, null);
  assert.match(strict.diagnostics[0]!.message, /no passphrase.*\(the group says ucarp\)/);
});
