// `tunpf replay -f RULES CAPTURE`: runs a capture through the ruleset and the
// state table offline, with the code the datapath uses, and says for every
// packet what happened and why. Made for teaching as much as for testing.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PacketFilter, Verdict, Why, WhyName } from '../filter/packet-filter.js';
import { InterfaceRegistry } from '../filter/interface-registry.js';
import { maskAddress, parsePrefix } from '../packet/address.js';
import { PflogSyncFile } from '../log/pflog-writer.js';
import { CaptureFormatError, readCapture } from '../packet/capture-file.js';
import { decodeLinkLayer } from '../packet/link-layer.js';
import { PacketMeta } from '../packet/meta.js';
import { parsePacket } from '../packet/parse.js';
import { PfActionName, PfReasonName } from '../packet/pflog.js';
import { summarize } from '../packet/summary.js';
import type { InterfaceInfo } from '../rules/ast.js';
import { formatRule } from '../rules/canonical.js';
import { formatDiagnostic } from '../rules/diagnostic-text.js';
import { loadRulesetFile, RulesetReadError } from '../rules/load-file.js';
import { describeState } from '../state/describe-state.js';
import { StateEngine } from '../state/state-engine.js';
import { interfacesFromFlags } from './host-interfaces.js';
import type { CommandIO } from './io.js';
import { logVerdict } from './pflog-options.js';

