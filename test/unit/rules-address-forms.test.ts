// pfctl's address and port forms: abbreviated networks, dynamic addresses
// with masks and modifiers (parsed, and followed at run time by the filter),
// scoped IPv6, hex ports and service names, and protocol lists with flags.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../../src/packet/build.js';
import { Direction } from '../../src/packet/meta.js';
import { formatAddress, parseAddress } from '../../src/packet/address.js';
import { InterfaceRegistry } from '../../src/filter/interface-registry.js';
import { parseInterfaceRef, parseNetwork, parseScoped } from '../../src/rules/address-forms.js';
import { formatRule } from '../../src/rules/canonical.js';
import { parseRuleset } from '../../src/rules/rule-parser.js';
import { lookupPort, parseServices } from '../../src/rules/services.js';
import { Harness, iface, TEST_INTERFACES } from './helpers/filter-harness.js';

function rules(text: string, services?: ReadonlyMap<string, number>): string[] {
  const { ruleset, diagnostics } = parseRuleset(text, { file: 'pf.conf', interfaces: TEST_INTERFACES, services });
  assert.ok(ruleset, diagnostics.map((d) => `${d.loc.line}:${d.loc.col}: ${d.message}`).join('\n'));
  return ruleset.rules.map((r) => formatRule(r));
}

