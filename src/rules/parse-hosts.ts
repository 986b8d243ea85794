// Addresses: a rule's `from ... port ... to ... port ...`, host items (any,
// self, prefixes, ranges, <table> references, (em0) dynamic addresses,
// interface names and groups), ports, and `on` interface items.

import { maskAddress, parseAddress, parsePrefix, type Address, type ParsedPrefix } from '../packet/address.js';
import type { AddressSpec, PortOp, PortSpec, Prefix, SourceLocation } from './ast.js';
import type { HostItem, RuleSpec } from './expand-rule.js';
import { portNumber } from './names.js';
import { RuleSyntaxError, type ParserContext } from './parser-context.js';
import { readAddressText } from './tokenizer.js';

/** The network a prefix lies in, host bits cleared. */
export function networkPrefix(p: ParsedPrefix): Prefix {
  return { af: p.af, words: maskAddress(p.words, p.bits), bits: p.bits };
}

/** One address as a full-length prefix. */
export function hostPrefix(a: Address): Prefix {
  return { af: a.af, words: Uint32Array.from(a.words), bits: a.af === 4 ? 32 : 128 };
}

/** fe80::/10: such addresses need a scope, so rules skip them. */
export function isLinkLocal6(a: Address): boolean {
  return a.af === 6 && a.words[0]! >>> 22 === 0x3fa;
}

/** `all`, or `from HOSTS [port PORTS]` and/or `to HOSTS [port PORTS]`. */
export function parseHosts(ctx: ParserContext, spec: RuleSpec): void {
  if (ctx.accept('all')) {
    spec.all = true;
    return;
  }
  if (ctx.accept('from')) {
    spec.fromHosts = hostList(ctx, spec);
    if (ctx.is('port')) {
      const portLoc = ctx.next().loc;
      spec.portLoc ??= portLoc;
      spec.fromPorts = ctx.list(() => portItem(ctx));
    }
  }
  if (ctx.accept('to')) {
    spec.toHosts = hostList(ctx, spec);
    if (ctx.is('port')) {
      const portLoc = ctx.next().loc;
      spec.portLoc ??= portLoc;
      spec.toPorts = ctx.list(() => portItem(ctx));
    }
  }
}

/** An interface of `on IFACES`. */
export function interfaceItem(ctx: ParserContext): { name: string; neg: boolean } {
  const neg = ctx.accept('!');
  const t = ctx.word('an interface name');
  if (t.text === 'any' || t.text === 'rdomain')
    throw new RuleSyntaxError(t.loc, `'on ${t.text}' is not supported by tunpf`);
  return { name: t.text, neg };
}

/** `NAME>` after a `<`: a table a rule uses, which must be defined by the end of the file. */
export function tableReference(ctx: ParserContext): string {
  const name = ctx.word('a table name');
  ctx.expect('>');
  ctx.tableUses.push({ name: name.text, loc: name.loc });
  return name.text;
}

/** Addresses of an interface: `em0` (its addresses), `em0:network`, `em0:broadcast`. */
export function interfaceAddresses(ctx: ParserContext, text: string, loc: SourceLocation): Prefix[] {
  const [ifname, mode, extra] = text.split(':');
  if (extra !== undefined || !ifname) throw new RuleSyntaxError(loc, `invalid address '${text}'`);
  const info = ctx.interfaces.get(ifname) ?? [...ctx.interfaces.values()].find((i) => i.groups.includes(ifname));
  if (!info) {
    if (mode !== undefined || /^[a-z]+[0-9]+$/i.test(ifname))
      throw new RuleSyntaxError(loc, `no such interface '${ifname}' (tunpf resolves no host names)`);
    throw new RuleSyntaxError(loc, `invalid address '${text}': not an address, and no interface or group of that name`);
  }
  const out: Prefix[] = [];
  for (const a of info.addresses) {
    if (isLinkLocal6(a)) continue;
    if (mode === undefined) out.push(hostPrefix(a));
    else if (mode === 'network') out.push(networkPrefix(a));
    else if (mode === 'broadcast') {
      if (a.af !== 4) continue;
      const bc = Uint32Array.from(a.words);
      bc[0] = (a.words[0]! | ~((0xffffffff << (32 - a.bits)) >>> 0)) >>> 0;
      if (a.bits === 0) bc[0] = 0xffffffff;
      out.push({ af: 4, words: bc, bits: 32 });
    } else if (mode === 'peer') throw new RuleSyntaxError(loc, `'${ifname}:peer' is not supported by tunpf`);
    else throw new RuleSyntaxError(loc, `unknown interface modifier ':${mode}' (network, broadcast)`);
  }
  if (out.length === 0) throw new RuleSyntaxError(loc, `interface '${ifname}' has no usable address for '${text}'`);
  return out;
}

