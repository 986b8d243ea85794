// Packets per second through the datapath's batch loop (Forwarder.onBatch:
// parse, warm, the packet pipeline's `in` check, route and `out` check, the
// hop given back, one batched write to a TUN that only counts) beside the
// least that work can be: the same calls written inline in one loop, in the
// same run. Their ratio is what the pipeline's structure costs per packet;
// no system call is made, so the kernel's noise stays out.
// Run: npm run bench:pipeline

import type { TunDevice, RxBatch } from '../src/datapath/tun-device.js';
import { SLOT_SIZE } from '../src/datapath/tun-device.js';
import { Forwarder } from '../src/datapath/forwarder.js';
import { RouteTable, routeTo } from '../src/datapath/route-table.js';
import { VIRTIO_NET_HDR_LEN } from '../src/datapath/virtio-net.js';
import { InterfaceRegistry } from '../src/filter/interface-registry.js';
import { PacketFilter, Verdict } from '../src/filter/packet-filter.js';
import { parsePrefix } from '../src/packet/address.js';
import { buildTcp, buildUdp } from '../src/packet/build.js';
import { incrementIpv4Ttl } from '../src/packet/checksum.js';
import { Direction, PacketMeta } from '../src/packet/meta.js';
import { parsePacket } from '../src/packet/parse.js';
import type { InterfaceInfo } from '../src/rules/ast.js';
import { parseRuleset } from '../src/rules/rule-parser.js';
import { StateEngine } from '../src/state/state-engine.js';

const BATCH = 64;
const FLOWS = 4096;
const ROUND_MS = 700;
const ROUNDS = 5;

function iface(name: string, addr: string): InterfaceInfo {
  const p = parsePrefix(addr)!;
  return { name, groups: [], addresses: [{ af: p.af, words: p.words, bits: p.bits }] };
}
const interfaces = [iface('lan', '192.168.10.1/24'), iface('wan', '198.51.100.2/30')];
const RULES = `block all
pass in on lan proto { tcp udp } from 192.168.10.0/24
pass out on wan proto { tcp udp }
`;

function setup() {
  const { ruleset, diagnostics } = parseRuleset(RULES, { file: 'bench.conf', interfaces });
  if (!ruleset) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const registry = new InterfaceRegistry(interfaces);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: 1000, seeds: Uint32Array.of(1, 2, 3) });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const routes = new RouteTable();
  routes.replace([routeTo('0.0.0.0/0', 'wan', registry.id('wan'))!]);
  return { registry, states, filter, routes };
}

/** Batches of packets from LAN hosts to the internet, as the TUN hands them over (virtio header first). */
function batches(): RxBatch[] {
  const out: RxBatch[] = [];
  for (let b = 0; b < FLOWS / BATCH; b++) {
    const buf = Buffer.alloc(BATCH * SLOT_SIZE);
    const lengths = new Uint32Array(BATCH);
    for (let k = 0; k < BATCH; k++) {
      const f = b * BATCH + k;
      const src = `192.168.10.${2 + (f % 250)}`;
      const dst = `203.0.113.${1 + (f % 200)}`;
      const sport = 10000 + f;
      const pkt =
        f % 2 === 0
          ? buildUdp({ src, dst, sport, dport: 53, payload: new Uint8Array(32) })
          : buildTcp({ src, dst, sport, dport: 443, seq: 1000, flags: 'S', window: 64000 });
      buf.set(pkt, k * SLOT_SIZE + VIRTIO_NET_HDR_LEN);
      lengths[k] = VIRTIO_NET_HDR_LEN + pkt.length;
    }
    out.push({ buf, lengths, count: BATCH });
  }
  return out;
}

/** One rival: a name and the work it does on one batch. */
interface Rival {
  name: string;
  pass: (rx: RxBatch) => void;
}

/** Packets a second of one round (ROUND_MS) of `pass` over fresh copies of every batch. */
function round(pass: (rx: RxBatch) => void, template: RxBatch[]): number {
  const work = template.map((rx) => ({ buf: Buffer.from(rx.buf), lengths: rx.lengths, count: rx.count }));
  let packets = 0;
  let spent = 0;
  while (spent < ROUND_MS) {
    work.forEach((rx, i) => template[i]!.buf.copy(rx.buf)); // the hop given back changes the TTL
    const t0 = process.hrtime.bigint();
    for (const rx of work) pass(rx);
    spent += Number(process.hrtime.bigint() - t0) / 1e6;
    packets += work.length * BATCH;
  }
  return packets / (spent / 1000);
}

/**
 * The rivals' rounds interleaved, so a change in the machine's speed during
 * the run falls on both alike; the median of each, printed and returned.
 */
function measure(rivals: Rival[], template: RxBatch[]): number[] {
  const rates = rivals.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS; r++) rivals.forEach((x, k) => rates[k]!.push(round(x.pass, template)));
  return rivals.map((x, k) => {
    const sorted = rates[k]!.sort((p, q) => p - q);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`  ${x.name.padEnd(34)} ${(median / 1e6).toFixed(2).padStart(6)} M packets/s`);
    return median;
  });
}

const template = batches();
console.log(`tunpf pipeline benchmark (node ${process.version}, one core; ${FLOWS} flows, states hit in and out)`);

// the datapath's batch loop, writing to a TUN that only counts
const a = setup();
const countingTun = { write: (_b: Buffer, _o: Uint32Array, _l: Uint32Array, n: number) => n } as unknown as TunDevice;
const forwarder = new Forwarder({
  filter: a.filter,
  states: a.states,
  routes: a.routes,
  batchSize: BATCH,
  clock: () => 1000,
});
const lan = a.registry.id('lan');
const viaForwarder: Rival = {
  name: 'Forwarder.onBatch (the datapath)',
  pass: (rx) => forwarder.onBatch(countingTun, lan, rx),
};

// the same work written inline: parse, in check, route, out check, hop
const b = setup();
const metas = Array.from({ length: BATCH }, () => new PacketMeta());
const v = new Verdict();
const wan = b.registry.id('wan');
let passed = 0;
const inline: Rival = {
  name: 'inline loop (baseline)',
  pass: (rx) => {
    for (let k = 0; k < rx.count; k++) {
      const at = k * SLOT_SIZE + VIRTIO_NET_HDR_LEN;
      parsePacket(rx.buf, at, rx.lengths[k]! - VIRTIO_NET_HDR_LEN, metas[k]!);
    }
    b.states.warm(metas, rx.count);
    for (let k = 0; k < rx.count; k++) {
      const m = metas[k]!;
      if (!b.filter.test(m, Direction.IN, lan, 1000, v).pass) continue;
      if (b.routes.lookup(m.af, m.dst) !== wan) continue;
      if (!b.filter.test(m, Direction.OUT, wan, 1000, v).pass) continue;
      incrementIpv4Ttl(rx.buf, k * SLOT_SIZE + VIRTIO_NET_HDR_LEN);
      passed++;
    }
  },
};

const [datapathRate, inlineRate] = measure([viaForwarder, inline], template);
if (forwarder.counters.packetsOut !== forwarder.counters.packetsIn) throw new Error('the forwarder dropped packets');
if (passed === 0) throw new Error('the inline loop passed nothing');
console.log(`  ratio (datapath / inline)            ${(datapathRate! / inlineRate!).toFixed(2)}`);