function errors(text: string): string[] {
  const { diagnostics } = parseRuleset(text, { file: 'pf.conf', interfaces: TEST_INTERFACES });
  return diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.loc.line}:${d.loc.col}: ${d.message}`);
}

test('abbreviated IPv4 networks read as inet_net_pton reads them once a mask is given', () => {
  const cases: [string, string | null][] = [
    ['10/8', '10.0.0.0/8'],
    ['172.16/12', '172.16.0.0/12'],
    ['10.1/16', '10.1.0.0/16'],
    ['192.168.1/24', '192.168.1.0/24'],
    ['0/0', '0.0.0.0/0'],
    ['10.0.0.1/32', '10.0.0.1/32'],
    ['10', null], // no mask: not an address (pfctl would look it up as a host name)
    ['256/8', null],
    ['10/33', null],
    ['1.2.3.4.5/8', null],
  ];
  for (const [text, want] of cases) {
    const p = parseNetwork(text);
    assert.equal(p && `${formatAddress(p.af, p.words)}/${p.bits}`, want, text);
  }
});

test('0/0 prints as any, and a rule from 0/0 to 0/0 as all', () => {
  assert.deepEqual(rules('pass in from 0/0 to 10/8\nblock from 0/0 to 0/0'), [
    'pass in inet from any to 10.0.0.0/8 flags S/SA',
    'block drop inet all',
  ]);
});

test('interface references: modifiers right to left, one mode at most, :0 beside it', () => {
  assert.deepEqual(parseInterfaceRef('em0:network:0'), { ifname: 'em0', mode: 'network', noAlias: true });
  assert.deepEqual(parseInterfaceRef('em0'), { ifname: 'em0', mode: 'address', noAlias: false });
  assert.equal(parseInterfaceRef('em0:network:broadcast'), 'illegal combination of interface modifiers');
  assert.equal(parseInterfaceRef('em0:nope'), 'interface em0:nope has bad modifier');
  assert.equal(parseInterfaceRef('0em'), "invalid interface name '0em'");
});

test('scoped IPv6: the address and the interface its scope names', () => {
  const s = parseScoped('fe80::1%lan');
  assert.ok(s && s !== 'invalid');
  assert.equal(s.scope, 'lan');
  assert.equal(formatAddress(6, s.prefix.words), 'fe80::1');
  assert.equal(parseScoped('10.0.0.1%lan'), 'invalid');
  assert.equal(parseScoped('fe80::1'), null);
});

test('a scoped address binds the rule to its interface, and drops combinations on others', () => {
  assert.deepEqual(rules('pass in on { lan, wan } inet6 from fe80::1%lan to any'), [
    'pass in on lan inet6 from fe80::1 to any flags S/SA',
  ]);
  assert.deepEqual(rules('pass in inet6 from fe80::1%wan'), ['pass in on wan inet6 from fe80::1 to any flags S/SA']);
  assert.match(errors('pass in on dmz inet6 from fe80::1%lan')[0]!, /scope names another interface/);
});

test('a scoped rule matches only on the scope interface', () => {
  const h = new Harness('block all\npass in inet6 proto udp from fe80::1%lan to any');
  const pkt = () => buildUdp({ src: 'fe80::1', dst: 'ff02::1', sport: 546, dport: 547 });
  assert.equal(h.test(pkt(), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(pkt(), Direction.IN, 'wan').action, 'block');
});

test('dynamic addresses keep their mask; an inet rule drops a mask of 32 or more, as gen_dynnode does', () => {
  assert.deepEqual(rules('pass in from (lan)/24\npass in inet from (wan)/32\npass in inet6 from (self)/40'), [
    'pass in from (lan)/24 to any flags S/SA',
    'pass in inet from (wan) to any flags S/SA',
    'pass in inet6 from (self)/40 to any flags S/SA',
  ]);
  assert.deepEqual(errors('pass in from (lan)/129'), ['1:20: bit number too big']);
});

test('(if)/24 matches the interface network at run time, and follows an address change', () => {
  const h = new Harness('block all\npass in proto tcp from (lan)/24 to any');
  const syn = (src: string) => buildTcp({ src, dst: '203.0.113.5', sport: 40000, dport: 80, flags: 'S' });
  assert.equal(h.test(syn('192.168.1.77'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(syn('192.168.2.77'), Direction.IN, 'lan').action, 'block');
  h.interfaces.setAddresses('lan', iface('lan', ['192.168.2.1/24']).addresses);
  assert.equal(h.test(syn('192.168.2.77'), Direction.IN, 'lan').action, 'pass');
  assert.equal(h.test(syn('192.168.1.77'), Direction.IN, 'lan').action, 'block');
});

test('dynamic sets: (self)/40 spans every interface, :0 takes the first address of each family', () => {
  const reg = new InterfaceRegistry([
    iface('a', ['10.0.0.1/24', '10.9.0.1/24', '2001:db8:a::1/64', 'fe80::1/64']),
    iface('b', ['2001:db8:bb00::1/64']),
  ]);
  const has = (set: { contains(af: number, w: ArrayLike<number>): boolean }, text: string) => {
    const a = parseAddress(text)!;
    return set.contains(a.af, a.words);
  };
  const self40 = reg.dynamicSet('self', 'address', false, 40);
  assert.ok(has(self40, '2001:db8:a0:ffff::9'));
  assert.ok(has(self40, '2001:db8:bb00::77'));
  assert.ok(has(self40, '10.0.0.1'), 'IPv4 addresses keep /32');
  assert.ok(!has(self40, '10.0.0.2'));
  assert.ok(!has(self40, 'fe80::1'), 'link-local addresses are left out');
  const first = reg.dynamicSet('a', 'address', true, null);
  assert.ok(has(first, '10.0.0.1'));
  assert.ok(!has(first, '10.9.0.1'));
  assert.ok(has(first, '2001:db8:a::1'));
  const net = reg.dynamicSet('a', 'network', true, null);
  assert.ok(has(net, '10.0.0.200'));
  assert.ok(!has(net, '10.9.0.200'));
});

test('interface modifiers on bare names: :0, :network, :broadcast and a mask, resolved at load', () => {
  assert.deepEqual(rules('pass from lan:0 to dmz:broadcast\npass inet from wan/24 to lan:network'), [
    'pass inet from 192.168.1.1 to 172.16.0.255 flags S/SA',
    'pass inet from 198.51.100.0/24 to 192.168.1.0/24 flags S/SA',
  ]);
  assert.deepEqual(errors('pass from lan:network/16'), [
    '1:11: lan:network/16: network or broadcast lookup, but extra netmask given',
  ]);
  assert.match(errors('pass from lan:peer')[0]!, /not supported by tunpf/);
  assert.match(errors('pass from (lan:peer)')[0]!, /not supported by tunpf/);
});

test('antispoof for (if) writes dynamic rules', () => {
  assert.deepEqual(rules('antispoof for (lan)'), [
    'block drop in on ! lan from (lan:network) to any',
    'block drop in from (lan) to any',
  ]);
});

test('hex ports, as strtoul reads them', () => {
  assert.deepEqual(rules('pass in proto tcp to port 0x10\npass in proto tcp to port 0x50:0x51'), [
    'pass in proto tcp from any to any port = 16 flags S/SA',
    'pass in proto tcp from any to any port 80:81 flags S/SA',
  ]);
  assert.deepEqual(errors('pass in proto tcp to port 0x10000'), ['1:27: port 0x10000 out of range (0..65535)']);
});

test('services: tcp entries before udp ones, aliases, and the built-in table as the fallback', () => {
  const services = parseServices(
    [
      '# comment',
      'svc-a\t1234/udp',
      'svc-a\t4321/tcp\talias-a # trailing',
      'only-udp 999/udp',
      'ssh 2222/tcp',
      'bad 70000/tcp',
    ].join('\n'),
  );
  assert.equal(services.get('svc-a'), 4321);
  assert.equal(services.get('alias-a'), 4321);
  assert.equal(services.get('only-udp'), 999);
  assert.equal(services.has('bad'), false);
  assert.equal(lookupPort('ssh', services), 2222, "the host's file wins");
  assert.equal(lookupPort('https', services), 443, 'names it lacks come from the built-in table');
  assert.equal(lookupPort('https'), 443);
  assert.equal(lookupPort('nosuch', services), undefined);
});

test('a ruleset names ports from the services it is given, else from the built-in table', () => {
  const services = new Map([['myapp', 7777]]);
  assert.deepEqual(rules('pass in proto tcp to port { myapp, ssh }', services), [
    'pass in proto tcp from any to any port = 7777 flags S/SA',
    'pass in proto tcp from any to any port = 22 flags S/SA',
  ]);
  assert.deepEqual(errors('pass in proto tcp to port myapp'), ["1:27: unknown port name 'myapp'"]);
});

test('a protocol list with flags keeps them, and modulate state, for tcp only', () => {
  assert.deepEqual(rules('pass proto { tcp, udp, icmp } flags S/SA\npass in proto { udp tcp } modulate state'), [
    'pass proto tcp all flags S/SA',
    'pass proto udp all',
    'pass proto icmp all',
    'pass in proto udp all',
    'pass in proto tcp all flags S/SA modulate state',
  ]);
  assert.deepEqual(errors('pass proto { udp icmp } flags S/SA'), ['1:25: flags only apply to tcp, not to proto udp']);
});

test('refusals pfctl makes, with their place', () => {
  const cases: [string, string][] = [
    ['pass inet proto icmp6', "1:11: proto icmp6 doesn't match address family inet"],
    ['block return-icmp inet proto ipv6-icmp', "1:24: proto icmp6 doesn't match address family inet"],
    ['pass inet6 proto icmp', "1:12: proto icmp doesn't match address family inet6"],
    [`pass all label "${'x'.repeat(64)}"`, '1:16: rule label too long (max 63 chars)'],
    [`pass all label "${'é'.repeat(32)}"`, '1:16: rule label too long (max 63 chars)'],
    [`pass all tag ${'x'.repeat(64)}`, '1:14: tag too long, max 63 chars'],
    [`pass all tagged ${'x'.repeat(64)}`, '1:17: tag too long, max 63 chars'],
    [
      'pass proto tcp keep state (max-src-nodes 5, source-track global)',
      "1:28: 'max-src-nodes' is incompatible with 'source-track global'",
    ],
    ['block return-rst all', '1:1: return-rst can only be applied to TCP rules'],
    ['block all keep state', '1:1: keep state is great, but only for pass rules'],
    ['block all allow-opts', '1:1: allow-opts can only be specified for pass rules'],
    [
      'pass proto tcp modulate state (sloppy)',
      '1:1: sloppy state matching cannot be used with synproxy state or modulate state',
    ],
    [
      'pass proto tcp keep state (max-src-states 3, overload <t>)',
      "1:1: 'overload' requires 'max-src-conn' or 'max-src-conn-rate'",
    ],
    ['pass proto tcp flags S/SA flags any', '1:27: flags cannot be redefined'],
    ['pass all label a label b', '1:18: label cannot be redefined'],
    ['pass proto tcp keep state (max 1, max 2)', "1:35: state option 'max' multiple definitions"],
    ['pass on abcdefghijklmnop', '1:9: interface name too long'],
    [`pass from <${'t'.repeat(32)}>`, `1:12: table name '${'t'.repeat(32)}' too long`],
  ];
  for (const [text, want] of cases) assert.deepEqual(errors(text), [want], text);
  assert.deepEqual(errors(`pass all label "${'x'.repeat(63)}"\npass all tag ${'y'.repeat(63)}`), []);
});
