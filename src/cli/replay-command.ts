// `tunpf replay -f RULES CAPTURE`: runs a capture through the ruleset and the
// state table offline, through the packet pipeline the datapath uses, and
// says for every packet what happened and why. With `--route` (router mode)
// every arriving packet is forwarded as the datapath forwards it: checked
// `in` on its interface, then `out` on the interface the routes pick.
// Made for teaching as much as for testing.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type Verdict, Why, WhyName } from '../filter/packet-filter.js';
import { PacketFilter } from '../filter/packet-filter.js';
import { InterfaceRegistry } from '../filter/interface-registry.js';
import { maskAddress, parsePrefix } from '../packet/address.js';
import { PflogSyncFile } from '../log/pflog-writer.js';
import { CaptureFormatError, readCaptureUntilDamage } from '../packet/capture-file.js';
import { decodeLinkLayer } from '../packet/link-layer.js';
import { Direction, PacketMeta } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import { PfActionName, PfReasonName } from '../packet/pflog.js';
import { summarize } from '../packet/summary.js';
import type { InterfaceInfo, Ruleset } from '../rules/ast.js';
import { formatRule, printContextOf } from '../rules/canonical.js';
import { formatDiagnostics } from '../rules/diagnostic-text.js';
import { loadRulesetFile, RulesetReadError } from '../rules/load-file.js';
import { describeState, endpointText, flowKeys, type FlowEnd } from '../control/describe-state.js';
import { StateEngine } from '../state/state-engine.js';
import type { StateTable } from '../state/state-table.js';
import { PacketPipeline } from '../datapath/pipeline.js';
import { routeTo, RouteTable } from '../datapath/route-table.js';
import { interfacesFromFlags } from './host-interfaces.js';
import { rulesById, ruleName, type NamedRule } from '../control/rule-rows.js';
import type { CommandIO } from './io.js';

export const replayUsage = `usage: tunpf replay -f RULES [--in-on IF[=NET]]... [--out-on IF[=NET]]...
                    [--route PREFIX=IF]... [--json] [--pflog FILE] CAPTURE
  -f, --file RULES  the ruleset (pf.conf syntax)
  --in-on IF=NET  packets whose source is in NET arrive on IF (repeatable; IF alone: every other packet)
  --out-on IF=NET packets whose source is in NET leave on IF (repeatable)
  --interface     describe an interface for the ruleset: IF=ADDR/LEN,... (repeatable)
  --group         put interfaces in a group: GROUP=IF,... (repeatable)
  --route         router mode: packets to PREFIX leave on IF (repeatable; default=IF for 0.0.0.0/0 and ::/0).
                  Every arriving packet is checked in on its interface, then out on the one its route picks,
                  as tunpf run forwards it; packets the capture saw leaving are skipped.
  --json          one JSON object per packet, then a summary object
  --pflog FILE    write the packets that rules log to FILE, as tunpf run --pflog does (read with tcpdump -n -e -r)
Interfaces and directions recorded in the capture (pcapng, Linux cooked SLL, pflog) take precedence.`;

interface Placement {
  dir: 'in' | 'out';
  ifname: string;
  net: { af: 4 | 6; words: Uint32Array; bits: number } | null;
}

function parsePlacement(dir: 'in' | 'out', v: string): Placement | string {
  const eq = v.indexOf('=');
  const ifname = eq < 0 ? v : v.slice(0, eq);
  if (!ifname) return `--${dir}-on needs an interface name`;
  if (eq < 0) return { dir, ifname, net: null };
  const p = parsePrefix(v.slice(eq + 1));
  if (!p) return `invalid network '${v.slice(eq + 1)}' in --${dir}-on`;
  return { dir, ifname, net: { af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits } };
}

function inNet(net: NonNullable<Placement['net']>, af: number, words: Uint32Array): boolean {
  if (net.af !== af) return false;
  const m = maskAddress(words, net.bits);
  return m.every((w, i) => w === net.words[i]);
}

const IFNAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** `--route PREFIX=IF`: one route, or both defaults for `default=IF`; a message when the flag is wrong. */
export function parseRouteFlag(v: string): { prefixes: string[]; ifname: string } | string {
  const eq = v.lastIndexOf('=');
  if (eq < 0) return `--route needs PREFIX=IF (e.g. 10.0.0.0/8=wan or default=wan), not '${v}'`;
  const prefix = v.slice(0, eq);
  const ifname = v.slice(eq + 1);
  const p = prefix === 'default' ? null : parsePrefix(prefix);
  if (prefix !== 'default' && !p)
    return `invalid prefix '${prefix}' in --route ${v} (an IPv4 or IPv6 network, or default)`;
  if (p && maskAddress(p.words, p.bits).some((w, i) => w !== p.words[i]))
    return `'${prefix}' in --route ${v} has host bits set beyond /${p.bits}`;
  if (!IFNAME.test(ifname)) return `invalid interface name '${ifname}' in --route ${v}`;
  return { prefixes: p ? [prefix] : ['0.0.0.0/0', '::/0'], ifname };
}

/** One check as the output shows it (and `--json` prints it). */
export interface CheckView {
  interface: string | null;
  direction: 'in' | 'out';
  verdict: 'pass' | 'block';
  why: string;
  /** The rule's number in its ruleset: the main one, or `anchor`'s (null for the main ruleset). */
  rule: number;
  anchor: string | null;
  ruleText: string | null;
  label: string | null;
  state: string | null;
  stateCreated: boolean;
  /** What the check rewrote, from the state's keys: nothing for an untranslated packet. */
  translation: TranslationView[];
  logged: string[];
}

/**
 * One rewritten field: `nat` the source of a packet in the state's own
 * direction (or the destination of a reply, translated back), `rdr` the
 * destination (or a reply's source); `quoted` for the packet an ICMP error
 * quotes.
 */
export interface TranslationView {
  kind: 'nat' | 'rdr';
  field: 'src' | 'dst';
  from: string;
  to: string;
  quoted: boolean;
}

/** The fields a passed check rewrote, from the key it came on to the other (as rewriteFromState does). */
function translationOf(t: StateTable, v: Verdict): TranslationView[] {
  if (!v.pass || !v.rewrite || v.state < 0 || !t.live(v.state)) return [];
  const k = flowKeys(t, v.state);
  const before = v.toStack ? k.wire : k.stack;
  const after = v.toStack ? k.stack : k.wire;
  const from = v.forward ? 0 : 1;
  const out: TranslationView[] = [];
  const add = (field: 'src' | 'dst', side: number) => {
    const a = before[side]!;
    const b = after[side]!;
    if (a.address === b.address && a.port === b.port) return;
    // the state's initiator side is the one nat-to rewrites, the responder side the one rdr-to does
    const kind = side === 0 ? 'nat' : 'rdr';
    const text = (e: FlowEnd) => endpointText(k.af, k.proto, e);
    out.push({ kind, field, from: text(a), to: text(b), quoted: v.viaIcmpError });
  };
  add('src', from);
  add('dst', 1 - from);
  return out;
}

/** Tells one check's verdict in words: JSON fields, and the sentence the text output prints. */
class CheckDescriber {
  constructor(
    private readonly ruleset: Ruleset,
    /** Rules by the id verdicts and states carry (anchor rules included). */
    private readonly ruleOf: (id: number) => NamedRule | undefined,
    private readonly states: StateEngine,
    private readonly registry: InterfaceRegistry,
  ) {}

  view(v: Verdict, ifname: string | null, direction: 'in' | 'out'): CheckView {
    const named = this.ruleOf(v.rule);
    const rule = named?.rule;
    const live = v.state >= 0 && this.states.table.live(v.state);
    const ifName = (id: number) => this.registry.name(id);
    const logs = v.logs;
    return {
      interface: ifname,
      direction,
      verdict: v.pass ? 'pass' : 'block',
      why: WhyName[v.why]!,
      rule: named ? named.nr : v.rule,
      anchor: named?.anchor || null,
      ruleText: rule ? formatRule(rule, printContextOf(this.ruleset)) : null,
      label: rule?.label ?? null,
      state: live ? describeState(this.states.table, v.state, ifName).replace(/\s+/g, ' ') : null,
      stateCreated: v.created,
      translation: translationOf(this.states.table, v),
      logged: Array.from(
        { length: logs.count },
        (_, k) => `@${logs.rule[k]} ${PfActionName[logs.action[k]!]}/${PfReasonName[logs.reason[k]!]}`,
      ),
    };
  }