export const replayUsage = `usage: tunpf replay -f RULES [--in-on IF[=NET]]... [--out-on IF[=NET]]... [--json] [--pflog FILE] CAPTURE
  -f RULES        the ruleset (pf.conf syntax)
  --in-on IF=NET  packets whose source is in NET arrive on IF (repeatable; IF alone: every other packet)
  --out-on IF=NET packets whose source is in NET leave on IF (repeatable)
  --interface     describe an interface for the ruleset: IF=ADDR/LEN,... (repeatable)
  --group         put interfaces in a group: GROUP=IF,... (repeatable)
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

export function replayCommand(argv: string[], io: CommandIO): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        file: { type: 'string', short: 'f' },
        'in-on': { type: 'string', multiple: true },
        'out-on': { type: 'string', multiple: true },
        interface: { type: 'string', multiple: true },
        group: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        pflog: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.err(`tunpf replay: ${(e as Error).message}\n${replayUsage}`);
    return 2;
  }
  if (args.values.help) return io.out(replayUsage), 0;
  if (!args.values.file || args.positionals.length !== 1) {
    io.err(`tunpf replay: need -f RULES and one capture file\n${replayUsage}`);
    return 2;
  }
  const placements: Placement[] = [];
  for (const [dir, list] of [['in', args.values['in-on']], ['out', args.values['out-on']]] as const) {
    for (const v of list ?? []) {
      const p = parsePlacement(dir, v);
      if (typeof p === 'string') return io.err(`tunpf replay: ${p}`), 2;
      placements.push(p);
    }
  }
  // networks first, then the catch-all placements
  placements.sort((a, b) => Number(a.net === null) - Number(b.net === null));
  const fromFlags = interfacesFromFlags(args.values.interface, args.values.group);
  if (typeof fromFlags === 'string') return io.err(`tunpf replay: ${fromFlags}`), 2;
  const ifmap = new Map<string, InterfaceInfo>(fromFlags.map((i) => [i.name, i]));
  for (const p of placements) if (!ifmap.has(p.ifname)) ifmap.set(p.ifname, { name: p.ifname, addresses: [], groups: [] });
  const interfaces = [...ifmap.values()];

  let loaded;
  try {
    loaded = loadRulesetFile(args.values.file, { interfaces });
  } catch (e) {
    if (e instanceof RulesetReadError) return io.err(`tunpf: ${e.message}`), 1;
    throw e;
  }
  for (const d of loaded.diagnostics) io.err(formatDiagnostic(d, loaded.sources));
  if (!loaded.ruleset) return io.err(`${args.values.file}: ruleset not loaded`), 1;
  const ruleset = loaded.ruleset;

  const capPath = args.positionals[0]!;
  let records;
  try {
    records = readCapture(readFileSync(capPath));
  } catch (e) {
    if (e instanceof CaptureFormatError) return io.err(`tunpf: ${capPath}: ${e.message}`), 1;
    const code = (e as NodeJS.ErrnoException).code;
    if (code) return io.err(`tunpf: cannot read ${capPath}: ${code}`), 1;
    throw e;
  }

  let pflog: PflogSyncFile | null = null;
  if (args.values.pflog !== undefined) {
    try {
      pflog = new PflogSyncFile(args.values.pflog);
    } catch (e) {
      return io.err(`tunpf: cannot write ${args.values.pflog}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`), 1;
    }
  }

  const registry = new InterfaceRegistry(interfaces);
  const states = StateEngine.forRuleset(ruleset);
  const filter = new PacketFilter(ruleset, { states, interfaces: registry });
  const meta = new PacketMeta();
  const v = new Verdict();
  const json = args.values.json === true;
  const t0 = records[0]?.time ?? 0;
  let notIp = 0;
  let created = 0;
  records.forEach((rec, n) => {
    const link = decodeLinkLayer(rec.linkType, rec.data, 0, rec.data.length);
    const time = rec.time - t0;
    if (link.ipOffset < 0) {
      notIp++;
      if (json) io.out(JSON.stringify({ n: n + 1, time, skipped: link.reason }));
      else io.out(`${String(n + 1).padStart(5)} ${time.toFixed(6)}  skipped: ${link.reason}`);
      return;
    }
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
    const ifId = ifname ? registry.intern(ifname) : -1;
    filter.test(meta, dir === 'in' ? 1 : 2, ifId, rec.time, v);
    if (v.created) created++;
    if (v.log && pflog) logVerdict(pflog, v, rec.time, rec.data.subarray(link.ipOffset), meta.af, dir === 'in' ? 1 : 2, ifname ?? '');
    const logged = Array.from({ length: v.logs.count }, (_, k) => `@${v.logs.rule[k]} ${PfActionName[v.logs.action[k]!]}/${PfReasonName[v.logs.reason[k]!]}`);
    const rule = v.rule >= 0 ? ruleset.rules[v.rule] : undefined;
    const stateText = v.state >= 0 && states.table.live(v.state) ? describeState(states.table, v.state, (id) => registry.name(id)).replace(/\s+/g, ' ') : null;
    if (json) {
      io.out(
        JSON.stringify({
          n: n + 1,
          time: Number(time.toFixed(6)),
          interface: ifname,
          direction: dir,
          packet: summarize(meta),
          verdict: v.pass ? 'pass' : 'block',
          why: WhyName[v.why],
          rule: v.rule,
          ruleText: rule ? formatRule(rule) : null,
          label: rule?.label ?? null,
          state: stateText,
          stateCreated: v.created,
          logged,
        }),
      );
      return;
    }
    let why: string;
    if (v.why === Why.STATE) why = `state ${stateText}${rule ? ` (rule @${rule.nr})` : ''}`;
    else if (v.why === Why.RULE) why = rule ? `rule @${rule.nr}: ${formatRule(rule)}` : 'no rule matched: pf passes by default';
    else if (v.why === Why.MALFORMED) why = 'malformed packet';
    else if (v.why === Why.BAD_STATE) why = `bad-state: outside the TCP window of its state${rule ? ` (rule @${rule.nr})` : ''}`;
    else why = `${WhyName[v.why]}${rule ? ` (rule @${rule.nr}${rule.label ? ` "${rule.label}"` : ''})` : ''}`;
    if (v.created) why += '; state created';
    if (logged.length) why += `; logged (${logged.join(', ')})`;
    const where = `${dir.padEnd(3)} on ${(ifname ?? '-').padEnd(6)}`;
    io.out(`${String(n + 1).padStart(5)} ${time.toFixed(6)} ${where} ${summarize(meta)}\n        ${v.pass ? 'PASS ' : 'BLOCK'} ${why}`);
  });
  pflog?.close();
  const c = filter.counters;
  const reasons = WhyName.map((name, i) => [name, c.byWhy[i]!] as const).filter(([name, k]) => k > 0 && name !== 'state' && name !== 'rule');
  const blockedByRule = c.blocked - reasons.reduce((s, [, k]) => s + k, 0);
  const byReason: Record<string, number> = {};
  if (blockedByRule) byReason.rule = blockedByRule;
  for (const [name, k] of reasons) byReason[name] = k;
  if (json) io.out(JSON.stringify({ summary: { packets: records.length, passed: c.passed, blocked: c.blocked, blockedBy: byReason, skipped: notIp, statesCreated: created, statesAtEnd: states.table.count } }));
  else {
    const list = Object.entries(byReason).map(([k, n]) => `${k} ${n}`).join(', ');
    io.out(`\n${records.length} packets: ${c.passed} passed, ${c.blocked} blocked${list ? ` (${list})` : ''}${notIp ? `, ${notIp} not IP` : ''}; ${created} states created, ${states.table.count} at the end`);
  }
  return 0;
}
