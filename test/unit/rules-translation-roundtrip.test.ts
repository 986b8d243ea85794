// Generated translation rules: whatever `tunpf check -v` prints for a rule with
// nat-to, rdr-to or binat-to reads back as the same rule. The generator mixes
// actions, directions, families, pools, ports and pool options; the ones pfctl
// refuses are skipped, and enough must load for the test to mean something.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { TEST_INTERFACES } from './helpers/filter-harness.js';
import { randomSource } from './helpers/random.js';
import { assertRoundTrip } from './helpers/translation.js';

const POOLS4 = ['198.51.100.2', '198.51.100.0/28', '{ 198.51.100.1, 198.51.100.9 }', 'wan', 'egress'];
const POOLS6 = ['2001:db8:ff::2', '2001:db8:ff::/120', '{ 2001:db8:ff::1 2001:db8:ff::9 }'];
const POOLS_ANY = ['(wan)', '(wan:0)', '(lan:0)', '<pool>'];
const TYPES = [
  '',
  'bitmask',
  'random',
  'round-robin',
  'source-hash',
  'source-hash office',
  `source-hash 0x${'5a'.repeat(16)}`,
];
const DST_PORTS = ['', 'port 80', 'port 8000:8010', 'port { 22, 443 }'];

test('generated translation rules print and read back the same', () => {
  const rnd = randomSource('rules-translation-roundtrip');
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  let loaded = 0;
  const tried = 400;
  for (let i = 0; i < tried; i++) {
    const family = pick(['inet', 'inet6', '']);
    const pool = pick(
      family === 'inet'
        ? [...POOLS4, ...POOLS_ANY]
        : family === 'inet6'
          ? [...POOLS6, ...POOLS_ANY]
          : [...POOLS4, ...POOLS6],
    );
    const kind = pick(['nat-to', 'rdr-to', 'binat-to']);
    let translation = `${kind} ${pool}`;
    if (kind === 'nat-to') translation += pick(['', ' port 40000', ' port 1024:2047']);
    if (kind === 'rdr-to') translation += pick(['', ' port 22', ' port 9000:*', ' port 6000:6099']);
    translation += (rnd() < 0.6 ? ' ' + pick(TYPES) : '') + (rnd() < 0.3 ? ' sticky-address' : '');
    if (kind === 'nat-to' && rnd() < 0.3) translation += ' static-port';
    const proto = kind === 'binat-to' ? pick(['', 'proto tcp']) : pick(['proto tcp', 'proto udp']);
    const from =
      kind === 'binat-to'
        ? pick(['from 192.168.1.5', 'from 2001:db8:1::5', 'from (lan:0)', 'from 192.168.1.0/28'])
        : pick(['', 'from 192.168.1.0/24', 'from lan:network']);
    const to = proto ? `to any ${pick(DST_PORTS)}` : '';
    const head =
      kind === 'binat-to'
        ? `${pick(['pass', 'match'])} on wan`
        : `${pick(['pass', 'match'])} ${pick(['in', 'out'])} on wan`;
    const text = `${head} ${family} ${proto} ${from} ${to} ${pick(['', 'label "t-$nr"', 'tag T'])} ${translation}`;
    const { ruleset } = parseRuleset(text, { file: 'gen.conf', interfaces: TEST_INTERFACES });
    if (!ruleset) continue;
    loaded++;
    assertRoundTrip(text);
  }
  assert.ok(loaded > tried / 4, `only ${loaded} of ${tried} generated rules loaded`);
});