  /** `PASS  rule @1: ...; state created; logged (...)` */
  text(v: Verdict, c: CheckView): string {
    const named = this.ruleOf(v.rule);
    const rule = named?.rule;
    const at = named ? ruleName(named) : '';
    let why: string;
    if (v.why === Why.STATE) why = `state ${c.state}${rule ? ` (rule ${at})` : ''}`;
    else if (v.why === Why.RULE)
      why = rule
        ? `rule ${at}: ${formatRule(rule, printContextOf(this.ruleset))}`
        : 'no rule matched: pf passes by default';
    else if (v.why === Why.MALFORMED) why = 'malformed packet';
    else if (v.why === Why.BAD_STATE)
      why = `bad-state: outside the TCP window of its state${rule ? ` (rule ${at})` : ''}`;
    else why = `${WhyName[v.why]}${rule ? ` (rule ${at}${rule.label ? ` "${rule.label}"` : ''})` : ''}`;
    if (v.created) why += '; state created';
    for (const x of c.translation) why += `; ${x.kind} ${x.quoted ? `quoted ${x.field} ` : ''}${x.from} -> ${x.to}`;
    if (c.logged.length) why += `; logged (${c.logged.join(', ')})`;
    return `${v.pass ? 'PASS ' : 'BLOCK'} ${why}`;
  }
}

const where = (dir: 'in' | 'out', ifname: string | null) => `${dir.padEnd(3)} on ${(ifname ?? '-').padEnd(6)}`;