function hostList(ctx: ParserContext, spec: RuleSpec): HostItem[] {
  if (ctx.is('port')) return [{ addr: { kind: 'any' }, af: 0, loc: ctx.peek().loc }];
  return ctx.list(() => hostItem(ctx, spec));
}

function hostItem(ctx: ParserContext, spec: RuleSpec): HostItem[] {
  const neg = ctx.accept('!');
  const loc = ctx.peek().loc;
  if (ctx.accept('any')) {
    if (neg) throw new RuleSyntaxError(loc, "'! any' matches nothing");
    return [{ addr: { kind: 'any' }, af: 0, loc }];
  }
  if (ctx.accept('no-route')) return [{ addr: { kind: 'no-route', neg }, af: 0, loc }];
  if (ctx.accept('urpf-failed')) return [{ addr: { kind: 'urpf-failed', neg }, af: 0, loc }];
  if (ctx.accept('self')) return [{ addr: { kind: 'self', neg }, af: 0, loc }];
  if (ctx.accept('<')) return [{ addr: { kind: 'table', name: tableReference(ctx), neg }, af: 0, loc }];
  if (ctx.accept('(')) {
    const w = ctx.word('an interface name');
    ctx.expect(')');
    const parts = w.text.split(':');
    const ifname = parts[0]!;
    let mode: 'address' | 'network' | 'broadcast' | 'peer' = 'address';
    let noAlias = false;
    for (const m of parts.slice(1)) {
      if (m === '0') noAlias = true;
      else if (m === 'network' || m === 'broadcast' || m === 'peer') mode = m;
      else throw new RuleSyntaxError(w.loc, `unknown interface modifier ':${m}'`);
    }
    return [{ addr: { kind: 'dynamic', ifname, mode, noAlias, neg }, af: 0, loc }];
  }
  const text = readAddressText(ctx, 'an address').text;
  const p = parsePrefix(text);
  if (p) {
    const prefix = networkPrefix(p);
    if (ctx.is('-')) {
      ctx.next();
      const toTok = ctx.word('an address');
      const to = parseAddress(toTok.text);
      if (!to || to.af !== p.af || text.includes('/'))
        throw new RuleSyntaxError(toTok.loc, `invalid address range '${text} - ${toTok.text}'`);
      return [{ addr: { kind: 'range', from: prefix, to: hostPrefix(to), neg }, af: p.af, loc }];
    }
    checkFamily(spec, p.af, text, loc);
    return [{ addr: { kind: 'prefix', prefix, neg }, af: p.af, loc }];
  }
  if (text.includes('/') && parseAddress(text.slice(0, text.indexOf('/'))))
    throw new RuleSyntaxError(loc, `invalid prefix length in '${text}'`);
  return interfaceAddresses(ctx, text, loc).map((prefix) => {
    const addr: AddressSpec = { kind: 'prefix', prefix, neg };
    return { addr, af: prefix.af, loc };
  });
}

function checkFamily(spec: RuleSpec, af: 4 | 6, text: string, loc: SourceLocation): void {
  if (spec.af !== 0 && spec.af !== af)
    throw new RuleSyntaxError(
      loc,
      `address ${text} is ${af === 4 ? 'IPv4' : 'IPv6'} but the rule is ${spec.af === 4 ? 'inet' : 'inet6'}`,
    );
}

const PORT_OPS: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];

function portItem(ctx: ParserContext): PortSpec {
  const t = ctx.peek();
  if (t.kind === 'punct' && PORT_OPS.includes(t.text)) {
    ctx.next();
    const v = portValue(ctx);
    return { op: t.text as PortOp, low: v, high: v };
  }
  const w = ctx.word('a port');
  if (w.text.includes(':')) {
    const [a, b] = w.text.split(':');
    const low = portText(a!, w.loc);
    const high = portText(b!, w.loc);
    if (low > high) throw new RuleSyntaxError(w.loc, `invalid port range ${w.text}: ${low} > ${high}`);
    return { op: ':', low, high };
  }
  const low = portText(w.text, w.loc);
  if (ctx.is('><') || ctx.is('<>')) {
    const op = ctx.next().text as PortOp;
    const high = portValue(ctx);
    if (low > high) throw new RuleSyntaxError(w.loc, `invalid port range ${low} ${op} ${high}`);
    return { op, low, high };
  }
  return { op: '=', low, high: low };
}

function portValue(ctx: ParserContext): number {
  const t = ctx.word('a port');
  return portText(t.text, t.loc);
}

function portText(text: string, loc: SourceLocation): number {
  const n = portNumber(text);
  if (n === undefined)
    throw new RuleSyntaxError(
      loc,
      /^[0-9]+$/.test(text) ? `port ${text} out of range (0..65535)` : `unknown port name '${text}'`,
    );
  return n;
}
