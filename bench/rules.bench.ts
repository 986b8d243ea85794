// Packets per second through parse + ruleset evaluation, for (a) the shipped
// ~50-rule gateway ruleset with two tables of 10,000 networks each and (b) a
// 1,000-rule ruleset, each beside the naive linear walk of the same ruleset
// measured in the same run. Run: npm run bench:rules

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileRuleset } from '../src/filter/compile-rules.js';
import { evaluate, FilterResult } from '../src/filter/evaluate-rules.js';
import { InterfaceRegistry } from '../src/filter/interface-registry.js';
import { evaluateLinear } from './linear-reference.js';
import { TableStore } from '../src/filter/table-store.js';
import { parsePrefix } from '../src/packet/address.js';
import { buildIcmpEcho, buildTcp, buildUdp } from '../src/packet/build.js';
import { Direction, PacketMeta } from '../src/packet/meta.js';
import { parsePacket } from '../src/packet/parse.js';
import type { InterfaceInfo, Ruleset } from '../src/rules/ast.js';
import { parseRuleset } from '../src/rules/rule-parser.js';

const ROUND_MS = 700;
const ROUNDS = 5;

let seed = 12345;
const rnd = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 4294967296;
};
const ip4 = (a = Math.floor(rnd() * 223) + 1) =>
  `${a}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;

function iface(name: string, addrs: string[], groups: string[] = []): InterfaceInfo {
  return {
    name,
    groups,
    addresses: addrs.map((a) => {
      const p = parsePrefix(a)!;
      return { af: p.af, words: p.words, bits: p.bits };
    }),
  };
}
const interfaces = [
  iface('lan', ['192.168.10.1/24', '2001:db8:10::1/64']),
  iface('wan', ['198.51.100.2/30'], ['egress']),
  iface('lo', ['127.0.0.1/8']),
];

function networks(n: number, bits: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(`${ip4()}/${bits}`);
  return out.join('\n');
}

function load(text: string, files: Record<string, string>): Ruleset {
  const { ruleset, diagnostics } = parseRuleset(text, {
    file: 'bench.conf',
    interfaces,
    readFile: (p) => files[p] ?? '',
  });
  if (!ruleset) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  return ruleset;
}

function gatewayRuleset(): Ruleset {
  const path = fileURLToPath(new URL('../../rules/gateway.conf', import.meta.url));
  const fallback = fileURLToPath(new URL('../rules/gateway.conf', import.meta.url));
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    text = readFileSync(fallback, 'utf8');
  }
  return load(text, { 'tables/bogons.txt': networks(10000, 24), 'tables/blocklist.txt': networks(10000, 20) });
}

function thousandRules(): Ruleset {
  const lines = ['block all'];
  for (let i = 0; i < 999; i++) {
    const net = `10.${(i >> 8) & 255}.${i & 255}.0/24`;
    lines.push(
      i % 3 === 0
        ? `pass in on lan proto tcp from ${net} to any port ${1000 + i}`
        : i % 3 === 1
          ? `pass out on wan proto udp from any to ${net} port ${2000 + i}`
          : `block in on wan inet from ${net} to any`,
    );
  }
  return load(lines.join('\n'), {});
}

function packets(): { buf: Uint8Array; dir: Direction; ifname: string }[] {
  const out: { buf: Uint8Array; dir: Direction; ifname: string }[] = [];
  for (let i = 0; i < 512; i++) {
    const k = i % 8;
    if (k < 3)
      out.push({
        buf: buildTcp({
          src: `192.168.10.${2 + (i % 200)}`,
          dst: ip4(),
          sport: 40000 + i,
          dport: [443, 80, 22, 8080][i % 4]!,
          flags: 'S',
        }),
        dir: Direction.IN,
        ifname: 'lan',
      });
    else if (k < 5)
      out.push({
        buf: buildTcp({ src: ip4(), dst: '192.168.10.80', sport: 50000 + i, dport: 443, flags: 'S' }),
        dir: Direction.IN,
        ifname: 'wan',
      });
    else if (k < 6)
      out.push({
        buf: buildUdp({ src: `192.168.10.${2 + (i % 200)}`, dst: ip4(), sport: 5000 + i, dport: 53 }),
        dir: Direction.OUT,
        ifname: 'wan',
      });
    else if (k < 7)
      out.push({
        buf: buildUdp({ src: `10.${i & 3}.${i & 255}.9`, dst: ip4(), sport: 5000 + i, dport: 2000 + (i % 1000) }),
        dir: Direction.IN,
        ifname: 'wan',
      });
    else
      out.push({
        buf: buildIcmpEcho({ src: `192.168.10.${2 + (i % 200)}`, dst: ip4(), id: i }),
        dir: Direction.IN,
        ifname: 'lan',
      });
  }
  return out;
}

function measure(fn: () => number): number {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    let n = 0;
    while (Number(process.hrtime.bigint() - start) / 1e6 < ROUND_MS) n += fn();
    rates.push(n / (Number(process.hrtime.bigint() - start) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

function run(name: string, ruleset: Ruleset): string[] {
  const reg = new InterfaceRegistry(interfaces);
  const tables = TableStore.forRuleset(ruleset.tables);
  const rs = compileRuleset(ruleset, { interfaces: reg, tables });
  const env = rs.env;
  const pkts = packets();
  const ifIds = pkts.map((p) => reg.id(p.ifname));
  const meta = new PacketMeta();
  const out = new FilterResult();
  let sink = 0;
  const fast = measure(() => {
    for (let i = 0; i < pkts.length; i++) {
      const p = pkts[i]!;
      parsePacket(p.buf, 0, p.buf.length, meta);
      evaluate(rs, meta, p.dir, ifIds[i]!, out);
      sink += out.action;
    }
    return pkts.length;
  });
  const naive = measure(() => {
    for (let i = 0; i < 64; i++) {
      const p = pkts[i]!;
      parsePacket(p.buf, 0, p.buf.length, meta);
      sink += evaluateLinear(ruleset, env, meta, p.dir, p.ifname).rule;
    }
    return 64;
  });
  // agreement check on the whole packet set, so the figures compare equal work
  for (let i = 0; i < pkts.length; i++) {
    const p = pkts[i]!;
    parsePacket(p.buf, 0, p.buf.length, meta);
    evaluate(rs, meta, p.dir, ifIds[i]!, out);
    const ref = evaluateLinear(ruleset, env, meta, p.dir, p.ifname);
    if (ref.rule !== out.ruleIndex) throw new Error(`${name}: evaluators disagree on packet ${i}`);
  }
  const tableSizes = ruleset.tables.map((t) => `${t.name}:${tables.get(t.name)!.size}`).join(' ');
  void sink;
  return [
    `${name}: ${ruleset.rules.length} rules${tableSizes ? `, tables ${tableSizes}` : ''}`,
    `  skip-step evaluator   ${(fast / 1e6).toFixed(2).padStart(7)} M packets/s (parse + evaluate)`,
    `  naive linear walk     ${(naive / 1e6).toFixed(2).padStart(7)} M packets/s (same packets, same run)`,
    `  ratio                 ${(fast / naive).toFixed(1).padStart(7)} x`,
  ];
}

function tableLookups(): string {
  const t = TableStore.forRuleset([]).ensure('big');
  const entries = [];
  for (let i = 0; i < 100000; i++) {
    const p = parsePrefix(`${ip4()}/${16 + Math.floor(rnd() * 17)}`)!;
    entries.push({ prefix: { af: p.af, words: p.words, bits: p.bits }, neg: rnd() < 0.05 });
  }
  const t0 = process.hrtime.bigint();
  t.add(entries);
  t.contains(4, new Uint32Array(4));
  const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const probes = Array.from({ length: 4096 }, () => parsePrefix(ip4())!.words);
  let hits = 0;
  const rate = measure(() => {
    for (let i = 0; i < probes.length; i++) if (t.contains(4, probes[i]!)) hits++;
    return probes.length;
  });
  void hits;
  return `table of 100,000 IPv4 networks: ${(rate / 1e6).toFixed(1)} M lookups/s, built in ${buildMs.toFixed(0)} ms`;
}

console.log(
  `tunpf rules benchmark (node ${process.version}, one core; median of ${ROUNDS} rounds of ${ROUND_MS} ms)\n`,
);
for (const line of run('(a) gateway ruleset', gatewayRuleset())) console.log(line);
console.log('');
for (const line of run('(b) 1,000 rules', thousandRules())) console.log(line);
console.log('');
console.log(tableLookups());