export const replayOptions = {
  file: { type: 'string', short: 'f' },
  'in-on': { type: 'string', multiple: true },
  'out-on': { type: 'string', multiple: true },
  interface: { type: 'string', multiple: true },
  group: { type: 'string', multiple: true },
  route: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  pflog: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function replayCommand(argv: string[], io: CommandIO): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: replayOptions,
    });
  } catch (e) {
    io.err(`tunpf replay: ${(e as Error).message}\n${replayUsage}`);
    return 2;
  }
  if (args.values.help) return (io.out(replayUsage), 0);
  if (!args.values.file || args.positionals.length !== 1) {
    io.err(`tunpf replay: need -f RULES and one capture file\n${replayUsage}`);
    return 2;
  }
  const placements: Placement[] = [];
  for (const [dir, list] of [
    ['in', args.values['in-on']],
    ['out', args.values['out-on']],
  ] as const) {
    for (const v of list ?? []) {
      const p = parsePlacement(dir, v);
      if (typeof p === 'string') return (io.err(`tunpf replay: ${p}`), 2);
      placements.push(p);
    }
  }
  // networks first, then the catch-all placements
  placements.sort((a, b) => Number(a.net === null) - Number(b.net === null));
  const routeFlags: { prefixes: string[]; ifname: string }[] = [];
  for (const v of args.values.route ?? []) {
    const r = parseRouteFlag(v);
    if (typeof r === 'string') return (io.err(`tunpf replay: ${r}`), 2);
    routeFlags.push(r);
  }
  const routerMode = routeFlags.length > 0;
  const fromFlags = interfacesFromFlags(args.values.interface, args.values.group);
  if (typeof fromFlags === 'string') return (io.err(`tunpf replay: ${fromFlags}`), 2);
  const ifmap = new Map<string, InterfaceInfo>(fromFlags.map((i) => [i.name, i]));
  for (const name of [...placements.map((p) => p.ifname), ...routeFlags.map((r) => r.ifname)])
    if (!ifmap.has(name)) ifmap.set(name, { name, addresses: [], groups: [] });
  const interfaces = [...ifmap.values()];

  let loaded;
  try {
    loaded = loadRulesetFile(args.values.file, { interfaces });
  } catch (e) {
    if (e instanceof RulesetReadError) return (io.err(`tunpf: ${e.message}`), 1);
    throw e;
  }
  for (const line of formatDiagnostics(loaded.diagnostics, loaded.sources, loaded.omitted)) io.err(line);
  if (!loaded.ruleset) return (io.err(`${args.values.file}: ruleset not loaded`), 1);
  const ruleset = loaded.ruleset;

  const capPath = args.positionals[0]!;
  let records;
  let damage: CaptureFormatError | null;
  try {
    ({ records, damage } = readCaptureUntilDamage(readFileSync(capPath)));
  } catch (e) {
    if (e instanceof CaptureFormatError) return (io.err(`tunpf: ${capPath}: ${e.message}`), 1);
    const code = (e as NodeJS.ErrnoException).code;
    if (code) return (io.err(`tunpf: cannot read ${capPath}: ${code}`), 1);
    throw e;
  }

  let pflog: PflogSyncFile | null = null;
  if (args.values.pflog !== undefined) {
    try {
      pflog = new PflogSyncFile(args.values.pflog);
    } catch (e) {
      return (
        io.err(
          `tunpf: cannot write ${args.values.pflog}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        ),
        1
      );
    }
  }

  const registry = new InterfaceRegistry(interfaces);
  const states = StateEngine.forRuleset(ruleset, { startSeconds: Math.floor(records[0]?.time ?? 0) });
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const routes = new RouteTable();
  routes.replace(routeFlags.flatMap((r) => r.prefixes.map((p) => routeTo(p, r.ifname, registry.intern(r.ifname))!)));
  const pipeline = new PacketPipeline(filter, states, routes);
  pipeline.logTo(pflog);
  const describer = new CheckDescriber(ruleset, rulesById(filter.rules), states, registry);
  const meta = new PacketMeta();
  const json = args.values.json === true;
  const t0 = records[0]?.time ?? 0;
  const blockedBy = new Float64Array(WhyName.length);
  let skipped = 0;
  let created = 0;
  let passed = 0;
  let noRoute = 0;
  let toldNoInterface = false;
  records.forEach((rec, n) => {
    const link = decodeLinkLayer(rec.linkType, rec.data, 0, rec.data.length);
    const time = rec.time - t0;
    const skip = (reason: string) => {
      skipped++;
      if (json) io.out(JSON.stringify({ n: n + 1, time, skipped: reason }));
      else io.out(`${String(n + 1).padStart(5)} ${time.toFixed(6)}  skipped: ${reason}`);
    };
    if (link.ipOffset < 0) return skip(link.reason);
    parsePacket(rec.data, link.ipOffset, rec.data.length - link.ipOffset, meta);
    let dir: 'in' | 'out' = rec.direction ?? link.direction ?? 'in';
    let ifname: string | null = rec.interfaceName ?? link.ifname;
    if (!ifname || (!rec.direction && !link.direction)) {
      const p = placements.find((x) => x.net === null || (meta.af !== 0 && inNet(x.net, meta.af, meta.src)));
      if (p) {
        ifname = ifname ?? p.ifname;
        if (!rec.direction && !link.direction) dir = p.dir;
      }
    }
    if (routerMode && dir === 'out')
      return skip(`left the router on ${ifname ?? '?'} (router mode checks arriving packets)`);
    if (routerMode && !ifname) return skip('arrived on an unknown interface (say which with --in-on)');
    if (!ifname && !toldNoInterface) {
      toldNoInterface = true;
      io.err(
        `tunpf replay: ${capPath}: packet ${n + 1} records no interface` +
          `${rec.direction || link.direction ? '' : ' or direction'}; such packets are checked ` +
          `as arriving on no interface, so rules 'on IF' do not match them: say where they were with ` +
          '--in-on IF[=NET] / --out-on IF=NET',
      );
    }
    const ifId = ifname ? registry.intern(ifname) : -1;
    // as it arrived: the checks may rewrite it (nat-to, rdr-to)
    const packet = summarize(meta);
    const start = link.ipOffset;
    const end = rec.data.length;
    const o = routerMode
      ? pipeline.forward(meta, rec.data, start, end, ifId, rec.time)
      : pipeline.checkOnce(meta, rec.data, start, end, dir === 'in' ? Direction.IN : Direction.OUT, ifId, rec.time);
    const inView = o.inChecked ? describer.view(o.inCheck, ifname, 'in') : null;
    const outName = o.outIf >= 0 ? registry.name(o.outIf) : null;
    const outView = o.outChecked ? describer.view(o.outCheck, outName, 'out') : null;
    if (o.inChecked && o.inCheck.created) created++;
    if (o.outChecked && o.outCheck.created) created++;
    if (o.noRoute) noRoute++;
    if (o.pass) passed++;
    else blockedBy[(o.outChecked ? o.outCheck : o.inCheck).why]++;
    const head = `${String(n + 1).padStart(5)} ${time.toFixed(6)}`;
    if (!routerMode) {
      const view = (inView ?? outView)!;
      const v = o.inChecked ? o.inCheck : o.outCheck;
      const { interface: iface, direction, ...verdict } = view;
      const at = Number(time.toFixed(6));
      if (json) io.out(JSON.stringify({ n: n + 1, time: at, interface: iface, direction, packet, ...verdict }));
      else io.out(`${head} ${where(dir, ifname)} ${packet}\n        ${describer.text(v, view)}`);
      return;
    }
    if (json) {
      io.out(
        JSON.stringify({
          n: n + 1,
          time: Number(time.toFixed(6)),
          interface: ifname,
          packet,
          verdict: o.pass ? 'pass' : 'block',
          in: inView,
          out: outView,
          route: outName,
          noRoute: o.noRoute,
        }),
      );
      return;
    }
    const lines = [
      `${head} ${where('in', ifname)} ${packet}`,
      `        ${where('in', ifname)} ${describer.text(o.inCheck, inView!)}`,
    ];
    if (outView) lines.push(`        ${where('out', outName)} ${describer.text(o.outCheck, outView)}`);
    else if (o.noRoute) lines.push(`        ${where('out', null)} no route: the kernel answers (unreachable)`);
    io.out(lines.join('\n'));
  });
  pflog?.close();
  const blocked = records.length - skipped - passed;
  // decided by a rule or a state, or refused for a reason of its own
  const byReason: Record<string, number> = {};
  const byRule = blockedBy[Why.RULE]! + blockedBy[Why.STATE]!;
  if (byRule) byReason.rule = byRule;
  WhyName.forEach((name, why) => {
    if (why !== Why.RULE && why !== Why.STATE && blockedBy[why]) byReason[name] = blockedBy[why]!;
  });
  if (json) {
    const summary = {
      packets: records.length,
      passed,
      blocked,
      blockedBy: byReason,
      skipped,
      statesCreated: created,
      statesAtEnd: states.table.count,
    };
    io.out(JSON.stringify({ summary: routerMode ? { ...summary, noRoute } : summary }));
  } else {
    // "3 by rules", never "rule 3": these are counts
    const list = Object.entries(byReason)
      .map(([k, n]) => (k === 'rule' ? `${n} by ${n === 1 ? 'a rule' : 'rules'}` : `${n} ${k}`))
      .join(', ');
    const skippedText = skipped ? `, ${skipped} ${routerMode ? 'skipped' : 'not IP'}` : '';
    const noRouteText = noRoute ? `, ${noRoute} without a route` : '';
    const blockedText = `${blocked} blocked${list ? ` (${list})` : ''}`;
    const statesText = `${created} states created, ${states.table.count} at the end`;
    io.out(`\n${records.length} packets: ${passed} passed, ${blockedText}${skippedText}${noRouteText}; ${statesText}`);
  }
  if (damage) {
    // as tcpdump: the complete packets are replayed, then the warning and exit status 1
    const n = records.length;
    io.err(`tunpf replay: ${capPath}: the capture is cut short (${damage.message}); ${n} complete packets replayed`);
  }
  return damage ? 1 : 0;
}
